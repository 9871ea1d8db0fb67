"""Static checks, all of them: a plan's shape, and each task bound to a catalog tool and its schema.

Runs before anything executes, on a plan from any source (parsed text, the JSON form, or `Plan`
and `Task` built in code), so all of them are held to the same rules:

- a whole plan has at least one task;
- task IDs increase (no repeats), and every reference and every `after` names an earlier task,
  of this plan or of an earlier round (`known_ids`); so a plan has no cycles and no dangling
  references;
- the tool exists in the catalog; positional arguments map onto the schema's properties in order
  (required first); required ones are there; literal values are validated against their
  property's schema;
- every reference's path fits the `outputSchema` of the referenced task's tool, when it declares
  one (a field it does not have, an index into a non-list, a field of a scalar are errors), and a
  whole-value reference fits the kind of the parameter it feeds (an object or list where a scalar
  is wanted, a scalar where an object or list is wanted). Where a schema says nothing, nothing is
  assumed: the values are checked once resolved, by the tool itself.

`PlanChecker` applies them one task at a time, each after the ones before it: `check_plan` walks
a whole plan with one, and the planner feeds one the tasks of an LLM stream as they parse. The
checks that read output schemas are in reference_checks.py. Nothing here runs at call time: fitting
resolved arguments to their declared types, once a task's references have values, is coercion.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..tools.catalog import Catalog, UnknownTool
from ..tools.toolbox import ToolSpec, positional_order
from ..tools.untrusted_schemas import validator_for
from .plan import Plan, PlanError, Ref, Task, Value, iter_refs, refs_in, spreads_in
from .reference_checks import either_kinds, fit, walk
from .schema_cache import PerSchema

__all__ = ["BoundTask", "PlanChecker", "bind_task", "check_plan"]


@dataclass(frozen=True)
class BoundTask:
    """A task whose tool is known and whose arguments are named; references still unresolved."""

    task: Task
    spec: ToolSpec
    arguments: dict[str, Value]
    spread: Ref | None = None  # the list a spread task makes one call per element of (`$1.items`)
    deps: tuple[int, ...] = ()  # the tasks its arguments refer to, sorted: found while checking them

    @property
    def id(self) -> int:
        return self.task.id


EMPTY_PLAN = (
    "the plan has no tasks: write at least one, such as `1. server.tool(...)`, one task per line "
    "(in the JSON form, a non-empty \"tasks\" list)"
)


def check_plan(
    plan: Plan | Iterable[Task], catalog: Mapping[str, ToolSpec], *, known_ids: Iterable[int] = (),
    known_tools: Mapping[int, str] | None = None,
) -> list[BoundTask]:
    """Check and bind every task of a whole plan, in order, or raise the first PlanError.

    `known_ids` are the task IDs of earlier rounds, added to a Plan's own `known_ids`; `known_tools`
    the tools of some of them (ID -> catalog name), so that references to them are checked too.
    A plan without tasks is an error: it would run nothing and answer nothing.
    """
    known = set(known_ids)
    if isinstance(plan, Plan):
        known |= plan.known_ids
        tasks: Iterable[Task] = plan.tasks
    else:
        tasks = plan
    checker = PlanChecker(catalog, known_ids=known, known_tools=known_tools)
    bound = [checker.check(task) for task in tasks]
    if not bound:
        raise PlanError(EMPTY_PLAN)
    if isinstance(plan, Plan) and plan.answer is not None:
        checker.check_answer(plan.answer)
    return bound


class PlanChecker:
    """Every static check, one task at a time, each task after all the ones given before it.

    Holds the IDs seen so far and their tools, so it works as well on a plan that is still being
    written (an LLM stream) as on a whole one. `known_ids` are the IDs of earlier rounds: a
    replan's numbering goes on after them, and its references may name them; `known_tools` maps
    some of them to their tools' catalog names, so that references to them are checked as well.
    """

    def __init__(
        self, catalog: Mapping[str, ToolSpec], *, known_ids: Iterable[int] = (),
        known_tools: Mapping[int, str] | None = None, spread_ids: Iterable[int] | None = None,
    ) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog.values())
        self._seen: set[int] = set(known_ids) | set(known_tools or {})
        self._last_id = max(self._seen, default=0)
        self._specs: dict[int, ToolSpec] = {}  # the tool of every task seen, for reference checks
        for task_id, name in (known_tools or {}).items():
            if name in self.catalog:
                self._specs[task_id] = self.catalog[name]
        # Spread tasks' values are lists of their calls' values. `spread_ids` says which of the
        # known tasks spread; without it, a reference to one of them may fit either shape.
        self._listed: set[int] = set(spread_ids or ())
        self._unsure: set[int] = set(known_tools or {}) if spread_ids is None else set()

    def check(self, task: Task) -> BoundTask:
        """Check `task` as the next one of the plan and bind it; raise PlanError if it fails."""
        self._check_order(task)
        bound = bind_task(task, self.catalog)
        self._check_references(bound)
        self._seen.add(task.id)
        self._last_id = task.id
        self._specs[task.id] = bound.spec
        if bound.spread is not None:
            self._listed.add(task.id)
        return bound

    def check_answer(self, values: Iterable[Value]) -> None:
        """`join(VALUE, ...)`: every reference names a task seen so far and fits its output schema;
        each value spreads over one list at most (one line per element)."""
        where = _JoinSite()
        for value in values:
            _one_spread(where, spreads_in(value), "a value of join(...)")
            for ref in iter_refs(value):
                if ref.task not in self._seen:
                    raise where.error(f"{ref} refers to ${ref.task}, which is not a task of the plan")
                self._kinds_of(where, ref)

    def _check_order(self, task: Task) -> None:
        if task.id < 1:
            raise PlanError(f"task number {task.id}: task numbers start at 1", task.line, task.column)
        if task.id <= self._last_id:
            what = "duplicate" if task.id in self._seen else "out-of-order"
            raise PlanError(
                f"{what} task number {task.id}: numbers must increase (last was {self._last_id})",
                task.line, task.column,
            )
        data = task.data_deps
        unknown = [dep for dep in (*data, *task.after) if dep not in self._seen]
        if unknown:
            # A reference to itself or a later task is how a cycle starts, so none can form.
            dep = min(unknown)
            how = "refers to" if dep in data else "is to run after"
            raise PlanError(f"task {task.id} {how} ${dep}, which is not an earlier task", task.line, task.column)

    def _check_references(self, bound: BoundTask) -> None:
        """Every reference's path against the referenced tool's output schema; whole-value
        references against the kind of the parameter they feed."""
        properties = bound.spec.input_schema.get("properties", {})
        for name, value in bound.arguments.items():
            for ref in iter_refs(value):
                kinds = self._kinds_of(bound.task, ref)
                if kinds is not None and value is ref and isinstance(properties.get(name), dict):
                    fit(bound.task, bound.spec, name, ref, self._specs[ref.task], kinds, properties[name],
                        listed=ref.task in self._listed)

    def _kinds_of(self, task: Task | _JoinSite, ref: Ref) -> set[str] | None:
        """The kinds `ref`'s value may have, from its task's output schema; PlanError where its path
        cannot go. A spread task's value is the list of its calls' values."""
        spec = self._specs.get(ref.task)
        if spec is None:
            return None
        if ref.task in self._unsure:  # an earlier round's task, not known to spread or not: either shape
            return either_kinds(task, ref, spec)
        listed = ref.task in self._listed
        if not listed and not isinstance(spec.output_schema, dict):
            return None
        return walk(task, ref, spec, listed=listed)


class _JoinSite:
    """Where a `join(...)` value's errors are reported, as a Task reports its own."""

    def error(self, message: str) -> PlanError:
        return PlanError(f"join(...): {message}")


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
    spreads: list[Ref] = []
    deps: set[int] = set()
    for name, value in arguments.items():
        refs = refs_in(value)
        if not refs:
            if name in properties:
                _validate(task, name, value, properties[name], schema)
        else:
            deps |= refs
            spreads += spreads_in(value)
    spread = _one_spread(task, spreads, "a task") if spreads else None  # most tasks have none: no call
    return BoundTask(task, spec, arguments, spread, tuple(sorted(deps)))


