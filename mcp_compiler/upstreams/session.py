"""One server's session: connect, discover its tools, serve calls, reconnect — until cancelled.

`UpstreamSession.run` is the session's task (the pool starts one per server): connect, serve until
the connection ends, back off, repeat. A server that fails to start is retried with exponential
backoff, and calls to it fail fast with the reason meanwhile; a stdio server that dies is
restarted; an HTTP session that drops is re-established. A call in flight when its server goes
away fails at once with `UpstreamLost`; a call made while the server reconnects waits for it, up
to `compiler.connect_timeout_s`.

The session tells its owner (the pool) of every change of its tools or of its state through the
`on_change` callback it was given; everything the owner reads of it is public.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, TypeVar, cast

import anyio
import mcp_types as types
from mcp import Client
from mcp.server.caching import CacheHint
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..config import CompilerConfig, ServerConfig, StdioServerConfig, server_prefix
from ..errors import ToolError
from ..observability.hooks import current as current_observer
from ..text import scrub
from ..tools.toolbox import ToolProgress, ToolSpec
from .connect import describe_connect_failure, open_client
from .discovery import UpstreamEvent, list_all_tools, listen_for_changes
from .failures import LOST, UPSTREAM_FAULTS, ConnectFailed, UpstreamLost, describe_exception, stderr_tail
from .relay import HostChannel, HostRelay, current_host
from .stdout_codec import report_undecodable_to
from .task_client import call_as_legacy_task, needs_legacy_task, with_task_progress
from .values import OutputChecks
from .vetting import Listing, vet_tools
from .wire import Wire

__all__ = ["ServerStatus", "State", "UpstreamSession"]

logger = logging.getLogger(__name__)

State = Literal["connecting", "connected", "restarting", "failed"]
T = TypeVar("T")

_HEALTHY_AFTER_S = 10.0  # a session that lived this long resets the backoff


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


class UpstreamSession:
    """One server: its session task, its tools, its state."""

    def __init__(
        self,
        name: str,
        config: ServerConfig,
        compiler: CompilerConfig,
        *,
        on_change: Callable[[], None],
        redact: Callable[[str], str],
        on_event: Callable[[UpstreamEvent], None] | None = None,
        relay_to_hosts: bool = False,
        protocol_mode: str = "auto",
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        """`on_change` is called (at once, in the session's task) whenever `specs` or `state` changed;
        `on_event` with each change the server announces of its prompts and resources, in either era."""
        self.name = name
        self.prefix = server_prefix(name)
        self.config = config
        self.compiler = compiler
        self.redact = redact
        self.protocol_mode = protocol_mode
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        # Only to keep the HTTP read timeout above the call policy's: that one must fire first.
        self.call_timeout_s = config.timeout_s or compiler.call_timeout_s
        self.state: State = "connecting"
        self.last_error: str | None = None
        self.restarts = 0
        self.retry_at: float | None = None
        self.first_attempt_done = anyio.Event()
        self.relay = HostRelay(self.prefix, timeout_s=self.call_timeout_s, redact=redact, roots=config.roots)
        self._relay_to_hosts = relay_to_hosts
        self._on_change = on_change
        self._on_event = on_event
        self._listing = Listing()
        self.tools_cache_hint: CacheHint | None = None  # the ttlMs/cacheScope of its last tools/list (discovery.py)
        self._state_changed = anyio.Event()
        self._client: Client | None = None
        self._lost = anyio.Event()
        self._refresh_wanted = anyio.Event()
        self._errlog: IO[bytes] | None = None
        self._http_session_gone = False  # the server answered 404 to our session id
        self._warned_undecodable = False  # once per session
        self._wire: Wire | None = None
        self._output_checks = OutputChecks()
        self._as_task: set[str] = set()  # tools run only as 2025-11-25 tasks (`task_client.py`)
        # Resource URIs (the server's own) hosts are subscribed to, each with how many subscriptions
        # hold it: one upstream subscription a URI, renewed on every reconnect.
        self._subscribed: dict[str, int] = {}
        self._subscriptions_changed = anyio.Event()

    @property
    def specs(self) -> dict[str, ToolSpec]:
        """The server's tools as the catalog offers them, by the server's own tool name."""
        return self._listing.specs

    # ---- the session task -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve until the connection ends, back off, repeat — until cancelled."""
        # This task's own context (each task has a copy); the transport's reader task inherits it.
        report_undecodable_to(self._on_undecodable)
        failures = 0
        while True:
            started = anyio.current_time()
            try:
                await self._session()
            except ConnectFailed as exc:
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
        """One connection, from spawn/connect to its end. Raises ConnectFailed if it never got live."""
        self._lost = anyio.Event()
        self._warned_undecodable = False
        self._http_session_gone = False
        # The child's stderr goes to a file, so a failure can quote its last lines.
        with tempfile.TemporaryFile() as errlog:
            self._errlog = errlog
            try:
                await self._connect_and_serve(errlog)
            finally:
                self._errlog = None

    async def _connect_and_serve(self, errlog: IO[bytes]) -> None:
        live = False
        wire = self._wire = Wire(self.name, redact=self.redact, on_eof=self._on_eof)
        # A deadline on a scope around the whole session (not a `with fail_after` around the
        # connect alone), because the client's task groups must nest inside our scope.
        with anyio.CancelScope(deadline=anyio.current_time() + self.compiler.connect_timeout_s) as scope:
            try:
                async with open_client(
                    self.config, self.compiler, wire=wire, errlog=errlog, protocol_mode=self.protocol_mode,
                    call_timeout_s=self.call_timeout_s, relay=self.relay if self._relay_to_hosts else None,
                    on_message=self._on_message, on_session_gone=self._on_session_gone,
                ) as client:
                    tools, self.tools_cache_hint = await list_all_tools(client)
                    scope.deadline = math.inf
                    live = True
                    await self._serve(client, tools)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a reported state
                if not live:
                    raise ConnectFailed(describe_connect_failure(
                        exc, self.config, session_gone=self._http_session_gone, redact=self.redact,
                        stderr_tail=self._stderr_tail(),
                    )) from None
                self.last_error = self.last_error or self.redact(describe_exception(exc))
        if scope.cancelled_caught and not live:
            raise ConnectFailed(
                f"no answer to the MCP handshake within {self.compiler.connect_timeout_s:g}s" + self._stderr_tail()
            )

    async def _serve(self, client: Client, tools: Sequence[types.Tool]) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._refresh_on_request, client)
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    tg.start_soon(self._listen_to_resources, client)
                elif self._subscribed:
                    tg.start_soon(self._renew_subscriptions, client)
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    # Subscribed before any call is let through: a change a call causes is not missed.
                    await tg.start(
                        listen_for_changes, client, self.name, self.compiler.connect_timeout_s,
                        self._want_refresh, self.redact, self._hear,
                    )
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

    # ---- events from the connection ---------------------------------------------------------

    def _on_eof(self) -> None:
        if isinstance(self.config, StdioServerConfig):
            self.last_error = "the server process exited" + self._stderr_tail()
        else:
            self.last_error = "the server closed the connection"
        self._lost.set()

    def _on_session_gone(self) -> None:
        self._http_session_gone = True

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
            first_line = self.redact(describe_exception(message)).splitlines()[0]
            logger.warning("upstream %r sent a message that is not MCP (ignored): %s", self.name, first_line)
        elif isinstance(message, types.ToolListChangedNotification):
            self._want_refresh()
        elif self._client is not None and self._client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # the rest comes on subscriptions/listen streams (which the SDK also hands here)
        elif isinstance(message, types.PromptListChangedNotification):
            self._hear(PromptsListChanged())
        elif isinstance(message, types.ResourceListChangedNotification):
            self._hear(ResourcesListChanged())
        elif isinstance(message, types.ResourceUpdatedNotification):
            self._hear(ResourceUpdated(uri=str(message.params.uri)))

    def _hear(self, event: UpstreamEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def _refresh_on_request(self, client: Client) -> None:
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            try:
                with anyio.fail_after(self.call_timeout_s):
                    tools, self.tools_cache_hint = await list_all_tools(client)
            except Exception as exc:  # noqa: BLE001
                logger.warning(
                    "upstream %r: refreshing the tool list failed: %s", self.name, self.redact(describe_exception(exc))
                )
                continue
            logger.info("upstream %r: tool list changed (%d tools)", self.name, len(tools))
            self._update_tools(tools)

    def _want_refresh(self) -> None:
        self._refresh_wanted.set()

    def _update_tools(self, tools: Sequence[types.Tool]) -> None:
        self._as_task = {tool.name for tool in tools if needs_legacy_task(tool)}
        self._listing = vet_tools(self.name, self.prefix, tools, self.config.allows, self._output_schema)
        self._on_change()

    def _output_schema(self, tool: types.Tool) -> dict[str, Any] | None:
        """The tool's output schema as listed (the wire keeps it back from the SDK)."""
        schema = tool.output_schema
        if schema is None and self._wire is not None:
            schema = self._wire.output_schemas.get(tool.name)
        return dict(schema) if isinstance(schema, Mapping) else None

    # ---- calls ------------------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: dict[str, Any], progress: ToolProgress | None = None
    ) -> types.CallToolResult:
        """One `tools/call`; ToolError for what the server did wrong, UpstreamLost when it went away."""
        task_only = self._listing.task_only.get(tool)
        if task_only is not None:
            raise ToolError(f"{self.prefix}.{tool} is unavailable: {task_only}")
        client = await self.live_client()
        on_progress = None if progress is None else _relay_progress(progress)
        host = current_host() if self._relay_to_hosts else None
        # The observers (observability/): a span whose traceparent goes in `meta`, the call metrics.
        meta: dict[str, Any] = dict(_log_opt_in(host, client) or {})
        with current_observer().upstream_call(
            self.name, tool, transport=self.config.kind, session_id=None, meta=meta
        ) as outcome:
            outcome.status = "error"  # until it returns
            try:
                result = await self._call_tool(client, tool, arguments, on_progress, host, meta)
            except ToolError as exc:  # redacted already; with --log-format json, the line names the call's trace
                logger.debug("tools/call %s.%s failed: %s", self.prefix, tool, exc)
                outcome.error = str(exc)
                raise
            outcome.status = "tool_error" if result.is_error else "ok"
            if result.is_error:
                logger.debug("tools/call %s.%s returned an error result", self.prefix, tool)
        return result

    async def _call_tool(
        self, client: Client, tool: str, arguments: dict[str, Any], on_progress: ProgressFnT | None,
        host: HostChannel | None, meta: dict[str, Any],
    ) -> types.CallToolResult:
        try:
            with self.relay.calling(host):
                if tool in self._as_task:  # a 2025-11-25 task: created, polled, its result fetched
                    result = await call_as_legacy_task(client.session, tool, arguments, on_progress)
                else:
                    result = await with_task_progress(on_progress, client.call_tool(
                        tool, arguments, progress_callback=on_progress,
                        meta=cast(types.RequestParamsMeta, meta) if meta else None))
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED or self._http_session_gone:
                raise self._lost_during(tool, client, self.redact(exc.message)) from None
            raise ToolError(self.redact(f"{self.prefix}.{tool}: {exc.message}")) from None
        except LOST as exc:
            raise self._lost_during(tool, client, self.redact(describe_exception(exc))) from None
        except UPSTREAM_FAULTS as exc:  # e.g. a result the SDK cannot parse; anything else is a bug
            raise ToolError(self.redact(f"{self.prefix}.{tool}: {describe_exception(exc)}")) from None
        spec = self.specs.get(tool)
        problem = self._output_checks.problem(tool, spec.output_schema if spec else None, result)
        if problem is not None:
            raise ToolError(self.redact(f"{self.prefix}.{tool}: {problem}"))
        return result

    async def request(self, method: str, send: Callable[[Client], Awaitable[T]]) -> T:
        """One other request (`method`, sent by `send`), bounded by the call timeout; ToolError
        saying which server and why (redacted) for what the server can cause."""
        client = await self.live_client()
        try:
            with anyio.fail_after(self.call_timeout_s):
                return await send(client)
        except TimeoutError:
            raise ToolError(f"server {self.prefix!r}: no answer to {method} within {self.call_timeout_s:g}s") from None
        except MCPError as exc:
            raise ToolError(self.redact(scrub(f"server {self.prefix!r}: {method}: {exc.message}"))) from None
        except (*LOST, *UPSTREAM_FAULTS) as exc:  # a dropped connection, a result the SDK cannot parse
            raise ToolError(self.redact(scrub(f"server {self.prefix!r}: {method}: {describe_exception(exc)}"))) from None

    def offers_resources(self) -> bool:
        """Connected, and the server declared resources."""
        return self.offers("resources")

    def offers(self, capability: Literal["prompts", "resources", "completions"]) -> bool:
        """Connected, and the server declared `capability`."""
        client = self._client
        if self.state != "connected" or client is None:
            return False
        try:
            return getattr(client.server_capabilities, capability) is not None
        except RuntimeError:  # not connected after all
            return False

    def offers_subscriptions(self) -> bool:
        """Connected, and the server takes resource subscriptions (`resources.subscribe`)."""
        client = self._client
        if not self.offers("resources") or client is None:
            return False
        resources = client.server_capabilities.resources
        return bool(resources is not None and resources.subscribe)

    @property
    def instructions(self) -> str | None:
        """The server's `instructions` (from its handshake or discovery) while it is connected."""
        client = self._client
        if self.state != "connected" or client is None:
            return None
        try:
            return client.instructions
        except RuntimeError:
            return None

    async def roots_changed(self) -> None:
        """Tell a handshake-era server its roots changed (a host said so); 2026-07-28 has no such push."""
        client = self._client
        if self.state != "connected" or client is None or client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        try:
            with anyio.fail_after(5):
                await client.session.send_notification(types.RootsListChangedNotification())
        except Exception as exc:  # noqa: BLE001 - advisory, like every list change
            logger.debug("upstream %r: roots/list_changed not sent: %s", self.name, exc)

    # ---- resource subscriptions -------------------------------------------------------------

    async def subscribe(self, uri: str) -> None:
        """Hold a subscription to `uri`; the first holder makes it upstream (ToolError if refused)."""
        held = self._subscribed.get(uri, 0)
        self._subscribed[uri] = held + 1
        if held:
            return
        try:
            await self._send_subscription(uri, subscribe=True)
        except BaseException:
            self._release(uri)
            raise

    async def unsubscribe(self, uri: str) -> None:
        """Let go of one hold on `uri`; the last one unsubscribes upstream (failures only logged)."""
        if not self._release(uri):
            return
        try:
            await self._send_subscription(uri, subscribe=False)
        except ToolError as exc:
            logger.debug("upstream %r: unsubscribing %r failed: %s", self.name, uri, exc)

    def _release(self, uri: str) -> bool:
        """One hold less; True when it was the last."""
        held = self._subscribed.get(uri, 0) - 1
        if held > 0:
            self._subscribed[uri] = held
            return False
        self._subscribed.pop(uri, None)
        return True

    async def _send_subscription(self, uri: str, *, subscribe: bool) -> None:
        client = await self.live_client()
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # One subscriptions/listen stream holds every URI: it is opened anew with the new set.
            self._subscriptions_changed.set()
            self._subscriptions_changed = anyio.Event()
            return
        request: types.SubscribeRequest | types.UnsubscribeRequest
        if subscribe:
            request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
        else:
            request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
        await self.request(request.method, lambda c: c.session.send_request(request, types.EmptyResult))

    async def _renew_subscriptions(self, client: Client) -> None:
        """After a reconnect (handshake era): the subscriptions hosts still hold, made again."""
        for uri in list(self._subscribed):
            try:
                await self.request(
                    "resources/subscribe",
                    lambda c, u=uri: c.session.send_request(  # type: ignore[misc]  # a default-bound lambda mypy cannot type
                        types.SubscribeRequest(params=types.SubscribeRequestParams(uri=u)), types.EmptyResult),
                )
            except ToolError as exc:
                logger.warning("upstream %r: renewing the subscription to %r failed: %s", self.name, uri, exc)

    async def _listen_to_resources(self, client: Client) -> None:
        """2026-07-28: one `subscriptions/listen` stream for the URIs hosts hold, opened anew when they change."""
        while True:
            changed = self._subscriptions_changed
            uris = sorted(self._subscribed)
            async with anyio.create_task_group() as tg:
                if uris:
                    tg.start_soon(self._hear_updates, client, uris)
                await changed.wait()
                tg.cancel_scope.cancel()

    async def _hear_updates(self, client: Client, uris: list[str]) -> None:
        while True:
            try:
                async with client.listen(resource_subscriptions=uris) as subscription:
                    async for event in subscription:
                        if isinstance(event, ResourceUpdated):
                            self._hear(event)
            except Exception as exc:  # noqa: BLE001 - a lost stream is opened again
                logger.debug("upstream %r: resource subscription stream ended: %s", self.name, self.redact(str(exc)))
            await anyio.sleep(1.0)  # a stream that ends (or is refused) is not retried in a busy loop

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
        current_observer().connection(self.name, state)
        if error is not None:
            self.last_error = self.redact(error)
        self._state_changed.set()
        self._state_changed = anyio.Event()
        self._on_change()  # the catalog knows who is down (Catalog.unavailable)

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

    def _stderr_tail(self) -> str:
        return stderr_tail(self._errlog, self.redact)


def _log_opt_in(host: HostChannel | None, client: Client) -> types.RequestParamsMeta | None:
    """The 2026-07-28 era's per-request opt-in to log messages, at the level the host wants
    (handshake-era servers send every level; the relay filters them on the way to the host)."""
    level = host.log_level if host is not None else None
    if not level or client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None
    # A cast: RequestParamsMeta is an open TypedDict (PEP 728's extra_items), which mypy does not read yet.
    return cast(types.RequestParamsMeta, {types.LOG_LEVEL_META_KEY: level})


def _relay_progress(ours: ToolProgress) -> ProgressFnT:
    """The SDK's async progress callback around ours; a server's message text is scrubbed."""

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        try:
            ours(progress, total, scrub(message) if message else None)
        except Exception:  # noqa: BLE001 - progress is advisory; it must never fail the call
            logger.debug("relaying progress failed", exc_info=True)

    return relay
