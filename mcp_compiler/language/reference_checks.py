"""A reference against its task's output schema, and a whole-value reference against the parameter
it feeds: the part of the static checks (checks.py) that reads JSON Schemas.

A schema node is followed through local `$ref`s and `anyOf`/`oneOf` alternatives. Whatever cannot
be decided from the schema (a remote `$ref`, `allOf`, a node with no type, an open object) ends
the walk with no verdict: only what the schema rules out is an error.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ..tools.toolbox import ToolSpec
from .coercion import fits
from .plan import PlanError, Ref, Task

__all__ = ["either_kinds", "fit", "walk"]

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


def walk(task: Any, ref: Ref, spec: ToolSpec, *, listed: bool = False) -> set[str] | None:
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


def either_kinds(task: Any, ref: Ref, spec: ToolSpec) -> set[str] | None:
    """The kinds `ref` may have if its task made one call or spread over a list; the plain error
    when neither fits."""
    found: list[set[str] | None] = []
    error: PlanError | None = None
    for listed in (False, True):
        try:
            found.append(walk(task, ref, spec, listed=listed))
        except PlanError as e:
            error = error or e
    if not found:
        assert error is not None
        raise error
    return None if None in found else set().union(*(f for f in found if f is not None))


def _param_kinds(schema: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    try:
        return {kind for shape in _alternatives(schema, root) for kind in _kinds(shape)}
    except _Unknown:
        return None


def fit(
    task: Task, takes: ToolSpec, name: str, ref: Ref, spec: ToolSpec, kinds: set[str], param: dict[str, Any], *,
    listed: bool,
) -> None:
    """A whole-value reference `ref` (to a task of tool `spec`, whose value may be of `kinds`) against
    parameter `name` of tool `takes`, whose schema is `param`: PlanError when no kind can feed it."""
    wanted = _param_kinds(param, takes.input_schema)
    if not wanted or any(fits(kind, p) for kind in kinds for p in wanted):
        return
    have = " or ".join(dict.fromkeys(_KIND_NAMES[k.rstrip("!")] + (" that is not a number" if k == "string!" and
                                                                    wanted & {"number", "integer"} else "")
                                     for k in sorted(kinds) if k.rstrip("!") in _KIND_NAMES))
    want = " or ".join(_KIND_NAMES.get(k, k) for k in sorted(wanted))
    hint = _field_hint(ref, spec, wanted, listed)
    whose = f"task {ref.task}'s list of {spec.name} values" if listed and not _steps(ref) else f"{spec.name}'s output schema"
    raise task.error(
        f"argument {name}: {ref} is {have or 'of another kind'} ({whose}), "
        f"but {takes.name} takes {want} for {name}{hint}"
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
                elif any(fits(k, p) for k in kinds for p in wanted):
                    loose.append(field)
    except (_Unknown, IndexError):
        return ""
    fitting = exact or loose
    return f" (did you mean {' or '.join(fitting[:3])}?)" if fitting else ""


def _extend(ref: Ref, key: str) -> Ref:
    if ref.spread is None:
        return Ref(ref.task, (*ref.path, key))
    return Ref(ref.task, ref.path, spread=(*ref.spread, key))
