"""The plan IR: tasks, references between them, and the canonical text form.

A plan is a list of tasks in ID order. An argument value is JSON-like data that may contain
`Ref`s (a whole value taken from an earlier task's result, keeping its type) and `Template`s
(a string with references spliced in as text). A task may also name tasks it must run `after`
without using their values (`3. memory.read_graph() after $1`). A spread reference
(`$1.items[*].name`) makes its task one call per element of a list; `join(VALUE, ...)` makes the
answer those values (`Plan.answer`). Parsing lives in `parser.py`;
checking a plan against a catalog (tools, arguments, ID order, references) lives in `checks.py`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from ..errors import CompilerError

__all__ = ["Ref", "Template", "template", "resolve", "ResolveError", "value_text", "Task", "Plan", "PlanError", "Value", "refs_in", "iter_refs", "format_value", "measure", "nests_deeper", "resolved_size", "MAX_VALUE_DEPTH", "NO_ELEMENT", "AS_WRITTEN", "resolve_element", "spreads_in", "join_text", "arguments_key"]

PathItem = str | int

MAX_VALUE_DEPTH = 100  # lists and objects inside one value, from a plan or from a tool


class PlanError(CompilerError, ValueError):
    """Plan text or a plan's content is wrong; says where (line, column) and what was expected."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)


@dataclass(frozen=True)
class Ref:
    """`$task` followed by a path (`$2.items[0].title`, `$3["key"]`).

    A **spread** reference (`$1.items[*].name`) has `spread` set: `path` leads to a list, and
    `spread` is the path taken from each of its elements (`("name",)`; `()` for `$1.items[*]`).
    A task holding one is one call per element (spread.py).
    """

    task: int
    path: tuple[PathItem, ...] = ()
    spread: tuple[PathItem, ...] | None = None

    def __str__(self) -> str:
        text = f"${self.task}" + _path_text(self.path)
        if self.spread is not None:
            text += "[*]" + _path_text(self.spread)
        return text

    @property
    def list_ref(self) -> Ref:
        """The reference to the list a spread goes over (`$1.items` for `$1.items[*].name`)."""
        return Ref(self.task, self.path)


def _path_text(path: tuple[PathItem, ...]) -> str:
    text = ""
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        elif re.fullmatch(r"[A-Za-z_]\w*", item):
            text += f".{item}"
        else:
            text += f"[{json.dumps(item)}]"
    return text


@dataclass(frozen=True)
class Template:
    """A string with references inside; each reference is replaced by its value's text."""

    parts: tuple[str | Ref, ...]


Value = Any  # None | bool | int | float | str | list[Value] | dict[str, Value] | Ref | Template


