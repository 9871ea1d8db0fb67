"""JSON-RPC policing: every message between the SDK and one transport, seen on its way.

A response the SDK would drop in silence fails the call at once with what was wrong, instead of
leaving it to its timeout: a response whose id matches no request in flight (every call in flight
on that session fails: the answer may have been any of theirs), one with neither `result` nor
`error`, a JSON array (a batch; MCP has none), valid JSON nested deeper than the SDK's reader
goes. A `tools/list` page is checked tool by tool before
the SDK sees it: one tool the SDK's validation would reject (and with it the whole page) is
dropped with a warning naming it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.shared.dispatcher import as_request_id, coerce_request_id
from mcp.shared.message import SessionMessage
from mcp_types.methods import validate_server_result
from pydantic import ValidationError

from ..text import scrub

__all__ = ["OVERSIZED", "BoundedBodies", "Wire", "WireReader", "WireWriter", "top_level_keys"]

OVERSIZED = "the server sent a message"  # how a message dropped for its size is named (stdout_codec)

logger = logging.getLogger(__name__)


LEGACY_TASK_CALL = "io.github.mcp-compiler/legacy-task"  # a tools/call run as a 2025-11-25 task


class Wire:
    """The books on JSON-RPC ids of one connection (one `Wire` per connection).

    Sits on the transport's two streams (the SDK's public transport contract: `SessionMessage`s,
    and `Exception`s for what the transport could not parse):

    - the end of the read stream calls `on_eof` (the session reconnects; the SDK fails pending
      requests then, but keeps its session object);
    - a response the SDK would drop in silence (an id that matches no request in flight; neither
      `result` nor `error`; a JSON array) is answered, to the requests it leaves waiting, by an
      error response made here that says what was wrong, so their calls fail at once;
    - a `tools/list` result is passed to the SDK without the tools its validation rejects, and
      without output schemas, which are kept here (`output_schemas`).
    """

    _SETTLED_KEPT = 4096  # ids answered or given up on, whose late answers are no protocol error

    def __init__(self, server: str, *, redact: Callable[[str], str], on_eof: Callable[[], None]) -> None:
        self.server = server
        self.redact = redact
        self.on_eof = on_eof
        # The client reading through this wire, once it exists: its protocol version decides what
        # the SDK's validation rejects.
        self.client: Client | None = None
        self.output_schemas: dict[str, Any] = {}  # by tool name, as listed (the SDK sees none)
        self._pending: dict[Any, tuple[Any, str]] = {}  # coerced id -> (the id as sent, method)
        self._settled: set[Any] = set()
        self._settled_order: deque[Any] = deque()
        self._injected: deque[SessionMessage] = deque()

    @asynccontextmanager
    async def around(self, transport: Any) -> AsyncIterator[tuple[WireReader, WireWriter]]:
        async with transport as (read_stream, write_stream):
            yield WireReader(self, read_stream), WireWriter(self, write_stream)

    # ---- outbound ---------------------------------------------------------------------------

    def outbound(self, item: Any) -> None:
        message = item.message if isinstance(item, SessionMessage) else None
        if isinstance(message, types.JSONRPCRequest):
            method = message.method
            if method == "tools/call" and isinstance((message.params or {}).get("task"), dict):
                method = LEGACY_TASK_CALL  # its answer is a task, which the SDK cannot read as a tools/call's
            self._pending[coerce_request_id(message.id)] = (message.id, method)
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
            if error.startswith(OVERSIZED):  # ours, for a message too large whose id was not seen
                self._broken(error[len("the server "):])
            else:
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
        if entry[1] == LEGACY_TASK_CALL and isinstance(message, types.JSONRPCResponse):
            return self._task_created(item, message)
        return item

    def _task_created(self, item: SessionMessage, message: types.JSONRPCResponse) -> SessionMessage:
        """A 2025-11-25 task-augmented tools/call's answer (`CreateTaskResult`), as a tools/call
        result the SDK accepts: no content, the task under `_meta[LEGACY_TASK_CALL]`
        (`task_client.call_as_legacy_task` reads it there)."""
        task = message.result.get("task") if isinstance(message.result, dict) else None
        if not isinstance(task, dict):
            return item  # a plain result after all: the SDK reads it as one
        replaced = types.JSONRPCResponse(
            jsonrpc="2.0", id=message.id, result={"content": [], "_meta": {LEGACY_TASK_CALL: task}}
        )
        return SessionMessage(replaced, metadata=item.metadata)

    def _malformed(self, exc: ValidationError) -> Any:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid" and "recursion limit" in str(errors[0].get("msg")):
            return self._too_deep(exc, errors[0].get("input"))
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
        keys = [coerce_request_id(rid) for rid in map(as_request_id, ids) if rid is not None]
        self._broken(what, [k for k in keys if k in self._pending] or None)
        return None

    def _too_deep(self, exc: ValidationError, raw: Any) -> Any:
        """Valid JSON nested deeper than the SDK's reader goes (pydantic's recursion limit, about
        200 levels), which it reports as "invalid JSON": the request it answers fails at once
        saying so, instead of waiting for its timeout. Its id is found by a scan of the top level
        (no depth limit); a message whose id cannot be found fails every call in flight, as for
        an answer that could be anyone's."""
        what = "its response nests deeper than the JSON reader allows (about 200 levels)"
        top = top_level_keys(raw) if isinstance(raw, str) else {}
        if "method" in top:
            return exc  # a request or notification of its own: no call of ours waits on it
        rid = as_request_id(top.get("id"))
        key = coerce_request_id(rid) if rid is not None else None
        if key is None or key not in self._pending:
            self._broken(what)
            return None
        self._broken(f"its response to request {rid!r} nests deeper than the JSON reader allows (about 200 levels)", [key])
        return None

    def _broken(self, what: str, keys: list[Any] | None = None) -> None:
        """Fail the requests `keys` (None: every one in flight but the change subscription)."""
        what = self.redact(what)
        if keys is None:
            keys = [k for k, (_, method) in self._pending.items() if method != "subscriptions/listen"]
            many = len(keys) > 1
        else:
            many = False
        logger.warning("upstream %r broke JSON-RPC: %s", self.server, what)
        text = f"server {self.server!r} broke JSON-RPC: {what}"
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
        a pattern and a result of its own. The session checks results with `values.OutputChecks`.
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
                    self.server, name, _first_error(exc),
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


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SCALAR = re.compile(r'\s*:\s*(-?[0-9]+|"(?:[^"\\]|\\.)*")')


