"""The simulated endpoint's Starlette app: route, authorise, pick a reply, pace it onto the wire,
and record everything. Shared state lives in `SimState`, owned by `SimulatedLLM`.
"""

from __future__ import annotations

import inspect
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_compiler.llm.tokens import chunk_text, count_tokens, first_tokens

from ._wire import AnthropicWire, BadRequest, OpenAIWire, StopKind, WireFormat
from .script import Exchange, Fail, LatencyModel, Reply, ReplyLike, Responder, SimRequest, as_reply

log = logging.getLogger("benchmarks.simllm")


@dataclass
class SimState:
    latency: LatencyModel
    responder: Responder | None = None
    api_key: str | None = None
    queue: deque[Reply | Fail] = field(default_factory=deque)
    exchanges: list[Exchange] = field(default_factory=list)
    on_exchange: Callable[[Exchange], None] | None = None
    # Cancel scopes of replies in flight, so closing the endpoint ends stalled replies at once.
    active: set[anyio.CancelScope] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.latency.seed)

    def push(self, replies: Iterable[ReplyLike]) -> None:
        self.queue.extend(as_reply(r) for r in replies)

    async def next_reply(self, request: SimRequest) -> Reply | Fail:
        """The queue first, then the responder; with neither, a 500 that says so."""
        try:
            return self.queue.popleft()
        except IndexError:
            pass
        if self.responder is None:
            return Fail(500, "SimulatedLLM: no scripted reply left (queue empty, no responder)")
        try:
            value = self.responder(request)
            if inspect.isawaitable(value):
                value = await value
            return as_reply(value)
        except Exception as err:  # a bug in a test's responder must show up, not hang the client
            log.exception("SimulatedLLM responder raised")
            return Fail(500, f"SimulatedLLM responder raised {type(err).__name__}: {err}")

    def finish(self, ex: Exchange) -> None:
        ex.finished_at = time.monotonic()
        if self.on_exchange is not None:
            self.on_exchange(ex)

    def cancel_all(self) -> None:
        for scope in list(self.active):
            scope.cancel()


def build_app(state: SimState) -> Starlette:
    async def openai(request: Request) -> Response:
        return await _handle(state, OpenAIWire(), request)

    async def anthropic(request: Request) -> Response:
        return await _handle(state, AnthropicWire(), request)

    async def exchanges(request: Request) -> Response:
        return JSONResponse([ex.to_json() for ex in state.exchanges])

    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai, methods=["POST"]),
            Route("/chat/completions", openai, methods=["POST"]),  # base URL given without /v1
            Route("/v1/messages", anthropic, methods=["POST"]),
            Route("/sim/exchanges", exchanges, methods=["GET"]),
        ]
    )


async def _handle(state: SimState, wire: WireFormat, request: Request) -> Response:
    received_at = time.monotonic()
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        sim_request = wire.parse(body, request.headers)
    except (BadRequest, ValueError, TypeError, AttributeError) as err:
        return JSONResponse(wire.error_body(400, f"bad request: {err}"), status_code=400)

    ex = Exchange(len(state.exchanges) + 1, sim_request, received_at, input_tokens=sim_request.input_tokens)
    state.exchanges.append(ex)
    if state.api_key is not None and not wire.authorized(request.headers, state.api_key):
        return _fail(state, wire, ex, Fail(401, "invalid API key"))
    reply = await state.next_reply(sim_request)
    if isinstance(reply, Fail):
        return _fail(state, wire, ex, reply)
    return _ReplyResponse(state, wire, ex, reply)


def _fail(state: SimState, wire: WireFormat, ex: Exchange, fail: Fail) -> Response:
    ex.status, ex.error = fail.status, fail.message
    state.finish(ex)
    headers = {"x-request-id": f"req_sim{ex.index}"}
    if fail.retry_after_s is not None:
        headers["retry-after-ms"] = str(int(fail.retry_after_s * 1000))
    return JSONResponse(wire.error_body(fail.status, fail.message), status_code=fail.status, headers=headers)


