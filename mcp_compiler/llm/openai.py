"""OpenAI backend: the `openai` SDK's streaming Chat Completions API.

Chat Completions rather than the Responses API because it is what OpenAI-compatible servers
(vLLM, Ollama, llama.cpp, LiteLLM) implement; point `base_url` (or `OPENAI_BASE_URL`) at one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import httpx2
import openai

from . import DEFAULT_OPENAI_MODEL, _errors
from .base import Event, LLMError, LLMStream, Message, Timeouts, Usage, close_quietly

# Local OpenAI-compatible servers take any key, but the SDK refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"


class OpenAILLM:
    """`openai:MODEL`. Credentials and base URL come from the arguments, else from the SDK's own
    environment variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).

    `max_tokens_param`: OpenAI's current models accept only `max_completion_tokens`; some older
    compatible servers know only `max_tokens`.
    """

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeouts: Timeouts = Timeouts(),
        max_retries: int = 2,
        max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens",
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.timeouts = timeouts
        self.max_tokens_param = max_tokens_param
        if api_key is None and not os.environ.get("OPENAI_API_KEY"):
            if base_url is None and not os.environ.get("OPENAI_BASE_URL"):
                raise LLMError(
                    self.name,
                    "no credentials: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local compatible server",
                    kind="auth",
                )
            api_key = _PLACEHOLDER_KEY
        # The SDK's own timeout is only a backstop; LLMStream enforces the real bounds.
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=httpx2.Timeout(timeouts.total, connect=timeouts.connect),
            max_retries=max_retries,
        )

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
        wire: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        wire += [{"role": m.role, "content": m.content} for m in messages]
        params: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            self.max_tokens_param: max_tokens,
            "stream_options": {"include_usage": True},
        }
        if stop:  # reasoning models reject `stop` even when empty
            params["stop"] = list(stop)
        return LLMStream(self.name, lambda: self._events(params), timeouts=self.timeouts, map_error=self._map_error)

    async def _events(self, params: dict[str, Any]) -> AsyncIterator[Event]:
        stream = await self._client.chat.completions.create(**params, stream=True)
        try:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.index == 0 and choice.delta.content:
                        yield choice.delta.content
                if chunk.usage is not None:  # the last chunk, with `choices: []`
                    yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        finally:
            await close_quietly(stream.close, what=f"{self.name} HTTP stream")

    def _map_error(self, err: Exception) -> LLMError:
        if isinstance(err, openai.APIStatusError):
            return _errors.status_error(self.name, err.status_code, err.body, err.message, key_env="OPENAI_API_KEY")
        if isinstance(err, openai.APITimeoutError):
            return _errors.timeout_error(self.name)
        if isinstance(err, openai.APIConnectionError):
            return _errors.connection_error(self.name, self.base_url, err)
        if isinstance(err, openai.APIError):  # an `error` object inside the stream
            return LLMError(self.name, f"error in stream: {err.message}", kind="protocol")
        return _errors.other_error(self.name, err)

    async def aclose(self) -> None:
        await self._client.close()