def top_level_keys(raw: str) -> dict[str, Any]:
    """The `id` (a number or string) and whether there is a `method`, among the top-level keys of
    a JSON object too deep (or too long) to parse, or of its first bytes: a scan of its strings
    and brackets, at regex speed."""
    found: dict[str, Any] = {}
    depth = 0
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token[0] == '"':
            if depth == 1 and token in ('"id"', '"method"'):
                value = _SCALAR.match(raw, match.end())
                if value is not None:
                    found[token[1:-1]] = json.loads(value.group(1))
        elif token in "[{":
            depth += 1
        else:
            depth -= 1
    return found


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


class _WireStream:
    """What both of the SDK's streams share: the wire they pass through, the transport's stream
    inside, and closing, which closes the transport's."""

    def __init__(self, wire: Wire, inner: Any) -> None:
        self._wire = wire
        self._inner = inner

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.aclose()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()


class WireReader(_WireStream):
    """The read stream the SDK gets: the transport's, through `Wire.inbound`; the end of it
    calls the wire's `on_eof`."""

    @property
    def last_context(self) -> contextvars.Context | None:
        """The sender's context of the last message, where the transport keeps one (HTTP's
        context streams do; the SDK's dispatcher asks for it with `getattr`)."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        while True:
            injected = self._wire.next_injected()
            if injected is not None:
                return injected
            try:
                item = await self._inner.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self._wire.on_eof()
                raise
            item = self._wire.inbound(item)
            if item is not None:
                return item

    def __aiter__(self) -> WireReader:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class WireWriter(_WireStream):
    """The write stream the SDK gets: the transport's, through `Wire.outbound`."""

    async def send(self, item: Any) -> None:
        self._wire.outbound(item)  # before the send: the answer may come back before it returns
        await self._inner.send(item)


class BoundedBodies(httpx2.AsyncBaseTransport):
    """An HTTP server's JSON bodies (one message each) read up to `limit` bytes, no further.

    The transport under the SDK's Streamable HTTP client: a body larger than `limit` fails while
    it is read (by its Content-Length before any of it, else at the chunk that passes the limit),
    with an `httpx2.StreamError` the SDK turns into an error for the request it answers, so the
    call fails at once naming the setting. SSE events are bounded by the SDK's own
    `max_sse_event_size`, which the connection sets to the same limit (`connect.py`).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self.limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if not response.headers.get("content-type", "").lower().startswith("application/json"):
            return response
        return httpx2.Response(
            response.status_code, headers=response.headers, extensions=response.extensions, request=request,
            stream=_BoundedStream(response.stream, self.limit, response.headers.get("content-length")),
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, limit: int, length: str | None) -> None:
        self._inner, self._limit, self._length = inner, limit, length

    def _refuse(self, size: str) -> httpx2.StreamError:
        return httpx2.StreamError(
            f"{OVERSIZED} of {size} bytes, more than the {self._limit:,} a message may take "
            "(compiler.max_value_bytes and 1 MiB for its envelope); it was dropped as it was read"
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._length is not None and self._length.isdigit() and int(self._length) > self._limit:
            raise self._refuse(f"{int(self._length):,}")
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if total > self._limit:
                raise self._refuse(f"more than {total:,}")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
