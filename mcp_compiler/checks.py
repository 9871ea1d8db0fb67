"""Static checks: bind each task to a catalog tool and its arguments to the tool's input schema.

Runs before anything executes. Positional arguments map onto the schema's properties in order
(required first); literal values are validated against their property's schema; values that
hold references are checked once they are resolved, by the tool itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from .catalog import Catalog, UnknownTool
from .plan import Plan, PlanError, Task, Value, refs_in, value_text
from .tools import ToolSpec

__all__ = ["BoundTask", "bind_task", "check_plan", "coerce_arguments"]


@dataclass(frozen=True)
class BoundTask:
    """A task whose tool is known and whose arguments are named; references still unresolved."""

    task: Task
    spec: ToolSpec
    arguments: dict[str, Value]

    @property
    def id(self) -> int:
        return self.task.id


def check_plan(plan: Plan | Iterable[Task], catalog: Mapping[str, ToolSpec]) -> list[BoundTask]:
    """Bind every task of a plan, or raise the first PlanError."""
    tasks = plan.tasks if isinstance(plan, Plan) else plan
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog.values())
    return [bind_task(task, cat) for task in tasks]


def bind_task(task: Task, catalog: Catalog) -> BoundTask:
    try:
        spec = catalog.resolve(task.tool)
    except UnknownTool as e:
        raise PlanError(f"task {task.id}: {e}", task.line, task.column) from None
    arguments = _name_arguments(task, spec)
    schema = spec.input_schema
    properties: dict[str, Any] = schema.get("properties", {})
    missing = [p for p in schema.get("required", []) if p not in arguments]
    if missing:
        raise task.error(f"missing required argument(s) {', '.join(missing)}{_signature(spec)}")
    for name, value in arguments.items():
        if name in properties and not refs_in(value):
            _validate(task, name, value, properties[name])
    return BoundTask(task, spec, arguments)


def _name_arguments(task: Task, spec: ToolSpec) -> dict[str, Value]:
    params = spec.parameters
    if len(task.args) > len(params):
        raise task.error(f"takes at most {len(params)} positional argument(s), got {len(task.args)}{_signature(spec)}")
    arguments = dict(zip(params, task.args))
    # An unknown name is most likely a typo, unless the schema declares it takes any name.
    allows_extra = spec.input_schema.get("additionalProperties", not params) is not False
    for key, value in task.kwargs.items():
        if key in arguments:
            raise task.error(f"argument {key!r} given both by position and by name")
        if key not in params and not allows_extra:
            raise task.error(f"unknown argument {key!r}{_signature(spec)}")
        arguments[key] = value
    return arguments


def _validate(task: Task, name: str, value: Any, schema: dict[str, Any]) -> None:
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(value))
    if error is not None:
        where = name + "".join(f"[{p!r}]" for p in error.absolute_path)
        raise task.error(f"argument {where}: {error.message}")


def _signature(spec: ToolSpec) -> str:
    props = spec.input_schema.get("properties", {})
    required = set(spec.input_schema.get("required", []))
    shown = [p if p in required else f"{p}?" for p in spec.parameters]
    return f"; {spec.name} takes ({', '.join(shown)})" if props else f"; {spec.name} takes no arguments"


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    found: set[str] = set()
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(sub)
    return found


def coerce_arguments(arguments: dict[str, Any], spec: ToolSpec) -> dict[str, Any]:
    """After references are resolved: fit values to the declared type where the intent is plain.

    A whole-value reference keeps its type, so `$1` may be a number where the tool wants a string
    (it gets the text) or numeric text where it wants a number (it gets the number).
    """
    properties = spec.input_schema.get("properties", {})
    out = dict(arguments)
    for name, value in arguments.items():
        types = _types(properties.get(name, {}))
        if not types:
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
