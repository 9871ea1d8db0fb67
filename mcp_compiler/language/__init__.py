"""The plan language: the plan's data model (plan.py); its parser, the text form's grammar
(parser.py), the JSON form (json_form.py) and the syntax both share, references and strings
(syntax.py); the static checks against a catalog (checks.py, and reference_checks.py for what
output schemas say), with their per-schema cache (schema_cache.py); fitting resolved arguments to
their declared types at run time (coercion.py); and the language as taught to a planner (prompt.py)."""
