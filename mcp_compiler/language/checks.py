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
a whole plan with one, and the planner feeds one the tasks of an LLM stream as they parse.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..tools.catalog import Catalog, UnknownTool
from ..tools.toolbox import ToolSpec, positional_order
from ..tools.untrusted_schemas import validator_for
from .plan import Plan, PlanError, Ref, Task, Value, iter_refs, refs_in, spreads_in, value_text

__all__ = ["BoundTask", "PlanChecker", "bind_task", "check_plan", "coerce_arguments"]


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
                    _fit(bound, name, ref, self._specs[ref.task], kinds, properties[name],
                         listed=ref.task in self._listed)

    def _kinds_of(self, task: Task | _JoinSite, ref: Ref) -> set[str] | None:
        """The kinds `ref`'s value may have, from its task's output schema; PlanError where its path
        cannot go. A spread task's value is the list of its calls' values."""
        spec = self._specs.get(ref.task)
        if spec is None:
            return None
        if ref.task in self._unsure:  # an earlier round's task, not known to spread or not: either shape
            return _either(task, ref, spec)
        listed = ref.task in self._listed
        if not listed and not isinstance(spec.output_schema, dict):
            return None
        return _walk(task, ref, spec, listed=listed)


def _either(task: Any, ref: Ref, spec: ToolSpec) -> set[str] | None:
    """The kinds `ref` may have if its task made one call or spread over a list; the plain error
    when neither fits."""
    found: list[set[str] | None] = []
    error: PlanError | None = None
    for listed in (False, True):
        try:
            found.append(_walk(task, ref, spec, listed=listed))
        except PlanError as e:
            error = error or e
    if not found:
        assert error is not None
        raise error
    return None if None in found else set().union(*found)  # type: ignore[arg-type]


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


class _PerSchema:
    """What `build` makes of some schema objects, made once for as long as they are in use.

    Keyed by the objects' identity (a schema is a dict, so cannot be hashed), and the entry keeps
    them, so an id cannot be reused for another object while its entry is here. The catalog's
    schemas are long-lived, so this is built once per tool, not once per task or per run.
    """

    _LIMIT = 4096  # entries; a catalog that keeps changing starts over rather than growing

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._entries: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = {}

    def get(self, *schemas: Any) -> Any:
        key = tuple(map(id, schemas))
        entry = self._entries.get(key)
        if entry is not None:  # the entry keeps its objects alive, so these ids are still theirs
            return entry[1]
        if len(self._entries) >= self._LIMIT:
            self._entries.clear()
        made = self._build(*schemas)
        self._entries[key] = (schemas, made)
        return made


# A validator per (tool schema, property): building one cost about half of a task's check.
# schemas.validator_for: patterns on RE2 (an upstream's pattern cannot block the loop) and `$ref`s
# resolved within the tool's own schema (`root`), never fetched.
_VALIDATORS = _PerSchema(lambda schema, root: validator_for(schema, root=root))
_PARAMETERS = _PerSchema(positional_order)  # a tool's parameters in positional order
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


_DECLARED_TYPES = _PerSchema(_declared_types)  # after _types is defined: it calls it


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


# ---- references against output schemas -----------------------------------------------------------
#
# A schema node is followed through local `$ref`s and `anyOf`/`oneOf` alternatives. Whatever cannot
# be decided from the schema (a remote `$ref`, `allOf`, a node with no type, an open object) ends
# the walk with no verdict: only what the schema rules out is an error.

_SCALARS = ("string", "number", "integer", "boolean", "null")
_KIND_NAMES = {
    "object": "an object", "array": "a list", "string": "a string", "number": "a number", "integer": "an integer",
    "boolean": "a boolean", "null": "null",
}
_MAX_SCHEMA_DEPTH = 32  # $ref chains and nested alternatives; past it, no verdict
_MAX_ALTERNATIVES = 256  # schema nodes visited for one step of a path; past it, no verdict


class _Unknown(Exception):
    """The schema does not say enough to decide."""


def _deref(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    for _ in range(_MAX_SCHEMA_DEPTH):
        if not isinstance(node, dict):
            raise _Unknown
        ref = node.get("$ref")
        if ref is None:
            return node
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Unknown
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise _Unknown
            target = target[part]
        node = target
    raise _Unknown


def _alternatives(node: Any, root: dict[str, Any], depth: int = 0, budget: list[int] | None = None) -> list[dict[str, Any]]:
    """The shapes a value of `node` may take: `anyOf`/`oneOf` flattened, `$ref`s followed.

    Bounded in depth and in nodes visited (`budget`), so a schema whose alternatives refer back
    to themselves costs a verdict of "unknown", not exponential time.
    """
    budget = [_MAX_ALTERNATIVES] if budget is None else budget
    budget[0] -= 1
    if depth > _MAX_SCHEMA_DEPTH or budget[0] < 0:
        raise _Unknown
    schema = _deref(node, root)
    alternatives = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(alternatives, list) and alternatives:
        return [shape for alt in alternatives for shape in _alternatives(alt, root, depth + 1, budget)]
    all_of = schema.get("allOf")
    if all_of is not None:
        if isinstance(all_of, list) and len(all_of) == 1 and not ({"type", "properties", "items"} & set(schema)):
            return _alternatives(all_of[0], root, depth + 1, budget)
        raise _Unknown
    return [schema]


def _kinds(shape: dict[str, Any]) -> set[str]:
    kind = shape.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list) and kind and all(isinstance(k, str) for k in kind):
        return set(kind)
    if kind is None:
        if {"properties", "additionalProperties", "patternProperties"} & set(shape):
            return {"object"}
        if {"items", "prefixItems"} & set(shape):
            return {"array"}
        values = [shape["const"]] if "const" in shape else shape.get("enum")
        if isinstance(values, list) and values:
            return {_json_kind(v) for v in values}
    raise _Unknown


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


