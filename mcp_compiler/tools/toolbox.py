"""The one seam between the scheduler and whatever runs a tool.

The scheduler sees tools only through `ToolSpec` (what a tool is: name, schemas, hints) and
`Toolbox.call` (run it with a dict of arguments, get a value or an exception). MCP upstreams,
plain Python async functions and test doubles all plug in here, the way transports plug into
httpx's client.
"""

from __future__ import annotations

import abc
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

import anyio
import anyio.to_thread
import pydantic

from ..errors import ToolError

if TYPE_CHECKING:  # the resource methods' results are MCP's; the engine never imports MCP
    import mcp_types as types

__all__ = [
    "ToolSpec", "ToolError", "Toolbox", "FunctionToolbox", "NO_RESOURCES", "as_toolbox", "positional_order",
    "spec_from_function", "ToolProgress",
]


def _empty_object_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ToolSpec:
    """What the planner, the static checks and the scheduler need to know about one tool.

    `name` is the full catalog name (`server.tool` for MCP upstreams). `provider` is the server
    the tool belongs to, which the call policy's per-server limits and timeouts are keyed by:
    the MCP server's name, or the tool's own name for a Python function.
    """

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=_empty_object_schema)
    output_schema: dict[str, Any] | None = None
    provider: str = ""
    read_only: bool = False
    idempotent: bool = False
    destructive: bool = False

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def parameters(self) -> list[str]:
        """Property names in positional order: required first, then the rest, each in schema order."""
        return positional_order(self.input_schema)

    @functools.cached_property  # asked once per task by the scheduler: kept, not computed each time
    def dedupable(self) -> bool:
        """Identical calls within one run may share one result."""
        return self.read_only or self.idempotent


def positional_order(schema: Mapping[str, Any]) -> list[str]:
    """The order positional arguments bind in: required properties first, then the rest, each in
    the order the schema lists its properties. The catalog shows tools in the same order."""
    props = list(schema.get("properties", None) or {})
    required = set(schema.get("required", None) or [])
    return [p for p in props if p in required] + [p for p in props if p not in required]


class Toolbox(abc.ABC):
    """Anything that can list tools and call them: subclass it and write `specs` and `call`.

    Every other member has a default that fits a toolbox without the feature, so a caller uses
    them directly and never asks whether a toolbox has them, the way httpx's client uses any
    `BaseTransport`:

    - `call_with_progress(spec, arguments, progress)`: `call`, with the tool's progress reports
      handed to `progress`. Default: `call`, no reports. MCP servers report; the call policy uses
      it when the run has someone to tell.
    - `settle(tools)`: wait, within the toolbox's own bound, until the tools named (None: all)
      are known, for tools that arrive over time (servers still connecting). The compiler calls
      it before checking a plan. Default: returns at once.
    - `unavailable()`: servers configured but not connected now, by catalog prefix: why. Default:
      none.
    - `relay_to_hosts`: the servers behind may send requests for the host mid-call (sampling,
      elicitation, roots; upstreams/relay.py). Default: False.
    - `offers_resources`: the toolbox proxies its servers' MCP resources through
      `resource_servers`, `list_resources`, `list_resource_templates` and `read_resource`.
      Default: False, and those list no servers and raise a ToolError.

    A plain object with only `specs()` and `async call(spec, arguments)` is taken as a toolbox
    with every default (`as_toolbox`).
    """

    relay_to_hosts: bool = False
    offers_resources: bool = False

    @abc.abstractmethod
    def specs(self) -> Mapping[str, ToolSpec]:
        """The tools available now, by full name."""

    @abc.abstractmethod
    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        """Run one tool and return its value (JSON-like). Raise on failure."""

    async def call_with_progress(self, spec: ToolSpec, arguments: dict[str, Any], progress: ToolProgress | None) -> Any:
        """`call`, with the tool's progress reports handed to `progress` (this default has none)."""
        return await self.call(spec, arguments)

    async def settle(self, tools: Iterable[str] | None) -> None:
        """Wait until the tools named (None: all) are known; this default's are known at once."""

    def unavailable(self) -> dict[str, str]:
        """Configured servers not connected now, by catalog prefix: why (this default has none)."""
        return {}

    def resource_servers(self) -> list[str]:
        """Prefixes of the servers whose resources are proxied, in order (this default: none)."""
        return []

    async def list_resources(self, prefix: str, cursor: str | None = None) -> types.ListResourcesResult:
        """One page of server `prefix`'s `resources/list`."""
        raise ToolError(NO_RESOURCES)

    async def list_resource_templates(self, prefix: str, cursor: str | None = None) -> types.ListResourceTemplatesResult:
        """One page of server `prefix`'s `resources/templates/list`."""
        raise ToolError(NO_RESOURCES)

    async def read_resource(self, prefix: str, uri: str) -> types.ReadResourceResult:
        """Server `prefix`'s `resources/read` of `uri`."""
        raise ToolError(NO_RESOURCES)


NO_RESOURCES = "this toolbox serves no resources"


class _PlainToolbox(Toolbox):
    """A plain object with `specs()` and `call()`, as a Toolbox with every other default."""

    def __init__(self, plain: Any) -> None:
        self.plain = plain

    def specs(self) -> Mapping[str, ToolSpec]:
        return self.plain.specs()

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return await self.plain.call(spec, arguments)


def as_toolbox(toolbox: Toolbox | Any) -> Toolbox:
    """`toolbox` itself when it is a `Toolbox`; a plain object with `specs()` and `async call(spec,
    arguments)` (what a toolbox was before the base class) wrapped as one with every default."""
    return toolbox if isinstance(toolbox, Toolbox) else _PlainToolbox(toolbox)


AsyncTool = Callable[..., Awaitable[Any]]

ToolProgress = Callable[[float, "float | None", "str | None"], None]
"""A tool call's progress (value, total, message) as its server reports it; quick, never raises."""


def spec_from_function(name: str, fn: AsyncTool) -> ToolSpec:
    """Build a ToolSpec whose input schema comes from the function's signature and type hints."""
    signature = inspect.signature(fn)
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model = pydantic.create_model(f"{name}_arguments", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    doc = inspect.getdoc(fn) or ""
    return ToolSpec(
        name=name,
        description=doc.strip().splitlines()[0] if doc.strip() else "",
        input_schema=schema,
        provider=name,
        read_only=getattr(fn, "read_only", False),
        idempotent=getattr(fn, "idempotent", False),
        destructive=getattr(fn, "destructive", False),
    )


class FunctionToolbox(Toolbox):
    """Plain Python async (or sync) functions as tools, for embedding the engine without MCP."""

    def __init__(self, tools: Mapping[str, AsyncTool]) -> None:
        self._functions = dict(tools)
        self._specs = {name: spec_from_function(name, fn) for name, fn in tools.items()}
        self._coroutines = {name for name, fn in tools.items() if inspect.iscoroutinefunction(fn)}  # asked once

    def specs(self) -> Mapping[str, ToolSpec]:
        return self._specs

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        name = spec.name
        fn = self._functions[name]
        if name in self._coroutines:
            return await fn(**arguments)
        # A blocking function must not stall every other task on the event loop.
        # On a timeout or cancellation the run moves on; the thread finishes in the background.
        return await anyio.to_thread.run_sync(functools.partial(fn, **arguments), abandon_on_cancel=True)
