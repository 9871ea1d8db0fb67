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
- With `relay_to_hosts=True` (the MCP server) each session offers the server sampling,
  elicitation and roots, and its requests and log messages during a call go to the host of that
  call (`relay.HostRelay`, one per server; the host is `relay.current_host()` in the calling task).
- Values follow the README's "value of a task" rule: `structured_content` when present, else the text content parsed as
  JSON when it parses, else the text. `is_error` results raise `ToolError(text)`.

What a server sends is not trusted (issue 11, "hardening the boundary"):
- Bytes on a stdio server's stdout that are not UTF-8 are read as U+FFFD, with one warning per
  session naming the server; the session goes on. (With the SDK's default, strict decoding, one
  such byte left the transport draining stdout for good: every later call timed out.)
- Arguments sent and results received pass `text.scrub` (a lone surrogate would make the SDK's
  serialiser raise inside the transport's writer task, which ends the session).
- A response the SDK would drop in silence fails the call at once with what was wrong, instead of
  leaving it to its timeout: a response whose id matches no request in flight (every call in
  flight on that session fails: the answer may have been any of theirs), one with neither
  `result` nor `error`, a JSON array (a batch; MCP has none). `_Wire` sees every message on the
  transport's streams (the SDK's public transport contract) and keeps the books on ids.
- A `tools/list` page is checked tool by tool before the SDK sees it: one tool the SDK's
  validation would reject (and with it the whole page) is dropped with a warning naming it.
- A tool is dropped, with a warning naming the server, the tool and why, when its name is not a
  valid MCP tool name (letters, digits, `_`, `-`, `.`; 1 to 128), a parameter name holds control
  characters, or its input or output schema cannot be used (`schemas.schema_problem`: invalid,
  a `$ref` that does not resolve, `$ref`s that loop). Descriptions and titles lose control
  characters (ANSI escapes, bidi overrides, NUL ...) before they can reach a prompt.
- Every configured secret (env values, header values, URL userinfo and query values) is taken
  out of every error text and status the pool produces (`logs.Redactor`); the program takes
  them out of log records too (`logs.redact_secrets`).
- A configured server that is not connected is known by its prefix: `pool.unavailable()` says
  why, and the catalog resolves `server.anything` to an `UnavailableTool`, so a plan naming it
  passes its checks and that task fails at run time with the server's reason, while the rest of
  the plan runs.

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

import codecs
import contextvars
import json
import logging
import math
import os
import re
import signal
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from jsonschema.exceptions import best_match
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.dispatcher import as_request_id, coerce_request_id
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types.methods import validate_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from .._version import __version__
from ..config import CompilerConfig, Config, HttpServerConfig, ServerConfig, StdioServerConfig, server_prefix
from ..errors import ConnectionLost, ToolError
from ..language.plan import MAX_VALUE_DEPTH, nests_deeper
from ..logs import Redactor
from ..text import scrub
from ..tools.catalog import Catalog, UnavailableTool
from ..tools.toolbox import ToolProgress, ToolSpec
from ..tools.untrusted_schemas import schema_problem, validator_for
from .relay import HostRelay, current_host
from .task_client import UpstreamTasks, legacy_task_only, with_task_progress

__all__ = ["UpstreamPool", "UpstreamLost", "ServerStatus", "tool_value", "cancel_on_signals", "server_prefix"]

logger = logging.getLogger(__name__)

CatalogCallback = Callable[[Catalog], Awaitable[None]]
State = Literal["connecting", "connected", "restarting", "failed"]

_STDERR_TAIL_BYTES = 2000
_STDERR_TAIL_LINES = 12
_HEALTHY_AFTER_S = 10.0  # a session that lived this long resets the backoff

# MCP tool names (SEP-986): what a plan, a prompt and a catalog line can carry as they are.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
# Characters that would let text a server wrote draw lines or hide text in a prompt: C0 and C1
# controls (tab and newline are kept in descriptions), bidi overrides and isolates, zero-width
# characters, the BOM. ANSI escape sequences go whole.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _clean_text(text: str | None, *, one_line: bool = False) -> str:
    """Text from a server as a prompt may show it: no controls, `\n` the only line break."""
    if not text:
        return ""
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", _ANSI.sub("", text)))
    return " ".join(text.split()) if one_line else text


