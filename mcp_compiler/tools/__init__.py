"""Tools as the engine sees them: the toolbox interface and plain functions as tools (toolbox.py),
the catalog of what can be called (catalog.py), the built-in tools (builtins.py) and their ranking
(search.py), and safe validation against the JSON Schemas servers write (untrusted_schemas.py)."""
