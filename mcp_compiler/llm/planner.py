"""The planner: a prompt built from the catalog, and the LLM's reply streamed into the parser.

Each task is checked (checks.PlanChecker) and handed to the scheduler the moment its text parses,
so tool calls run while the model is still writing the rest of the plan. A plan that fails the
checks goes back to the model once with the error; tasks already accepted keep running and the
model continues after them. The prompt teaches the plan language from language.py, the one
description of it, which the MCP tool description shares.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import anyio.to_thread

from ..engine.run import LLMUsage, Run, TaskRecord
from ..language import prompt
from ..language.checks import BoundTask, PlanChecker
from ..language.parser import PlanParser
from ..language.plan import PlanError, value_text
from ..language.prompt import EXAMPLE_GENERIC, EXAMPLE_WIKI_MATH, Example, example_for
from ..tools.builtins import SEARCH_TOOL, is_builtin
from ..tools.catalog import Catalog, tool_line
from ..tools.search import rank
from . import LLM, LLMError, Message
from .tokens import count_tokens

__all__ = ["Planner", "planner_prompt", "tool_line", "render_results", "found_tools"]

END_OF_PLAN = "<END_OF_PLAN>"
SEARCH_ROUND_REASON = "the plan only searched for tools: plan with what it found"
RESULT_CHARS = 1500  # per task, in prompts: enough for a record, not a whole document

_ROLE = """\
You are the planner of a tool-calling compiler. Given a question, write a plan: a numbered list of
tool calls that answers it with as much parallelism as possible. Calls that do not depend on each
other run at the same time, so never make a task wait for another unless it needs its result or
its effect."""

_OUTPUT = f"""\
- Only use the tools listed below, exactly as named. Do not compute in your head what a tool can do.
- Write only the plan (tasks and `Thought:` lines). End it with `join()` on its own line and then `{END_OF_PLAN}`."""


def planner_prompt(
    catalog: Catalog, *, question: str = "", budget_tokens: int | None = None, first: Sequence[str] = ()
) -> str:
    """The system prompt: the role, the plan language (language.py), the tools one a line, an example.

    Every tool is listed while the prompt fits `budget_tokens` (None: no budget). Beyond it, the
    prompt lists the built-ins, then the tools named in `first` (found by earlier searches), then
    those that match `question` best, while it fits, and says how to search for the rest.
    """
    lines = {name: tool_line(spec, with_output=True) for name, spec in catalog.items()}
    whole = _prompt("Tools:\n" + ("\n".join(lines.values()) or "(no tools are available)"), example_for(lines))
    if budget_tokens is None or count_tokens(whole) <= budget_tokens:
        return whole
    chosen = _retrieved(catalog, lines, question, first, budget_tokens)
    text = _subset_header(len(chosen), len(catalog), search=SEARCH_TOOL in catalog) + "\n" + "\n".join(lines[n] for n in chosen)
    return _prompt(text, example_for(chosen))


def _subset_header(listed: int, total: int, *, search: bool) -> str:
    header = f"Tools ({listed} of {total}: those that match the question best; the others exist too)."
    if not search:
        return header
    return header + (
        f" When a tool you need is not listed, write a plan that only calls {SEARCH_TOOL}(\"words for what it "
        f"does\") (one call per need) and ends with join(): the next round lists the tools it found."
    )


def _prompt(tools: str, example: Example) -> str:
    return (
        f"{_ROLE}\n\nThe plan language:\n{prompt.RULES}\n{prompt.CHECK_FAILS_STREAMED}\n{_OUTPUT}\n\n"
        f"{tools}\n\n"
        f"Example ({example.note}):\nQuestion: {example.question}\n{example.plan}\n{END_OF_PLAN}\n"
    )


def _retrieved(
    catalog: Catalog, lines: Mapping[str, str], question: str, first: Sequence[str], budget_tokens: int
) -> list[str]:
    """Tool names for a prompt within `budget_tokens`: built-ins, `first`, then the best matches.

    The built-ins are listed whatever the budget: they are the way to the rest."""
    builtins = [name for name, spec in catalog.items() if is_builtin(spec)]
    wanted = dict.fromkeys([*builtins, *(n for n in first if n in lines), *rank(catalog, question)])
    # Everything but the tool lines, with the longer example (which one is shown depends on the tools chosen).
    header = _subset_header(len(catalog), len(catalog), search=SEARCH_TOOL in catalog)
    used = max(count_tokens(_prompt(header, example)) for example in (EXAMPLE_GENERIC, EXAMPLE_WIKI_MATH))
    chosen: list[str] = []
    for name in wanted:
        cost = count_tokens(lines[name])
        if used + cost <= budget_tokens or name in builtins:
            chosen.append(name)
            used += cost
    return chosen


def render_results(records: Sequence[TaskRecord]) -> str:
    """Tasks with their arguments and results or errors, for the joiner and for replans."""
    lines = []
    for r in records:
        args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in (r.args or {}).items())
        if r.status == "ok":
            body = value_text(r.result)
            if len(body) > RESULT_CHARS:
                body = body[:RESULT_CHARS] + f"… ({len(body)} characters, cut)"
        else:
            body = f"{r.status.upper()}: {r.error}"
        lines.append(f"${r.id} = {r.tool}({args})\n  -> {body}")
    return "\n".join(lines)


@dataclass
class Planner:
    """One planning round: streams BoundTasks; `error` holds what stopped it, if anything did."""

    llm: LLM
    catalog: Catalog
    run: Run
    purpose: str = "plan"
    prompt_tokens: int | None = None  # the system prompt's budget: beyond it, tools are retrieved
    error: str | None = None
    text: str = ""
    _accepted: list[BoundTask] = field(default_factory=list)

    async def tasks(self, question: str, history: str = "", known_ids: Sequence[int] = ()) -> AsyncIterator[BoundTask]:
        """Yield each checked task as soon as it parses; one repair round on a PlanError."""
        # In a worker thread: past the budget it ranks the catalog, whose index may have to be built first.
        system = await anyio.to_thread.run_sync(functools.partial(
            planner_prompt, self.catalog, question=self._search_text(question), budget_tokens=self.prompt_tokens,
            first=found_tools(self.run)))
        prompt = _question_prompt(question, history, known_ids)
        messages = [Message("user", prompt)]
        for attempt in (1, 2):
            try:
                async for bound in self._stream(system, messages, known_ids):
                    yield bound
                return
            except PlanError as e:
                if attempt == 2:
                    self.error = f"the planner's plan is still wrong after one repair: {e}"
                    return
                messages = self._repair(messages, e)
            except LLMError as e:
                self.error = f"planner LLM failed: {e}"
                return

    async def _stream(self, system: str, messages: list[Message], known_ids: Sequence[int]) -> AsyncIterator[BoundTask]:
        # One checker per attempt: a repair continues after the tasks already accepted. The tools
        # of earlier rounds' tasks and of accepted ones let references to them be checked too.
        tools = {t.id: t.tool for t in self.run.tasks}
        tools.update((b.id, b.spec.name) for b in self._accepted)
        # Which of them are spread tasks (their values are lists), so a reference to one is checked exactly.
        spread = [t.id for t in self.run.tasks if t.calls is not None] + [b.id for b in self._accepted if b.spread]
        checker = PlanChecker(self.catalog, known_ids=[*known_ids, *(b.id for b in self._accepted)], known_tools=tools,
                              spread_ids=spread)
        parser = PlanParser()
        start = self.run.elapsed()
        stream = self.llm.stream(system, messages, stop=[END_OF_PLAN])
        try:
            async with stream:
                async for chunk in stream:
                    # After join() the parser ignores the rest; the stream is read to its end
                    # anyway (the stop sequence keeps that short) for the usage it reports last.
                    for task in parser.feed(chunk):
                        yield self._accept(checker.check(task))
                for task in parser.close():
                    yield self._accept(checker.check(task))
        finally:
            self.text = stream.text
            self.run.usage.append(
                LLMUsage(self.purpose, self.llm.name, stream.usage.input_tokens, stream.usage.output_tokens,
                         start, self.run.elapsed())
            )
        if not self._accepted and not self.text.strip():
            raise PlanError("the planner wrote no plan")

    def _search_text(self, question: str) -> str:
        """What the tools are retrieved by: the question, and why the joiner asked for each replan."""
        return "\n".join([question, *(r.reason for r in self.run.rounds
                                     if r.decision == "replan" and r.reason and r.reason != SEARCH_ROUND_REASON)])

    def plan_text(self) -> str:
        """The accepted tasks in canonical form."""
        return "\n".join(b.task.to_text() for b in self._accepted)

    def _accept(self, bound: BoundTask) -> BoundTask:
        self._accepted.append(bound)
        return bound

    def _repair(self, messages: list[Message], error: PlanError) -> list[Message]:
        done = "\n".join(b.task.to_text() for b in self._accepted)
        if done:
            ask = (f"These tasks are valid and already running:\n{done}\n"
                   f"Continue the plan after them (numbering goes on), fixing this error: {error}")
        else:
            ask = f"That plan is wrong: {error}\nWrite the whole plan again, fixed."
        return [*messages, Message("assistant", self.text), Message("user", ask)]


def found_tools(run: Run) -> list[str]:
    """The tools earlier rounds' `compiler.search_tools` calls found, in the order they were found."""
    found: list[str] = []
    for record in run.tasks:
        result = record.result if record.tool == SEARCH_TOOL and record.status == "ok" else None
        tools = result.get("tools") if isinstance(result, dict) else None
        for tool in tools if isinstance(tools, list) else ():
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                found.append(tool["name"])
    return list(dict.fromkeys(found))


def _question_prompt(question: str, history: str, known_ids: Sequence[int]) -> str:
    if not history:
        return f"Question: {question}"
    next_id = max(known_ids, default=0) + 1
    return (
        f"Question: {question}\n\nEarlier rounds (their results can be used as $N):\n{history}\n\n"
        f"Write a new plan for what is still missing. Number its tasks from {next_id}."
    )

