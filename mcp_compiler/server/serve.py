"""`serve`: connect the configured servers and serve `compile_and_run` on stdio or HTTP."""

from __future__ import annotations

import logging
import os
from typing import Literal

import anyio

from ..auth.resource import Authenticator
from ..config import Config
from ..gateway import open_gateway
from ..observability import install, setup_tracing
from ..observability.endpoints import readiness
from ..observability.metrics import MetricsObserver
from ..observability.viewer import RunLog
from ..request import RequestLimits
from ..state import STATE_ENV, StateStore, StateUnavailable, state_from_url
from .app import CompilerServer
from .http import PROBE_KIND, TOKEN_ENV, HttpLimits, http_app, require_token, serve_http
from .stdio import stdio_streams
from .tool_definition import TOOL_NAME

__all__ = ["serve"]

logger = logging.getLogger(__name__)


async def serve(
    config: Config,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    model: str | None = None,
    token: str | None = None,
    stateless: bool = False,
    limits: RequestLimits | None = None,
    state_url: str | None = None,
) -> None:
    """Connect the upstream pool and serve `compile_and_run` until stdin closes or the scope is cancelled.

    HTTP serves at `http://HOST:PORT/mcp`. The token defaults to `$MCP_COMPILER_TOKEN`; bound to
    anything but loopback, serving refuses to start (ConfigError) without one.

    State kept between requests lives where `state_url`, else `$MCP_COMPILER_STATE`, else
    `compiler.state` says (`memory://` by default; `redis://...` for replicas, docs/deployment.md).
    """
    if transport not in ("stdio", "http"):
        raise ValueError(f"unknown transport {transport!r}: use 'stdio' or 'http'")
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    auth = Authenticator.from_config(config.compiler, token) if transport == "http" else None  # docs/auth.md
    if transport == "http":
        require_token(host, token, protected=auth is not None)  # before any server is spawned
    setup_tracing()  # traces when the OTEL_* variables ask for them (docs/observability.md)
    metrics = MetricsObserver() if transport == "http" else None  # /metrics: HTTP only
    if metrics is not None:
        install(metrics)
    configured = config.compiler.state.get_secret_value() if config.compiler.state is not None else None
    state = state_from_url(state_url or os.environ.get(STATE_ENV) or configured,
                           timeout_s=config.compiler.state_timeout_s)  # a bad URL fails before anything starts
    try:
        await state.ping()  # a replica joins without waiting for Redis: calls needing state fail until it is back
    except StateUnavailable as exc:
        logger.warning("%s; starting anyway, calls that keep state fail until it answers", exc)
    try:  # requestState sealed under one key by every replica, so a retry may reach any of them
        request_state_key: bytes | None = await state.shared_secret("request-state")
    except StateUnavailable:
        request_state_key = None  # this replica's own: its round trips' retries must reach it
    try:
        await _serve(config, state, request_state_key, transport=transport, host=host, port=port, model=model, token=token,
                     stateless=stateless, limits=limits, metrics=metrics, auth=auth)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await state.aclose()


async def _serve(
    config: Config, state: StateStore, request_state_key: bytes | None, *, transport: Literal["stdio", "http"], host: str, port: int,
    model: str | None, token: str | None, stateless: bool, limits: RequestLimits | None,
    metrics: MetricsObserver | None = None, auth: Authenticator | None = None,
) -> None:

    # The host's `initialize` is answered at once: servers join in the background, each announced
    # to the hosts by tools/list_changed, and a plan waits only for the servers it names.
    async with open_gateway(config, wait_for_servers=False, relay_to_hosts=True) as gateway:
        pool = gateway.pool
        app = CompilerServer(
            gateway.toolbox, config, model=model, limits=limits, compiler=gateway.compiler, upstreams=pool,
            state=state, request_state_key=request_state_key,
        )
        pool.on_catalog_change.append(app.catalog_changed)
        logger.info("connecting %d servers in the background", len(pool.status()))
        if transport == "stdio":
            await _serve_stdio(app)
        else:
            http_limits = HttpLimits.from_config(config.compiler)
            required = [name for name, server in config.servers.items() if server.required]
            ready = readiness(
                lambda: app.state.get(PROBE_KIND, "probe"), lambda: {s.name: s.connected for s in pool.status()}, required
            )
            runs = RunLog()  # the run viewer at /runs
            install(runs)
            asgi_app = http_app(
                app, host=host, token=token, stateless=stateless, limits=http_limits, metrics=metrics, ready=ready,
                runs=runs,
                auth=auth,
            )
            await serve_http(asgi_app, host, port, limits=http_limits)


async def _serve_stdio(app: CompilerServer) -> None:
    logger.info("serving %s on stdio", TOOL_NAME)
    async with stdio_streams() as (read_stream, write_stream):
        await app.server.run(read_stream, write_stream, app.server.create_initialization_options())
