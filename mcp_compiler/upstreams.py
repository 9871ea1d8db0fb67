"""Client sessions to the downstream MCP servers: connect, discover, call once, reconnect.

`UpstreamPool` is the `Toolbox` MCP tools are called through. It does I/O only, like an httpx
transport: every decision about a call (concurrency, timeouts, retries, confirmation) is the call
policy's (`policy.py`), above this seam.

    async with UpstreamPool(config) as pool:
        catalog = pool.specs()                       # Catalog of `server.tool` ToolSpecs
        value = await pool.call(catalog["wiki.search"], {"query": "x"})

- The pool owns one task group. Each server's session lives in its own task (an anyio cancel scope
  must be exited by the task that entered it), so all servers connect concurrently. `__aenter__`
  returns once every server has connected or failed its first attempt, bounded by
  `compiler.connect_timeout_s`.
- A server that fails to start is logged (with the tail of its stderr) and retried in the
  background with exponential backoff; calls to it fail fast with the reason meanwhile. A stdio
  server that dies is restarted; an HTTP session that drops is re-established.
- One `mcp.Client` per server serves every concurrent call. Cancelling the caller (the policy's
  timeout, a cancelled run) cancels the downstream request.
- A call in flight when its server goes away fails at once with `UpstreamLost` (a
  `ConnectionLost`); a call made while a server reconnects waits for it, up to
  `compiler.connect_timeout_s`.
- Values follow DESIGN.md: `structured_content` when present, else the text content parsed as
  JSON when it parses, else the text. `is_error` results raise `ToolError(text)`.

Catalog changes (a downstream `tools/list_changed` in either protocol era, a reconnect that lists
different tools, a server joining late) are signalled two ways; use whichever fits:
- `pool.on_catalog_change`: a list of `async def callback(catalog: Catalog) -> None`. Each change
  runs every callback in the pool's task group; a callback that raises is logged, never fatal.
- `await pool.catalog_changed()`: waits for the next change and returns the new catalog.
`pool.catalog_version` counts changes.

Shutdown: leaving `async with` closes every session; the SDK's stdio transport kills each child's
process group. For SIGTERM the embedding program must turn the signal into cancellation of the
scope holding the pool — `cancel_on_signals(scope)` does that:

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_signals, tg.cancel_scope)
        async with UpstreamPool(config) as pool:
            ...
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ._version import __version__
from .catalog import Catalog
from .config import CompilerConfig, Config, HttpServerConfig, ServerConfig, StdioServerConfig
from .errors import ConnectionLost, ToolError
from .plan import MAX_VALUE_DEPTH, nests_deeper
from .tools import ToolSpec

__all__ = ["UpstreamPool", "UpstreamLost", "ServerStatus", "tool_value", "cancel_on_signals", "server_prefix"]

logger = logging.getLogger(__name__)

CatalogCallback = Callable[[Catalog], Awaitable[None]]
State = Literal["connecting", "connected", "restarting", "failed"]

_STDERR_TAIL_BYTES = 2000
_STDERR_TAIL_LINES = 12
_HEALTHY_AFTER_S = 10.0  # a session that lived this long resets the backoff


class UpstreamLost(ConnectionLost):
    """The server went away (exited, dropped the connection) while the call was in flight."""


def server_prefix(name: str) -> str:
    """The catalog prefix of the server configured as `name` (`prefix.tool`; `ToolSpec.provider`)."""
    # A dot inside the server name would make `prefix.tool` ambiguous.
    return name.replace(".", "_")


@dataclass(frozen=True)
class ServerStatus:
    """One server as `pool.status()` reports it."""

    name: str
    transport: Literal["stdio", "http"]
    state: State
    connected: bool
    tools: int
    last_error: str | None
    restarts: int
    protocol_version: str | None


def tool_value(result: types.CallToolResult) -> Any:
    """The value of a tool result, for references: see the module docstring. Raises on is_error."""
    if result.is_error:
        raise ToolError(_result_text(result) or "the tool reported an error without a message")
    if result.structured_content is not None:
        if nests_deeper(result.structured_content, MAX_VALUE_DEPTH):
            raise ToolError(f"the tool's structured result nests deeper than {MAX_VALUE_DEPTH} levels")
        return result.structured_content
    if any(not isinstance(block, types.TextContent) for block in result.content):
        # Images, audio, resources: keep them as data rather than dropping them.
        return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
    text = _result_text(result)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser handles
        return text
    # Text that parses into something nested past what a reply can carry stays text.
    return text if nests_deeper(value, MAX_VALUE_DEPTH) else value


def _result_text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


class UpstreamPool:
    """Sessions to every configured server, as one `Toolbox`. Use as `async with`."""

    def __init__(
        self,
        config: Config,
        *,
        protocol_mode: str = "auto",
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        """`protocol_mode` is the SDK's `Client(mode=...)`: "auto" probes for 2026-07-28 and falls
        back to the handshake; "legacy" forces the handshake era for every server."""
        self._compiler = config.compiler
        self._upstreams = {
            name: _Upstream(name, server, config.compiler, self, protocol_mode, backoff_initial_s, backoff_max_s)
            for name, server in config.servers.items()
        }
        self._catalog = Catalog()
        self._routes: dict[str, tuple[_Upstream, str]] = {}
        self._changed = anyio.Event()
        self.catalog_version = 0
        self.on_catalog_change: list[CatalogCallback] = []
        self._tg: anyio.abc.TaskGroup | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> UpstreamPool:
        if self._tg is not None:
            raise RuntimeError("UpstreamPool is already running")
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            for upstream in self._upstreams.values():
                self._tg.start_soon(upstream.run, name=f"upstream {upstream.name}")
            # Each first attempt is bounded by connect_timeout_s on its own; the margin covers teardown.
            with anyio.move_on_after(self._compiler.connect_timeout_s + 5):
                for upstream in self._upstreams.values():
                    await upstream.first_attempt_done.wait()
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
        """The tools of every server that has listed them (kept while a server restarts)."""
        return self._catalog

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        """Call one tool once and return its value; ToolError (UpstreamLost when the server went away)."""
        route = self._routes.get(spec.name)
        if route is None:
            raise ToolError(f"unknown tool {spec.name!r}")
        upstream, tool = route
        return tool_value(await upstream.call(tool, arguments))

    # ---- observation ------------------------------------------------------------------------

    def status(self) -> list[ServerStatus]:
        return [upstream.status() for upstream in self._upstreams.values()]

    async def catalog_changed(self, timeout: float | None = None) -> Catalog:
        """Wait for the next catalog change (at most `timeout` seconds) and return the new catalog."""
        event = self._changed
        with anyio.fail_after(timeout):
            await event.wait()
        return self._catalog

    # ---- internals, called by the upstream tasks ---------------------------------------------

    def _rebuild_catalog(self) -> None:
        routes: dict[str, tuple[_Upstream, str]] = {}
        specs: list[ToolSpec] = []
        for upstream in self._upstreams.values():
            for tool, spec in upstream.specs.items():
                routes[spec.name] = (upstream, tool)
                specs.append(spec)
        if specs == list(self._catalog.values()):
            return
        self._routes = routes
        self._catalog = Catalog(specs)
        self.catalog_version += 1
        self._changed.set()
        self._changed = anyio.Event()
        if self._tg is not None:
            for callback in self.on_catalog_change:
                self._tg.start_soon(_run_callback, callback, self._catalog)


async def _run_callback(callback: CatalogCallback, catalog: Catalog) -> None:
    try:
        await callback(catalog)
    except Exception:
        logger.exception("a catalog-change callback failed")


class _Upstream:
    """One server: its session task, its tools, its limiter and its state."""

    def __init__(
        self,
        name: str,
        config: ServerConfig,
        compiler: CompilerConfig,
        pool: UpstreamPool,
        protocol_mode: str,
        backoff_initial_s: float,
        backoff_max_s: float,
    ) -> None:
        self.name = name
        self.prefix = server_prefix(name)
        self.config = config
        self.compiler = compiler
        self.pool = pool
        self.protocol_mode = protocol_mode
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        # Only to keep the HTTP read timeout above the call policy's: that one must fire first.
        self.call_timeout_s = config.timeout_s or compiler.call_timeout_s
        self.specs: dict[str, ToolSpec] = {}  # by the server's own tool name
        self.state: State = "connecting"
        self.last_error: str | None = None
        self.restarts = 0
        self.first_attempt_done = anyio.Event()
        self._state_changed = anyio.Event()
        self._client: Client | None = None
        self._lost = anyio.Event()
        self._refresh_wanted = anyio.Event()
        self._errlog: IO[bytes] | None = None
        self._http_session_gone = False  # the server answered 404 to our session id

    # ---- the session task -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve until the connection ends, back off, repeat — until cancelled."""
        failures = 0
        while True:
            started = anyio.current_time()
            try:
                await self._session()
            except _ConnectFailed as exc:
                self._set_state("failed", str(exc))
                failures += 1
                delay = self._backoff(failures)
                logger.warning("upstream %r failed to start (retrying in %.1fs): %s", self.name, delay, exc)
            else:
                # The session was live and ended; restart at once unless it keeps dying young.
                failures = 0 if anyio.current_time() - started > _HEALTHY_AFTER_S else failures + 1
                delay = self._backoff(failures - 1) if failures else 0.0
                logger.warning("upstream %r disconnected, reconnecting: %s", self.name, self.last_error or "connection closed")
                self.restarts += 1
            finally:
                self.first_attempt_done.set()
            await anyio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.backoff_initial_s * 2 ** (failures - 1), self.backoff_max_s)

    async def _session(self) -> None:
        """One connection, from spawn/connect to its end. Raises _ConnectFailed if it never got live."""
        self._lost = anyio.Event()
        # The child's stderr goes to a file, so a failure can quote its last lines.
        with tempfile.TemporaryFile() as errlog:
            self._errlog = errlog
            try:
                await self._connect_and_serve(errlog)
            finally:
                self._errlog = None

    async def _connect_and_serve(self, errlog: IO[bytes]) -> None:
        live = False
        # A deadline on a scope around the whole session (not a `with fail_after` around the
        # connect alone), because the client's task groups must nest inside our scope.
        with anyio.CancelScope(deadline=anyio.current_time() + self.compiler.connect_timeout_s) as scope:
            try:
                async with self._client_for(errlog) as client:
                    tools = await _list_all_tools(client)
                    scope.deadline = math.inf
                    live = True
                    await self._serve(client, tools)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a reported state
                if not live:
                    raise _ConnectFailed(self._describe(exc)) from None
                self.last_error = self.last_error or _describe_exception(exc)
        if scope.cancelled_caught and not live:
            raise _ConnectFailed(
                f"no answer to the MCP handshake within {self.compiler.connect_timeout_s:g}s" + self._stderr_tail()
            )

    async def _serve(self, client: Client, tools: Sequence[types.Tool]) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._refresh_on_request, client)
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    # Subscribed before any call is let through: a change a call causes is not missed.
                    await tg.start(self._listen_for_changes, client)
                self._client = client
                self._update_tools(tools)
                self.last_error = None
                self._set_state("connected")
                self.first_attempt_done.set()
                logger.info(
                    "upstream %r connected (%s, %d tools)", self.name, client.protocol_version, len(self.specs)
                )
                await self._lost.wait()
                tg.cancel_scope.cancel()
        finally:
            self._client = None
            if self.state == "connected":
                self._set_state("restarting", self.last_error or "connection closed")

    @asynccontextmanager
    async def _client_for(self, errlog: IO[bytes]) -> AsyncIterator[Client]:
        transport = _watch_eof(self._open_transport(errlog), self._on_eof)
        client = Client(
            transport,
            mode=self.protocol_mode,
            cache=None,  # a refresh after list_changed must reach the server
            message_handler=self._on_message,
            client_info=types.Implementation(name="mcp-compiler", version=__version__),
        )
        async with client:
            yield client

    @asynccontextmanager
    async def _open_transport(self, errlog: IO[bytes]) -> AsyncIterator[Any]:
        config = self.config
        if isinstance(config, StdioServerConfig):
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env_values() or None, cwd=config.cwd
            )
            async with stdio_client(params, errlog=errlog) as streams:  # type: ignore[arg-type]
                yield streams
        else:
            assert isinstance(config, HttpServerConfig)
            # Read timeout above the call timeout: our own deadline should be the one that fires.
            timeout = httpx2.Timeout(self.compiler.connect_timeout_s, read=max(300.0, self.call_timeout_s + 30))
            self._http_session_gone = False
            http = httpx2.AsyncClient(
                headers=config.header_values(), timeout=timeout,
                event_hooks={"response": [self._on_http_response]},
            )
            async with http, streamable_http_client(config.url, http_client=http) as streams:
                yield streams

    async def _on_http_response(self, response: httpx2.Response) -> None:
        # A 404 to a request carrying our session id means the server dropped the session (the
        # spec's signal to start a new one); the SDK reports it only as an error message.
        if response.status_code == 404 and "mcp-session-id" in response.request.headers:
            self._http_session_gone = True

    # ---- events from the session ------------------------------------------------------------

    def _on_eof(self) -> None:
        if isinstance(self.config, StdioServerConfig):
            self.last_error = "the server process exited" + self._stderr_tail()
        else:
            self.last_error = "the server closed the connection"
        self._lost.set()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            # e.g. a stdio server printing non-JSON on stdout: noisy but not fatal.
            first_line = _describe_exception(message).splitlines()[0]
            logger.warning("upstream %r sent a message that is not MCP (ignored): %s", self.name, first_line)
        elif isinstance(message, types.ToolListChangedNotification):
            self._refresh_wanted.set()

    async def _listen_for_changes(
        self, client: Client, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """2026-07-28 servers signal tool changes only on a `subscriptions/listen` stream.

        Reports started once the server acknowledged the subscription (or refused it, or did not
        answer in time), so the caller can hold calls back until changes will be heard.
        """
        started = False
        # The deadline bounds the wait for the server's ack only; the scope must enclose the
        # subscription's own task group, hence a scope around it rather than `fail_after`.
        with anyio.CancelScope(deadline=anyio.current_time() + self.compiler.connect_timeout_s) as scope:
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    scope.deadline = math.inf
                    task_status.started()
                    started = True
                    async for _event in subscription:
                        self._refresh_wanted.set()
            except Exception as exc:  # noqa: BLE001 - a server without subscriptions never refreshes
                logger.debug("upstream %r: no tools/list_changed subscription (%s)", self.name, exc)
        if scope.cancelled_caught:
            logger.debug("upstream %r: tools/list_changed subscription was not acknowledged", self.name)
        if not started:
            task_status.started()

    async def _refresh_on_request(self, client: Client) -> None:
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            try:
                with anyio.fail_after(self.call_timeout_s):
                    tools = await _list_all_tools(client)
            except Exception as exc:  # noqa: BLE001
                logger.warning("upstream %r: refreshing the tool list failed: %s", self.name, _describe_exception(exc))
                continue
            logger.info("upstream %r: tool list changed (%d tools)", self.name, len(tools))
            self._update_tools(tools)

    def _update_tools(self, tools: Sequence[types.Tool]) -> None:
        self.specs = {t.name: self._spec(t) for t in tools if self.config.allows(t.name)}
        self.pool._rebuild_catalog()

    def _spec(self, tool: types.Tool) -> ToolSpec:
        hints = tool.annotations or types.ToolAnnotations()
        read_only = bool(hints.read_only_hint)
        # The policy applies to tools *marked* destructive. MCP's default (an unannotated tool may
        # be destructive) would put every unannotated third-party tool behind a confirmation.
        destructive = not read_only and hints.destructive_hint is True
        return ToolSpec(
            name=f"{self.prefix}.{tool.name}",
            description=tool.description or tool.title or "",
            input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
            output_schema=dict(tool.output_schema) if tool.output_schema else None,
            provider=self.prefix,
            read_only=read_only,
            idempotent=bool(hints.idempotent_hint),
            destructive=destructive,
        )

    # ---- calls ------------------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        client = self._client if self.state == "connected" and self._client is not None else await self._wait_live()
        try:
            return await client.call_tool(tool, arguments)
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED or self._http_session_gone:
                raise self._lost_during(tool, client, exc.message) from None
            raise ToolError(f"{self.prefix}.{tool}: {exc.message}") from None
        except (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise self._lost_during(tool, client, _describe_exception(exc)) from None
        except Exception as exc:  # noqa: BLE001 - e.g. a result failing its output schema
            raise ToolError(f"{self.prefix}.{tool}: {_describe_exception(exc)}") from None

    def _lost_during(self, tool: str, client: Client, reason: str) -> UpstreamLost:
        if client is self._client:
            self.last_error = self.last_error or reason
            self._set_state("restarting", self.last_error)
            self._lost.set()
        return UpstreamLost(f"{self.prefix}.{tool}: server {self.name!r} went away during the call ({reason})")

    async def _wait_live(self) -> Client:
        """The live client; waits through a (re)connect in progress, fails fast on a failed server."""
        with anyio.move_on_after(self.compiler.connect_timeout_s):
            while self.state in ("connecting", "restarting"):
                await self._state_changed.wait()
        if self.state == "connected" and self._client is not None:
            return self._client
        reason = self.last_error or f"not connected after {self.compiler.connect_timeout_s:g}s"
        raise ToolError(f"server {self.name!r} is not available: {reason}")

    def _set_state(self, state: State, error: str | None = None) -> None:
        self.state = state
        if error is not None:
            self.last_error = error
        self._state_changed.set()
        self._state_changed = anyio.Event()

    # ---- reporting --------------------------------------------------------------------------

    def status(self) -> ServerStatus:
        client = self._client
        return ServerStatus(
            name=self.name,
            transport=self.config.kind,
            state=self.state,
            connected=self.state == "connected",
            tools=len(self.specs),
            last_error=self.last_error,
            restarts=self.restarts,
            protocol_version=client.protocol_version if client is not None and self.state == "connected" else None,
        )

    def _describe(self, exc: BaseException) -> str:
        leaf = _leaf(exc)
        config = self.config
        if isinstance(leaf, FileNotFoundError) and isinstance(config, StdioServerConfig):
            return f"command not found: {config.command!r}"
        if isinstance(leaf, PermissionError) and isinstance(config, StdioServerConfig):
            return f"command is not executable: {config.command!r}"
        if isinstance(leaf, MCPError) and (leaf.code == types.CONNECTION_CLOSED or self._http_session_gone):
            return "the server exited or closed the connection during the handshake" + self._stderr_tail()
        if isinstance(leaf, httpx2.ConnectError) and isinstance(config, HttpServerConfig):
            return f"cannot connect to {_redact_url(config.url)}: {leaf}"
        return _describe_exception(leaf) + self._stderr_tail()

    def _stderr_tail(self) -> str:
        """The last lines the child wrote on stderr, to say why it failed."""
        if self._errlog is None:
            return ""
        try:
            # pread leaves the file offset alone: the child shares it and is still writing.
            fd = self._errlog.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - _STDERR_TAIL_BYTES)
            text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line for line in text.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
        return ("\n  stderr: " + "\n  stderr: ".join(lines)) if lines else ""


class _ConnectFailed(Exception):
    """A connection attempt ended before the session was live."""


async def _list_all_tools(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a server whose cursor never ends must not hang us
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside the (nested) exception groups the SDK raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe_exception(exc: BaseException) -> str:
    leaf = _leaf(exc)
    if isinstance(leaf, MCPError):
        return f"{leaf.message} (MCP error {leaf.code})"
    text = str(leaf).strip()
    return f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__


def _redact_url(url: str) -> str:
    """The URL without userinfo or query string, which may carry credentials."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# ---- transport plumbing -------------------------------------------------------------------------


class _EofWatchingStream:
    """Wraps a transport's read stream to notice the end of the connection.

    The SDK fails pending requests when the stream ends but keeps the session object around;
    this is how the session task learns that it must reconnect.
    """

    def __init__(self, inner: Any, on_eof: Callable[[], None]) -> None:
        self._inner = inner
        self._on_eof = on_eof

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # e.g. `last_context` on HTTP context streams

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            self._on_eof()
            raise

    def __aiter__(self) -> _EofWatchingStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _EofWatchingStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.aclose()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()


@asynccontextmanager
async def _watch_eof(transport: Any, on_eof: Callable[[], None]) -> AsyncIterator[Any]:
    async with transport as (read_stream, write_stream):
        yield _EofWatchingStream(read_stream, on_eof), write_stream


async def cancel_on_signals(
    scope: anyio.CancelScope, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> None:
    """Cancel `scope` when the process gets one of `signals`, so every session closes cleanly.

    Run it in the task group whose scope holds the pool: `tg.start_soon(cancel_on_signals,
    tg.cancel_scope)`. Leaving the pool's context then stops every stdio child.
    """
    with anyio.open_signal_receiver(*signals) as received:
        async for signum in received:
            logger.info("received %s; shutting down", signal.Signals(signum).name)
            scope.cancel()
            return