class _Miss:
    """Why one alternative has no `item`."""

    def __init__(self, kind: str, fields: tuple[str, ...] = (), size: int | None = None) -> None:
        self.kind, self.fields, self.size = kind, fields, size


def _step(shape: dict[str, Any], item: str | int) -> list[Any]:
    """The schemas `item` may lead to from one alternative, or `_Miss`es; `_Unknown` if undecidable."""
    out: list[Any] = []
    for kind in _kinds(shape):
        if kind == "object" and item is STAR:
            out.append(_Miss("object"))
        elif kind == "object":
            properties = shape.get("properties")
            extra = shape.get("additionalProperties")
            if isinstance(properties, dict) and str(item) in properties:
                out.append(properties[str(item)])
            elif "patternProperties" in shape or extra is True or not isinstance(properties, dict):
                raise _Unknown  # an open object: any key may be there
            elif isinstance(extra, dict):
                out.append(extra)
            else:
                out.append(_Miss("object", tuple(properties)))
        elif kind == "array" and item is STAR:
            prefix, items = shape.get("prefixItems"), shape.get("items")
            if not (isinstance(items, dict) and items) and items is not False:
                raise _Unknown  # items of any shape
            elements = [*(prefix if isinstance(prefix, list) else []), *([items] if isinstance(items, dict) else [])]
            if not elements:
                raise _Unknown  # a list that can only be empty: no element to check
            out += elements
        elif kind == "array":
            if not isinstance(item, int):
                out.append(_Miss("array"))
                continue
            prefix = shape.get("prefixItems")
            prefix = prefix if isinstance(prefix, list) else []
            items = shape.get("items")
            limit = shape.get("maxItems")
            if isinstance(limit, int) and not isinstance(limit, bool) and item >= limit:
                out.append(_Miss("array", size=limit))
            elif item < len(prefix):
                out.append(prefix[item])
            elif items is False:
                out.append(_Miss("array", size=len(prefix)))
            elif isinstance(items, dict) and items:
                out.append(items)
            else:
                raise _Unknown
        else:
            out.append(_Miss(kind))
    return out


STAR: Any = object()  # a spread's `[*]` in a reference's whole path: any element of a list


def _steps(ref: Ref) -> tuple[Any, ...]:
    """A reference's whole path, a spread's `[*]` included (as STAR)."""
    return ref.path if ref.spread is None else (*ref.path, STAR, *ref.spread)


def _path_text(ref: Ref, upto: int) -> str:
    items = _steps(ref)[:upto]
    if STAR in items:
        k = items.index(STAR)
        return str(Ref(ref.task, items[:k], spread=items[k + 1 :]))
    return str(Ref(ref.task, items))


def _start(spec: ToolSpec, listed: bool) -> tuple[dict[str, Any], Any]:
    """The output schema's root, and where a walk starts: the root, or a list of it for a spread
    task (whose value is the list of its calls' values)."""
    root = spec.output_schema if isinstance(spec.output_schema, dict) else {}
    return root, ({"type": "array", "items": root} if listed else root)


def _walk(task: Any, ref: Ref, spec: ToolSpec, *, listed: bool = False) -> set[str] | None:
    """Follow `ref`'s path through `spec`'s output schema; raise PlanError where it cannot go.

    Returns the kinds the referenced value may have (`string!` for text that cannot be a number),
    or None when the schema does not say enough to tell.
    """
    root, start = _start(spec, listed)
    current: list[Any] = [start]
    try:
        for depth, item in enumerate(_steps(ref)):
            found: list[Any] = []
            misses: list[_Miss] = []
            for node in current:
                for shape in _alternatives(node, root):
                    for step in _step(shape, item):
                        (misses if isinstance(step, _Miss) else found).append(step)
            if not found:
                raise task.error(_miss_message(ref, depth, item, misses, spec, listed))
            if len(found) > _MAX_ALTERNATIVES:
                raise _Unknown
            current = found
        kinds: set[str] = set()
        for node in current:
            for shape in _alternatives(node, root):
                for kind in _kinds(shape):
                    kinds.add("string!" if kind == "string" and _never_numeric(shape) else kind)
        return kinds
    except _Unknown:
        return None


def _never_numeric(shape: dict[str, Any]) -> bool:
    values = [shape["const"]] if "const" in shape else shape.get("enum")
    return isinstance(values, list) and bool(values) and not any(_numeric_text(v) for v in values)


