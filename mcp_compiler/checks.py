"""Static checks, all of them: a plan's shape, and each task bound to a catalog tool and its schema.

Runs before anything executes, on a plan from any source (parsed text, the JSON form, or `Plan`
and `Task` built in code), so all of them are held to the same rules:

- task IDs increase (no repeats), and every reference names an earlier task, of this plan or
  of an earlier round (`known_ids`); so a plan has no cycles and no dangling references;
- the tool exists in the catalog; positional arguments map onto the schema's properties in order
  (required first); required ones are there; literal values are validated against their
  property's schema. Values that hold references are checked once they are resolved, by the
  tool itself.

`PlanChecker` applies them one task at a time, each after the ones before it: `check_plan` walks
a whole plan with one, and the planner feeds one the tasks of an LLM stream as they parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from .catalog import Catalog, UnknownTool
from .plan import Plan, PlanError, Task, Value, refs_in, value_text
from .tools import ToolSpec

__all__ = ["BoundTask", "PlanChecker", "bind_task", "check_plan", "coerce_arguments"]


@dataclass(frozen=True)
class BoundTask:
    """A task whose tool is known and whose arguments are named; references still unresolved."""

    task: Task
    spec: ToolSpec
    arguments: dict[str, Value]

    @property
    def id(self) -> int:
        return self.task.id


def check_plan(
    plan: Plan | Iterable[Task], catalog: Mapping[str, ToolSpec], *, known_ids: Iterable[int] = ()
) -> list[BoundTask]:
    """Check and bind every task of a plan, in order, or raise the first PlanError.

    `known_ids` are the task IDs of earlier rounds, added to a Plan's own `known_ids`.
    """
    known = set(known_ids)
    if isinstance(plan, Plan):
        known |= plan.known_ids
        tasks: Iterable[Task] = plan.tasks
    else:
        tasks = plan
    checker = PlanChecker(catalog, known_ids=known)
    return [checker.check(task) for task in tasks]


class PlanChecker:
    """Every static check, one task at a time, each task after all the ones given before it.

    Holds the IDs seen so far, so it works as well on a plan that is still being written (an LLM
    stream) as on a whole one. `known_ids` are the IDs of earlier rounds: a replan's numbering
    goes on after them, and its references may name them.
    """

    def __init__(self, catalog: Mapping[str, ToolSpec], *, known_ids: Iterable[int] = ()) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog.values())
        self._seen: set[int] = set(known_ids)
        self._last_id = max(self._seen, default=0)

    def check(self, task: Task) -> BoundTask:
        """Check `task` as the next one of the plan and bind it; raise PlanError if it fails."""
        self._check_order(task)
        bound = bind_task(task, self.catalog)
        self._seen.add(task.id)
        self._last_id = task.id
        return bound

    def _check_order(self, task: Task) -> None:
        if task.id < 1:
            raise PlanError(f"task number {task.id}: task numbers start at 1", task.line, task.column)
        if task.id <= self._last_id:
            what = "duplicate" if task.id in self._seen else "out-of-order"
            raise PlanError(
                f"{what} task number {task.id}: numbers must increase (last was {self._last_id})",
                task.line, task.column,
            )
        for dep in sorted(task.deps):
            if dep not in self._seen:
                # A reference to itself or a later task is how a cycle starts, so none can form.
                raise PlanError(f"task {task.id} refers to ${dep}, which is not an earlier task", task.line, task.column)


def bind_task(task: Task, catalog: Catalog) -> BoundTask:
    """Bind one task to its tool and schema alone; `PlanChecker` adds the checks across tasks."""
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
