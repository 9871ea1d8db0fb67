"""What can go wrong with an upstream, named by type, and how it is said.

A call's exception is sorted here, by its type (as httpx's `map_exceptions` does), into three kinds:

- `LOST`: the connection broke under the call; the call fails with `UpstreamLost` and the session
  reconnects.
- `UPSTREAM_FAULTS`: what a server can make the SDK raise by what it sends — an error response
  (`MCPError`), a result that does not parse (pydantic's `ValidationError`, JSON that does not
  decode), input_required rounds without end, a result shape nobody claims. The call fails with
  a `ToolError` saying so.
- anything else is a bug of ours (or of the SDK's) and propagates as it is, so the scheduler
  records it as one rather than as the tool's failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
from mcp.client import InputRequiredRoundsExceededError, UnexpectedClaimedResult
from mcp.client.streamable_http import StreamableHTTPError
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from ..errors import ConnectionLost

__all__ = [
    "LOST", "UPSTREAM_FAULTS", "ConnectFailed", "UpstreamLost", "describe_exception", "leaf", "redact_url",
    "stderr_tail",
]

LOST = (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)
UPSTREAM_FAULTS = (
    MCPError, ValidationError, json.JSONDecodeError, InputRequiredRoundsExceededError, UnexpectedClaimedResult,
    StreamableHTTPError,
)

_STDERR_TAIL_BYTES = 2000
_STDERR_TAIL_LINES = 12


class UpstreamLost(ConnectionLost):
    """The server went away (exited, dropped the connection) while the call was in flight."""


class ConnectFailed(Exception):
    """A connection attempt ended before the session was live; the message says why."""


def leaf(exc: BaseException) -> BaseException:
    """The first real exception inside the (nested) exception groups the SDK raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_exception(exc: BaseException) -> str:
    exc = leaf(exc)
    if isinstance(exc, MCPError):
        return f"{exc.message} (MCP error {exc.code})"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def redact_url(url: str) -> str:
    """The URL without userinfo or query string, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def stderr_tail(errlog: IO[bytes] | None, redact: Callable[[str], str]) -> str:
    """The last lines a child wrote on stderr (to `errlog`), to say why it failed."""
    if errlog is None:
        return ""
    try:
        # pread leaves the file offset alone: the child shares it and is still writing.
        fd = errlog.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - _STDERR_TAIL_BYTES)
        text = os.pread(fd, size - start, start).decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    lines = [redact(line) for line in text.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
    return ("\n  stderr: " + "\n  stderr: ".join(lines)) if lines else ""
