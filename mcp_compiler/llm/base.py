"""The LLM seam: stream text for a list of messages, report token usage.

Backends (Anthropic, OpenAI-compatible, MCP sampling) implement `LLM.stream`. The generic
`LLMStream` below owns everything they share — timeouts, error wrapping, text accumulation and
closing the HTTP stream on early exit or cancellation — so a backend is only an async generator
that yields text chunks and `Usage` snapshots.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

import anyio

from ..errors import CompilerError

log = logging.getLogger(__name__)

ErrorKind = Literal["http", "auth", "rate_limit", "timeout", "connection", "config", "protocol"]

# Closing a stream must never hang the caller, even when the peer is gone.
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class LLMError(CompilerError):
    """An LLM call failed. The message names the backend and what failed; never an SDK traceback.

    `kind` lets callers decide without parsing text (e.g. a planner may retry `rate_limit` but
    not `auth`); `status` is the HTTP status when there was one.
    """

    def __init__(self, backend: str, message: str, *, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(f"{backend}: {message}")
        self.backend = backend
        self.kind: ErrorKind = kind
        self.status = status


@dataclass(frozen=True)
class Timeouts:
    """Bounds on one LLM call, in seconds. `math.inf` disables one.

    total: the whole call, from entering the stream to its last chunk.
    first_token: from entering the stream to the first text chunk (covers connect, queueing and
        prompt processing) — a stalled endpoint fails here instead of after `total`.
    idle: between two text chunks once text has started.
    connect: TCP/TLS connect, handed to the SDK's HTTP client.
    """

    total: float = 120.0
    first_token: float = 60.0
    idle: float = 60.0
    connect: float = 10.0


@runtime_checkable
class LLM(Protocol):
    name: str  # "anthropic:claude-sonnet-5-5", "openai:gpt-5.5", "sampling"

    def stream(
        self,
        system: str,
        messages: list[Message],
        *,
        max_tokens: int = 4096,
        stop: Sequence[str] = (),
    ) -> LLMStream: ...


# What a backend's event generator yields: text chunks, and usage snapshots (cumulative, the
# latest wins) whenever the wire format reports them.
Event = str | Usage
ErrorMapper = Callable[[Exception], LLMError]


class LLMStream:
    """One streaming LLM call: an async context manager and an async iterator of text chunks.

    ```
    async with llm.stream(system, msgs) as s:
        async for chunk in s: ...
    s.text, s.usage
    ```

    The HTTP request starts on the first iteration. Leaving the `async with` early (break, error,
    cancellation) closes the HTTP stream. Every wait is bounded by `Timeouts`; a timeout or any
    backend failure raises `LLMError`.
    """

    def __init__(
        self,
        backend: str,
        events: Callable[[], AsyncIterator[Event]],
        *,
        timeouts: Timeouts,
        map_error: ErrorMapper,
    ) -> None:
        self.backend = backend
        self.text = ""
        self.usage = Usage()
        # time.monotonic() marks, for timelines: None until they happen.
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.finished_at: float | None = None
        self._make_events = events
        self._events: AsyncIterator[Event] | None = None
        self._timeouts = timeouts
        self._map_error = map_error
        self._last_chunk_at = 0.0
        self._done = False

    async def __aenter__(self) -> LLMStream:
        if self._events is not None:
            raise RuntimeError("an LLMStream can be entered only once")
        self.started_at = time.monotonic()
        self._events = self._make_events()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP stream if it is still open. Safe to call twice, and under cancellation."""
        events, self._done = self._events, True
        if events is None:
            return
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await close_quietly(aclose, what=f"{self.backend} stream")

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> str:
        if self._events is None:
            raise RuntimeError("use `async with llm.stream(...) as s:` before iterating")
        while not self._done:
            event = await self._next_event()
            if event is None:
                self._done = True
                self.finished_at = time.monotonic()
                break
            if isinstance(event, Usage):
                self.usage = event
            elif event:
                now = time.monotonic()
                if self.first_token_at is None:
                    self.first_token_at = now
                self._last_chunk_at = now
                self.text += event
                return event
        raise StopAsyncIteration

    def _deadline(self) -> tuple[float, str]:
        """The absolute deadline for the next event and what it means when it passes."""
        assert self.started_at is not None
        t = self._timeouts
        total = self.started_at + t.total
        if self.first_token_at is None:
            step, what = self.started_at + t.first_token, f"no first token within {t.first_token:g} s"
        else:
            step, what = self._last_chunk_at + t.idle, f"stream stalled: no chunk for {t.idle:g} s"
        if total <= step:
            return total, f"timed out after {t.total:g} s"
        return step, what

    async def _next_event(self) -> Event | None:
        assert self._events is not None
        deadline, what = self._deadline()
        # anyio.CancelScope wants a finite deadline relative to its own clock.
        scope_deadline = math.inf if math.isinf(deadline) else anyio.current_time() + (deadline - time.monotonic())
        with anyio.CancelScope(deadline=scope_deadline) as scope:
            try:
                return await self._events.__anext__()
            except StopAsyncIteration:
                return None
            except LLMError:
                self._done = True
                raise
            except Exception as err:  # an SDK or transport error: translate, drop the SDK traceback
                self._done = True
                raise self._map_error(err) from None
        # Only reached when our own deadline cancelled the wait; the generator has finished
        # (the cancellation went through it) and its cleanup closed the HTTP stream.
        self._done = True
        assert scope.cancelled_caught
        raise LLMError(self.backend, what, kind="timeout")


async def close_quietly(aclose: Callable[[], object], *, what: str) -> None:
    """Await `aclose()` shielded from cancellation and bounded in time; log, never raise.

    Shielded because the usual reason to close is that the caller was cancelled, and an
    unshielded await in a cancelled scope would be cancelled before the socket is released.
    """
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
        try:
            result = aclose()
            if hasattr(result, "__await__"):
                await result
        except Exception as err:
            log.debug("closing %s failed: %s", what, err)


async def complete(
    llm: LLM,
    system: str,
    messages: list[Message],
    *,
    max_tokens: int = 4096,
    stop: Sequence[str] = (),
) -> tuple[str, Usage]:
    """Run one call to the end; return the full text and its usage."""
    async with llm.stream(system, messages, max_tokens=max_tokens, stop=stop) as s:
        async for _ in s:
            pass
    return s.text, s.usage
