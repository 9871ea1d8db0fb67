"""Streamable HTTP: the ASGI app at `/mcp`, its security, and running it under uvicorn.

DNS-rebinding protection is always on; a bearer token (`MCP_COMPILER_TOKEN`) is required when
bound to anything but loopback, and enforced whenever it is set. The SDK's request body cap
(4 MiB) stays; plans have their own limits (`RequestLimits`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings

from ..errors import ConfigError
from .schemas import TOOL_NAME

if TYPE_CHECKING:
    from .app import CompilerServer

__all__ = [
    "TOKEN_ENV", "ALLOWED_HOSTS_ENV", "BearerTokenMiddleware", "http_app", "is_loopback", "require_token",
    "serve_http", "transport_security",
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


def require_token(host: str, token: str | None) -> None:
    """Raise ConfigError when serving HTTP on a non-loopback `host` without a bearer token."""
    if not token and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve HTTP on {host} without a bearer token: set {TOKEN_ENV} "
            "(clients then send `Authorization: Bearer <token>`), or bind to 127.0.0.1"
        )


def http_app(app: "CompilerServer", *, host: str = "127.0.0.1", token: str | None = None, stateless: bool = False) -> Any:
    """The Streamable HTTP ASGI app at `/mcp`: rebinding protection on, the token if given.

    Raises ConfigError when `host` is not loopback and there is no token.
    """
    require_token(host, token)
    starlette_app = app.server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=transport_security(host),
        host=host,
        stateless_http=stateless,
    )
    return BearerTokenMiddleware(starlette_app, token) if token else starlette_app


async def serve_http(asgi_app: Any, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        asgi_app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=5,
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
            shield.deadline = anyio.current_time() + config.timeout_graceful_shutdown + 10
    if not server.started:
        raise OSError(f"could not serve HTTP on {host}:{port} (see the log above)")