# ---- stdout that is not UTF-8 ---------------------------------------------------------------------
# The SDK decodes a stdio server's stdout with `StdioServerParameters.encoding`. Ours is UTF-8
# whose errors are replaced by U+FFFD and reported to the session that read them (a context
# variable set in each upstream's task, which the transport's reader task inherits), so the
# session can warn once. The codec and the error handler are registered under our own names.

_UTF8_REPORTING = "mcp_compiler_utf_8"
_REPORT_ERRORS = "mcp_compiler.replace_and_report"
_undecodable: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "mcp_compiler_undecodable", default=None
)


def _replace_and_report(exc: UnicodeError) -> tuple[str, int]:
    report = _undecodable.get()
    if report is not None:
        report()
    return codecs.replace_errors(exc)


class _ReportingUtf8Decoder(codecs.BufferedIncrementalDecoder):
    def __init__(self, errors: str = "strict") -> None:
        super().__init__(_REPORT_ERRORS)  # whatever the transport asks for: replace, and report

    _buffer_decode = codecs.utf_8_decode


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != _UTF8_REPORTING:
        return None
    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(
        name=_UTF8_REPORTING, encode=utf8.encode, decode=utf8.decode,
        incrementalencoder=utf8.incrementalencoder, incrementaldecoder=_ReportingUtf8Decoder,
        streamreader=utf8.streamreader, streamwriter=utf8.streamwriter,
    )


codecs.register_error(_REPORT_ERRORS, _replace_and_report)
codecs.register(_find_codec)


