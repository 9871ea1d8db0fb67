"""The plan language: the plan's data model (plan.py), its text and JSON parser (parser.py), the
static checks against a catalog (checks.py) and the language as taught to a planner (prompt.py)."""
