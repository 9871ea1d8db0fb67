"""The Run loop: plan -> check -> schedule -> answer, reporting progress as it goes.

`Compiler` is what the CLI and the MCP server drive: it knows the toolbox and the call policy,
and turns a plan (or, with an LLM, a question) into a finished `Run`. It knows nothing of MCP
nor of the config file (`gateway.py` builds one from a config). `execute()` is the same for
embedding: a plan over plain Python functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from .engine.answer import project, round_answer
from .engine.policy import CallPolicy, Confirm, Destructive, Limits
from .engine.run import Round, Run, TaskRecord, plain_answer
from .engine.scheduler import Scheduler
from .errors import NoPlanner
from .language.checks import BoundTask, check_plan
from .language.parser import parse_plan
from .language.plan import Plan, PlanError
from .llm import LLM, LLMError
from .llm.joiner import Joiner
from .llm.planner import SEARCH_ROUND_REASON, Planner, render_results
from .observability.hooks import current as current_observer
from .tools.builtins import SEARCH_TOOL, visible
from .tools.catalog import Catalog
from .tools.toolbox import AsyncTool, FunctionToolbox, Toolbox, as_toolbox

__all__ = ["Compiler", "Event", "EventHandler", "NoPlanner", "execute", "describe_task"]


@dataclass(frozen=True)
class Event:
    """Something a watcher of a run may want to show: a task starting or ending, a task's own
    progress as its server reports it, a phase."""

    kind: Literal["task", "progress", "phase"]
    message: str
    task: TaskRecord | None = None
    done: int = 0  # tasks finished so far
    total: int = 0  # tasks known so far


EventHandler = Callable[[Event], None]


def describe_task(record: TaskRecord) -> str:
    """One line for a live view or a progress notification."""
    if record.status == "running":
        if record.ordered_after:  # it waited for earlier calls to its server: say why it started late
            tasks = ("tasks " if len(record.ordered_after) > 1 else "task ") + ", ".join(map(str, record.ordered_after))
            return f"task {record.id} {record.tool} started after {tasks} (plan order on its server)"
        return f"task {record.id} {record.tool} started"
    took = ""
    if record.start_s is not None and record.end_s is not None:
        took = f" in {record.end_s - record.start_s:.2f} s"
    text = f"task {record.id} {record.tool} {record.status}{took}"
    return text + (f": {record.error}" if record.error else "")


NO_PLANNER = (
    "a query needs a planner model, and none is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
    "or choose one with --model / compiler.model / MCP_COMPILER_MODEL (anthropic:NAME, openai:NAME, "
    "or sampling when the MCP host offers it). A plan works without a model: send a plan instead."
)


class Compiler:
    """Runs plans (or, with an LLM, questions) over one toolbox under one call policy.

    Each call makes one Run. `max_replans` caps how often the joiner may ask for another round.
    `planner_prompt_tokens` bounds the planner's prompt: beyond it, the tools are retrieved for the
    question (planner.py). A round whose tasks only searched for tools (`compiler.search_tools`)
    is replanned without asking the joiner, while rounds are left: the next plan needs what it found.
    `destructive` is the policy for tools marked destructive; a run's `confirm` is whom to ask.
    """

    def __init__(
        self,
        toolbox: Toolbox | Any,
        limits: Limits = Limits(),
        *,
        destructive: Destructive = "allow",
        llm: LLM | None = None,
        max_replans: int = 2,
        planner_prompt_tokens: int | None = None,
    ) -> None:
        self.toolbox = as_toolbox(toolbox)  # a plain object with specs() and call() is one too
        self.planner_prompt_tokens = planner_prompt_tokens
        self.limits = limits
        self.policy = CallPolicy(self.toolbox, limits, destructive)
        self.llm = llm
        self.max_replans = max_replans

    def _scheduler(self, run: Run, on_event: EventHandler | None, confirm: Confirm | None) -> Scheduler:
        events = _task_events(run, on_event)
        observer = current_observer()
        if observer.active:  # only then: the per-task path stays as it was with nothing watching
            events = observer.task_hook(run, events)
        return Scheduler(
            self.policy.for_run(confirm), run, run_timeout_s=self.limits.run_timeout_s,
            on_event=events, on_progress=_task_progress(run, on_event),
        )

    async def run_plan(
        self, plan: Plan | str, *, on_event: EventHandler | None = None, confirm: Confirm | None = None
    ) -> Run:
        """Check and run a plan written by the caller; PlanError before anything runs if it is wrong."""
        parsed = parse_plan(plan) if isinstance(plan, str) else plan
        await _settle(self.toolbox, [task.tool for task in parsed.tasks], on_event)  # servers a plan names may still be starting
        bound = check_plan(parsed, self.toolbox.specs())
        _check_call_count(bound, self.limits.max_run_calls)
        run = Run()
        observer = current_observer()
        with observer.run(run):
            with observer.round(run, 1, "plan"):
                await self._scheduler(run, on_event, confirm).run(bound)
            run.timings["execute_s"] = run.elapsed()
            run.answer = (
                plain_answer(run) if parsed.answer is None else project(parsed.answer, run, self.limits.max_value_bytes).text
            )
            run.timings["total_s"] = run.elapsed()
        return run

    async def run_query(
        self,
        question: str,
        *,
        llm: LLM | None = None,
        on_event: EventHandler | None = None,
        confirm: Confirm | None = None,
    ) -> Run:
        """Plan with the LLM (streaming tasks into the scheduler), join, and replan while asked to."""
        llm = llm or self.llm
        if llm is None:
            raise NoPlanner(NO_PLANNER)
        await _settle(self.toolbox, None, on_event)  # the planner sees every server's tools
        run = Run()
        with current_observer().run(run):
            await self._rounds(run, question, llm, on_event, confirm)
        return run

    async def _rounds(
        self, run: Run, question: str, llm: LLM, on_event: EventHandler | None, confirm: Confirm | None
    ) -> None:
        observer = current_observer()
        scheduler = self._scheduler(run, on_event, confirm)
        history = ""
        for number in range(1, self.max_replans + 2):
            rnd = Round(number)
            run.rounds.append(rnd)
            _phase(on_event, run, f"planning (round {number})")
            specs = visible(self.toolbox.specs())  # a caller's planner sees only what it may call (docs/auth.md)
            # A Catalog may know more than its tools (e.g. the servers that are down), so keep it.
            catalog = specs if isinstance(specs, Catalog) else Catalog(specs.values())
            purpose = "plan" if number == 1 else "replan"
            planner = Planner(llm, catalog, run, purpose=purpose, prompt_tokens=self.planner_prompt_tokens)
            with observer.round(run, number, purpose):
                await scheduler.run(planner.tasks(question, history, [t.id for t in run.tasks]), number)
            records = [t for t in run.tasks if t.round == number]
            rnd.task_ids = [t.id for t in records]
            rnd.plan = planner.plan_text()
            rnd.planner_error = planner.error
            if planner.error and not records:
                run.error = planner.error
                break
            last = number == self.max_replans + 1
            if not last and records and all(t.tool == SEARCH_TOOL and t.status == "ok" for t in records):
                rnd.decision, rnd.reason = "replan", SEARCH_ROUND_REASON
                history = _history(run)
                continue
            projection = (
                round_answer(planner.text, run, catalog, records, self.limits.max_value_bytes)
                if not planner.error else None
            )
            if projection is not None:  # join(VALUE, ...) and every task succeeded: no joiner call
                run.answer = rnd.reason = projection
                rnd.decision, rnd.projected = "finish", True
                break
            _phase(on_event, run, "joining")
            try:
                decision = await Joiner(llm, run).decide(
                    question, _plans(run), render_results(run.tasks), last_round=last
                )
            except LLMError as e:
                run.error = f"joiner LLM failed: {e}"
                break
            rnd.decision, rnd.reason = decision.action, decision.text
            if decision.action == "finish":
                run.answer = decision.text
                break
            history = _history(run)
        _llm_timings(run)


def _check_call_count(bound: list[BoundTask], limit: int) -> None:
    """Refuse, before anything runs, a plan whose calls already known pass `max_run_calls`.

    Each plain task is one call. A spread's calls are one per element of a task's value, unknown
    until that task ends (the language has no spread over a literal list), so they count as
    they expand (spread.py), as do the calls of later rounds; this is the part the plan states.
    """
    plain = sum(1 for b in bound if b.spread is None)
    if plain > limit:
        spreads = len(bound) - plain
        also = f", before the calls of its {spreads:,} spread task{'s' if spreads != 1 else ''}" if spreads else ""
        raise PlanError(
            f"the plan makes {plain:,} calls{also}: more than the run's {limit:,} "
            "(the limit per run, compiler.max_run_calls); nothing was called"
        )


_WAITING_BEAT_S = 1.0


async def _settle(toolbox: Toolbox, tools: list[str] | None, on_event: EventHandler | None) -> None:
    """`toolbox.settle`, with a phase event each second it waits for servers still starting, so a host
    that resets its request timeout on progress keeps waiting through a slow start-up too."""
    if on_event is None:
        await toolbox.settle(tools)
        return

    async def beat() -> None:
        for second in range(1, 1_000_000):
            await anyio.sleep(_WAITING_BEAT_S)
            on_event(Event("phase", f"waiting for servers to connect ({second * _WAITING_BEAT_S:g} s)", None, 0, 0))

    async with anyio.create_task_group() as tg:
        tg.start_soon(beat)
        await toolbox.settle(tools)
        tg.cancel_scope.cancel()


def _phase(on_event: EventHandler | None, run: Run, message: str) -> None:
    if on_event is not None:
        done = sum(1 for t in run.tasks if t.done)
        on_event(Event("phase", message, None, done, len(run.tasks)))


def _plans(run: Run) -> str:
    """The plans so far, each with what cut it short: the joiner must know a plan is incomplete."""
    return "\n".join(_plan_of(r) for r in run.rounds if r.plan or r.planner_error)


def _plan_of(rnd: Round) -> str:
    stopped = f"\n(planning stopped early, so this plan is incomplete: {rnd.planner_error})" if rnd.planner_error else ""
    return rnd.plan + stopped


def _history(run: Run) -> str:
    parts = []
    for r in run.rounds:
        records = [t for t in run.tasks if t.round == r.number]
        parts.append(
            f"Round {r.number} plan:\n{_plan_of(r)}\nResults:\n{render_results(records)}\n"
            f"Joiner: {r.decision or 'none'}({r.reason or ''})"
        )
    return "\n\n".join(parts)


def _llm_timings(run: Run) -> None:
    def spent(*purposes: str) -> float:
        return sum(u.end_s - u.start_s for u in run.usage if u.purpose in purposes)

    starts = [t.start_s for t in run.tasks if t.start_s is not None]
    ends = [t.end_s for t in run.tasks if t.end_s is not None]
    run.timings["plan_s"] = spent("plan", "replan")
    run.timings["execute_s"] = (max(ends) - min(starts)) if starts else 0.0
    run.timings["join_s"] = spent("join")
    run.timings["total_s"] = run.elapsed()


def _task_events(run: Run, on_event: EventHandler | None) -> Callable[[TaskRecord], None] | None:
    if on_event is None:
        return None

    finished: set[int] = set()  # a running count: recounting run.tasks per event is quadratic

    def forward(record: TaskRecord) -> None:
        if record.done:
            finished.add(record.id)
        on_event(Event("task", describe_task(record), record, len(finished), len(run.tasks)))

    return forward


def _task_progress(run: Run, on_event: EventHandler | None) -> Callable[..., None] | None:
    if on_event is None:
        return None

    def forward(record: TaskRecord, value: float, total: float | None, message: str | None) -> None:
        done = sum(1 for t in run.tasks if t.done)  # progress reports are few; a count is cheap enough
        of = f"{value:g}/{total:g}" if total else f"{value:g}"
        text = f"task {record.id} {record.tool}: {of}" + (f" {message}" if message else "")
        on_event(Event("progress", text, record, done, len(run.tasks)))

    return forward


async def execute(
    plan: Plan | str,
    tools: Mapping[str, AsyncTool] | None = None,
    *,
    toolbox: Toolbox | Any | None = None,
    on_event: EventHandler | None = None,
    destructive: Destructive = "allow",
    confirm: Confirm | None = None,
    **limits: Any,
) -> Run:
    """Check and run a plan over Python functions (`tools`) or any `Toolbox`; return the Run.

    Limits are `Limits` fields as keywords: max_concurrency, max_per_server, call_timeout_s,
    run_timeout_s, servers. `destructive` and `confirm` are the destructive-tool policy and whom
    it asks. Raises PlanError before anything runs when the plan does not check.
    """
    if (tools is None) == (toolbox is None):
        raise TypeError("execute() takes exactly one of tools= and toolbox=")
    box: Toolbox | Any = toolbox if toolbox is not None else FunctionToolbox(tools or {})
    compiler = Compiler(box, Limits(**limits), destructive=destructive)
    return await compiler.run_plan(plan, on_event=on_event, confirm=confirm)
