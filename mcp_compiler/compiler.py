"""The Run loop: plan -> check -> schedule -> answer, reporting progress as it goes.

`Compiler` is what the CLI and the MCP server drive: it knows the toolbox and the limits, and
turns a plan (or, with an LLM, a question) into a finished `Run`. It knows nothing of MCP.
`execute()` is the same for embedding: a plan over plain Python functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .checks import check_plan
from .config import Config
from .parser import parse_plan
from .plan import Plan
from .run import Run, TaskRecord, plain_answer
from .scheduler import Limits, Scheduler
from .tools import AsyncTool, FunctionToolbox, Toolbox

__all__ = ["Compiler", "Event", "EventHandler", "execute", "describe_task", "limits_for"]


def limits_for(config: Config) -> Limits:
    c = config.compiler
    return Limits(
        max_concurrency=c.max_concurrency, max_per_provider=c.max_per_server,
        call_timeout_s=c.call_timeout_s, run_timeout_s=c.run_timeout_s,
    )


@dataclass(frozen=True)
class Event:
    """Something a watcher of a run may want to show: a task starting or ending, a phase."""

    kind: Literal["task", "phase"]
    message: str
    task: TaskRecord | None = None
    done: int = 0  # tasks finished so far
    total: int = 0  # tasks known so far


EventHandler = Callable[[Event], None]


def describe_task(record: TaskRecord) -> str:
    """One line for a live view or a progress notification."""
    if record.status == "running":
        return f"task {record.id} {record.tool} started"
    took = ""
    if record.start_s is not None and record.end_s is not None:
        took = f" in {record.end_s - record.start_s:.2f} s"
    text = f"task {record.id} {record.tool} {record.status}{took}"
    return text + (f": {record.error}" if record.error else "")


class Compiler:
    """Runs plans over one toolbox under one set of limits; each call makes one Run."""

    def __init__(self, toolbox: Toolbox, limits: Limits = Limits()) -> None:
        self.toolbox = toolbox
        self.limits = limits

    async def run_plan(self, plan: Plan | str, *, on_event: EventHandler | None = None) -> Run:
        """Check and run a plan written by the caller; PlanError before anything runs if it is wrong."""
        parsed = parse_plan(plan) if isinstance(plan, str) else plan
        bound = check_plan(parsed, self.toolbox.specs())
        run = Run()
        scheduler = Scheduler(self.toolbox, run, self.limits, _task_events(run, on_event))
        await scheduler.run(bound)
        run.timings["execute_s"] = run.elapsed()
        run.answer = plain_answer(run)
        run.timings["total_s"] = run.elapsed()
        return run


def _task_events(run: Run, on_event: EventHandler | None) -> Callable[[TaskRecord], None] | None:
    if on_event is None:
        return None

    def forward(record: TaskRecord) -> None:
        done = sum(1 for t in run.tasks if t.done)
        on_event(Event("task", describe_task(record), record, done, len(run.tasks)))

    return forward


async def execute(
    plan: Plan | str,
    tools: Mapping[str, AsyncTool] | None = None,
    *,
    toolbox: Toolbox | None = None,
    on_event: EventHandler | None = None,
    **limits: Any,
) -> Run:
    """Check and run a plan over Python functions (`tools`) or any `Toolbox`; return the Run.

    Limits are `Limits` fields as keywords: max_concurrency, max_per_provider, call_timeout_s,
    run_timeout_s. Raises PlanError before anything runs when the plan does not check.
    """
    if (tools is None) == (toolbox is None):
        raise TypeError("execute() takes exactly one of tools= and toolbox=")
    box: Toolbox = toolbox if toolbox is not None else FunctionToolbox(tools or {})
    return await Compiler(box, Limits(**limits)).run_plan(plan, on_event=on_event)
