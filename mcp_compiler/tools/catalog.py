"""The tool catalog: full names (`server.tool`), bare-name lookup, and "did you mean".

A catalog may also know servers that are configured but not connected (`unavailable`, prefix ->
why). `resolve("ghost.search")` for such a server returns an `UnavailableTool` instead of raising
UnknownTool: the plan passes its static checks, and the task fails when it runs, with the
server's own reason, while the rest of the plan runs. Those servers list no tools: iterating a
catalog, its length and `catalog[name]` see only the tools servers have listed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..language.plan import PlanError
from .toolbox import ToolSpec, positional_order

__all__ = ["Catalog", "UnknownTool", "UnavailableTool", "tool_line", "param_list", "first_line", "shape", "signature"]

_UNAVAILABLE_POSITIONAL = 32  # positional arguments a task may give a tool of a server that is down


def _any_arguments() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": True}


@dataclass(frozen=True)
class UnavailableTool(ToolSpec):
    """`server.tool` of a configured server that is not connected: takes any arguments (its
    schema is unknown), and calling it fails with the server's reason (`cause` is the reason when
    the catalog was made; the toolbox reports the one at call time)."""

    input_schema: dict[str, Any] = field(default_factory=_any_arguments)
    cause: str = ""

    @property
    def parameters(self) -> list[str]:
        # Positional arguments bind to placeholders: the call never reaches a server with them.
        return [f"arg{i}" for i in range(1, _UNAVAILABLE_POSITIONAL + 1)]


class UnknownTool(PlanError, LookupError):
    """A plan names a tool the catalog does not have, or a bare name several servers share.

    A `PlanError` (the plan's content is wrong; the checks re-raise it with the task's line and
    column), and a `LookupError` as it has always been, for callers of `Catalog.resolve`.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class Catalog(Mapping[str, ToolSpec]):
    """An immutable set of tools by full name; bare names resolve when exactly one tool has them."""

    def __init__(self, specs: Iterable[ToolSpec] = (), *, unavailable: Mapping[str, str] | None = None) -> None:
        self._by_name: dict[str, ToolSpec] = {s.name: s for s in specs}
        self._by_short: dict[str, list[ToolSpec]] = {}
        for spec in self._by_name.values():
            self._by_short.setdefault(spec.short_name, []).append(spec)
        self.unavailable: Mapping[str, str] = dict(unavailable or {})
        """Configured servers that are not connected: catalog prefix -> why."""

    def __getitem__(self, name: str) -> ToolSpec:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def resolve(self, name: str) -> ToolSpec:
        """The tool a plan means by `name`, or UnknownTool with a suggestion."""
        if name in self._by_name:
            return self._by_name[name]
        prefix, dot, tool = name.partition(".")
        if dot and tool and prefix in self.unavailable:
            cause = self.unavailable[prefix]
            return UnavailableTool(
                name=name, provider=prefix, cause=cause, description=f"server {prefix!r} is not available: {cause}"
            )
        candidates = self._by_short.get(name, [])
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            names = ", ".join(sorted(c.name for c in candidates))
            raise UnknownTool(name, f"tool name {name!r} is ambiguous: use one of {names}")
        down = f" (not connected now: {', '.join(sorted(self.unavailable))})" if self.unavailable else ""
        raise UnknownTool(name, f"unknown tool {name!r}{self._suggestion(name)}{down}")

    def _suggestion(self, name: str) -> str:
        prefix, dot, tool = name.partition(".")
        servers = sorted({full.split(".", 1)[0] for full in self._by_name if "." in full})
        if dot and tool and servers and prefix not in servers:
            return self._other_server(prefix, tool, servers)
        if dot and tool and prefix in servers:  # that server's tools, not a look-alike of another's
            return self._close_on(tool, [prefix])
        pool = list(self._by_name) + list(self._by_short)
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
        if close:
            return "; did you mean " + " or ".join(repr(c) for c in dict.fromkeys(close)) + "?"
        if not self._by_name:
            return " (no tools are available)"
        return f" (available: {', '.join(sorted(self._by_name)[:20])})"

    def _other_server(self, prefix: str, tool: str, servers: list[str]) -> str:
        """No server is called `prefix`: a server named like it and its tool named like `tool`, or
        the servers there are (never an unrelated tool that merely looks like `server.tool`)."""
        similar = difflib.get_close_matches(prefix, servers, n=2, cutoff=0.6)
        if not similar:
            return f"; no server is called {prefix!r} (servers: {', '.join(servers)})"
        close = self._close_on(tool, similar)
        if close.startswith("; did you mean"):
            return f"; no server is called {prefix!r}{close}"
        return f"; no server is called {prefix!r}: did you mean the server {similar[0]!r}{close}?"

    def _close_on(self, tool: str, servers: list[str]) -> str:
        """`; did you mean 'server.tool'?` for the tools of `servers` named like `tool` (the tool
        part compared with the tool part), else those servers' tools; '' when they have none."""
        theirs = {full.split(".", 1)[1]: full for full in self._by_name if full.split(".", 1)[0] in servers}
        close = difflib.get_close_matches(tool, list(theirs), n=3, cutoff=0.5)
        if close:
            return "; did you mean " + " or ".join(repr(theirs[c]) for c in close) + "?"
        return f" (its tools: {', '.join(sorted(theirs.values())[:10])})" if theirs else ""


