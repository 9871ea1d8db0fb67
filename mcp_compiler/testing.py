"""A scripted, in-process LLM for testing code built on mcp-compiler (as httpx ships MockTransport).

`ScriptedLLM` implements the `LLM` protocol: each call takes the next entry of its script, a
reply string, an exception to raise, or a function `(system, messages) -> str`; every request is
kept in `.requests`. No network, no server, no API key. A plan for the planner, then a decision
for the joiner:

    from mcp_compiler import FunctionToolbox
    from mcp_compiler.compiler import Compiler
    from mcp_compiler.testing import ScriptedLLM

    async def add(a: int, b: int) -> int:
        return a + b

    llm = ScriptedLLM([
        "1. add(2, 3)\\n2. add($1, 10)\\njoin()\\n<END_OF_PLAN>",   # the planner's reply
        "Thought: $2 is the sum.\\nAction: Finish(15)",               # the joiner's reply
    ], chunk_size=4)                                                 # stream 4 characters at a time
    run = await Compiler(FunctionToolbox({"add": add}), llm=llm).run_query("2 + 3 + 10?")
    assert run.answer == "15" and [t.result for t in run.tasks] == [5, 15]
    assert "add(a: integer, b: integer)" in llm.requests[0].system  # what the planner was shown

Replies end at the first of the call's `stop` sequences, as the real APIs do; usage is counted
with `mcp_compiler.llm.tokens.count_tokens`. A call beyond the script fails with `LLMError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio

from .llm._errors import other_error
from .llm.base import LLMError, LLMStream, Message, Timeouts, Usage
from .llm.tokens import count_tokens

__all__ = ["ScriptedLLM", "ScriptedRequest", "Step"]

Step = str | Exception | type[Exception] | Callable[[str, list[Message]], str]


@dataclass(frozen=True)
class ScriptedRequest:
    system: str
    messages: list[Message]
    max_tokens: int
    stop: tuple[str, ...]


class ScriptedLLM:
    """An `LLM` that answers call N with `script[N]`; `chunk_size` streams replies in pieces."""

    def __init__(
        self, script: Iterable[Step], *, name: str = "scripted", chunk_size: int | None = None,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.name = name
        self.script = list(script)
        self.requests: list[ScriptedRequest] = []
        self._chunk_size = chunk_size
        self._timeouts = timeouts

    def stream(
        self, system: str, messages: list[Message], *, max_tokens: int = 4096, stop: Sequence[str] = ()
    ) -> LLMStream:
        request = ScriptedRequest(system, list(messages), max_tokens, tuple(stop))
        return LLMStream(self.name, lambda: self._events(request), timeouts=self._timeouts,
                         map_error=lambda err: other_error(self.name, err))

    async def _events(self, request: ScriptedRequest) -> AsyncIterator[str | Usage]:
        self.requests.append(request)
        number = len(self.requests)
        if number > len(self.script):
            raise LLMError(self.name, f"the script ran out: call {number} has no reply (the script has "
                           f"{len(self.script)}); the system prompt begins {request.system[:60]!r}", kind="config")
        step = self.script[number - 1]
        if isinstance(step, Exception | type):  # an exception, or an exception class (Step allows no other)
            raise step
        text = step if isinstance(step, str) else step(request.system, request.messages)
        if not isinstance(text, str):
            raise TypeError(f"script entry {number} gave {type(text).__name__}, not a reply string")
        cuts = [i for i in (text.find(s) for s in request.stop if s) if i >= 0]
        text = text[: min(cuts)] if cuts else text
        size = self._chunk_size or max(len(text), 1)
        for start in range(0, len(text), size):
            await anyio.sleep(0)  # a checkpoint per chunk, so tasks start while a plan streams
            yield text[start : start + size]
        prompt = sum(count_tokens(part) for part in (request.system, *(m.content for m in request.messages)))
        yield Usage(prompt, count_tokens(text))
