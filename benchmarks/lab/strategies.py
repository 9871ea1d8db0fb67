"""The strategies, each over the same Toolbox (real MCP sessions) and the same LLM endpoint.

- `react`: one LLM call per step, one tool call per step (Thought / Action / Observation), the
  scratchpad growing in one prompt, stopped at "Observation:" (Yao et al.).
- `parallel_fc`: each LLM call returns a JSON batch of every call it can make now (OpenAI-style
  parallel function calling); the batch runs at once, its results go back as the next message.
  One LLM round per DAG level, plus one to answer.
- `compiler_batch`: LLMCompiler with the planner's stream buffered: nothing runs until the
  whole plan has arrived (`BufferedLLM`), then execution, then the joiner.
- `compiler_stream`: `Compiler.run_query` as it is: tasks start while the plan streams.
- `compiler_project`: the same, with a planner that ends its plan in `join(VALUE, ...)` when the
  results determine the answer (`Instance.projection`): the plan's values are the answer and the
  joiner's LLM call is skipped. The planner prompt says when to do so; here the simulated model is
  told by a mark on the system prompt (`PROJECT_MARK`), so that `compiler_stream` stays the
  paper's LLMCompiler (planner and joiner) on the same questions.

Each returns an `Outcome`: the answer, wall time, tokens as the endpoint reported them, and the
spans (LLM calls and tool calls) for timelines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

from mcp_compiler.compiler import Compiler
from mcp_compiler.config import CompilerConfig
from mcp_compiler.engine.policy import Limits
from mcp_compiler.language.checks import bind_task
from mcp_compiler.language.coercion import coerce_arguments
from mcp_compiler.language.parser import parse_plan
from mcp_compiler.language.plan import resolve, value_text
from mcp_compiler.llm import LLM, Message, Usage, complete
from mcp_compiler.tools.builtins import WithBuiltins
from mcp_compiler.tools.catalog import Catalog, tool_line
from mcp_compiler.tools.toolbox import Toolbox, ToolSpec

from .model import PFC_MARK, PROJECT_MARK, REACT_MARK

__all__ = ["Outcome", "Span", "STRATEGIES", "STRATEGY_LABELS", "SubsetToolbox", "BufferedLLM", "MarkedLLM", "run_strategy"]

STRATEGIES = ("react", "parallel_fc", "compiler_batch", "compiler_stream", "compiler_project")
STRATEGY_LABELS = {
    "react": "ReAct",
    "parallel_fc": "Parallel FC",
    "compiler_batch": "LLMCompiler (batch)",
    "compiler_stream": "LLMCompiler (streaming)",
    "compiler_project": "LLMCompiler (join values, no joiner)",
}


@dataclass
class Span:
    kind: str  # "llm" or "tool"
    label: str
    start_s: float
    end_s: float


@dataclass
class Outcome:
    strategy: str
    answer: str | None = None
    error: str | None = None
    wall_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    spans: list[Span] = field(default_factory=list)
    calls: list[tuple[int, int]] = field(default_factory=list)  # (input, output) tokens per LLM call

    def add_usage(self, usage: Usage) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.llm_calls += 1
        self.calls.append((usage.input_tokens, usage.output_tokens))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SubsetToolbox:
    """A view of a toolbox with only some of its tools: each question sees its own catalog."""

    def __init__(self, inner: Toolbox, names: Sequence[str]) -> None:
        self.inner = inner
        specs = inner.specs()
        missing = [n for n in names if n not in specs]
        if missing:
            raise LookupError(f"tools not available: {', '.join(missing[:5])}")
        self._catalog = Catalog(specs[n] for n in names)

    def specs(self) -> Catalog:
        return self._catalog

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return await self.inner.call(spec, arguments)


class _BufferedStream:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __aenter__(self) -> _BufferedStream:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)

    def __aiter__(self) -> Any:
        return self._all_at_once()

    async def _all_at_once(self) -> Any:
        async for _ in self.inner:
            pass
        if self.inner.text:
            yield self.inner.text

    @property
    def text(self) -> str:
        return self.inner.text

    @property
    def usage(self) -> Usage:
        return self.inner.usage


class BufferedLLM:
    """An LLM whose stream yields the whole reply at its end: LLMCompiler without streaming."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.name = inner.name

    def stream(self, system: str, messages: list[Message], *, max_tokens: int = 4096, stop: Sequence[str] = ()) -> Any:
        return _BufferedStream(self.inner.stream(system, messages, max_tokens=max_tokens, stop=stop))


