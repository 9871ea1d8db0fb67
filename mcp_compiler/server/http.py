"""Streamable HTTP: the ASGI app at `/mcp`, its security and limits, and running it under uvicorn.

DNS-rebinding protection is always on; a bearer token (`MCP_COMPILER_TOKEN`) is required when
bound to anything but loopback, and enforced whenever it is set. The SDK's request body cap
(4 MiB) stays; plans have their own limits (`RequestLimits`).

Limits (`HttpLimits`, from the `compiler.http_*` settings), so that clients that go away or
crawl cannot pile up state or hold connections:

- Sessions: at most `http_max_sessions` at once; a request that would open one more gets 503
  with a JSON-RPC error body ("Too many open sessions"), and the sessions already open are not
  touched (closing the least recently used one would end a live host's session under it). A
  session with no request in flight for `http_session_idle_s` is closed and its id answers 404.
  Both are the SDK's session manager, configured.
- Request headers must arrive within `http_header_timeout_s` of a request's first byte (and a
  new connection must complete its first request's headers within as long): uvicorn has no
  such timeout, so `header_timeout_protocol` adds one to its h11 protocol. A client too slow
  gets 408 and the connection is closed.
- A POST body must arrive within `http_body_timeout_s` of the headers (`RequestGuard`; 408
  otherwise).
- A handshake-era host that drops the connection of a POST whose response is not complete
  cancels that request (`RequestGuard`): the SDK runs a handshake-era session's requests in the
  session's own task group, apart from the HTTP request, so nothing else notices that the
  host has gone, and the downstream calls would run to their timeout. The guard then hands the
  session a `notifications/cancelled` for the request, as if the host had sent it. (In the
  2026-07-28 era the SDK serves each request inside its HTTP request, and a dropped connection
  cancels it already.)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from ..auth.identity import log_callers
from ..auth.resource import Authenticator, ProtectedResource
from ..errors import ConfigError
from ..observability.endpoints import HealthRoutes, MetricsRoute, Readiness, readiness
from ..observability.metrics import MetricsObserver
from ..observability.viewer import RunLog, ViewerRoutes
from ..state import Kind
from ..text import scrub
from .tool_definition import TOOL_NAME

if TYPE_CHECKING:
    from ..config import CompilerConfig
    from .app import CompilerServer

__all__ = [
    "TOKEN_ENV", "ALLOWED_HOSTS_ENV", "BearerTokenMiddleware", "HttpLimits", "RequestGuard", "header_timeout_protocol",
    "http_app", "is_loopback", "require_token", "serve_http", "transport_security",
]

logger = logging.getLogger(__name__)

TOKEN_ENV = "MCP_COMPILER_TOKEN"
ALLOWED_HOSTS_ENV = "MCP_COMPILER_ALLOWED_HOSTS"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(host: str, environ: Mapping[str, str] = os.environ) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names always, the bind host, and `MCP_COMPILER_ALLOWED_HOSTS`.

    `MCP_COMPILER_ALLOWED_HOSTS` is a comma-separated list of host names (a port is optional) that
    clients may use to reach this server, e.g. `mcp.example.com,10.0.0.5:8765`; `*` turns the Host
    check off (behind a proxy that checks it).
    """
    extra = [h.strip() for h in environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    if "*" in extra:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = ["127.0.0.1", "localhost", "[::1]"]
    unspecified = host in ("0.0.0.0", "::", "")
    if not unspecified and not is_loopback(host):
        names.append(f"[{host}]" if ":" in host else host)
    hosts: list[str] = []
    origins: list[str] = []
    for name in names + extra:
        bare = name.rsplit(":", 1)[0] if name.count(":") == 1 or "]:" in name else name
        with_port = name != bare
        hosts += [name] if with_port else [name, f"{name}:*"]
        for scheme in ("http", "https"):
            origins += [f"{scheme}://{name}"] if with_port else [f"{scheme}://{name}", f"{scheme}://{name}:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenMiddleware:
    """ASGI: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str) -> None:
        if not token:
            raise ValueError("an empty bearer token protects nothing")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = b'{"error": "unauthorized: send Authorization: Bearer <token>"}'
            await send({
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="mcp-compiler"'),
                ],
            })
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Any) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, credential = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self._token)
        return False


def require_token(host: str, token: str | None, *, protected: bool = False) -> None:
    """Raise ConfigError when serving HTTP on a non-loopback `host` without a bearer token
    (`protected`: callers are identified otherwise, by `compiler.tokens` or `compiler.auth`)."""
    if not token and not protected and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve HTTP on {host} without a bearer token: set {TOKEN_ENV} "
            "(clients then send `Authorization: Bearer <token>`), or bind to 127.0.0.1"
        )


@dataclass(frozen=True)
class HttpLimits:
    """What HTTP clients may hold: sessions, and time to send a request (module docstring)."""

    max_sessions: int = 256
    session_idle_s: float = 600.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    @classmethod
    def from_config(cls, compiler: CompilerConfig) -> HttpLimits:
        return cls(
            max_sessions=compiler.http_max_sessions, session_idle_s=compiler.http_session_idle_s,
            header_timeout_s=compiler.http_header_timeout_s, body_timeout_s=compiler.http_body_timeout_s,
        )


PROBE_KIND = Kind("readyz", ttl_s=1.0, max_bytes=1, max_entries=1)  # read, never written: the state probe


def http_app(
    app: CompilerServer, *, host: str = "127.0.0.1", token: str | None = None, stateless: bool = False,
    limits: HttpLimits | None = None, metrics: MetricsObserver | None = None, ready: Readiness | None = None,
    public_health: bool = True, runs: RunLog | None = None, auth: Authenticator | None = None,
) -> Any:
    """The Streamable HTTP ASGI app at `/mcp`: rebinding protection on, the token if given, the limits.

    Beside it (observability/endpoints.py): `/healthz` and `/readyz` (`ready`, by default the state
    backend's answer), outside the token unless `public_health` is False; `/metrics` with `metrics`,
    behind the token when there is one. `auth` identifies callers (`compiler.tokens`, `compiler.auth`,
    auth/resource.py); without it, `token` alone is checked. Raises ConfigError when `host` is not
    loopback and there is no token.
    """
    require_token(host, token, protected=auth is not None)
    limits = limits or HttpLimits()
    starlette_app = app.server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=transport_security(host),
        host=host,
        stateless_http=stateless,
        max_sessions=limits.max_sessions,
        session_idle_timeout=limits.session_idle_s,
    )
    served: Any = RequestGuard(StrictPorts(starlette_app), body_timeout_s=limits.body_timeout_s)
    if metrics is not None:
        served = MetricsRoute(served, metrics)
    if runs is not None:  # the run viewer (/runs), behind the token as /mcp
        served = ViewerRoutes(served, runs)
    ready = ready or readiness(lambda: app.state.get(PROBE_KIND, "probe"), dict, [])
    if not public_health:
        served = HealthRoutes(served, ready)
    if auth is None and token:
        auth = Authenticator(token=token)
    if auth is not None:
        served = ProtectedResource(served, auth)
        log_callers()
    return HealthRoutes(served, ready) if public_health else served


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _scrubbed_body(body: bytes) -> bytes:
    """A body whose JSON escapes a lone surrogate (`"\\ud800"`), with it as U+FFFD (`text.scrub`),
    as the 2026-07-28 path and stdio read it: the handshake era's SDK answered 400 / -32700 with
    `id: null`. Any other body goes as it came (parsed only when such an escape is in it)."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return body
    try:
        message = json.loads(body)
    except ValueError:
        return body  # not JSON: the SDK says so
    cleaned = scrub(message)
    return body if cleaned is message else json.dumps(cleaned, ensure_ascii=False).encode("utf-8")


class StrictPorts:
    """ASGI, before the SDK's Host/Origin check: a Host or Origin whose port is not a number is
    refused with 421, as the SDK refuses a host it does not know. The SDK matches an allowed
    `name:*` as a prefix, so `Host: localhost:18809.evil.com` passed `localhost:*`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            origin = headers.get(b"origin", b"").decode("latin-1")
            if not _numeric_port(host) or (origin and origin != "null" and not _numeric_port(origin.split("://", 1)[-1])):
                await send({"type": "http.response.start", "status": 421, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"Invalid Host or Origin header"})
                return
        await self.app(scope, receive, send)


def _numeric_port(authority: str) -> bool:
    """`name`, `name:port` or `[v6]:port` with a port of digits only (or none)."""
    if authority.startswith("["):
        rest = authority.partition("]")[2]
        return rest == "" or (rest[:1] == ":" and rest[1:].isdigit())
    _, colon, port = authority.rpartition(":")
    return not colon or port.isdigit()


# ---- the request guard: body deadline, and cancelling the request of a host that went away --------


class RequestGuard:
    """ASGI around the Streamable HTTP app, for POSTs: the body deadline, and cancel-on-disconnect.

    The body is read here (within `body_timeout_s`, at most `max_body_bytes`; 408 / 413
    otherwise) and replayed to the app. When the client disconnects before the response is
    complete, and the request is a handshake-era JSON-RPC request of a session, the session gets
    a `notifications/cancelled` for it, through the app, as the host itself would send it.
    """

    def __init__(
        self, app: Any, *, body_timeout_s: float = 30.0, max_body_bytes: int = DEFAULT_MAX_REQUEST_BODY_SIZE
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return  # answered here (408, 413), or the client is gone
        body = _scrubbed_body(body)
        delivered = False
        complete = False
        disconnected = anyio.Event()

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
            return message

        async def watch(message: Any) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        session_id = _handshake_session(scope)
        if session_id is None:
            await self.app(scope, replay, watch)
            return

        async def cancel_when_dropped() -> None:
            await disconnected.wait()
            request_id = _request_id(body) if not complete else None  # parsed only now: off the common path
            if request_id is not None:
                await self._cancel(scope, session_id, request_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_dropped)
            try:
                await self.app(scope, replay, watch)
            finally:
                if not disconnected.is_set() or complete:
                    tg.cancel_scope.cancel()

    async def _read_body(self, scope: Any, receive: Any, send: Any) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _json_error(send, 413, f"request body too large (the limit is {self.max_body_bytes:,} bytes)")
            return None
        body = bytearray()
        with anyio.move_on_after(self.body_timeout_s) as deadline:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None  # http.disconnect: nobody to answer
                body += message.get("body", b"")
                if len(body) > self.max_body_bytes:
                    await _json_error(send, 413, f"request body too large (the limit is {self.max_body_bytes:,} bytes)")
                    return None
                if not message.get("more_body", False):
                    return bytes(body)
        assert deadline.cancelled_caught
        logger.info("HTTP: closed a connection whose request body did not arrive within %g s", self.body_timeout_s)
        await _json_error(
            send, 408, f"request body not received within {self.body_timeout_s:g} s (compiler.http_body_timeout_s)"
        )
        return None

    async def _cancel(self, scope: Any, session_id: bytes, request_id: Any) -> None:
        """Hand the session a `notifications/cancelled` for `request_id`, through the app."""
        logger.info("HTTP: the client dropped request %r of session %s; cancelling it", request_id,
                    session_id[:12].decode(errors="replace"))
        notification = json.dumps({
            "jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "the client's connection closed before the response"},
        }).encode()
        keep = (b"host", b"origin", b"authorization", b"mcp-session-id", b"mcp-protocol-version")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() in keep] + [
            (b"content-type", b"application/json"), (b"accept", b"application/json, text/event-stream"),
            (b"content-length", str(len(notification)).encode()),
        ]
        sent = False

        async def receive() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": notification, "more_body": False}
            await anyio.sleep_forever()

        status: list[int] = []

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        with anyio.move_on_after(5):
            try:
                await self.app({**scope, "headers": headers}, receive, send)
            except Exception as exc:  # noqa: BLE001 - best effort: the session may be gone too
                logger.debug("could not cancel request %r: %s", request_id, exc)
        if status and status[0] >= 400:
            logger.debug("cancelling request %r was answered %d", request_id, status[0])


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _handshake_session(scope: Any) -> bytes | None:
    """The session id of a handshake-era POST to a session (the only kind the guard cancels for)."""
    session_id = next((v for k, v in scope["headers"] if k.lower() == b"mcp-session-id"), None)
    if session_id is None:
        return None
    version = _header(scope, b"mcp-protocol-version")
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None  # 2026-07-28: served inside the HTTP request, cancelled with it already
    return session_id


def _request_id(body: bytes) -> str | int | None:
    """The id of the JSON-RPC request in `body`; None for a notification, a response, a batch, initialize."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return None
    request_id = message.get("id")
    if message["method"] == "initialize" or isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return None
    return request_id


async def _json_error(send: Any, status: int, message: str) -> None:
    """A JSON-RPC error body (no request id) with HTTP `status`; the connection is closed after it."""
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


# ---- uvicorn: a deadline for request headers ---------------------------------------------------------


def header_timeout_protocol(timeout_s: float) -> type:
    """uvicorn's h11 protocol, with `timeout_s` for each request's headers (for `uvicorn.Config(http=...)`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        """A request's headers must be complete within `header_timeout_s` of its first byte, and a
        new connection's first request within as long of the connection: else 408, and close.

        uvicorn times out only an idle keep-alive connection, and only between requests, so a
        client sending one header byte a second held a connection (and its memory) for as long
        as it liked. The timer runs while h11 waits for a request (`their_state` IDLE) and
        stops when the request's headers are parsed; it is not restarted by each byte.
        """

        header_timeout_s = timeout_s

        def connection_made(self, transport: Any) -> None:
            self._header_timer: Any = None
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                self._arm_header_timer()  # the first bytes of a request (a no-op if already armed)
            else:
                self._disarm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            if self._header_timer is None and not self.transport.is_closing():
                self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a request came: say why it is refused
                body = f"request headers not received within {self.header_timeout_s:g} s\n".encode()
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
                )
                logger.info("HTTP: closed a connection whose request headers did not arrive within %g s",
                            self.header_timeout_s)
            self.transport.close()

    return HeaderTimeoutH11Protocol



async def serve_http(asgi_app: Any, host: str, port: int, *, limits: HttpLimits | None = None) -> None:
    import uvicorn

    limits = limits or HttpLimits()
    try:
        protocol: Any = header_timeout_protocol(limits.header_timeout_s)
    except ImportError as exc:  # a uvicorn whose h11 protocol moved: serve, without the header deadline
        logger.warning("HTTP: no request-header timeout with this uvicorn (%s)", exc)
        protocol = "auto"
    config = uvicorn.Config(
        asgi_app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=5, http=protocol,
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    logger.info("serving %s at http://%s:%d/mcp", TOOL_NAME, shown, port)
    # Cancelling uvicorn mid-flight breaks its lifespan task (the SDK's session manager) with a
    # traceback. So uvicorn runs shielded, and our cancellation (SIGTERM via cancel_on_signals,
    # a parent scope) becomes its graceful shutdown, bounded by a deadline.
    stopped = anyio.Event()
    shield = anyio.CancelScope(shield=True)

    async def run_uvicorn() -> None:
        with shield:
            try:
                await server.serve()
            finally:
                stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_uvicorn)
        try:
            await stopped.wait()
        finally:
            server.should_exit = True
            shield.deadline = anyio.current_time() + (config.timeout_graceful_shutdown or 0) + 10
    if not server.started:
        raise OSError(f"could not serve HTTP on {host}:{port} (see the log above)")