def _one_spread(task: Task | _JoinSite, spreads: list[Ref], what: str) -> Ref | None:
    """The one list spread over (`$1.items` of `$1.items[*].name`); several mentions of the same
    list mean the same element, two different lists are an error."""
    lists = list(dict.fromkeys(ref.list_ref for ref in spreads))
    if len(lists) > 1:
        raise task.error(
            f"{what} spreads over one list only, this one over {len(lists)}: "
            f"{', '.join(str(r) + '[*]' for r in lists)}; spread over one and refer to the other by index"
        )
    return lists[0] if lists else None


def _name_arguments(task: Task, spec: ToolSpec) -> dict[str, Value]:
    # The cached order is the schema's; a spec that defines its own (UnavailableTool) is asked.
    params = _PARAMETERS.get(spec.input_schema) if type(spec).parameters is _SCHEMA_ORDER else spec.parameters
    if len(task.args) > len(params):
        raise task.error(f"takes at most {len(params)} positional argument(s), got {len(task.args)}{_signature(spec)}")
    arguments = dict(zip(params, task.args, strict=False))  # fewer positionals than parameters
    # An unknown name is most likely a typo, unless the schema declares it takes any name.
    allows_extra = spec.input_schema.get("additionalProperties", not params) is not False
    for key, value in task.kwargs.items():
        if key in arguments:
            raise task.error(f"argument {key!r} given both by position and by name")
        if key not in params and not allows_extra:
            raise task.error(f"unknown argument {key!r}{_signature(spec)}")
        arguments[key] = value
    return arguments


# A validator per (tool schema, property): building one cost about half of a task's check.
# schemas.validator_for: patterns on RE2 (an upstream's pattern cannot block the loop) and `$ref`s
# resolved within the tool's own schema (`root`), never fetched.
_VALIDATORS = PerSchema(lambda schema, root: validator_for(schema, root=root))
_PARAMETERS = PerSchema(positional_order)  # a tool's parameters in positional order
_SCHEMA_ORDER = ToolSpec.parameters  # the property that `_PARAMETERS` stands in for


def _validate(task: Task, name: str, value: Any, schema: dict[str, Any], root: dict[str, Any]) -> None:
    error = jsonschema.exceptions.best_match(_VALIDATORS.get(schema, root).iter_errors(value))
    if error is not None:
        where = name + "".join(f"[{p!r}]" for p in error.absolute_path)
        raise task.error(f"argument {where}: {error.message}")


def _signature(spec: ToolSpec) -> str:
    props = spec.input_schema.get("properties", {})
    required = set(spec.input_schema.get("required", []))
    shown = [p if p in required else f"{p}?" for p in spec.parameters]
    return f"; {spec.name} takes ({', '.join(shown)})" if props else f"; {spec.name} takes no arguments"