class UpstreamLost(ConnectionLost):
    """The server went away (exited, dropped the connection) while the call was in flight."""


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
    retry_at: float | None = None  # when the next connection attempt starts (time.time()), while backing off


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
        wait_for_servers: bool = True,
        relay_to_hosts: bool = False,
    ) -> None:
        """`protocol_mode` is the SDK's `Client(mode=...)`: "auto" probes for 2026-07-28 and falls
        back to the handshake; "legacy" forces the handshake era for every server.

        `wait_for_servers=False` makes `async with` return at once, the servers joining in the
        background (catalog changes announce them); `settle()` waits for the ones a plan names.

        `relay_to_hosts=True` (the MCP server) offers the servers sampling, elicitation and roots,
        and passes their requests and log messages on to the host of the call (`relay.py`).
        """
        self._compiler = config.compiler
        self.relay_to_hosts = relay_to_hosts
        self._wait_for_servers = wait_for_servers
        self.redact = Redactor.from_config(config)
        self._upstreams = {
            name: _Upstream(name, server, config.compiler, self, protocol_mode, backoff_initial_s, backoff_max_s)
            for name, server in config.servers.items()
        }
        self._by_prefix = {upstream.prefix: upstream for upstream in self._upstreams.values()}
        self._catalog = Catalog(unavailable=self.unavailable())
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
        the servers not connected now (`Catalog.unavailable`; see the module docstring)."""
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
            await down.live_client()  # raises "server 'x' is not available: <why>" while it is not
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

    # ---- observation ------------------------------------------------------------------------

    def status(self) -> list[ServerStatus]:
        return [upstream.status() for upstream in self._upstreams.values()]

    async def settle(self, tools: Iterable[str] | None) -> None:
        """Wait until the servers of `tools` (catalog names; None: every server) have finished
        their first connection attempt, each at most its connect timeout, so a plan that names a
        server still starting is checked against its tools rather than refused."""
        prefixes = None if tools is None else {name.split(".", 1)[0] for name in tools if "." in name}
        if tools is not None and any("." not in name for name in tools):
            prefixes = None  # a bare name may belong to any server
        waiting = [
            u for u in self._upstreams.values()
            if not u.first_attempt_done.is_set() and (prefixes is None or u.prefix in prefixes)
        ]
        # Each first attempt is bounded by connect_timeout_s on its own; the margin covers teardown.
        with anyio.move_on_after(self._compiler.connect_timeout_s + 5):
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

    def resource_servers(self) -> list[str]:
        """Prefixes of the connected servers that declare resources, in config order."""
        return [u.prefix for u in self._upstreams.values() if _offers_resources(u)]

    async def list_resources(self, prefix: str, cursor: str | None = None) -> types.ListResourcesResult:
        return await self._resource_request(prefix, "resources/list", lambda c: c.list_resources(cursor=cursor))

    async def list_resource_templates(self, prefix: str, cursor: str | None = None) -> types.ListResourceTemplatesResult:
        return await self._resource_request(
            prefix, "resources/templates/list", lambda c: c.list_resource_templates(cursor=cursor)
        )

    async def read_resource(self, prefix: str, uri: str) -> types.ReadResourceResult:
        return await self._resource_request(prefix, "resources/read", lambda c: c.read_resource(scrub(uri)))

    async def _resource_request(self, prefix: str, method: str, request: Callable[[Client], Awaitable[Any]]) -> Any:
        upstream = self._by_prefix.get(prefix)
        if upstream is None:
            raise ToolError(f"unknown server {prefix!r}")
        client = await upstream.live_client()
        try:
            with anyio.fail_after(upstream.call_timeout_s):
                return await request(client)
        except TimeoutError:
            raise ToolError(f"server {prefix!r}: no answer to {method} within {upstream.call_timeout_s:g}s") from None
        except MCPError as exc:
            raise ToolError(self.redact(scrub(f"server {prefix!r}: {method}: {exc.message}"))) from None
        except Exception as exc:  # noqa: BLE001 - e.g. a result the SDK cannot parse, a dropped connection
            raise ToolError(self.redact(scrub(f"server {prefix!r}: {method}: {_describe_exception(exc)}"))) from None

    # ---- internals, called by the upstream tasks ---------------------------------------------

    def _rebuild_catalog(self) -> None:
        routes: dict[str, tuple[_Upstream, str]] = {}
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


def _offers_resources(upstream: _Upstream) -> bool:
    client = upstream._client
    if upstream.state != "connected" or client is None:
        return False
    try:
        return client.server_capabilities.resources is not None
    except RuntimeError:  # not connected after all
        return False


def _placeholders_bound(arguments: dict[str, Any], spec: ToolSpec) -> dict[str, Any]:
    """Arguments bound to an UnavailableTool's placeholders (`arg1`, `arg2`, ... for positional
    ones), bound to the parameters of the tool the server has listed since, in positional order."""
    positional: list[Any] = []
    rest = dict(arguments)
    while f"arg{len(positional) + 1}" in rest and f"arg{len(positional) + 1}" not in spec.parameters:
        positional.append(rest.pop(f"arg{len(positional) + 1}"))
    if len(positional) > len(spec.parameters):
        raise ToolError(f"{spec.name} takes at most {len(spec.parameters)} positional argument(s), got {len(positional)}")
    return {**dict(zip(spec.parameters, positional)), **rest}


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
        self._task_only: dict[str, str] = {}  # tools only callable with 2025-11-25 task augmentation: why not
        self.state: State = "connecting"
        self.last_error: str | None = None
        self.restarts = 0
        self.retry_at: float | None = None
        self.first_attempt_done = anyio.Event()
        self._state_changed = anyio.Event()
        self._client: Client | None = None
        self._lost = anyio.Event()
        self._refresh_wanted = anyio.Event()
        self._errlog: IO[bytes] | None = None
        self._http_session_gone = False  # the server answered 404 to our session id
        self._warned_undecodable = False  # once per session
        self.redact = pool.redact
        self._wire: _Wire | None = None
        self._output_validators: dict[str, tuple[Any, Any]] = {}  # tool -> (schema, its validator)
        self.relay = HostRelay(self.prefix, timeout_s=self.call_timeout_s, redact=self.redact)

    # ---- the session task -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve until the connection ends, back off, repeat — until cancelled."""
        # This task's own context (each task has a copy); the transport's reader task inherits it.
        _undecodable.set(self._on_undecodable)
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
                if delay > 0:
                    # It keeps dying young: while it backs off, calls fail at once with why, rather
                    # than each holding a slot of the server until its timeout.
                    self._set_state("failed", f"{self.last_error or 'connection closed'} (it exited {failures} "
                                    f"time(s) within {_HEALTHY_AFTER_S:g} s of starting; retrying in {delay:.1f} s)")
            finally:
                self.first_attempt_done.set()
            self.retry_at = time.time() + delay if delay > 0 else None
            try:
                await anyio.sleep(delay)
            finally:
                self.retry_at = None

    def _backoff(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.backoff_initial_s * 2 ** (failures - 1), self.backoff_max_s)

    async def _session(self) -> None:
        """One connection, from spawn/connect to its end. Raises _ConnectFailed if it never got live."""
        self._lost = anyio.Event()
        self._warned_undecodable = False
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
                self.last_error = self.last_error or self.redact(_describe_exception(exc))
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
        wire = self._wire = _Wire(self)
        relay = self.relay if self.pool.relay_to_hosts else None
        client = Client(
            wire.around(self._open_transport(errlog)),
            mode=self.protocol_mode,
            cache=None,  # a refresh after list_changed must reach the server
            message_handler=self._on_message,
            # What hosts may provide, advertised (and passed on to the host of the call, `relay.py`).
            sampling_callback=relay.sampling if relay else None,
            elicitation_callback=relay.elicitation if relay else None,
            list_roots_callback=relay.list_roots if relay else None,
            logging_callback=relay.log if relay else None,
            client_info=types.Implementation(name="mcp-compiler", version=__version__),
            extensions=[UpstreamTasks()],  # a tool answered with a task is polled to its end (SEP-2663)
        )
        wire.client = client
        async with client:
            yield client

    @asynccontextmanager
    async def _open_transport(self, errlog: IO[bytes]) -> AsyncIterator[Any]:
        config = self.config
        if isinstance(config, StdioServerConfig):
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env_values() or None, cwd=config.cwd,
                # UTF-8 whose undecodable bytes become U+FFFD and are reported (see the top of the module).
                encoding=_UTF8_REPORTING, encoding_error_handler="replace",
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

    def _on_undecodable(self) -> None:
        if not self._warned_undecodable:
            self._warned_undecodable = True
            logger.warning(
                "upstream %r wrote bytes that are not UTF-8 on stdout: read as U+FFFD "
                "(the session goes on; said once per session)", self.name,
            )

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            # e.g. a stdio server printing non-JSON on stdout: noisy but not fatal.
            first_line = self.redact(_describe_exception(message)).splitlines()[0]
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
                logger.debug(
                    "upstream %r: no tools/list_changed subscription (%s)", self.name, self.redact(str(exc))
                )
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
                logger.warning(
                    "upstream %r: refreshing the tool list failed: %s", self.name, self.redact(_describe_exception(exc))
                )
                continue
            logger.info("upstream %r: tool list changed (%d tools)", self.name, len(tools))
            self._update_tools(tools)

    def _update_tools(self, tools: Sequence[types.Tool]) -> None:
        specs: dict[str, ToolSpec] = {}
        self._task_only = {}
        for tool in tools:
            if not self.config.allows(tool.name):
                continue
            problem = self._tool_problem(tool)
            if problem is not None:
                logger.warning("upstream %r: dropping tool %r: %s", self.name, tool.name, problem)
                continue
            specs[tool.name] = self._spec(tool)
        self.specs = specs
        self.pool._rebuild_catalog()

    def _output_schema(self, tool: types.Tool) -> dict[str, Any] | None:
        """The tool's output schema as listed (the wire keeps it back from the SDK)."""
        schema = tool.output_schema
        if schema is None and self._wire is not None:
            schema = self._wire.output_schemas.get(tool.name)
        return dict(schema) if isinstance(schema, Mapping) else None

    def _tool_problem(self, tool: types.Tool) -> str | None:
        """Why a listed tool cannot be offered, or None (see the module docstring)."""
        if not _TOOL_NAME.fullmatch(tool.name):
            return "not a valid MCP tool name (letters, digits, '_', '-', '.'; 1 to 128 of them)"
        for which, schema in (("input", tool.input_schema), ("output", self._output_schema(tool))):
            if schema is None:
                continue
            properties = schema.get("properties")
            for name in properties if isinstance(properties, Mapping) else ():
                if _NOT_IN_A_NAME.search(name):
                    return f"its {which} schema has a property name with control characters: {name!r}"
            problem = schema_problem(schema)
            if problem is not None:
                return f"its {which} schema cannot be used: {problem}"
        return None

    def _spec(self, tool: types.Tool) -> ToolSpec:
        hints = tool.annotations or types.ToolAnnotations()
        read_only = bool(hints.read_only_hint)
        # The policy applies to tools *marked* destructive. MCP's default (an unannotated tool may
        # be destructive) would put every unannotated third-party tool behind a confirmation.
        destructive = not read_only and hints.destructive_hint is True
        description = _clean_text(tool.description) or _clean_text(tool.title, one_line=True)
        if (task_only := legacy_task_only(tool)) is not None:  # listed, and every call fails with why
            self._task_only[tool.name] = task_only
            description = f"(unavailable: {task_only}) {description}"
        return ToolSpec(
            name=f"{self.prefix}.{tool.name}",
            description=description,
            input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
            output_schema=self._output_schema(tool) or None,
            provider=self.prefix,
            read_only=read_only,
            idempotent=bool(hints.idempotent_hint),
            destructive=destructive,
        )

    # ---- calls ------------------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: dict[str, Any], progress: ToolProgress | None = None
    ) -> types.CallToolResult:
        if tool in self._task_only:
            raise ToolError(f"{self.prefix}.{tool} is unavailable: {self._task_only[tool]}")
        client = await self.live_client()
        on_progress = None if progress is None else _relay_progress(progress)
        host = current_host() if self.pool.relay_to_hosts else None
        try:
            with self.relay.calling(host):
                result = await with_task_progress(on_progress, client.call_tool(
                    tool, arguments, progress_callback=on_progress, meta=_log_opt_in(host, client)))
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED or self._http_session_gone:
                raise self._lost_during(tool, client, self.redact(exc.message)) from None
            raise ToolError(self.redact(f"{self.prefix}.{tool}: {exc.message}")) from None
        except (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise self._lost_during(tool, client, self.redact(_describe_exception(exc))) from None
        except Exception as exc:  # noqa: BLE001 - e.g. a result the SDK cannot parse
            raise ToolError(self.redact(f"{self.prefix}.{tool}: {_describe_exception(exc)}")) from None
        self._check_output(tool, result)
        return result

    def _check_output(self, tool: str, result: types.CallToolResult) -> None:
        """What the SDK checks of a result against its tool's output schema, with our validator."""
        spec = self.specs.get(tool)
        schema = spec.output_schema if spec is not None else None
        if schema is None or result.is_error:
            return
        if result.structured_content is None:
            raise ToolError(f"{self.prefix}.{tool}: the tool has an output schema but returned no structured content")
        cached = self._output_validators.get(tool)
        if cached is None or cached[0] is not schema:
            cached = self._output_validators[tool] = (schema, validator_for(schema))
        try:
            error = best_match(cached[1].iter_errors(result.structured_content))
        except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on a result nested past reason
            raise ToolError(f"{self.prefix}.{tool}: its result cannot be checked against its output schema "
                            f"({type(exc).__name__})") from None
        if error is not None:
            where = "".join(f"[{p!r}]" for p in error.absolute_path)
            raise ToolError(self.redact(f"{self.prefix}.{tool}: the result does not fit its output schema: "
                                        f"{where + ': ' if where else ''}{error.message}"))

    def _lost_during(self, tool: str, client: Client, reason: str) -> UpstreamLost:
        if client is self._client:
            self.last_error = self.last_error or reason
            self._set_state("restarting", self.last_error)
            self._lost.set()
        return UpstreamLost(f"{self.prefix}.{tool}: server {self.name!r} went away during the call ({reason})")

    async def live_client(self) -> Client:
        """The live client: at once when connected, else `_wait_live`."""
        if self.state == "connected" and self._client is not None:
            return self._client
        return await self._wait_live()

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
            self.last_error = self.redact(error)
        self._state_changed.set()
        self._state_changed = anyio.Event()
        self.pool._rebuild_catalog()  # the catalog knows who is down (Catalog.unavailable)

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
            retry_at=self.retry_at,
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
            return self.redact(f"cannot connect to {_redact_url(config.url)}: {leaf}")
        return self.redact(_describe_exception(leaf)) + self._stderr_tail()

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
        lines = [self.redact(line) for line in text.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
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


class _Wire:
    """Every message between the SDK and one transport, seen on its way: the books on JSON-RPC ids.

    Sits on the transport's two streams (the SDK's public transport contract: `SessionMessage`s,
    and `Exception`s for what the transport could not parse), one `_Wire` per connection:

    - the end of the read stream tells the session task to reconnect (the SDK fails pending
      requests then, but keeps its session object);
    - a response the SDK would drop in silence (an id that matches no request in flight; neither
      `result` nor `error`; a JSON array) is answered, to the requests it leaves waiting, by an
      error response made here that says what was wrong, so their calls fail at once;
    - a `tools/list` result is passed to the SDK without the tools its validation rejects.
    """

    _SETTLED_KEPT = 4096  # ids answered or given up on, whose late answers are no protocol error

    def __init__(self, upstream: _Upstream) -> None:
        self.upstream = upstream
        self.client: Client | None = None
        self._pending: dict[Any, tuple[Any, str]] = {}  # coerced id -> (the id as sent, method)
        self._settled: set[Any] = set()
        self._settled_order: deque[Any] = deque()
        self._injected: deque[SessionMessage] = deque()
        self.output_schemas: dict[str, Any] = {}  # by tool name, as listed (the SDK sees none)

    @asynccontextmanager
    async def around(self, transport: Any) -> AsyncIterator[Any]:
        async with transport as (read_stream, write_stream):
            yield _WireReader(self, read_stream), _WireWriter(self, write_stream)

    # ---- outbound ---------------------------------------------------------------------------

    def outbound(self, item: Any) -> None:
        message = item.message if isinstance(item, SessionMessage) else None
        if isinstance(message, types.JSONRPCRequest):
            self._pending[coerce_request_id(message.id)] = (message.id, message.method)
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            request_id = as_request_id((message.params or {}).get("requestId"))
            if request_id is not None:
                self._settle(coerce_request_id(request_id))

    # ---- inbound ----------------------------------------------------------------------------

    def next_injected(self) -> SessionMessage | None:
        return self._injected.popleft() if self._injected else None

    def inbound(self, item: Any) -> Any:
        """What the SDK is to see for `item`: itself, a replacement, or None (nothing)."""
        if isinstance(item, SessionMessage):
            message = item.message
            if isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
                return self._response(item, message)
            return item
        if isinstance(item, ValidationError):
            return self._malformed(item)
        return item

    def _response(self, item: SessionMessage, message: types.JSONRPCResponse | types.JSONRPCError) -> Any:
        if message.id is None:  # an error about a request the server could not read
            error = message.error.message if isinstance(message, types.JSONRPCError) else ""
            self._broken(f"it could not read a request of ours ({scrub(error)})")
            return None
        key = coerce_request_id(message.id)
        entry = self._pending.pop(key, None)
        if entry is None:
            if key in self._settled:
                return item  # a late or repeated answer: the SDK drops it, as it should
            self._broken(f"it answered with id {message.id!r}, which matches no request in flight")
            return None
        self._settle(key)
        if entry[1] == "tools/list" and isinstance(message, types.JSONRPCResponse):
            return self._listing(item, message)
        return item

    def _malformed(self, exc: ValidationError) -> Any:
        errors = exc.errors(include_url=False)
        if not errors or errors[0]["type"] == "json_invalid":
            return exc  # not JSON at all (a print on stdout): the session's message handler says so
        value = errors[0].get("input")
        if isinstance(value, list):
            what = "it sent a JSON array (a JSON-RPC batch, which MCP does not use)"
            ids = [element.get("id") for element in value if isinstance(element, dict)]
        elif isinstance(value, dict) and "method" not in value and "id" in value:
            if "result" not in value and "error" not in value:
                what = f'its response to request {value["id"]!r} has neither "result" nor "error"'
            else:
                what = f"its response to request {value['id']!r} is not valid JSON-RPC"
            ids = [value["id"]]
        else:
            return exc  # a malformed request or notification of its own: no call of ours waits on it
        keys = [coerce_request_id(i) for i in ids if as_request_id(i) is not None]
        self._broken(what, [k for k in keys if k in self._pending] or None)
        return None

    def _broken(self, what: str, keys: list[Any] | None = None) -> None:
        """Fail the requests `keys` (None: every one in flight but the change subscription)."""
        upstream = self.upstream
        what = upstream.redact(what)
        if keys is None:
            keys = [k for k, (_, method) in self._pending.items() if method != "subscriptions/listen"]
            many = len(keys) > 1
        else:
            many = False
        logger.warning("upstream %r broke JSON-RPC: %s", upstream.name, what)
        text = f"server {upstream.name!r} broke JSON-RPC: {what}"
        if many:
            text += " (every call in flight on it fails: that answer may have been meant for any of them)"
        for key in keys:
            sent_id, _method = self._pending.pop(key)
            self._settle(key)
            error = types.ErrorData(code=types.INTERNAL_ERROR, message=text)
            self._injected.append(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=sent_id, error=error)))

    def _listing(self, item: SessionMessage, message: types.JSONRPCResponse) -> SessionMessage:
        """A tools/list page as the SDK is to see it: without the tools its validation would reject
        (it rejects the whole page for one), and without output schemas, which are kept here.

        The SDK validates each result against its tool's output schema with jsonschema as it comes,
        whose patterns run on Python's backtracking `re`: a server could block the event loop with
        a pattern and a result of its own. The pool validates results with `schemas.validator_for`.
        """
        result = message.result
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return item
        tools = self._valid_tools(result, tools)
        for index, tool in enumerate(tools):
            if isinstance(tool, dict) and "outputSchema" in tool:
                if isinstance(tool.get("name"), str):
                    self.output_schemas[tool["name"]] = tool["outputSchema"]
                tools[index] = {k: v for k, v in tool.items() if k != "outputSchema"}
        replaced = types.JSONRPCResponse(jsonrpc="2.0", id=message.id, result={**result, "tools": tools})
        return SessionMessage(replaced, metadata=item.metadata)

    def _valid_tools(self, result: dict[str, Any], tools: list[Any]) -> list[Any]:
        version = self._version()
        if version is None:
            return list(tools)
        try:
            validate_server_result("tools/list", version, result)
            return list(tools)
        except ValidationError:
            pass
        except (KeyError, ValueError):  # a version or method the SDK's tables do not have
            return list(tools)
        kept = []
        for tool in tools:
            try:
                validate_server_result("tools/list", version, {**result, "tools": [tool]})
            except ValidationError as exc:
                name = tool.get("name") if isinstance(tool, dict) else tool
                logger.warning(
                    "upstream %r: dropping tool %r: the MCP SDK rejects its definition (%s)",
                    self.upstream.name, name, _first_error(exc),
                )
                continue
            kept.append(tool)
        return kept

    def _version(self) -> str | None:
        try:
            return self.client.protocol_version if self.client is not None else None
        except RuntimeError:
            return None

    def _settle(self, key: Any) -> None:
        self._pending.pop(key, None)
        if key not in self._settled:
            self._settled.add(key)
            self._settled_order.append(key)
            if len(self._settled_order) > self._SETTLED_KEPT:
                self._settled.discard(self._settled_order.popleft())


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