def param_list(schema: Mapping[str, Any]) -> list[str]:
    """`name: type` for each parameter in positional order (required first); an optional one is
    `name: type = default` when it has a short default, else `name?: type`. Arrays and objects
    show their items' and properties' shape, bounded (`shape`)."""
    required = set(schema.get("required", None) or [])
    props: Mapping[str, Any] = schema.get("properties", None) or {}
    out = []
    for p in positional_order(schema):
        prop = props[p]
        default = _default_text(prop) if p not in required else None
        if default is not None:
            out.append(f"{p}: {shape(prop)} = {default}")
        else:
            out.append(f"{p}{'' if p in required else '?'}: {shape(prop)}")
    return out


_DEFAULT_CHARS = 24
_SHAPE_CHARS = 120  # a parameter's shape longer than this is shown shallower
_SHAPE_DEPTH = 3
_SHAPE_FIELDS = 8  # properties shown in one object's shape; the rest are `…`


def _default_text(prop: Any) -> str | None:
    if not isinstance(prop, Mapping) or "default" not in prop:
        return None
    value = prop["default"]
    if value is None or isinstance(value, (dict, list)):
        return None
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        text = "True" if value else "False"  # the plan language's spelling
    return text if len(text) <= _DEFAULT_CHARS else None


def shape(prop: Any) -> str:
    """A parameter's type in a compact form: `string`, `integer|string`, `[string]`,
    `{name: string, tags?: [string]}`. Nesting stops at a depth (and shallower while the text is
    longer than `_SHAPE_CHARS`), where a shape is just `object` or `array`."""
    for depth in range(_SHAPE_DEPTH, 0, -1):
        text = _shape(prop, depth)
        if len(text) <= _SHAPE_CHARS:
            return text
    return _shape(prop, 0)


def _shape(prop: Any, depth: int) -> str:
    if not isinstance(prop, Mapping):
        return "any"
    options = [sub for sub in prop.get("anyOf", None) or () if isinstance(sub, Mapping) and sub.get("type") != "null"]
    if "type" not in prop and len(options) == 1:  # Optional[X]: X's shape
        return _shape(options[0], depth)
    kind = _type_name(prop)
    if kind == "array" and depth > 0 and isinstance(prop.get("items"), Mapping):
        return f"[{_shape(prop['items'], depth - 1)}]"
    properties = prop.get("properties")
    if kind == "object" and depth > 0 and isinstance(properties, Mapping) and properties:
        required = set(prop.get("required", None) or [])
        names = [str(n) for n in properties]
        fields = [f"{n}{'' if n in required else '?'}: {_shape(properties[n], depth - 1)}" for n in names[:_SHAPE_FIELDS]]
        if len(names) > _SHAPE_FIELDS:
            fields.append("…")
        return "{" + ", ".join(fields) + "}"
    return kind


def _type_name(prop: Any) -> str:
    if not isinstance(prop, Mapping):
        return "any"
    kind = prop.get("type")
    if kind is None and "anyOf" in prop:  # Optional[X] as pydantic writes it
        kind = [sub.get("type") for sub in prop["anyOf"] if isinstance(sub, Mapping) and sub.get("type")]
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind if k != "null") or "null"
    return str(kind) if kind else "any"


def first_line(text: str | None) -> str:
    text = (text or "").strip()
    return text.splitlines()[0].strip() if text else ""


def signature(spec: ToolSpec, *, with_output: bool = True) -> str:
    """`server.tool(param: type, opt?: type) [-> {fields}]`."""
    line = f"{spec.name}({', '.join(param_list(spec.input_schema))})"
    fields = list((spec.output_schema or {}).get("properties", {})) if with_output else []
    if fields:
        line += " -> {" + ", ".join(fields) + "}"
    return line


def tool_line(spec: ToolSpec, *, max_description: int = 160, with_output: bool = False) -> str:
    """`server.tool(param: type, opt?: type) [-> {fields}] — first line of the description`."""
    summary = first_line(spec.description)
    if len(summary) > max_description:
        summary = summary[: max_description - 1].rstrip() + "…"
    line = signature(spec, with_output=with_output)
    return f"{line} — {summary}" if summary else line
