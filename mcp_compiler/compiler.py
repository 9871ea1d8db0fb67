"""The Run loop: plan -> check -> schedule -> answer. The public `execute()` lives here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import check_plan
from .parser import parse_plan
from .plan import Plan
from .run import Run, plain_answer
from .scheduler import Limits, Scheduler, TaskEvent
from .tools import AsyncTool, FunctionToolbox, Toolbox

__all__ = ["execute"]


async def execute(
    plan: Plan | str,
    tools: Mapping[str, AsyncTool] | None = None,
    *,
    toolbox: Toolbox | None = None,
    on_event: TaskEvent | None = None,
    **limits: Any,
) -> Run:
    """Check and run a plan over Python functions (`tools`) or any `Toolbox`; return the Run.

    Limits are `Limits` fields as keywords: max_concurrency, max_per_provider, call_timeout_s,
    run_timeout_s. Raises PlanError before anything runs when the plan does not check.
    """
    if (tools is None) == (toolbox is None):
        raise TypeError("execute() takes exactly one of tools= and toolbox=")
    box: Toolbox = toolbox if toolbox is not None else FunctionToolbox(tools or {})
    parsed = parse_plan(plan) if isinstance(plan, str) else plan
    bound = check_plan(parsed, box.specs())
    run = Run()
    scheduler = Scheduler(box, run, Limits(**limits), on_event)
    await scheduler.run(bound)
    run.timings["execute_s"] = run.elapsed()
    run.answer = plain_answer(run)
    run.timings["total_s"] = run.elapsed()
    return run