def truncate(text: str, stop: Iterable[str], max_tokens: int | None) -> tuple[str, StopKind, str | None]:
    """Apply stop sequences and max_tokens as a real model would: cut before the earliest stop
    sequence; then keep at most `max_tokens` tokens."""
    kind: StopKind = "end"
    seq: str | None = None
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if hits:
        at, seq = min(hits)
        text, kind = text[:at], "stop_sequence"
    if max_tokens is not None and count_tokens(text) > max_tokens:
        text, kind, seq = first_tokens(text, max_tokens), "max_tokens", None
    return text, kind, seq


class _ReplyResponse(Response):
    """Sends one reply, streamed or whole, paced by the latency model, while watching for the
    client to disconnect (uvicorn's `send` is silent after a disconnect, so we must listen)."""

    def __init__(self, state: SimState, wire: WireFormat, ex: Exchange, reply: Reply) -> None:
        self.state, self.wire, self.ex, self.reply = state, wire, ex, reply
        self.latency = reply.latency or state.latency
        self.text, self.kind, self.stop_sequence = truncate(reply.text, ex.request.stop, ex.request.max_tokens)
        ex.output_tokens = count_tokens(self.text)
        ex.stop_reason = self.kind
        # Set just before the last `send`: uvicorn reports "disconnect" to `receive` as soon as a
        # response is complete, which is not the client leaving early.
        self._complete = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tg = anyio.create_task_group()
        try:
            async with tg:
                self.state.active.add(tg.cancel_scope)
                tg.start_soon(self._watch_disconnect, receive, tg.cancel_scope)
                if self.ex.request.stream:
                    await self._stream(send)
                else:
                    await self._whole(send)
                tg.cancel_scope.cancel()  # done: stop watching
        finally:
            self.state.active.discard(tg.cancel_scope)
            self.state.finish(self.ex)

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if self._complete:
                    return
                self.ex.disconnected = True
                log.info("SimulatedLLM: client left request #%d mid-reply", self.ex.index)
                scope.cancel()
                return

    async def _stream(self, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        headers.append((b"x-request-id", f"req_sim{self.ex.index}".encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        self.ex.status = 200
        for event in self.wire.stream_start(self.ex):
            await self._send_body(send, event)
        stall_at, rng = self.reply.stall_after_tokens, self.state.rng
        text = self.text if stall_at is None else first_tokens(self.text, stall_at)
        for i, (chunk, n) in enumerate(chunk_text(text, self.latency.tokens_per_chunk)):
            await anyio.sleep(self.latency.first_delay(rng) if i == 0 else self.latency.chunk_delay(n, rng))
            await self._send_body(send, self.wire.stream_text(self.ex, chunk))
            self._mark_chunk(chunk)
        if stall_at is not None:
            await anyio.sleep_forever()  # until the client leaves or the endpoint closes
        for event in self.wire.stream_end(self.ex, self.kind, self.stop_sequence):
            await self._send_body(send, event)
        self._complete = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _whole(self, send: Send) -> None:
        if self.reply.stall_after_tokens is not None:
            await anyio.sleep_forever()
        await anyio.sleep(self.latency.total_delay(self.ex.output_tokens, self.state.rng))
        self._mark_chunk(self.text)
        body = json.dumps(self.wire.full(self.ex, self.kind, self.stop_sequence)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers.append((b"x-request-id", f"req_sim{self.ex.index}".encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        self.ex.status = 200
        self._complete = True
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _send_body(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    def _mark_chunk(self, chunk: str) -> None:
        now = time.monotonic()
        if self.ex.first_chunk_at is None:
            self.ex.first_chunk_at = now
        self.ex.last_chunk_at = now
        self.ex.reply_text += chunk
        self.ex.chunks += 1
