"""Fitting a task's resolved arguments to its tool's declared types, at run time.

The scheduler and a spread call `coerce_arguments` once a task's references are resolved, just
before the call: a whole-value reference keeps its value's type, so `$1` may be a number where the
tool wants a string (it gets the text) or numeric text where it wants a number (it gets the number).
`fits` is the same rule as the static checks see it (checks.py, reference_checks.py): which kind
of value may feed which kind of parameter, given this coercion.
"""

from __future__ import annotations

from typing import Any

from ..tools.toolbox import ToolSpec
from .plan import value_text
from .schema_cache import PerSchema

__all__ = ["coerce_arguments", "fits"]

_SCALARS = ("string", "number", "integer", "boolean", "null")


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    found: set[str] = set()
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        if isinstance(sub, dict):  # `true` is a schema too, and says nothing of the type
            found |= _types(sub)
    return found


def _declared_types(schema: dict[str, Any]) -> dict[str, set[str]]:
    """The JSON types each property declares, for the properties that declare some."""
    properties = schema.get("properties", {})
    found = {name: _types(sub) for name, sub in properties.items() if isinstance(sub, dict)}
    return {name: types for name, types in found.items() if types}


_DECLARED_TYPES = PerSchema(_declared_types)  # after _types is defined: it calls it


def coerce_arguments(arguments: dict[str, Any], spec: ToolSpec) -> dict[str, Any]:
    """After references are resolved: fit values to the declared type where the intent is plain.

    A whole-value reference keeps its type, so `$1` may be a number where the tool wants a string
    (it gets the text) or numeric text where it wants a number (it gets the number).
    """
    declared = _DECLARED_TYPES.get(spec.input_schema)
    out = dict(arguments)
    for name, value in arguments.items():
        types = declared.get(name)
        if types is None:
            continue
        if types == {"string"} and not isinstance(value, str):
            out[name] = value_text(value)
        elif isinstance(value, str) and types & {"number", "integer"} and "string" not in types:
            out[name] = _number(value, integer="number" not in types, default=value)
    return out


def _number(text: str, *, integer: bool, default: Any) -> Any:
    try:
        number = float(text.strip())
    except ValueError:
        return default
    if integer:
        return int(number) if number.is_integer() else default
    return int(number) if number.is_integer() and "." not in text else number


def fits(value: str, param: str) -> bool:
    """Whether a value of kind `value` (`string!`: text that cannot be a number) can feed a parameter
    of kind `param` once `coerce_arguments` has fitted it: what the static checks let through."""
    if value.rstrip("!") == param or {value, param} == {"integer", "number"}:
        return True
    if param == "string" and value.rstrip("!") in _SCALARS:
        return True  # a scalar's text (coerce_arguments)
    return value == "string" and param in ("integer", "number")  # numeric text becomes the number