def _numeric_text(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d*)?([eE][+-]?\d+)?\s*", value) is not None


def _miss_message(ref: Ref, depth: int, item: Any, misses: list[_Miss], spec: ToolSpec, listed: bool) -> str:
    at = _path_text(ref, depth)  # the part of the path that exists: $1, $1.items, ...
    whose = f"task {ref.task} ({spec.name})" if depth == 0 else at
    schema = f"{spec.name}'s output schema"
    if listed and depth == 0:
        schema = f"task {ref.task} spreads over a list: its value is the list of its calls' values"
    objects = [m for m in misses if m.kind == "object"]
    arrays = [m for m in misses if m.kind == "array"]
    kinds = " or ".join(dict.fromkeys(_KIND_NAMES.get(m.kind, m.kind) for m in misses))
    if item is STAR:
        return f"{ref}: {at} is {kinds} ({schema}), not a list: [*] spreads over a list"
    if objects and (isinstance(item, str) or all(m.kind in ("object", "null") for m in misses)):
        names = list(dict.fromkeys(f for m in objects for f in m.fields))
        close = difflib.get_close_matches(str(item), names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        fields = f"its fields: {', '.join(names)}" if names else "it declares no fields"
        return f"{ref}: {whose} has no field {str(item)!r}{hint}; {fields} ({schema})"
    if isinstance(item, int):
        if arrays and len(arrays) == len(misses):
            size = max(m.size or 0 for m in arrays)
            return f"{ref}: {at} has at most {size} item(s) ({schema}), so there is no [{item}]"
        return f"{ref}: {at} is {kinds} ({schema}), not a list: it has no [{item}]"
    if arrays:
        return f"{ref}: {at} is {kinds} ({schema}): pick an item first, as in {at}[0].{item}"
    return f"{ref}: {at} is {kinds} ({schema}), not an object: it has no field {str(item)!r}"


def _param_kinds(schema: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    try:
        return {kind for shape in _alternatives(schema, root) for kind in _kinds(shape)}
    except _Unknown:
        return None


def _fits(value: str, param: str) -> bool:
    """Whether a value of kind `value` can feed a parameter of kind `param`, as coerce_arguments fits it."""
    if value.rstrip("!") == param or {value, param} == {"integer", "number"}:
        return True
    if param == "string" and value.rstrip("!") in _SCALARS:
        return True  # a scalar's text (coerce_arguments)
    return value == "string" and param in ("integer", "number")  # numeric text becomes the number


def _fit(
    bound: BoundTask, name: str, ref: Ref, spec: ToolSpec, kinds: set[str], param: dict[str, Any], *, listed: bool
) -> None:
    wanted = _param_kinds(param, bound.spec.input_schema)
    if not wanted or any(_fits(kind, p) for kind in kinds for p in wanted):
        return
    have = " or ".join(dict.fromkeys(_KIND_NAMES[k.rstrip("!")] + (" that is not a number" if k == "string!" and
                                                                    wanted & {"number", "integer"} else "")
                                     for k in sorted(kinds) if k.rstrip("!") in _KIND_NAMES))
    want = " or ".join(_KIND_NAMES.get(k, k) for k in sorted(wanted))
    hint = _field_hint(ref, spec, wanted, listed)
    whose = f"task {ref.task}'s list of {spec.name} values" if listed and not _steps(ref) else f"{spec.name}'s output schema"
    raise bound.task.error(
        f"argument {name}: {ref} is {have or 'of another kind'} ({whose}), "
        f"but {bound.spec.name} takes {want} for {name}{hint}"
    )


def _field_hint(ref: Ref, spec: ToolSpec, wanted: set[str], listed: bool) -> str:
    """`(did you mean $1.value?)` when the referenced object has fields of a fitting kind."""
    root, node = _start(spec, listed)
    try:
        for item in _steps(ref):
            steps = [s for shape in _alternatives(node, root) for s in _step(shape, item) if not isinstance(s, _Miss)]
            node = steps[0]
        exact: list[str] = []
        loose: list[str] = []
        for shape in _alternatives(node, root):
            properties = shape.get("properties")
            for key, sub in (properties.items() if isinstance(properties, dict) else ()):
                try:
                    kinds = {k for alt in _alternatives(sub, root) for k in _kinds(alt)}
                except _Unknown:
                    continue
                field = str(_extend(ref, str(key)))
                if kinds & wanted or (kinds | wanted) <= {"integer", "number"}:
                    exact.append(field)  # the same kind, not one coerce_arguments would convert
                elif any(_fits(k, p) for k in kinds for p in wanted):
                    loose.append(field)
    except (_Unknown, IndexError):
        return ""
    fitting = exact or loose
    return f" (did you mean {' or '.join(fitting[:3])}?)" if fitting else ""


def _extend(ref: Ref, key: str) -> Ref:
    if ref.spread is None:
        return Ref(ref.task, (*ref.path, key))
    return Ref(ref.task, ref.path, spread=(*ref.spread, key))
