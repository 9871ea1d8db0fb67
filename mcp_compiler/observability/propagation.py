"""W3C trace context between `_meta` and HTTP headers, both ways.

In: a host's trace context from the HTTP headers, for requests whose `_meta` carries none
(`headers_trace_context`). Out: a request to an HTTP upstream carries the `traceparent` of its
`_meta` as a header too (`trace_headers`), for proxies and servers that trace at the HTTP layer.

The 2026-07-28 specification puts `traceparent` and `tracestate` in a request's `_meta`, and the
`mcp` SDK's server span reads them there. A host (or a gateway in front of us) that traces at the
HTTP layer sends them as headers instead: this middleware copies them into the request's `_meta`
before the SDK's middleware runs, so either way our spans are children of the host's. `_meta`
wins when both are present. Plain string copying: nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

__all__ = ["TRACE_KEYS", "headers_trace_context", "trace_headers"]

TRACE_KEYS = ("traceparent", "tracestate")
# version-traceid-spanid-flags, as W3C Trace Context level 1 writes it; anything else is not copied
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
# The `_meta` entry as the SDK writes a JSON-RPC request's body (compact JSON): `_meta` is the last
# key of `params`, so the last match is the request's own, whatever the arguments before it hold.
_META_TRACEPARENT = re.compile(rb'"traceparent":\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')
_MAX_TRACESTATE = 512  # the spec's own limit on what a vendor must propagate


def _from_headers(headers: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    parent = headers.get("traceparent") if headers is not None else None
    if isinstance(parent, str) and _TRACEPARENT.fullmatch(parent.strip()):
        found["traceparent"] = parent.strip()
        state = headers.get("tracestate")
        if isinstance(state, str) and state and len(state) <= _MAX_TRACESTATE:
            found["tracestate"] = state
    return found


async def headers_trace_context(ctx: Any, call_next: Any) -> Any:
    """Server middleware (first in `Server.middleware`): `traceparent`/`tracestate` from the HTTP
    request's headers into `ctx.meta` when the request's `_meta` has no `traceparent`."""
    request = getattr(ctx, "request", None)
    meta = ctx.meta
    if request is not None and not (meta and "traceparent" in meta):
        found = _from_headers(getattr(request, "headers", None))
        if found:
            ctx = dataclasses.replace(ctx, meta={**(meta or {}), **found})
    return await call_next(ctx)


async def trace_headers(request: Any) -> None:
    """An HTTP client's request hook: the `traceparent` of the JSON-RPC request's `_meta` as the
    `traceparent` header, when the body has one and the request no such header."""
    if request.method != "POST" or "traceparent" in request.headers:
        return
    body = request.content
    if b'"traceparent"' not in body:  # most requests, with traces off: one scan of the bytes
        return
    found = _META_TRACEPARENT.findall(body)
    if found:
        request.headers["traceparent"] = found[-1].decode()
