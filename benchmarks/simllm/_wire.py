"""The two wire formats: parse a request body into a SimRequest; encode replies, streamed chunks
and errors the way the real APIs do, so the real SDKs parse them.

OpenAI Chat Completions: SSE `data: {chunk}` lines, a final usage chunk with `choices: []` when
`stream_options.include_usage`, then `data: [DONE]`.
Anthropic Messages: SSE with `event:` names (the SDK ignores events without one): message_start,
content_block_start, ping, content_block_delta…, content_block_stop, message_delta (usage),
message_stop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from mcp_compiler.llm.base import Message

from .script import Exchange, SimRequest, Wire

StopKind = Literal["end", "stop_sequence", "max_tokens"]


class BadRequest(Exception):
    pass


class WireFormat(Protocol):
    name: Wire

    def parse(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> SimRequest: ...
    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool: ...
    def error_body(self, status: int, message: str) -> dict[str, Any]: ...
    def stream_start(self, ex: Exchange) -> list[bytes]: ...
    def stream_text(self, ex: Exchange, text: str) -> bytes: ...
    def stream_end(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> list[bytes]: ...
    def full(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> dict[str, Any]: ...


def _text_of(content: Any) -> str:
    """Message content as text: a string, or a list of parts/blocks whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise BadRequest(f"unsupported message content: {type(content).__name__}")


def _stop_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _role(role: Any) -> Literal["user", "assistant"]:
    if role not in ("user", "assistant"):
        raise BadRequest(f"unsupported message role {role!r}")
    return role  # type: ignore[no-any-return]


def _require(body: Mapping[str, Any], key: str) -> Any:
    if key not in body:
        raise BadRequest(f"missing required field {key!r}")
    return body[key]


def _sse(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class OpenAIWire:
    name: Wire = "openai"

    def parse(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> SimRequest:
        system_parts: list[str] = []
        messages: list[Message] = []
        for m in _require(body, "messages"):
            if m.get("role") in ("system", "developer"):
                system_parts.append(_text_of(m.get("content")))
            else:
                messages.append(Message(_role(m.get("role")), _text_of(m.get("content"))))
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        return SimRequest(
            wire="openai",
            model=str(_require(body, "model")),
            system="\n".join(system_parts),
            messages=tuple(messages),
            stream=bool(body.get("stream")),
            max_tokens=None if max_tokens is None else int(max_tokens),
            stop=_stop_list(body.get("stop")),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            headers=dict(headers),
            body=dict(body),
        )

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("authorization") == f"Bearer {api_key}"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        if 400 <= status < 500 and status not in (401, 429):
            kind = "invalid_request_error"
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _chunk(self, ex: Exchange, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": f"chatcmpl-sim{ex.index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": ex.request.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if ex.request.include_usage:
            chunk["usage"] = None  # as the API does: null on every chunk but the last
        return chunk

    def stream_start(self, ex: Exchange) -> list[bytes]:
        return [_sse(self._chunk(ex, {"role": "assistant", "content": "", "refusal": None}))]

    def stream_text(self, ex: Exchange, text: str) -> bytes:
        return _sse(self._chunk(ex, {"content": text}))

    def stream_end(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> list[bytes]:
        events = [_sse(self._chunk(ex, {}, _FINISH[kind]))]
        if ex.request.include_usage:
            last = self._chunk(ex, {})
            last["choices"] = []
            last["usage"] = self._usage(ex)
            events.append(_sse(last))
        events.append(_sse("[DONE]"))
        return events

    def full(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-sim{ex.index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": ex.request.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ex.reply_text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": _FINISH[kind],
                }
            ],
            "usage": self._usage(ex),
        }

    def _usage(self, ex: Exchange) -> dict[str, int]:
        return {
            "prompt_tokens": ex.input_tokens,
            "completion_tokens": ex.output_tokens,
            "total_tokens": ex.input_tokens + ex.output_tokens,
        }


_FINISH: dict[StopKind, str] = {"end": "stop", "stop_sequence": "stop", "max_tokens": "length"}
_STOP_REASON: dict[StopKind, str] = {"end": "end_turn", "stop_sequence": "stop_sequence", "max_tokens": "max_tokens"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicWire:
    name: Wire = "anthropic"

    def parse(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> SimRequest:
        messages = tuple(
            Message(_role(m.get("role")), _text_of(m.get("content"))) for m in _require(body, "messages")
        )
        return SimRequest(
            wire="anthropic",
            model=str(_require(body, "model")),
            system=_text_of(body.get("system")),
            messages=messages,
            stream=bool(body.get("stream")),
            max_tokens=int(_require(body, "max_tokens")),
            stop=_stop_list(body.get("stop_sequences")),
            include_usage=True,
            headers=dict(headers),
            body=dict(body),
        )

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("x-api-key") == api_key or headers.get("authorization") == f"Bearer {api_key}"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _message(self, ex: Exchange, content: list[dict[str, Any]], stop: str | None, seq: str | None) -> dict[str, Any]:
        return {
            "id": f"msg_sim{ex.index}",
            "type": "message",
            "role": "assistant",
            "model": ex.request.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": seq,
            "usage": {"input_tokens": ex.input_tokens, "output_tokens": ex.output_tokens},
        }

    def stream_start(self, ex: Exchange) -> list[bytes]:
        start = self._message(ex, [], None, None)
        start["usage"]["output_tokens"] = 0
        return [
            _sse({"type": "message_start", "message": start}, "message_start"),
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            _sse({"type": "ping"}, "ping"),
        ]

    def stream_text(self, ex: Exchange, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return _sse(delta, "content_block_delta")

    def stream_end(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> list[bytes]:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP_REASON[kind], "stop_sequence": stop_sequence},
            "usage": {"input_tokens": ex.input_tokens, "output_tokens": ex.output_tokens},
        }
        return [
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse(delta, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ]

    def full(self, ex: Exchange, kind: StopKind, stop_sequence: str | None) -> dict[str, Any]:
        content = [{"type": "text", "text": ex.reply_text}]
        return self._message(ex, content, _STOP_REASON[kind], stop_sequence)