class _WireStream:
    """A transport stream seen through the `_Wire`: everything but the one method it watches is the
    transport's own (e.g. `last_context` on HTTP context streams), closing included."""

    def __init__(self, wire: _Wire, inner: Any) -> None:
        self._wire = wire
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.aclose()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()


class _WireReader(_WireStream):
    """The read stream the SDK gets: the transport's, through `_Wire.inbound`."""

    async def receive(self) -> Any:
        while True:
            injected = self._wire.next_injected()
            if injected is not None:
                return injected
            try:
                item = await self._inner.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self._wire.upstream._on_eof()
                raise
            item = self._wire.inbound(item)
            if item is not None:
                return item

    def __aiter__(self) -> _WireReader:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _WireWriter(_WireStream):
    """The write stream the SDK gets: the transport's, through `_Wire.outbound`."""

    async def send(self, item: Any) -> None:
        self._wire.outbound(item)  # before the send: the answer may come back before it returns
        await self._inner.send(item)


def _log_opt_in(host: Any, client: Client) -> dict[str, Any] | None:
    """The 2026-07-28 era's per-request opt-in to log messages, at the level the host wants
    (handshake-era servers send every level; the relay filters them on the way to the host)."""
    level = getattr(host, "log_level", None)
    if not level or client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None
    return {types.LOG_LEVEL_META_KEY: level}


def _relay_progress(progress: ToolProgress) -> Callable[[float, float | None, str | None], Awaitable[None]]:
    """The SDK's async progress callback around ours; a server's message text is scrubbed."""

    async def relay(value: float, total: float | None, message: str | None) -> None:
        try:
            progress(value, total, scrub(message) if message else None)
        except Exception:  # noqa: BLE001 - progress is advisory; it must never fail the call
            logger.debug("relaying progress failed", exc_info=True)

    return relay


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
