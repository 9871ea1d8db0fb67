"""One connection to one server, opened: the transport (a stdio child, Streamable HTTP or the older
HTTP+SSE), the
`Wire` on its streams, the SDK's `Client` over them; and why an attempt failed, said plainly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import IO, Any

import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import MessageHandlerFnT
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from .._version import __version__
from ..auth.upstream import client_auth
from ..config import CompilerConfig, HttpServerConfig, ServerConfig, SseServerConfig, StdioServerConfig
from ..observability.propagation import trace_headers
from .failures import ConnectFailed, describe_exception, leaf, redact_url
from .relay import HostRelay
from .stdout_codec import reporting_utf8
from .task_client import UpstreamTasks
from .wire import BoundedBodies, Wire

__all__ = ["NEEDS_SIGN_IN", "describe_connect_failure", "open_client"]

NEEDS_SIGN_IN = (
    "the server needs an OAuth sign-in (it answered 401 naming its authorization server): give its entry an "
    "\"auth\" with client credentials (docs/auth.md#servers-behind-a-login); signing in as a person is not "
    "supported yet"
)


@asynccontextmanager
async def open_client(
    config: ServerConfig,
    compiler: CompilerConfig,
    *,
    wire: Wire,
    errlog: IO[bytes],
    protocol_mode: str,
    call_timeout_s: float,
    relay: HostRelay | None,
    on_message: MessageHandlerFnT,
    on_session_gone: Callable[[], None],
) -> AsyncIterator[Client]:
    """The SDK client of one connection, entered (handshake done). A stdio child's stderr goes to
    `errlog`; an HTTP server's 404 to our session id calls `on_session_gone`."""
    sign_in: list[bool] = []  # the server answered 401 naming its authorization server, and we have no `auth`
    transport = _open_transport(config, compiler, errlog, call_timeout_s, on_session_gone, sign_in)
    client = Client(
        wire.around(transport),
        mode=protocol_mode,
        cache=None,  # a refresh after list_changed must reach the server
        message_handler=on_message,
        # What hosts may provide, advertised (and passed on to the host of the call, `relay.py`).
        sampling_callback=relay.sampling if relay else None,
        elicitation_callback=relay.elicitation if relay else None,
        list_roots_callback=relay.list_roots if relay else None,
        logging_callback=relay.log if relay else None,
        client_info=types.Implementation(name="mcp-compiler", version=__version__),
        extensions=[UpstreamTasks()],  # a tool answered with a task is polled to its end (SEP-2663)
    )
    wire.client = client
    entered = False
    try:
        async with client:
            entered = True
            yield client
    except Exception:
        if sign_in and not entered:  # the SDK says only "Server returned an error response"
            raise ConnectFailed(NEEDS_SIGN_IN) from None
        raise


def max_message_bytes(compiler: CompilerConfig) -> int:
    """The most one message from a server may take: a value (`compiler.max_value_bytes`) and
    1 MiB for its envelope (content blocks, ids, a short text beside structured content)."""
    return compiler.max_value_bytes + 2**20


@asynccontextmanager
async def _open_transport(
    config: ServerConfig,
    compiler: CompilerConfig,
    errlog: IO[bytes],
    call_timeout_s: float,
    on_session_gone: Callable[[], None],
    sign_in: list[bool] | None = None,
) -> AsyncIterator[Any]:
    if isinstance(config, StdioServerConfig):
        params = StdioServerParameters(
            command=config.command, args=config.args, env=config.env_values() or None, cwd=config.cwd,
            # UTF-8 whose undecodable bytes become U+FFFD and are reported, one message at most a
            # value and its envelope, dropped while it is read when larger (`stdout_codec.py`).
            encoding=reporting_utf8(max_message_bytes(compiler)), encoding_error_handler="replace",
        )
        # The SDK annotates errlog as TextIO but only hands it to the child as its stderr file:
        # a binary temporary file serves, and lets a failure quote the child's last lines.
        async with stdio_client(params, errlog=errlog) as streams:  # type: ignore[arg-type]
            yield streams
        return
    assert isinstance(config, HttpServerConfig)
    # Read timeout above the call timeout: our own deadline (the call policy's) should fire first.
    read_timeout_s = max(300.0, call_timeout_s + 30)
    if isinstance(config, SseServerConfig):
        # The SDK's SSE client builds its own HTTP client (origin-checked redirects); it has no
        # session-gone signal to watch for: a dropped stream ends the connection, and we reconnect.
        async with sse_client(
            config.url, headers=config.header_values(), timeout=compiler.connect_timeout_s,
            sse_read_timeout=read_timeout_s, auth=client_auth(config.url, config.auth) if config.auth else None,
        ) as streams:
            yield streams
        return

    async def on_response(response: httpx2.Response) -> None:
        # A 404 to a request carrying our session id means the server dropped the session (the
        # spec's signal to start a new one); the SDK reports it only as an error message.
        if response.status_code == 404 and "mcp-session-id" in response.request.headers:
            on_session_gone()
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code == 401 and config.auth is None and "resource_metadata" in challenge and sign_in is not None:
            sign_in.append(True)

    timeout = httpx2.Timeout(compiler.connect_timeout_s, read=read_timeout_s)
    # One message at most a value and its envelope, refused while it is read: a JSON body by the
    # transport (`wire.BoundedBodies`), an SSE event by the SDK's own bound.
    limit = max_message_bytes(compiler)
    http = httpx2.AsyncClient(
        # A request's traceparent (in its _meta) as a header too: HTTP proxies and servers trace by headers.
        headers=config.header_values(), timeout=timeout,
        event_hooks={"request": [trace_headers], "response": [on_response]},
        transport=BoundedBodies(httpx2.AsyncHTTPTransport(), limit),
        # The entry's `auth`: the SDK's OAuth client signs in, and again when its token expires.
        auth=client_auth(config.url, config.auth) if config.auth else None,
    )
    async with http, streamable_http_client(config.url, http_client=http, max_sse_event_size=limit) as streams:
        yield streams


def describe_connect_failure(
    exc: BaseException,
    config: ServerConfig,
    *,
    session_gone: bool,
    redact: Callable[[str], str],
    stderr_tail: str,
) -> str:
    """Why a connection attempt failed, for the log and `status()`: plainly where we can."""
    exc = leaf(exc)
    if isinstance(exc, ConnectFailed):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and isinstance(config, StdioServerConfig):
        return f"command not found: {config.command!r}"
    if isinstance(exc, PermissionError) and isinstance(config, StdioServerConfig):
        return f"command is not executable: {config.command!r}"
    if isinstance(exc, MCPError) and (exc.code == types.CONNECTION_CLOSED or session_gone):
        return "the server exited or closed the connection during the handshake" + stderr_tail
    if isinstance(exc, httpx2.ConnectError) and isinstance(config, HttpServerConfig):
        return redact(f"cannot connect to {redact_url(config.url)}: {exc}")
    return redact(describe_exception(exc)) + stderr_tail
