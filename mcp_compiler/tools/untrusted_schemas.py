"""JSON Schemas written by MCP servers: validation they cannot turn against us, and whether one is usable.

A tool's schema comes from its server, which is not trusted the way our own code is. jsonschema,
used as it comes, lets such a schema do three things to the process that validates with it:

- a `pattern` (or a `patternProperties` key) is run by Python's backtracking `re`, whose time can
  double with each character of the input (`^(a+)+$` against 28 `a`s and a `!`: 13 s), on the
  thread that validates, which for the static checks is the event loop every session shares;
- a `$ref` to an `http(s)` URL is fetched, with `urlopen`, on that same thread (jsonschema's
  default registry still retrieves remote references, with a deprecation warning);
- a `$ref` chain that loops (`a` -> `b` -> `a`, or `allOf: [{"$ref": "#"}]`) recurses until
  RecursionError, on any instance.

`validator_for(schema)` is a jsonschema validator without the first two: patterns run on RE2
(google-re2: linear time in the input, whatever the pattern), and references resolve inside the
schema document and the JSON Schema metaschemas only. A pattern RE2 cannot run (look-around,
back-references, a program over RE2's memory bound) is not checked by it: the server that wrote
the pattern checks it, as it checks everything. `unevaluatedProperties` is not checked beside a
`patternProperties` or a `$ref` (jsonschema evaluates those patterns with `re` there, where no
keyword of ours can reach them).

`schema_problem(schema)` says why a schema cannot be used at all (not a valid JSON Schema, a
`$ref` that does not resolve, `$ref`s that loop without consuming input), or None; the upstream
pool drops a tool whose schema has a problem, with a warning naming both.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import jsonschema.validators
import re2
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema_specifications import REGISTRY as _METASCHEMAS

__all__ = ["validator_for", "schema_problem", "pattern_search"]

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a pattern RE2 refuses is an answer (None), not a line on stderr

# No `retrieve`: a reference outside the document and the metaschemas is Unresolvable, never fetched.
_LOCAL_ONLY = referencing.Registry()

_MAX_NODES = 20_000  # subschemas `schema_problem` walks before it calls a schema too large to use


# ---- patterns ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error:
        return None
    except Exception:  # noqa: BLE001 - whatever RE2 makes of it, the answer is "cannot run it"
        return None


def pattern_search(pattern: Any, text: str) -> bool | None:
    """Whether `pattern` matches somewhere in `text`, in time linear in `text`; None when RE2
    cannot run the pattern (or the text holds a lone surrogate, which RE2's UTF-8 cannot)."""
    if not isinstance(pattern, str) or not isinstance(text, str):
        return None
    compiled = _compiled(pattern)
    if compiled is None:
        return None
    try:
        return compiled.search(text) is not None
    except UnicodeError:
        return None


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and pattern_search(pattern, instance) is False:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, pattern_properties: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if pattern_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # jsonschema's own, with the patternProperties match on RE2. A key that a pattern RE2 cannot
    # run might match is given the benefit of the doubt: not an extra.
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key for key in instance
        if key not in properties and all(pattern_search(p, key) is False for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            shown = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {shown}")
        else:
            listed = ", ".join(repr(each) for each in sorted(extras, key=str))
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _reaches_patterns(schema: Any) -> bool:
    """Whether evaluating `unevaluatedProperties` in `schema` could run a pattern through `re`."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if any(k in node for k in ("patternProperties", "$ref", "$dynamicRef", "$recursiveRef")):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _guard_unevaluated(original: Any) -> Any:
    def unevaluated_properties(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if _reaches_patterns(schema):
            return iter(())  # not checked here; see the module docstring
        return original(validator, value, instance, schema)

    return unevaluated_properties


@functools.cache
def _safe_class(base: Any) -> Any:
    keywords = base.VALIDATORS
    overrides = {
        name: fn
        for name, fn in (
            ("pattern", _pattern),
            ("patternProperties", _pattern_properties),
            ("additionalProperties", _additional_properties),
        )
        if name in keywords
    }
    if "unevaluatedProperties" in keywords:
        overrides["unevaluatedProperties"] = _guard_unevaluated(keywords["unevaluatedProperties"])
    return jsonschema.validators.extend(base, overrides)  # type: ignore[no-untyped-call]  # unannotated in types-jsonschema


def _dialect_class(document: Any) -> Any:
    with warnings.catch_warnings():
        # An unknown `$schema` falls back to the latest draft with a DeprecationWarning; a schema
        # from a server is no reason to print (or, under -W error, raise) one.
        warnings.simplefilter("ignore")
        return jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)


def validator_for(schema: Any, *, root: Any = None) -> Validator:
    """A validator for `schema` whose patterns run on RE2 and whose references stay local.

    `root`: the document `schema` is part of (a tool's whole input schema, when `schema` is one
    property's), so `$ref`s like `#/$defs/X` resolve against it and its `$schema` picks the draft.
    Use it like jsonschema's: `validator_for(s).iter_errors(value)`.
    """
    document = schema if root is None else root
    validator = _safe_class(_dialect_class(document))(document, registry=_LOCAL_ONLY)
    return validator if root is None else validator.evolve(schema=schema)


# ---- usability -----------------------------------------------------------------------------------


def schema_problem(schema: Any) -> str | None:
    """Why `schema` cannot be used to validate anything, or None when it can (see the docstring)."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):
        return "not JSON"
    return _problem(key)


@functools.lru_cache(maxsize=4096)
def _problem(key: str) -> str | None:
    schema = json.loads(key)
    if not isinstance(schema, (dict, bool)):
        return "not a JSON Schema (an object or a boolean)"
    base = _dialect_class(schema)
    try:
        base.check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"[{p!r}]" for p in exc.absolute_path)
        return f"not a valid JSON Schema: {where + ': ' if where else ''}{exc.message}"
    except RecursionError:
        return "nested too deeply to check"
    try:
        return _reference_problem(schema, base)
    except RecursionError:
        return "nested too deeply to check"


# Keywords whose subschemas apply to the same instance (a loop through them never ends) and
# keywords whose subschemas apply to a part of it (recursion through them ends with the input).
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAP = ("dependentSchemas", "dependencies")
_PART_ONE = (
    "items", "additionalItems", "unevaluatedItems", "contains", "additionalProperties",
    "unevaluatedProperties", "propertyNames", "contentSchema",
)
_PART_MANY = ("items", "prefixItems")
_PART_MAP = ("properties", "patternProperties")
_REFS = ("$ref", "$recursiveRef")  # $dynamicRef depends on the path taken; left to validation


def _reference_problem(schema: Any, base: Any) -> str | None:
    """An unresolvable `$ref`, or `$ref`s that loop without consuming input, or None."""
    specification = referencing.jsonschema.specification_with(
        base.META_SCHEMA.get("$schema", ""), default=referencing.jsonschema.DRAFT202012
    )
    resolver = _METASCHEMAS.combine(_LOCAL_ONLY).resolver_with_root(specification.create_resource(schema))
    nodes: dict[int, Any] = {}
    in_place: dict[int, list[tuple[int, str | None]]] = {}
    stack: list[tuple[Any, Any]] = [(schema, resolver)]
    while stack:
        node, resolver = stack.pop()
        if id(node) in nodes or not isinstance(node, Mapping):
            continue
        if len(nodes) >= _MAX_NODES:
            return f"too large to check (over {_MAX_NODES} subschemas)"
        nodes[id(node)] = node
        edges = in_place.setdefault(id(node), [])
        if node is not schema and isinstance(node.get("$id", node.get("id")), str):
            resolver = resolver.in_subresource(specification.create_resource(node))

        def follow(child: Any, label: str | None, same_instance: bool, via: Any = resolver) -> None:
            if isinstance(child, (Mapping, bool)):
                if same_instance:
                    edges.append((id(child), label))  # noqa: B023 - called in this iteration
                stack.append((child, via))

        for keyword in _REFS:
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                resolved = resolver.lookup(ref)
            except referencing.exceptions.Unresolvable:
                return f"$ref {ref!r} does not resolve (only references inside the schema are followed)"
            follow(resolved.contents, ref, True, resolved.resolver)
        for keyword in _IN_PLACE_ONE:
            follow(node.get(keyword), None, True)
        for keyword in _IN_PLACE_MANY:
            for child in _as_list(node.get(keyword)):
                follow(child, None, True)
        for keyword in _IN_PLACE_MAP:
            for child in _as_map(node.get(keyword)).values():
                follow(child, None, True)
        for keyword in _PART_ONE:
            follow(node.get(keyword), None, False)
        for keyword in _PART_MANY:
            for child in _as_list(node.get(keyword)):
                follow(child, None, False)
        for keyword in _PART_MAP:
            for child in _as_map(node.get(keyword)).values():
                follow(child, None, False)
    loop = _cycle(in_place)
    if loop is not None:
        refs = [label for label in loop if label]
        shown = " -> ".join(repr(r) for r in refs) if refs else "its applicators"
        return f"its $refs loop without consuming input ({shown})"
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _cycle(edges: Mapping[int, list[tuple[int, str | None]]]) -> list[str | None] | None:
    """The edge labels of one cycle in the graph, or None (iterative DFS, three colours)."""
    colour: dict[int, int] = {}
    for start in edges:
        if colour.get(start):
            continue
        path: list[tuple[int, str | None]] = [(start, None)]
        iterators = [iter(edges.get(start, ()))]
        colour[start] = 1
        while iterators:
            step = next(iterators[-1], None)
            if step is None:
                colour[path[-1][0]] = 2
                path.pop()
                iterators.pop()
                continue
            target, label = step
            state = colour.get(target, 0)
            if state == 1:
                ids = [n for n, _ in path]
                return [lbl for _, lbl in path[ids.index(target) + 1:]] + [label]
            if state == 0:
                colour[target] = 1
                path.append((target, label))
                iterators.append(iter(edges.get(target, ())))
    return None