class MarkedLLM:
    """An LLM whose requests carry `mark` at the end of the system prompt (for the simulated model)."""

    def __init__(self, inner: LLM, mark: str) -> None:
        self.inner, self.mark = inner, mark
        self.name = inner.name

    def stream(self, system: str, messages: list[Message], *, max_tokens: int = 4096, stop: Sequence[str] = ()) -> Any:
        return self.inner.stream(system + self.mark, messages, max_tokens=max_tokens, stop=stop)


# ---- prompts: the same catalog lines for every strategy ------------------------------------------

def _tools(catalog: Catalog) -> str:
    # The planner prompt's own rendering, so every strategy sees the same catalog lines.
    return "\n".join(tool_line(s, with_output=True) for s in catalog.values())


# The prompts open with the marks the simulated model recognises them by (model.py).
_REACT = REACT_MARK + """. Answer the question by interleaving Thought, Action and Observation steps.
In each step write `Thought:` with your reasoning, then `Action:` with exactly one tool call,
`server.tool(name=value, ...)` with literal JSON values, and stop: the Observation (the tool's
result as JSON) is added for you. When the observations answer the question, write
`Action: Finish(<the answer>)`. Only use the tools listed below.

Tools:
{tools}

Example:
Question: What is the combined population of Tokyo and Delhi?
Thought: I need the population of Tokyo.
Action: wiki.fact(name="Tokyo", key="population")
Observation: {{"name": "Tokyo", "key": "population", "value": 37400000, "unit": null}}
Thought: Now the population of Delhi.
Action: wiki.fact(name="Delhi", key="population")
Observation: {{"name": "Delhi", "key": "population", "value": 32900000, "unit": null}}
Thought: Add them up.
Action: math.sum(values=[37400000, 32900000])
Observation: {{"value": 70300000.0, "count": 2}}
Thought: I have all I need.
Action: Finish(70300000)
"""

_PFC = PFC_MARK + """ to answer a question. Each reply is one JSON object: either
{{"tool_calls": [{{"id": "call_N", "name": "server.tool", "arguments": {{...}}}}, ...]}} with every
call you can make now (calls that do not need each other's results go in the same reply and run
in parallel), or, when the results answer the question, {{"answer": "..."}}. Results come back as
JSON lines {{"id": "call_N", "result": ...}}. Only use the tools listed below.

Tools:
{tools}
"""


def react_prompt(catalog: Catalog) -> str:
    return _REACT.format(tools=_tools(catalog))


def pfc_prompt(catalog: Catalog) -> str:
    return _PFC.format(tools=_tools(catalog))


_ACTION = re.compile(r"Action\s*:\s*(.*)", re.DOTALL)


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.t0


async def _timed_llm(out: Outcome, clock: _Clock, label: str, llm: LLM, system: str, messages: list[Message],
                     stop: Sequence[str] = ()) -> str:
    start = clock.now()
    text, usage = await complete(llm, system, messages, max_tokens=2048, stop=stop)
    out.spans.append(Span("llm", label, start, clock.now()))
    out.add_usage(usage)
    return text


async def _timed_tool(out: Outcome, clock: _Clock, toolbox: Toolbox, spec: ToolSpec, args: dict[str, Any]) -> Any:
    start = clock.now()
    try:
        return await toolbox.call(spec, coerce_arguments(args, spec))
    finally:
        out.tool_calls += 1
        out.spans.append(Span("tool", spec.name, start, clock.now()))


async def react(question: str, toolbox: Toolbox, llm: LLM, max_steps: int = 20) -> Outcome:
    out, clock = Outcome("react"), _Clock()
    catalog = Catalog(toolbox.specs().values())
    system, pad = react_prompt(catalog), ""
    for step in range(1, max_steps + 1):
        text = await _timed_llm(out, clock, f"step {step}", llm, system,
                                [Message("user", f"Question: {question}\n{pad}")], stop=["Observation:"])
        m = _ACTION.search(text)
        if m is None:
            out.error = f"step {step}: no Action in {text[:80]!r}"
            break
        action = m.group(1).strip()
        if action.startswith("Finish("):
            out.answer = action[len("Finish("):action.rfind(")")].strip()
            break
        try:
            task = parse_plan(f"1. {action}").tasks[0]
            bound = bind_task(task, catalog)
            value = await _timed_tool(out, clock, toolbox, bound.spec, resolve(bound.arguments, {}))
            observation = value_text(value)
        except Exception as exc:  # noqa: BLE001 - the model sees the error, as in ReAct
            observation = f"Error: {exc}"
        pad += text.rstrip() + f"\nObservation: {observation}\n"
    else:
        out.error = f"no answer after {max_steps} steps"
    out.wall_s = clock.now()
    return out


