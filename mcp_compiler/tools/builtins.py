"""mcp-compiler's own tools, under the server name `compiler` (no configured server may take it).

    compiler.search_tools(query: string, limit: integer = 10)
        -> {"tools": [{"name", "signature", "description", "input_schema"}, ...]}, best first

They are a Toolbox like any other, so a plan calls them through the same checks, policy and
scheduler as an MCP server's tools. `WithBuiltins(toolbox)` is a toolbox's tools and these
together: what the gateway hands the compiler and the MCP server. `compiler.search_tools`
searches the merged catalog (search.py) less the built-ins themselves: a host model that sees
only part of the catalog in the tool description, or the server's own planner that sees only
the tools retrieved for its question, finds the rest from inside a plan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..errors import ToolError
from .catalog import Catalog, signature
from .search import rank
from .toolbox import Toolbox, ToolProgress, ToolSpec, as_toolbox

if TYPE_CHECKING:
    import mcp_types as types

__all__ = [
    "BUILTIN_SERVER", "SEARCH_TOOL", "SEARCH_MAX_LIMIT", "BuiltinToolbox", "WithBuiltins", "is_builtin", "search_tools",
    "visible", "visible_tools",
]

BUILTIN_SERVER = "compiler"
SEARCH_TOOL = f"{BUILTIN_SERVER}.search_tools"
SEARCH_MAX_LIMIT = 50

_SEARCH_SPEC = ToolSpec(
    name=SEARCH_TOOL,
    description=(
        "Find tools by what they do: those whose names, descriptions and parameters best match `query`, "
        "best first, each with its signature and input schema."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "what the tool should do, e.g. \"weather forecast for a city\""},
            "limit": {"type": "integer", "default": 10, "minimum": 1, "maximum": SEARCH_MAX_LIMIT,
                      "description": "how many tools to return at most"},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"}, "signature": {"type": "string"},
                        "description": {"type": "string"}, "input_schema": {"type": "object"},
                    },
                },
            },
        },
        "required": ["tools"],
    },
    provider=BUILTIN_SERVER,
    read_only=True,
    idempotent=True,
)


# The tools the caller being served may see and call (None: all of them), set for each request by
# the MCP server from the caller's identity (docs/auth.md#who-may-call-what). The search, the
# description, the catalog resource and every call of `WithBuiltins` go by it.
visible_tools: ContextVar[Callable[[str], bool] | None] = ContextVar("mcp_compiler_visible_tools", default=None)


def visible(catalog: Mapping[str, ToolSpec]) -> Mapping[str, ToolSpec]:
    """`catalog` less the tools the caller being served may not call (`visible_tools`)."""
    allowed = visible_tools.get()
    if allowed is None:
        return catalog
    return Catalog([s for s in catalog.values() if allowed(s.name)], unavailable=getattr(catalog, "unavailable", None))


def _refuse_hidden(spec: ToolSpec) -> None:
    allowed = visible_tools.get()
    if allowed is not None and not allowed(spec.name):
        raise ToolError(f"{spec.name} is not allowed to this caller (compiler.auth.allow)")


def search_tools(
    catalog: Mapping[str, ToolSpec], query: str, limit: int = 10, *, allowed: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """`compiler.search_tools` over `catalog`: its non-built-in tools that match `query`, best first
    (only those `allowed`, when given: the index stays the whole catalog's, built once)."""
    if not isinstance(query, str) or not query.strip():
        raise ToolError("compiler.search_tools: `query` must be a non-empty string")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise ToolError(f"compiler.search_tools: `limit` must be an integer from 1 to {SEARCH_MAX_LIMIT}")
    found = [
        catalog[name] for name in rank(catalog, query)
        if not is_builtin(catalog[name]) and (allowed is None or allowed(name))
    ][:limit]
    return {
        "tools": [
            {"name": spec.name, "signature": signature(spec), "description": spec.description or "",
             "input_schema": spec.input_schema}
            for spec in found
        ]
    }


def is_builtin(spec: ToolSpec) -> bool:
    """One of mcp-compiler's own tools (`compiler.*`)."""
    return spec.provider == BUILTIN_SERVER and spec.name.startswith(BUILTIN_SERVER + ".")


class BuiltinToolbox(Toolbox):
    """The `compiler.*` tools over a live catalog (`catalog()` is asked at each call)."""

    def __init__(self, catalog: Callable[[], Mapping[str, ToolSpec]]) -> None:
        self._catalog = catalog
        self._specs = {SEARCH_TOOL: _SEARCH_SPEC}

    def specs(self) -> Mapping[str, ToolSpec]:
        return self._specs

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        if spec.name != SEARCH_TOOL:
            raise ToolError(f"unknown tool {spec.name!r}")
        # In a worker thread: a new catalog's index takes a tenth of a second or more to build.
        search = functools.partial(search_tools, self._catalog(), allowed=visible_tools.get(), **arguments)
        return await anyio.to_thread.run_sync(search)


class WithBuiltins(Toolbox):
    """`inner`'s tools and the built-ins as one toolbox: calls go to whichever has the tool.

    The merged catalog is a `Catalog` that keeps what `inner`'s knows of servers that are down, made
    anew only when `inner`'s catalog changes (the search index is kept per catalog). The rest of
    the `Toolbox` interface (servers down, relaying to hosts, resources) is `inner`'s, passed on;
    what `inner` has beyond it (`UpstreamPool.status()`, ...) is asked of `inner` itself.
    """

    def __init__(self, inner: Toolbox | Any) -> None:
        self.inner = as_toolbox(inner)
        # Fixed when a toolbox is made (the pool's are its constructor's), so taken once here.
        self.relay_to_hosts = self.inner.relay_to_hosts
        self.offers_resources = self.inner.offers_resources
        self.builtins = BuiltinToolbox(self.specs)
        self._merged: tuple[Mapping[str, ToolSpec], Catalog] | None = None

    def specs(self) -> Catalog:
        inner = self.inner.specs()
        if self._merged is None or self._merged[0] is not inner:
            # A catalog (the pool's) knows the servers that are down; a plain mapping knows none.
            unavailable = inner.unavailable if isinstance(inner, Catalog) else None
            tools = [*(s for s in inner.values() if s.name not in self.builtins.specs()), *self.builtins.specs().values()]
            self._merged = (inner, Catalog(tools, unavailable=unavailable))
        return self._merged[1]

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        if spec.name in self.builtins.specs():
            return await self.builtins.call(spec, arguments)
        _refuse_hidden(spec)
        return await self.inner.call(spec, arguments)

    async def call_with_progress(self, spec: ToolSpec, arguments: dict[str, Any], progress: ToolProgress | None) -> Any:
        _refuse_hidden(spec)
        if spec.name in self.builtins.specs():
            return await self.builtins.call(spec, arguments)
        return await self.inner.call_with_progress(spec, arguments, progress)

    async def settle(self, tools: Iterable[str] | None) -> None:
        wanted = None if tools is None else [t for t in tools if t not in self.builtins.specs()]
        if wanted is None or wanted:
            await self.inner.settle(wanted)

    def unavailable(self) -> dict[str, str]:
        return self.inner.unavailable()

    def resource_servers(self) -> list[str]:
        return self.inner.resource_servers()

    async def list_resources(self, prefix: str, cursor: str | None = None) -> types.ListResourcesResult:
        return await self.inner.list_resources(prefix, cursor)

    async def list_resource_templates(self, prefix: str, cursor: str | None = None) -> types.ListResourceTemplatesResult:
        return await self.inner.list_resource_templates(prefix, cursor)

    async def read_resource(self, prefix: str, uri: str) -> types.ReadResourceResult:
        return await self.inner.read_resource(prefix, uri)
