"""The host side of the relay (`mcp_compiler.upstreams.relay`): a `HostChannel` over the caller's MCP session.

`SessionHost` is the host of one `compile_and_run` call. It asks that call's session, with the
call's request id as the related request (over HTTP that routes the request onto the call's own
response stream), and only for what the host declared:

- a host that did not declare sampling / elicitation (form or URL mode) / roots: the upstream's
  request fails with an error saying the host did not offer it;
- a host in the 2026-07-28 era: its connection has no back channel during a call, so the
  request fails with an error saying so (passing it on as our own `input_required` is for when
  mcp-compiler answers hosts of that era with `input_required` itself);
- log messages: at or above the level the host set, `logging/setLevel` on a handshake-era
  connection (every level until it sets one, as the SDK's server does), the per-request
  `io.modelcontextprotocol/logLevel` opt-in in the 2026-07-28 era (none without it).

`Hosts` makes the `SessionHost` of each call (`Hosts.channel(ctx)`) and keeps the handshake-era
`logging/setLevel` of each connection, keyed like the
listeners of `tools/list_changed` (`stdio`, or the HTTP `Mcp-Session-Id`), at most 1,024.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, TypeVar, cast

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from ..text import scrub
from ..upstreams.relay import Capability, HostUnavailable

__all__ = ["Hosts", "SessionHost"]

_MAX_CONNECTIONS = 1024
_ALL_LEVELS: types.LoggingLevel = "debug"
_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_NO_BACK_CHANNEL = (
    "the host's connection to mcp-compiler is in the 2026-07-28 protocol era, which gives mcp-compiler "
    "no way to send the host a request during a call"
)

ModelT = TypeVar("ModelT", bound=BaseModel)


def connection_key(ctx: ServerRequestContext[Any, Any]) -> Hashable:
    """The connection a request came on: `stdio`, the HTTP session id, or this request alone."""
    request = ctx.request
    if request is None:
        return "stdio"
    headers = getattr(request, "headers", None)
    session_id = headers.get("mcp-session-id") if headers is not None else None
    return ("http", session_id) if session_id else ("request", id(ctx))


def has_standalone_channel(session: Any) -> bool:
    """A handshake-era connection with a channel of its own for requests outside any of the
    host's (stdio; HTTP with the GET stream). The SDK keeps it on the session's connection."""
    connection = getattr(session, "_connection", None)
    return bool(getattr(connection, "has_standalone_channel", False)) and (
        getattr(session, "protocol_version", None) not in MODERN_PROTOCOL_VERSIONS
    )


class Hosts:
    """The hosts of calls: a channel per call, and the `logging/setLevel` of each handshake-era
    connection (the request's handler)."""

    def __init__(self) -> None:
        self._levels: OrderedDict[Hashable, types.LoggingLevel] = OrderedDict()

    async def set_level(self, ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams) -> types.EmptyResult:
        key = connection_key(ctx)
        self._levels[key] = params.level
        self._levels.move_to_end(key)
        while len(self._levels) > _MAX_CONNECTIONS:
            self._levels.popitem(last=False)
        return types.EmptyResult()

    def level_for(self, ctx: ServerRequestContext[Any, Any]) -> types.LoggingLevel | None:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            requested = (ctx.meta or {}).get(types.LOG_LEVEL_META_KEY)
            return cast("types.LoggingLevel", requested) if requested in _LEVELS else None
        return self._levels.get(connection_key(ctx), _ALL_LEVELS)

    def channel(self, ctx: ServerRequestContext[Any, Any]) -> SessionHost:
        """The host of the call `ctx` serves, with the log level it wants."""
        return SessionHost(ctx.session, ctx.request_id, key=connection_key(ctx), log_level=self.level_for(ctx))


class SessionHost:
    """A `HostChannel` over one call's session (see the module docstring)."""

    def __init__(
        self, session: Any, request_id: types.RequestId | None, *, key: Hashable | None = None,
        log_level: types.LoggingLevel | None = None, at_rest: bool = False,
    ) -> None:
        """`at_rest`: asked outside any request of the host's, on its connection's own channel
        (stdio, the HTTP GET stream): a handshake-era connection's `roots/list` at rest."""
        self.at_rest = at_rest
        self.session = session
        self.request_id = request_id
        self.key: Hashable = key if key is not None else id(session)
        self.log_level = log_level

    async def create_message(self, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self._require("sampling")
        request = types.CreateMessageRequest(params=_scrubbed(params))
        return await self._ask(request, types.CreateMessageResult)

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        self._require("elicitation")
        if isinstance(params, types.ElicitRequestURLParams) and not self._offers_url_mode():
            raise HostUnavailable("the host of this call offers elicitation in form mode only, and this is URL mode")
        return await self._ask(types.ElicitRequest(params=_scrubbed(params)), types.ElicitResult)

    async def list_roots(self) -> types.ListRootsResult:
        self._require("roots")
        return await self._ask(types.ListRootsRequest(), types.ListRootsResult)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        # The notification itself rather than `session.send_log_message` (deprecated with the
        # 2026-07-28 era's logging); the level was filtered by the relay already.
        await self.session.send_notification(
            types.LoggingMessageNotification(params=params), related_request_id=self.request_id
        )

    # ---- internals ----------------------------------------------------------------------------

    def _capabilities(self) -> types.ClientCapabilities | None:
        return getattr(self.session, "client_capabilities", None)

    def _require(self, capability: Capability) -> None:
        capabilities = self._capabilities()
        if capabilities is None or getattr(capabilities, capability, None) is None:
            raise HostUnavailable(f"the host of this call ({self._client_name()}) did not offer {capability}")
        if not (has_standalone_channel(self.session) if self.at_rest else getattr(self.session, "can_send_request", False)):
            raise HostUnavailable(_NO_BACK_CHANNEL)

    def _offers_url_mode(self) -> bool:
        capabilities = self._capabilities()
        elicitation = capabilities.elicitation if capabilities is not None else None
        return elicitation is not None and elicitation.url is not None

    def _client_name(self) -> str:
        params = getattr(self.session, "client_params", None)
        info = getattr(params, "client_info", None)
        return f"client {scrub(info.name)!r}" if info is not None else "a client that gave no name"

    async def _ask(self, request: Any, result_type: type[ModelT]) -> ModelT:
        relayed = getattr(self.session, "send_relayed_request", None)  # a run held across 2026-07-28 round trips (round_trips.py)
        if relayed is not None:
            return await relayed(request, result_type)
        try:
            return await self.session.send_request(
                request, result_type, metadata=ServerMessageMetadata(related_request_id=self.request_id)
            )
        except NoBackChannelError:
            raise HostUnavailable(_NO_BACK_CHANNEL + " (or the call is over)") from None


def _scrubbed(params: ModelT) -> ModelT:
    """The upstream's params as the host may receive them: no lone surrogates (see `text.scrub`)."""
    dumped = params.model_dump(by_alias=True, mode="json", exclude_none=True)
    cleaned = scrub(dumped)
    return params if cleaned is dumped else type(params).model_validate(cleaned)