async def parallel_fc(question: str, toolbox: Toolbox, llm: LLM, max_rounds: int = 10) -> Outcome:
    out, clock = Outcome("parallel_fc"), _Clock()
    catalog = Catalog(toolbox.specs().values())
    system = pfc_prompt(catalog)
    messages = [Message("user", f"Question: {question}")]
    for rnd in range(1, max_rounds + 1):
        text = await _timed_llm(out, clock, f"round {rnd}", llm, system, messages)
        try:
            reply = json.loads(text)
        except ValueError:
            out.error = f"round {rnd}: not JSON: {text[:80]!r}"
            break
        if "answer" in reply:
            out.answer = str(reply["answer"])
            break
        calls = reply.get("tool_calls") or []
        results: dict[str, Any] = {}

        async def one(call: Mapping[str, Any], results: dict[str, Any] = results) -> None:
            try:
                spec = catalog.resolve(call["name"])
                results[call["id"]] = await _timed_tool(out, clock, toolbox, spec, dict(call.get("arguments") or {}))
            except Exception as exc:  # noqa: BLE001 - the model sees the error
                results[call["id"]] = f"Error: {exc}"

        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(one, call)
        lines = [json.dumps({"id": c["id"], "result": results[c["id"]]}, ensure_ascii=False, default=str) for c in calls]
        messages += [Message("assistant", text), Message("user", "\n".join(lines))]
    else:
        out.error = f"no answer after {max_rounds} rounds"
    out.wall_s = clock.now()
    return out


# The planner prompt's budget (`compiler.planner_prompt_tokens`; `--planner-prompt-tokens`): a
# question's tools are retrieved for it when its catalog would not fit.
PLANNER_PROMPT_TOKENS = CompilerConfig().planner_prompt_tokens


async def _compiler(name: str, question: str, toolbox: Toolbox, llm: LLM, limits: Limits) -> Outcome:
    out, clock = Outcome(name), _Clock()
    # As the gateway serves it: the question's tools with the built-ins (compiler.search_tools).
    compiler = Compiler(WithBuiltins(toolbox), limits, llm=llm, max_replans=0, planner_prompt_tokens=PLANNER_PROMPT_TOKENS)
    run = await compiler.run_query(question)
    out.wall_s = clock.now()
    offset = run.started - clock.t0
    out.answer, out.error = run.answer, run.error
    for u in run.usage:
        out.add_usage(Usage(u.input_tokens, u.output_tokens))
        out.spans.append(Span("llm", u.purpose, u.start_s + offset, u.end_s + offset))
    for t in run.tasks:
        out.tool_calls += 1
        if t.start_s is not None and t.end_s is not None:
            out.spans.append(Span("tool", t.tool, t.start_s + offset, t.end_s + offset))
    failed = [t for t in run.tasks if t.status != "ok"]
    if failed and not out.error:
        out.error = f"{len(failed)} task(s) not ok: {failed[0].status} {failed[0].error}"
    return out


async def compiler_batch(question: str, toolbox: Toolbox, llm: LLM, limits: Limits = Limits()) -> Outcome:
    return await _compiler("compiler_batch", question, toolbox, BufferedLLM(llm), limits)


async def compiler_stream(question: str, toolbox: Toolbox, llm: LLM, limits: Limits = Limits()) -> Outcome:
    return await _compiler("compiler_stream", question, toolbox, llm, limits)


async def compiler_project(question: str, toolbox: Toolbox, llm: LLM, limits: Limits = Limits()) -> Outcome:
    return await _compiler("compiler_project", question, toolbox, MarkedLLM(llm, PROJECT_MARK), limits)


Runner = Callable[..., Awaitable[Outcome]]
_RUNNERS: dict[str, Runner] = {
    "react": react, "parallel_fc": parallel_fc, "compiler_batch": compiler_batch, "compiler_stream": compiler_stream,
    "compiler_project": compiler_project,
}


async def run_strategy(strategy: str, question: str, toolbox: Toolbox, llm: LLM, limits: Limits,
                       timeout_s: float) -> Outcome:
    """One strategy on one question, bounded in time; errors become an Outcome with `error`."""
    runner = _RUNNERS[strategy]
    kwargs = {"limits": limits} if strategy.startswith("compiler") else {}
    start = time.perf_counter()
    try:
        with anyio.fail_after(timeout_s):
            return await runner(question, toolbox, llm, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported in the table, never hidden
        return Outcome(strategy, error=f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - start)
