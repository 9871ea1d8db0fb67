"""The pool: a session to every configured server, as one `Toolbox` (see the package docstring).

    async with UpstreamPool(config) as pool:
        catalog = pool.specs()                       # Catalog of `server.tool` ToolSpecs
        value = await pool.call(catalog["wiki.search"], {"query": "x"})

The pool owns one task group. Each server's session (`session.UpstreamSession`) lives in its own
task (an anyio cancel scope must be exited by the task that entered it), so all servers connect
concurrently. `__aenter__` returns once every server has connected or failed its first attempt,
bounded by `compiler.connect_timeout_s`. Each session tells the pool when its tools or its state
changed (its `on_change`), and the pool rebuilds the catalog and the routes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client
from mcp.server.caching import CacheHint

from ..config import Config, server_prefix
from ..errors import ToolError
from ..logs import Redactor
from ..text import scrub
from ..tools.builtins import BUILTIN_SERVER, visible_tools
from ..tools.catalog import Catalog, UnavailableTool
from ..tools.toolbox import Toolbox, ToolProgress, ToolSpec
from .discovery import UpstreamEvent, combine_cache_hints
from .relay import HostsAtRest
from .session import ServerStatus, UpstreamSession
from .values import tool_value

__all__ = ["CatalogCallback", "EventCallback", "UpstreamPool"]

logger = logging.getLogger(__name__)

CatalogCallback = Callable[[Catalog], Awaitable[None]]
EventCallback = Callable[[str, UpstreamEvent], Awaitable[None]]  # (server prefix, event)
T = TypeVar("T")


class UpstreamPool(Toolbox):
    """Sessions to every configured server, as one `Toolbox`. Use as `async with`."""

    offers_resources = True  # the servers' resources, proxied for the MCP server (server/resources.py)

    def __init__(
        self,
        config: Config,
        *,
        protocol_mode: str = "auto",
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        wait_for_servers: bool = True,
        relay_to_hosts: bool = False,
        startup_wait_s: float | None = None,
    ) -> None:
        """`protocol_mode` is the SDK's `Client(mode=...)`: "auto" probes for 2026-07-28 and falls
        back to the handshake; "legacy" forces the handshake era for every server.

        `wait_for_servers=False` makes `async with` return at once, the servers joining in the
        background (catalog changes announce them); `settle()` waits for the ones a plan names.

        `relay_to_hosts=True` (the MCP server) offers the servers sampling, elicitation and roots,
        and passes their requests and log messages on to the host of the call (`relay.py`).

        `startup_wait_s`: how long from start-up anything waits for a server still starting (the
        CLI passes `compiler.startup_wait_s`); None, the MCP server's: as long as a first attempt
        may take (`connect_timeout_s`).
        """
        self._compiler = config.compiler
        self._startup_wait_s = startup_wait_s
        self.relay_to_hosts = relay_to_hosts
        self._wait_for_servers = wait_for_servers
        self.redact = Redactor.from_config(config)
        self._upstreams = {
            name: UpstreamSession(
                name, server, config.compiler, on_change=self._rebuild_catalog, redact=self.redact,
                on_event=partial(self._upstream_event, server_prefix(name)), relay_to_hosts=relay_to_hosts, protocol_mode=protocol_mode,
                backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            )
            for name, server in config.servers.items()
        }
        self._by_prefix = {upstream.prefix: upstream for upstream in self._upstreams.values()}
        self._catalog = Catalog(unavailable=self.unavailable())
        self._routes: dict[str, tuple[UpstreamSession, str]] = {}
        self._changed = anyio.Event()
        self.catalog_version = 0
        self.on_catalog_change: list[CatalogCallback] = []
        # Each server's announced changes of its prompts and resources (server/passthrough.py).
        self.on_upstream_event: list[EventCallback] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._started_at = 0.0  # when __aenter__ started the sessions (the start-up wait's origin)

    # ---- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> UpstreamPool:
        if self._tg is not None:
            raise RuntimeError("UpstreamPool is already running")
        self._tg = anyio.create_task_group()
        self._started_at = anyio.current_time()
        await self._tg.__aenter__()
        try:
            for upstream in self._upstreams.values():
                self._tg.start_soon(upstream.run, name=f"upstream {upstream.name}")
            if self._wait_for_servers:
                await self.settle(None)
        except BaseException:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        try:
            # The body's own exception propagates as it is, not wrapped in the group's ExceptionGroup.
            await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None

    # ---- Toolbox ----------------------------------------------------------------------------

    def specs(self) -> Catalog:
        """The tools of every server that has listed them (kept while a server restarts), and
        the servers not connected now (`Catalog.unavailable`; see the package docstring)."""
        return self._catalog

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        """Call one tool once and return its value; ToolError (UpstreamLost when the server went away)."""
        return await self.call_with_progress(spec, arguments, None)

    async def call_with_progress(
        self, spec: ToolSpec, arguments: dict[str, Any], progress: ToolProgress | None
    ) -> Any:
        """`call`, with the server's `notifications/progress` for this call handed to `progress`."""
        route = self._routes.get(spec.name)
        if isinstance(spec, UnavailableTool):  # checked while its server was not connected
            down = self._by_prefix.get(spec.provider)
            if down is None:
                raise ToolError(f"unknown tool {spec.name!r}")
            await self._live_within_startup_wait(down)
            # It is up now (a slow start, a restart): the tool as it has listed it since, if it has.
            route = self._routes.get(spec.name)
            if route is None:
                raise ToolError(f"unknown tool {spec.name!r}: server {down.name!r} connected after the "
                                "plan was checked, without it")
            arguments = _placeholders_bound(arguments, self._catalog[spec.name])
        elif route is None:
            raise ToolError(f"unknown tool {spec.name!r}")
        upstream, tool = route
        result = await upstream.call(tool, scrub(arguments), progress)
        try:
            return scrub(tool_value(result))
        except ToolError as exc:
            raise ToolError(self.redact(scrub(str(exc)))) from None

    async def _live_within_startup_wait(self, down: UpstreamSession) -> None:
        """A server the plan was checked without: wait for it while it makes its first attempt, at
        most `startup_wait_s`; "server 'x' is not available: <why>" when it is down."""
        if down.first_attempt_done.is_set():
            await down.live_client()  # raises "server 'x' is not available: <why>" while it is not
            return
        with anyio.move_on_after(self._startup_left()):
            await down.live_client()
            return
        raise ToolError(
            f"server {down.name!r} is not available: still starting after {self.startup_wait_s:g} s "
            + ("(compiler.startup_wait_s)" if self._startup_wait_s is not None else "(compiler.connect_timeout_s)")
        )

    # ---- observation ------------------------------------------------------------------------

    def status(self) -> list[ServerStatus]:
        return [upstream.status() for upstream in self._upstreams.values()]

    def starting(self, tools: Iterable[str] | None = None) -> list[str]:
        """The servers of `tools` (catalog names; None: every server) still making their first
        connection attempt, by config name."""
        prefixes = None if tools is None else {name.split(".", 1)[0] for name in tools if "." in name}
        if tools is not None and any("." not in name for name in tools):
            prefixes = None  # a bare name may belong to any server
        if prefixes is not None and any(p not in self._by_prefix and p != BUILTIN_SERVER for p in prefixes):
            prefixes = None  # a server nobody configured: a misspelling of one still starting, maybe
        return [
            u.name for u in self._upstreams.values()
            if not u.first_attempt_done.is_set() and (prefixes is None or u.prefix in prefixes)
        ]

    @property
    def startup_wait_s(self) -> float:
        """How long after the pool starts anything waits for a server still starting; a first
        attempt ends by `connect_timeout_s` anyway, the margin covering its teardown. One window
        for all: a plan checked after waiting it out does not wait again when it calls."""
        whole = self._compiler.connect_timeout_s + 5
        return whole if self._startup_wait_s is None else min(self._startup_wait_s, whole)

    def _startup_left(self) -> float:
        return max(0.0, self._started_at + self.startup_wait_s - anyio.current_time())

    async def settle(self, tools: Iterable[str] | None) -> None:
        """Wait until the servers of `tools` (catalog names; None: every server) have finished
        their first connection attempt, at most `startup_wait_s`, so a plan that names a server
        still starting is checked against its tools rather than refused, and one that names only
        servers that are ready runs at once."""
        waiting = [self._upstreams[name] for name in self.starting(tools)]
        with anyio.move_on_after(self._startup_left()):
            for upstream in waiting:
                await upstream.first_attempt_done.wait()

    def unavailable(self) -> dict[str, str]:
        """Configured servers that are not connected now, by catalog prefix: why (redacted)."""
        return {
            upstream.prefix: upstream.last_error or ("connecting" if upstream.state == "connecting" else "not connected")
            for upstream in self._upstreams.values()
            if upstream.state != "connected"
        }

    async def catalog_changed(self, timeout: float | None = None) -> Catalog:
        """Wait for the next catalog change (at most `timeout` seconds) and return the new catalog."""
        event = self._changed
        with anyio.fail_after(timeout):
            await event.wait()
        return self._catalog

    # ---- resources, proxied for the MCP server (server/resources.py) ----------------------------
    # Each is one request to one server, bounded by its call timeout; a failure is a ToolError
    # saying which server and why (redacted). What comes back is the server's, not yet trusted:
    # the caller scrubs texts and bounds sizes.

    def server_allows(self, prefix: str) -> bool:
        """Whether server `prefix` is open, to the caller being served, for what is not a tool (its
        resources, prompts, completions, subscriptions): the one predicate every such request
        passes. A server whose allow/deny lets none of its tools through is closed
        (`ServerConfig.closed`), and so, to a caller, is one of whose tools `compiler.auth.allow`
        grants it none (`visible_tools`, set per request by the server)."""
        upstream = self._by_prefix.get(prefix)
        if upstream is None or upstream.config.closed:
            return False
        allowed = visible_tools.get()
        return allowed is None or any(allowed(spec.name) for spec in upstream.specs.values())

    def tools_cache_hint(self) -> CacheHint:
        """The `ttlMs`/`cacheScope` our tools/list may carry: our one tool's description lists every
        server's tools, so it changes when any server's list does: the most restrictive of the
        servers' hints, and none (0 ms, private) while any server is not connected (it may come back
        with other tools any moment) or listed its tools without a hint."""
        return combine_cache_hints(
            u.tools_cache_hint if u.state == "connected" else None for u in self._upstreams.values()
        )

    def resource_servers(self) -> list[str]:
        """Prefixes of the connected servers that declare resources and are open, in config order."""
        return [u.prefix for u in self._upstreams.values() if u.offers_resources() and self.server_allows(u.prefix)]

    async def list_resources(self, prefix: str, cursor: str | None = None) -> types.ListResourcesResult:
        return await self._resource_request(prefix, "resources/list", lambda c: c.list_resources(cursor=cursor))

    async def list_resource_templates(self, prefix: str, cursor: str | None = None) -> types.ListResourceTemplatesResult:
        return await self._resource_request(
            prefix, "resources/templates/list", lambda c: c.list_resource_templates(cursor=cursor)
        )

    async def read_resource(self, prefix: str, uri: str) -> types.ReadResourceResult:
        return await self._resource_request(prefix, "resources/read", lambda c: c.read_resource(scrub(uri)))

    async def _resource_request(self, prefix: str, method: str, send: Callable[[Client], Awaitable[T]]) -> T:
        upstream = self._by_prefix.get(prefix)
        if upstream is None:
            raise ToolError(f"unknown server {prefix!r}")
        if not self.server_allows(prefix):
            raise ToolError(
                f"server {prefix!r} is closed: by its config (its allow/deny lets none of its tools through) or, "
                f"to this caller, by compiler.auth.allow (it grants none of its tools); and so is its {method}"
            )
        return await upstream.request(method, send)

    # ---- prompts, completions, instructions, subscriptions (server/passthrough.py) -----------------
    # As the resources above: one request to one server, bounded, a ToolError saying why.

    def prompt_servers(self) -> list[str]:
        """Prefixes of the connected servers that declare prompts, in config order."""
        return [u.prefix for u in self._upstreams.values() if u.offers("prompts") and self.server_allows(u.prefix)]

    def completion_servers(self) -> list[str]:
        return [u.prefix for u in self._upstreams.values() if u.offers("completions") and self.server_allows(u.prefix)]

    def subscription_servers(self) -> list[str]:
        """Prefixes of the connected servers that take resource subscriptions."""
        return [u.prefix for u in self._upstreams.values() if u.offers_subscriptions() and self.server_allows(u.prefix)]

    def instructions(self) -> dict[str, str]:
        """Each connected server's `instructions`, by prefix, in config order (not yet trusted)."""
        return {u.prefix: text for u in self._upstreams.values() if (text := u.instructions) and self.server_allows(u.prefix)}

    async def list_prompts(self, prefix: str, cursor: str | None = None) -> types.ListPromptsResult:
        return await self._resource_request(prefix, "prompts/list", lambda c: c.list_prompts(cursor=cursor))

    async def get_prompt(self, prefix: str, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        return await self._resource_request(
            prefix, "prompts/get", lambda c: c.get_prompt(scrub(name), scrub(arguments))
        )

    async def complete(
        self, prefix: str, ref: types.ResourceTemplateReference | types.PromptReference,
        argument: dict[str, str], context_arguments: dict[str, str] | None,
    ) -> types.CompleteResult:
        return await self._resource_request(
            prefix, "completion/complete", lambda c: c.complete(ref, scrub(argument), scrub(context_arguments))
        )

    async def subscribe(self, prefix: str, uri: str) -> None:
        """Hear of `uri`'s updates from server `prefix` (counted: one upstream subscription a URI)."""
        upstream = self._by_prefix.get(prefix)
        if upstream is None or not self.server_allows(prefix):
            raise ToolError(f"unknown server {prefix!r}" if upstream is None else f"server {prefix!r} is closed (its config, or compiler.auth.allow for this caller)")
        await upstream.subscribe(scrub(uri))

    async def unsubscribe(self, prefix: str, uri: str) -> None:
        upstream = self._by_prefix.get(prefix)
        if upstream is not None:
            await upstream.unsubscribe(scrub(uri))

    def answer_roots_at_rest(self, hosts: HostsAtRest) -> None:
        """The hosts a server's `roots/list` outside any call may go to (`relay.py`, roots at rest)."""
        for upstream in self._upstreams.values():
            upstream.relay.hosts_at_rest = hosts

    async def roots_changed(self) -> None:
        """A host's roots changed: every handshake-era server hears `notifications/roots/list_changed`."""
        async with anyio.create_task_group() as tg:
            for upstream in self._upstreams.values():
                tg.start_soon(upstream.roots_changed)

    def _upstream_event(self, prefix: str, event: UpstreamEvent) -> None:
        if self._tg is not None:
            for callback in self.on_upstream_event:
                self._tg.start_soon(_run_event_callback, callback, prefix, event)

    # ---- the sessions' on_change ------------------------------------------------------------

    def _rebuild_catalog(self) -> None:
        routes: dict[str, tuple[UpstreamSession, str]] = {}
        specs: list[ToolSpec] = []
        for upstream in self._upstreams.values():
            for tool, spec in upstream.specs.items():
                routes[spec.name] = (upstream, tool)
                specs.append(spec)
        unavailable = self.unavailable()
        if specs == list(self._catalog.values()):
            if unavailable != self._catalog.unavailable:
                # Who is down is not a change of the tools: a new catalog, no version, no callbacks.
                self._catalog = Catalog(specs, unavailable=unavailable)
            return
        self._routes = routes
        self._catalog = Catalog(specs, unavailable=unavailable)
        self.catalog_version += 1
        self._changed.set()
        self._changed = anyio.Event()
        if self._tg is not None:
            for callback in self.on_catalog_change:
                self._tg.start_soon(_run_callback, callback, self._catalog)


def _placeholders_bound(arguments: dict[str, Any], spec: ToolSpec) -> dict[str, Any]:
    """Arguments bound to an UnavailableTool's placeholders (`arg1`, `arg2`, ... for positional
    ones), bound to the parameters of the tool the server has listed since, in positional order."""
    positional: list[Any] = []
    rest = dict(arguments)
    while f"arg{len(positional) + 1}" in rest and f"arg{len(positional) + 1}" not in spec.parameters:
        positional.append(rest.pop(f"arg{len(positional) + 1}"))
    if len(positional) > len(spec.parameters):
        raise ToolError(f"{spec.name} takes at most {len(spec.parameters)} positional argument(s), got {len(positional)}")
    return {**dict(zip(spec.parameters, positional, strict=False)), **rest}


async def _run_event_callback(callback: EventCallback, prefix: str, event: UpstreamEvent) -> None:
    try:
        await callback(prefix, event)
    except Exception:
        logger.exception("an upstream-event callback failed")


async def _run_callback(callback: CatalogCallback, catalog: Catalog) -> None:
    try:
        await callback(catalog)
    except Exception:
        logger.exception("a catalog-change callback failed")
