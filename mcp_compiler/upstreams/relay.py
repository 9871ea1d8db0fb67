"""Relay of an upstream's requests to the host whose call caused them (issue 13, item 4).

An upstream server may, while it serves one of our `tools/call`s, ask its client for things only
a host has: `sampling/createMessage` (the host's model), `elicitation/create` (the person at the
host), `roots/list` (the host's workspace), and it may send `notifications/message` (log lines).
mcp-compiler is that client, so it passes each one on to the host of the `compile_and_run` that
made the call, and the answer back.

The seam, engine-neutral (the server implements the host side, `upstreams.py` only consults it):

- `HostChannel`: what a host can be asked. `server/host.py` implements it over the host's MCP
  session; anything else (a test, an embedding program) may too.
- `serving(host)`: a context manager the server wraps each run in. The scheduler runs every tool
  call in a child task of the run, so `current_host()` is that host down the whole call path.
- `HostRelay`: one per upstream session, handing the SDK's client callbacks. The request from
  the upstream runs in the client's receive loop, not in the calling task, so it is matched to a
  host through the calls in flight on that upstream (`HostRelay.calling(host)` around each call):
  the host of the one call in flight, or of several calls of the same host. Calls from different
  hosts in flight at once cannot be told apart (MCP's server-to-client requests name no request
  of ours), so the request fails closed, with an error saying so, rather than ask a guessed host.
  In the 2026-07-28 era an upstream's `input_required` result is driven by the SDK inside the
  calling task, so `current_host()` names the host exactly.

What the upstream gets when no host can answer is an MCP error whose message says why (no call in
flight, no host, the host lacks the capability, the host's era has no back channel, ambiguity).

Roots at rest: a server may ask `roots/list` outside any call (the filesystem server does as it
connects). It is answered by the one host connected that offers roots (over stdio there is exactly
one; `HostRelay.hosts_at_rest`, which the MCP server provides, waits a little for it to connect),
else with the `roots` of the server's config entry, else refused with why (no host, or several and
MCP does not say whose workspace the server should see).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

import anyio
import mcp_types as types

from ..text import MESSAGE_BYTES, cut, scrub

__all__ = ["Capability", "HostChannel", "HostRelay", "HostUnavailable", "HostsAtRest", "current_host", "root_uri", "serving"]

logger = logging.getLogger(__name__)

Capability = Literal["sampling", "elicitation", "roots"]


class HostUnavailable(Exception):
    """The host cannot answer this request; the message says why, for the upstream to read."""


class HostChannel(Protocol):
    """A host of one `compile_and_run` call, as the servers behind it may ask it things."""

    @property
    def key(self) -> Hashable:
        """Who the host is: two channels with the same key reach the same host (connection)."""
        ...

    @property
    def log_level(self) -> types.LoggingLevel | None:
        """The lowest level the host wants log messages at; None: it wants none."""
        ...

    async def create_message(self, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        """`sampling/createMessage` to the host; raises HostUnavailable or the host's MCPError."""
        ...

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        """`elicitation/create` to the host; raises HostUnavailable or the host's MCPError."""
        ...

    async def list_roots(self) -> types.ListRootsResult:
        """`roots/list` to the host; raises HostUnavailable or the host's MCPError."""
        ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """A log line for the host's log (it was filtered by `log_level` already)."""
        ...


HostsAtRest = Callable[[float], Awaitable[list[HostChannel]]]
"""The hosts connected now that may be asked for roots outside a call; waits up to the given
seconds for the first to connect when there is none."""

_AT_REST_WAIT_S = 10.0  # how long a roots/list outside any call waits for a host to connect
_AT_REST_ATTEMPT_S = 3.0  # how long one ask of it waits before asking again (see `_roots_at_rest`)


def root_uri(root: str) -> str:
    """A configured root as a URI: a file:// URI as it is, a folder as its file:// URI."""
    if "://" in root:
        return root
    return Path(root).expanduser().resolve().as_uri()


_host: contextvars.ContextVar[HostChannel | None] = contextvars.ContextVar("mcp_compiler_host", default=None)


