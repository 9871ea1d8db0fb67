"""MCP sampling as an LLM backend: the host's own model, asked through the client that called us.

Sampling is one request and one whole reply (no streaming), so the reply arrives as a single
chunk and the planner's tasks start once it is in. Hosts report no token usage; the counts here
are estimates by the rule in `mcp_compiler.llm.tokens`.

Protocol eras: a handshake-era connection (2025-11-25 and earlier) lets a tool call send
`sampling/createMessage` to the client as often as it needs — plan, join, replans. The 2026-07-28
era has no back-channel during a call: there the server hands this class a session of its own
(`server/round_trips.py`) that turns each request into an `input_required` round trip. ERA_HINT is
the error for a connection that can carry neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata

from .base import Event, LLMError, LLMStream, Message, Timeouts, Usage
from .tokens import count_tokens

__all__ = ["SamplingLLM", "ERA_HINT"]

ERA_HINT = (
    "the host's MCP connection cannot sample during a tool call in the 2026-07-28 protocol era; "
    "connect with a handshake-era client (protocol 2025-11-25), or configure a model "
    "(ANTHROPIC_API_KEY, OPENAI_API_KEY or --model)"
)


class SamplingLLM:
    """An `LLM` over the calling session's `sampling/createMessage`.

    `related_request_id` is the id of the `tools/call` being served: over HTTP it routes the
    request onto that call's response stream.
    """

    name = "sampling"

    def __init__(
        self, session: Any, *, timeouts: Timeouts = Timeouts(), max_tokens_cap: int = 4096,
        related_request_id: types.RequestId | None = None,
    ) -> None:
        self._session = session
        self._related = related_request_id
        self._timeouts = timeouts
        self._cap = max_tokens_cap

    def stream(
        self, system: str, messages: list[Message], *, max_tokens: int = 4096, stop: Sequence[str] = ()
    ) -> LLMStream:
        async def events() -> AsyncIterator[Event]:
            text = await self._sample(system, messages, min(max_tokens, self._cap), stop)
            for marker in stop:  # hosts may ignore stop sequences
                if marker in text:
                    text = text[: text.index(marker)]
            yield text
            prompt = system + "".join(m.content for m in messages)
            yield Usage(count_tokens(prompt), count_tokens(text))

        return LLMStream(self.name, events, timeouts=self._timeouts, map_error=self._map_error)

    async def _sample(self, system: str, messages: list[Message], max_tokens: int, stop: Sequence[str]) -> str:
        sampled = [
            types.SamplingMessage(role=m.role, content=types.TextContent(type="text", text=m.content))
            for m in messages
        ]
        # The request itself rather than `session.create_message`, whose deprecation warning (the
        # 2026-07-28 era has no mid-call sampling) would need a warnings filter around an await.
        request = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(
                messages=sampled, max_tokens=max_tokens, system_prompt=system, stop_sequences=list(stop) or None
            )
        )
        result = await self._session.send_request(
            request, types.CreateMessageResult, metadata=ServerMessageMetadata(related_request_id=self._related)
        )
        content = result.content
        if isinstance(content, list):
            return "".join(c.text for c in content if isinstance(c, types.TextContent))
        if isinstance(content, types.TextContent):
            return content.text
        raise LLMError(self.name, f"the host answered with {content.type} content, not text", kind="protocol")

    def _map_error(self, err: Exception) -> LLMError:
        if isinstance(err, NoBackChannelError):
            return LLMError(self.name, ERA_HINT, kind="protocol")
        message = str(err) or type(err).__name__
        return LLMError(self.name, f"the host's sampling failed: {message}", kind="protocol")

    async def aclose(self) -> None:
        """Nothing to close: the session belongs to the server."""
