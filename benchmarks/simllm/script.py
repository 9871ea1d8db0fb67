"""What the simulated endpoint says: requests as it sees them, scripted replies and failures, the
latency model, and the record of each exchange. Plain data; no HTTP here.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcp_compiler.llm.base import Message
from mcp_compiler.llm.tokens import count_tokens

Wire = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class LatencyModel:
    """How fast the simulated model answers.

    The first text chunk is sent `ttft_s` after the request arrives; each later chunk of
    `tokens_per_chunk` tokens waits `n_tokens / tokens_per_s` (None: no wait). A non-streaming reply
    is sent after `ttft_s + output_tokens / tokens_per_s`. `jitter` scales every wait by a factor
    drawn uniformly from [1 - jitter, 1 + jitter] (seeded by `seed` for repeatable benchmarks).
    """

    ttft_s: float = 0.0
    tokens_per_s: float | None = None
    jitter: float = 0.0
    tokens_per_chunk: int = 3
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.ttft_s < 0 or (self.tokens_per_s is not None and self.tokens_per_s <= 0):
            raise ValueError("LatencyModel: ttft_s must be >= 0 and tokens_per_s > 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("LatencyModel: jitter must be in [0, 1)")

    def first_delay(self, rng: random.Random) -> float:
        return self._jittered(self.ttft_s, rng)

    def chunk_delay(self, n_tokens: int, rng: random.Random) -> float:
        if self.tokens_per_s is None:
            return 0.0
        return self._jittered(n_tokens / self.tokens_per_s, rng)

    def total_delay(self, n_tokens: int, rng: random.Random) -> float:
        return self.first_delay(rng) + self.chunk_delay(n_tokens, rng)

    def _jittered(self, seconds: float, rng: random.Random) -> float:
        if not self.jitter or not seconds:
            return seconds
        return seconds * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True)
class Reply:
    """A scripted answer.

    `latency` overrides the endpoint's model for this reply. `stall_after_tokens`: send that
    many tokens (0: none), then hang until the client gives up — for timeout tests.
    """

    text: str = ""
    latency: LatencyModel | None = None
    stall_after_tokens: int | None = None


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error, in the wire format's own error body.

    `retry_after_s` sets `retry-after-ms`, which both SDKs honour when they retry.
    """

    status: int = 500
    message: str = "simulated failure"
    retry_after_s: float | None = None


@dataclass(frozen=True)
class SimRequest:
    """A request as the endpoint understood it, the same shape for both wire formats."""

    wire: Wire
    model: str
    system: str
    messages: tuple[Message, ...]
    stream: bool
    max_tokens: int | None
    stop: tuple[str, ...]
    include_usage: bool  # OpenAI's stream_options.include_usage; always True for Anthropic
    headers: Mapping[str, str]
    body: Mapping[str, Any]

    @property
    def input_tokens(self) -> int:
        return count_tokens(self.system) + sum(count_tokens(m.content) for m in self.messages)

    @property
    def last_user_message(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def all_text(self) -> str:
        return "\n".join([self.system, *(m.content for m in self.messages)])


ReplyLike = str | Reply | Fail
Responder = Callable[[SimRequest], ReplyLike | Awaitable[ReplyLike]]


@dataclass
class Exchange:
    """The record of one request and what was sent back. Times are `time.monotonic()`."""

    index: int
    request: SimRequest
    received_at: float
    status: int = 0
    reply_text: str = ""  # what was actually sent (after stop sequences / max_tokens)
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    first_chunk_at: float | None = None  # first text chunk (or the whole body, non-streaming)
    last_chunk_at: float | None = None
    finished_at: float | None = None
    chunks: int = 0
    disconnected: bool = False  # the client went away before the reply was complete
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["request"] = {
            "wire": self.request.wire,
            "model": self.request.model,
            "system": self.request.system,
            "messages": [asdict(m) for m in self.request.messages],
            "stream": self.request.stream,
        }
        return data


def as_reply(value: ReplyLike) -> Reply | Fail:
    return Reply(value) if isinstance(value, str) else value


# ---- script files (for `python -m benchmarks.simllm --script FILE`) ----


@dataclass
class Script:
    """A JSON script: a default latency, a queue of replies, rules, and a default reply.

    ```json
    {
      "latency": {"ttft_s": 0.3, "tokens_per_s": 80},
      "replies": ["first reply", {"fail": 429, "message": "slow down"}],
      "rules": [
        {"match": "Joiner", "in": "system", "reply": "Action: Finish(42)"},
        {"match": "trench", "reply": {"text": "1. wiki.search(...)", "latency": {"ttft_s": 1}}}
      ],
      "default": "I have nothing scripted for this."
    }
    ```
    The queue is used first, in order; then the first rule whose regex `match` is found
    (`in`: "system", "last_user" or "any", default "any"); then `default`.
    """

    latency: LatencyModel = field(default_factory=LatencyModel)
    replies: list[Reply | Fail] = field(default_factory=list)
    rules: list[tuple[re.Pattern[str], str, Reply | Fail]] = field(default_factory=list)
    default: Reply | Fail | None = None

    @classmethod
    def load(cls, path: str | Path) -> Script:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        rules = []
        for rule in data.get("rules", []):
            where = rule.get("in", "any")
            if where not in ("system", "last_user", "any"):
                raise ValueError(f"script rule 'in' must be system, last_user or any, not {where!r}")
            rules.append((re.compile(rule["match"]), where, _reply_from_json(rule["reply"])))
        default = data.get("default")
        return cls(
            latency=_latency_from_json(data.get("latency") or {}),
            replies=[_reply_from_json(r) for r in data.get("replies", [])],
            rules=rules,
            default=None if default is None else _reply_from_json(default),
        )

    def respond(self, request: SimRequest) -> Reply | Fail:
        for pattern, where, reply in self.rules:
            haystack = {
                "system": request.system,
                "last_user": request.last_user_message,
                "any": request.all_text,
            }[where]
            if pattern.search(haystack):
                return reply
        if self.default is not None:
            return self.default
        return Fail(500, "SimulatedLLM: no scripted reply matches this request")


def _latency_from_json(data: Mapping[str, Any]) -> LatencyModel:
    return LatencyModel(**data)


def _reply_from_json(data: Any) -> Reply | Fail:
    if isinstance(data, str):
        return Reply(data)
    if "fail" in data:
        return Fail(int(data["fail"]), data.get("message", "simulated failure"), data.get("retry_after_s"))
    latency = data.get("latency")
    return Reply(
        data.get("text", ""),
        latency=None if latency is None else _latency_from_json(latency),
        stall_after_tokens=data.get("stall_after_tokens"),
    )