@contextmanager
def serving(host: HostChannel | None) -> Iterator[None]:
    """Everything run inside (and the tasks it starts) serves `host`."""
    token = _host.set(host)
    try:
        yield
    finally:
        _host.reset(token)


def current_host() -> HostChannel | None:
    return _host.get()


_LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
)


def at_least(level: str, floor: str | None) -> bool:
    """`level` is at or above `floor` (None: nothing passes)."""
    if floor is None or floor not in _LEVELS:
        return False
    return level in _LEVELS and _LEVELS.index(level) >= _LEVELS.index(floor)


class HostRelay:
    """The SDK client callbacks of one upstream: each request goes to the host of the call it
    belongs to (see the module docstring for how that host is found)."""

    def __init__(self, server: str, *, timeout_s: float, redact: Any = str, roots: list[str] | None = None) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._redact = redact
        # Roots at rest (see the module docstring): the server's own `roots`, and the hosts connected.
        self.roots = None if roots is None else [types.Root(uri=root_uri(r)) for r in roots]  # type: ignore[arg-type]  # pydantic validates the str into its URL type
        self.hosts_at_rest: HostsAtRest | None = None
        self._calls: dict[int, HostChannel | None] = {}  # calls in flight -> their host
        self._next = 0
        # Requests being put to a host found through the calls in flight, by host key: cancelled
        # when the last of that host's calls ends (nobody waits for the answer any more).
        self._asking: dict[Hashable, set[anyio.CancelScope]] = {}

    @contextmanager
    def calling(self, host: HostChannel | None) -> Iterator[None]:
        """Around one call of ours to the upstream: requests it makes meanwhile may be `host`'s."""
        self._next += 1
        ticket = self._next
        self._calls[ticket] = host
        try:
            yield
        finally:
            del self._calls[ticket]
            key = None if host is None else host.key
            if not any((None if h is None else h.key) == key for h in self._calls.values()):
                for scope in self._asking.pop(key, ()):
                    scope.cancel()

    def host_for(self, what: str) -> HostChannel:
        """The host to pass `what` on to; HostUnavailable saying why there is none."""
        host = current_host()
        if host is not None:
            return host
        hosts = list(self._calls.values())
        if not hosts:
            raise HostUnavailable(
                f"mcp-compiler passes {what} on only while one of its calls to {self.server!r} is in flight "
                "(to the host whose call it is), and none is"
            )
        keys = {None if h is None else h.key for h in hosts}
        if len(keys) > 1:
            raise HostUnavailable(
                f"mcp-compiler cannot pass {what} on: calls of {len(keys)} different hosts are in flight on "
                f"{self.server!r} and MCP does not say which of them this request belongs to"
            )
        chosen = hosts[-1]
        if chosen is None:
            raise HostUnavailable(f"mcp-compiler cannot pass {what} on: the call in flight has no host to ask")
        return chosen

    # ---- the SDK's client callbacks ---------------------------------------------------------

    async def sampling(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        return await self._relay("sampling/createMessage", lambda host: host.create_message(params))

    async def elicitation(self, context: Any, params: types.ElicitRequestParams) -> Any:
        return await self._relay("elicitation/create", lambda host: host.elicit(params))

    async def list_roots(self, context: Any) -> Any:
        if current_host() is not None:
            return await self._relay("roots/list", lambda host: host.list_roots())
        if not self._calls:
            return await self._roots_at_rest()
        try:
            host = self.host_for("roots/list")
        except HostUnavailable as exc:
            return types.ErrorData(code=types.INVALID_REQUEST, message=scrub(self._redact(str(exc))))
        # The roots are the host's, not one call's: the request may well not come from the call in
        # flight (a server asks again after roots/list_changed), so the call ending does not cancel it.
        return await self._relay("roots/list", lambda host: host.list_roots(), host)

    async def _roots_at_rest(self) -> Any:
        """`roots/list` outside any call: the one host connected, the configured roots, or why not."""
        hosts = await self.hosts_at_rest(_AT_REST_WAIT_S) if self.hosts_at_rest is not None else []
        if len(hosts) == 1:
            # A host's channel outside requests (HTTP's GET stream) may open a moment after it
            # connected, and a request sent before is lost: asked again every few seconds.
            with anyio.move_on_after(self.timeout_s):
                while True:
                    with anyio.move_on_after(_AT_REST_ATTEMPT_S):
                        return await self._relay("roots/list", lambda host: host.list_roots(), hosts[0])
            return types.ErrorData(code=types.INVALID_REQUEST, message=f"the host did not answer roots/list within {self.timeout_s:g} s")
        if self.roots is not None:
            return types.ListRootsResult(roots=self.roots)
        if hosts:
            message = (
                f"mcp-compiler cannot answer roots/list outside a call: {len(hosts)} hosts are connected and MCP "
                f"does not say whose workspace {self.server!r} should see; give the server entry `roots` in the config"
            )
        else:
            message = (
                "mcp-compiler cannot answer roots/list outside a call: no host that offers roots is connected "
                "(give the server entry `roots` in the config to answer with those)"
            )
        logger.info("upstream %r: roots/list at rest not answered: %s", self.server, message)
        return types.ErrorData(code=types.INVALID_REQUEST, message=scrub(message))

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """An upstream's `notifications/message`: to its call's host, at the level the host set."""
        logger.debug("upstream %r logged (%s): %s", self.server, params.level, self._redact(str(params.data)[:500]))
        try:
            host = self.host_for("a log message")
        except HostUnavailable as exc:
            logger.debug("upstream %r: log message not relayed: %s", self.server, exc)
            return
        if not at_least(params.level, host.log_level):
            return
        relayed = types.LoggingMessageNotificationParams(
            level=params.level,
            # Scoped with the server's name; the server's own logger name (if any) after it.
            logger=scrub(f"{self.server}.{params.logger}" if params.logger else self.server),
            data=scrub(self._redacted(params.data)),
        )
        try:
            with anyio.fail_after(5):
                await host.log(relayed)
        except Exception as exc:  # noqa: BLE001 - a log line is advisory
            logger.debug("upstream %r: relaying a log message failed: %s", self.server, exc)

    def _redacted(self, data: Any) -> Any:
        """Log data without configured secrets: a string redacted; structured data kept as it is
        unless its JSON holds a secret, in which case the redacted JSON text goes instead. Either
        way at most `text.MESSAGE_BYTES` (longer data goes as its JSON text, cut with a marker)."""
        if isinstance(data, str):
            return cut(self._redact(data), MESSAGE_BYTES, "an upstream's log line")
        try:
            text = json.dumps(data, default=str)
        except (TypeError, ValueError, RecursionError):
            return cut(self._redact(str(data)), MESSAGE_BYTES, "an upstream's log line")
        redacted = self._redact(text)
        if len(redacted) > MESSAGE_BYTES // 4:
            cut_text = cut(redacted, MESSAGE_BYTES, "an upstream's log line")
            if cut_text is not redacted:
                return cut_text
        return data if redacted == text else redacted

    async def _relay(self, what: str, ask: Any, at_rest: HostChannel | None = None) -> Any:
        try:
            host = at_rest or self.host_for(what)
            with anyio.CancelScope() as scope, anyio.fail_after(self.timeout_s):
                if current_host() is None and at_rest is None:  # found through the calls in flight: bound to them
                    self._asking.setdefault(host.key, set()).add(scope)
                try:
                    return await ask(host)
                finally:
                    self._asking.get(host.key, set()).discard(scope)
            message = f"the call {what} belongs to ended before the host answered"
        except HostUnavailable as exc:
            message = str(exc)
        except TimeoutError:
            message = f"the host did not answer {what} within {self.timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001 - the host's error, or its result failed validation
            error = getattr(exc, "error", None)
            detail = getattr(error, "message", None) or f"{type(exc).__name__}: {exc}"
            message = f"the host answered {what} with an error: {detail}"
        logger.info("upstream %r: %s not relayed: %s", self.server, what, message)
        return types.ErrorData(code=types.INVALID_REQUEST, message=scrub(self._redact(message)))
