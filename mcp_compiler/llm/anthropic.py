"""Anthropic backend: the `anthropic` SDK's streaming Messages API.

Uses `messages.create(stream=True)` and reads the raw events rather than the `messages.stream()`
helper: we only need text deltas and usage, and the raw events keep us independent of the
helper's accumulator, which changes between SDK versions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
import httpx2

from . import DEFAULT_ANTHROPIC_MODEL, _errors
from .base import Event, LLMError, LLMStream, Message, Timeouts, Usage, close_quietly


class AnthropicLLM:
    """`anthropic:MODEL`. Credentials and base URL come from the arguments, else from the SDK's
    own environment variables (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `ANTHROPIC_BASE_URL`)."""

    def __init__(
        self,
        model: str = DEFAULT_ANTHROPIC_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeouts: Timeouts = Timeouts(),
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.timeouts = timeouts
        try:
            # The SDK's own timeout is only a backstop; LLMStream enforces the real bounds.
            self._client = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=base_url,
                timeout=httpx2.Timeout(timeouts.total, connect=timeouts.connect),
                max_retries=max_retries,
            )
        except anthropic.AnthropicError as err:  # e.g. ANTHROPIC_CONFIG_DIR set but no profile there
            raise LLMError(self.name, f"cannot set up credentials: {err}", kind="auth") from None

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def stream(
        self,
        system: str,
        messages: list[Message],
        *,
        max_tokens: int = 4096,
        stop: Sequence[str] = (),
    ) -> LLMStream:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if system:  # the API rejects an empty system text block
            params["system"] = system
        if stop:
            params["stop_sequences"] = list(stop)
        return LLMStream(self.name, lambda: self._events(params), timeouts=self.timeouts, map_error=self._map_error)

    async def _events(self, params: dict[str, Any]) -> AsyncIterator[Event]:
        c = self._client
        if c.api_key is None and c.auth_token is None and c.credentials is None:
            raise LLMError(self.name, "no credentials: set ANTHROPIC_API_KEY or pass api_key", kind="auth")
        stream = await c.messages.create(**params, stream=True)
        try:
            input_tokens = output_tokens = 0
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    yield event.delta.text
                elif event.type == "message_start":
                    input_tokens = _input_tokens(event.message.usage)
                    output_tokens = event.message.usage.output_tokens
                    yield Usage(input_tokens, output_tokens)
                elif event.type == "message_delta":
                    # Cumulative counts; newer API versions also repeat input_tokens here.
                    if event.usage.input_tokens is not None:
                        input_tokens = _input_tokens(event.usage)
                    output_tokens = event.usage.output_tokens
                    yield Usage(input_tokens, output_tokens)
        finally:
            await close_quietly(stream.close, what=f"{self.name} HTTP stream")

    def _map_error(self, err: Exception) -> LLMError:
        if isinstance(err, anthropic.APIStatusError):
            return _errors.status_error(
                self.name, err.status_code, err.body, err.message, key_env="ANTHROPIC_API_KEY"
            )
        if isinstance(err, anthropic.APITimeoutError):
            return _errors.timeout_error(self.name)
        if isinstance(err, anthropic.APIConnectionError):
            return _errors.connection_error(self.name, self.base_url, err)
        return _errors.other_error(self.name, err)

    async def aclose(self) -> None:
        await self._client.close()


def _input_tokens(usage: Any) -> int:
    # Prompt-cache reads and writes are billed input too; count them so costs compare across backends.
    return (
        (usage.input_tokens or 0)
        + (getattr(usage, "cache_creation_input_tokens", None) or 0)
        + (getattr(usage, "cache_read_input_tokens", None) or 0)
    )