def refs_in(value: Value) -> set[int]:
    """IDs of every task a value refers to."""
    if isinstance(value, Ref):
        return {value.task}
    if isinstance(value, Template):
        return {p.task for p in value.parts if isinstance(p, Ref)}
    if isinstance(value, list):
        return set().union(*(refs_in(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(refs_in(v) for v in value.values())) if value else set()
    return set()


def iter_refs(value: Value) -> Iterator[Ref]:
    """Every reference in a value, whole-value ones and those spliced into strings, in order."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Template):
        yield from (p for p in value.parts if isinstance(p, Ref))
    elif isinstance(value, list):
        for item in value:
            yield from iter_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_refs(item)


@dataclass
class Task:
    """One tool call of a plan, as written: positional `args` and keyword `kwargs`.

    `after` are tasks it must wait for without using their values (`... after $1, $2` in the text
    form, `"deps"` in the JSON form), kept sorted and without repeats.
    """

    id: int
    tool: str
    args: list[Value] = field(default_factory=list)
    kwargs: dict[str, Value] = field(default_factory=dict)
    thought: str | None = None
    line: int | None = field(default=None, compare=False)
    column: int | None = field(default=None, compare=False)
    after: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.after = tuple(sorted(set(self.after)))

    @property
    def data_deps(self) -> set[int]:
        """The tasks whose values this one uses (its references)."""
        found: set[int] = set()
        for value in [*self.args, *self.kwargs.values()]:
            found |= refs_in(value)
        return found

    @property
    def deps(self) -> set[int]:
        """Every task this one waits for: the ones it refers to and the ones it runs `after`."""
        return self.data_deps | set(self.after)

    def to_text(self) -> str:
        parts = [format_value(v) for v in self.args]
        parts += [f"{k}={format_value(v)}" for k, v in self.kwargs.items()]
        after = " after " + ", ".join(f"${i}" for i in self.after) if self.after else ""
        return f"{self.id}. {self.tool}({', '.join(parts)}){after}"

    def error(self, message: str) -> PlanError:
        """A PlanError pointing at this task's position in the plan text."""
        return PlanError(f"task {self.id} ({self.tool}): {message}", self.line, self.column)


@dataclass
class Plan:
    """Tasks in ID order, the Thought lines around them, and whether `join()` was seen.

    `known_ids` are the IDs of earlier rounds' tasks when this plan is a replan: its numbering
    goes on after them and its references may name them (`check_plan` holds it to both).
    """

    tasks: list[Task] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    joined: bool = False
    known_ids: frozenset[int] = frozenset()
    answer: tuple[Value, ...] | None = None  # join(VALUE, ...)'s values; None for a bare join()

    def to_text(self) -> str:
        lines: list[str] = []
        for task in self.tasks:
            if task.thought:
                lines.append(f"Thought: {task.thought}")
            lines.append(task.to_text())
        lines.append(join_text(self.answer))
        return "\n".join(lines) + "\n<END_OF_PLAN>\n"


def join_text(answer: tuple[Value, ...] | None) -> str:
    """The `join(...)` line of a plan whose answer is `answer` (None: a bare `join()`)."""
    return "join(" + ", ".join(format_value(v) for v in answer or ()) + ")"


def template(parts: list[str | Ref]) -> Value:
    """The value of a string made of `parts`: a plain str, a lone Ref (keeps its type), or a Template."""
    merged: list[str | Ref] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if not merged:
        return ""
    if len(merged) == 1:
        return merged[0]
    return Template(tuple(merged))


def _format_string(parts: tuple[str | Ref, ...]) -> str:
    body = ""
    for part in parts:
        if isinstance(part, Ref):
            # Inside a string the braced form ends the reference, so literal text may follow it.
            body += "${" + str(part)[1:] + "}"
        else:
            body += part.replace("$", "$$")
    return json.dumps(body, ensure_ascii=False)


def format_value(value: Value) -> str:
    """The canonical plan-language text of a value; parsing it gives the value back."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, Template):
        return _format_string(value.parts)
    if isinstance(value, str):
        return _format_string((value,))
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} has no plan-language spelling")
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {format_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot write {type(value).__name__} in a plan")


class ResolveError(LookupError):
    """A reference's path does not exist in the referenced task's result."""


def arguments_key(arguments: Mapping[str, Any]) -> str:
    """What makes two calls of one tool identical (deduplication): the arguments' repr in name
    order. It tells 1, 1.0, True and "1" apart as JSON would, at half the cost of json.dumps; an
    object nested in another key order is another call."""
    return repr(sorted(arguments.items()) if len(arguments) > 1 else arguments)


def value_text(value: Any) -> str:
    """How a value reads when spliced into a string: strings as they are, the rest as compact JSON
    (`{"a":[1,2]}`: no spaces, non-ASCII as it is)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class _NoElement:
    """No spread element is being resolved (a plain task)."""


NO_ELEMENT: Any = _NoElement()
AS_WRITTEN: Any = _NoElement()  # resolve a spread reference to its own text (`"$1.items[*].name"`), for the Run


def _follow(ref: Ref, results: Mapping[int, Any], element: Any = NO_ELEMENT) -> Any:
    """The value `ref` names; for a spread reference, within `element` (one item of its list), or
    without one the whole list (as the spread's own length and type checks see it)."""
    if ref.spread is None or element is NO_ELEMENT:
        return _walk(results[ref.task], ref.path, ref, f"${ref.task}")
    if element is AS_WRITTEN:
        return str(ref)
    return _walk(element, ref.spread, ref, str(ref.list_ref) + "[*]")


def _walk(value: Any, path: tuple[PathItem, ...], ref: Ref, walked: str) -> Any:
    for item in path:
        try:
            if isinstance(value, dict):
                value = value[str(item)] if str(item) in value else value[item]
            elif isinstance(value, (list, tuple, str)) and isinstance(item, int):
                value = value[item]
            else:
                raise KeyError(item)
        except (KeyError, IndexError, TypeError):
            raise ResolveError(f"cannot resolve {ref}: {walked} {_describe(value)} has no {item!r}") from None
        walked += f"[{item}]" if isinstance(item, int) else f".{item}"
    return value


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(map(str, value))[:12])
        return f"(an object with keys: {keys})" if keys else "(an empty object)"
    if isinstance(value, (list, tuple)):
        return f"(a list of {len(value)})"
    return f"(a {type(value).__name__})"


def measure(value: Any, limit: int) -> int:
    """About how many bytes `value` takes as compact JSON (strings by their length), counting no
    further than just past `limit`: a huge value costs no more to measure than the limit allows."""
    kind = type(value)
    if kind is str:  # the common results, measured without the walk
        return len(value) + 3
    if kind in _SCALARS:
        return 8
    total = 0
    pending: list[Any] = [iter((value,))]  # iterators, so a long list is never copied
    while pending and total <= limit:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
            continue
        if isinstance(item, str):
            total += len(item) + 3  # quotes and a separator
        elif isinstance(item, dict):
            total += 2
            pending.append(chain.from_iterable(item.items()))  # key, value, key, value, ...
        elif isinstance(item, (list, tuple)):
            total += 2
            pending.append(iter(item))
        else:
            total += 8  # numbers, booleans, null
    return total


_END = object()
_SCALARS = frozenset({int, float, bool, type(None)})
_PLAIN = _SCALARS | {str}


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether lists and objects in `value` nest deeper than `limit` (checked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return False


def resolved_size(value: Value, results: Mapping[int, Any], limit: int, element: Any = NO_ELEMENT) -> int:
    """About how many bytes `resolve(value, results)` would take as JSON, counted without building
    it: a string that splices a large result many times is refused before it exists."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, Ref):
            total += measure(_follow(item, results, element), limit - total)
        elif isinstance(item, Template):
            total += 2
            stack.extend(item.parts)
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + len(item)
            for key, sub in item.items():
                total += len(key) + 3
                stack.append(sub)
        else:
            total += measure(item, limit - total)
    return total


def resolve(value: Value, results: Mapping[int, Any]) -> Any:
    """Replace every reference in `value` with data from `results` (task ID -> value)."""
    if type(value) in _PLAIN:  # most arguments: nothing to replace or copy
        return value
    if isinstance(value, Ref):
        return _follow(value, results)
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else value_text(_follow(p, results)) for p in value.parts)
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    return value


def resolve_element(value: Value, results: Mapping[int, Any], element: Any) -> Any:
    """`resolve` for one call of a spread task: a spread reference becomes the part of `element`
    (one item of its list) it names (`AS_WRITTEN`: its own text). Apart from `resolve`, so that a
    plain task's resolution carries nothing for spreads."""
    if isinstance(value, Ref):
        return _follow(value, results, element)
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else value_text(_follow(p, results, element)) for p in value.parts)
    if isinstance(value, list):
        return [resolve_element(v, results, element) for v in value]
    if isinstance(value, dict):
        return {k: resolve_element(v, results, element) for k, v in value.items()}
    return value


def spreads_in(value: Value) -> list[Ref]:
    """The spread references (`$N.path[*]...`) in a value, in order."""
    return [ref for ref in iter_refs(value) if ref.spread is not None]
