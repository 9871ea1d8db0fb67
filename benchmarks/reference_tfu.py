"""Our scheduler beside the reference LLMCompiler Task Fetching Unit, on the same zero-latency tasks.

    python benchmarks/reference_tfu.py [--repeats 9]

Two shapes: `wide` (1,000 independent tasks) and `chain` (200 tasks, each taking the previous
one's result). Every tool is an async function that returns its argument at once, so what is
timed is the engine alone: from the tasks as built (theirs: Python `Task` objects; ours: a checked
plan) until the last has its result. The two engines alternate, run by run, so a change in the
machine's load falls on both; the tables give each one's median time per task and the spread
(min–max) over the runs, in wall time (what a caller waits: the reference's polling sleeps count)
and in this process's CPU time (what the engine spends: on a machine shared with other work, wall
time also counts the others' turns). `asyncio floor` is `asyncio.create_task` and `gather` of the same
calls with nothing else: no engine can do less. `anyio floor` is what an engine pays that gives each call
a task in an anyio task group and its own timeout scope (and, in the chain, an event to wait for
the previous call), as ours did until its workers took ready tasks one after another and one timer
task watched every call's deadline.

The reference does little per task (a bare `asyncio.create_task`, string substitution, an Event),
holds no limits, timeouts or records, and finds ready tasks by polling every 10 ms. Ours runs
each call through its policy (per-server and per-run concurrency slots, a timeout, retry, the
size budget, plan-order edges, deduplication) and keeps a full record of every task; a call that
never waits costs it no task of its own, and one that waits gets a worker of its own.

The reference code below is vendored rather than installed: its package pulls in langchain and
the rest of an agent framework, none of which the Task Fetching Unit uses.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import anyio

from mcp_compiler import FunctionToolbox, Limits, Run, check_plan, parse_plan
from mcp_compiler.engine.policy import CallPolicy
from mcp_compiler.engine.scheduler import Scheduler

# ---- the reference ---------------------------------------------------------------------------------
#
# From https://github.com/SqueezeAILab/LLMCompiler, src/llm_compiler/task_fetching_unit.py at commit
# a00c9d3 (the parts `schedule()` uses, unchanged but for `log`, which is theirs with logging off as
# in their benchmark runs; `get_though_action_observation` and `aschedule` are left out).
#
# MIT License. Copyright (c) 2023 Sehoon Kim. Permission is hereby granted, free of charge, to any
# person obtaining a copy of this software and associated documentation files (the "Software"), to
# deal in the Software without restriction, including without limitation the rights to use, copy,
# modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
# persons to whom the Software is furnished to do so, subject to the following conditions: The above
# copyright notice and this permission notice shall be included in all copies or substantial
# portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
# OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
# PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
# LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
# OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
# THE SOFTWARE.

SCHEDULING_INTERVAL = 0.01  # seconds
LOG_ENABLED = False


def log(*args, block=False, **kwargs):
    """Print the given string only if logging is enabled."""
    if LOG_ENABLED:
        if block:
            print("=" * 80)
        print(*args, **kwargs)
        if block:
            print("=" * 80)


def _replace_arg_mask_with_real_value(args, dependencies: list[int], tasks: dict[str, Task]):
    if isinstance(args, (list, tuple)):
        return type(args)(_replace_arg_mask_with_real_value(item, dependencies, tasks) for item in args)
    elif isinstance(args, str):
        for dependency in sorted(dependencies, reverse=True):
            # consider both ${1} and $1 (in case planner makes a mistake)
            for arg_mask in ["${" + str(dependency) + "}", "$" + str(dependency)]:
                if arg_mask in args:
                    if tasks[dependency].observation is not None:
                        args = args.replace(arg_mask, str(tasks[dependency].observation))
        return args
    else:
        return args


@dataclass
class Task:
    idx: int
    name: str
    tool: Callable
    args: Collection[Any]
    dependencies: Collection[int]
    stringify_rule: Callable | None = None
    thought: str | None = None
    observation: str | None = None
    is_join: bool = False

    async def __call__(self) -> Any:
        log("running task")
        x = await self.tool(*self.args)
        log("done task")
        return x


class TaskFetchingUnit:
    tasks: dict[str, Task]
    tasks_done: dict[str, asyncio.Event]
    remaining_tasks: set[str]

    def __init__(self):
        self.tasks = {}
        self.tasks_done = {}
        self.remaining_tasks = set()

    def set_tasks(self, tasks: dict[str, Any]):
        self.tasks.update(tasks)
        self.tasks_done.update({task_idx: asyncio.Event() for task_idx in tasks})
        self.remaining_tasks.update(set(tasks.keys()))

    def _all_tasks_done(self):
        return all(self.tasks_done[d].is_set() for d in self.tasks_done)

    def _get_all_executable_tasks(self):
        return [
            task_name
            for task_name in self.remaining_tasks
            if all(self.tasks_done[d].is_set() for d in self.tasks[task_name].dependencies)
        ]

    def _preprocess_args(self, task: Task):
        """Replace dependency placeholders, i.e. ${1}, in task.args with the actual observation."""
        args = []
        for arg in task.args:
            arg = _replace_arg_mask_with_real_value(arg, task.dependencies, self.tasks)
            args.append(arg)
        task.args = args

    async def _run_task(self, task: Task):
        self._preprocess_args(task)
        if not task.is_join:
            observation = await task()
            task.observation = observation
        self.tasks_done[task.idx].set()

    async def schedule(self):
        """Run all tasks in self.tasks in parallel, respecting dependencies."""
        # run until all tasks are done
        while not self._all_tasks_done():
            # Find tasks with no dependencies or with all dependencies met
            executable_tasks = self._get_all_executable_tasks()

            for task_name in executable_tasks:
                asyncio.create_task(self._run_task(self.tasks[task_name]))
                self.remaining_tasks.remove(task_name)

            await asyncio.sleep(SCHEDULING_INTERVAL)


# ---- end of the reference ----------------------------------------------------------------------------


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


async def noop(x: Any) -> Any:
    return x


noop.read_only = True  # type: ignore[attr-defined]  # a pure function: no side-effect order among its calls


def reference_tasks(shape: str, n: int) -> dict[int, Task]:
    if shape == "wide":
        return {i: Task(i, "noop", noop, (i,), []) for i in range(1, n + 1)}
    chain = {1: Task(1, "noop", noop, ("0",), [])}
    chain.update({i: Task(i, "noop", noop, (f"${i - 1}",), [i - 1]) for i in range(2, n + 1)})
    return chain


def plan_text(shape: str, n: int) -> str:
    if shape == "wide":
        return "\n".join(f"{i}. noop({i})" for i in range(1, n + 1)) + "\njoin()\n"
    return "1. noop(0)\n" + "\n".join(f"{i}. noop(${i - 1})" for i in range(2, n + 1)) + "\njoin()\n"


async def time_reference(shape: str, n: int) -> tuple[float, float]:
    tasks = reference_tasks(shape, n)
    start = _now()
    tfu = TaskFetchingUnit()
    tfu.set_tasks(tasks)  # its setup for the plan, as ours is inside Scheduler.run: both are timed
    await tfu.schedule()
    elapsed = _since(start)
    last = tfu.tasks[n].observation
    if str(last) != str(n if shape == "wide" else 0):
        raise SystemExit(f"the reference's last task has {last!r}")
    return elapsed


def time_ours(limits: Limits) -> Callable[[str, int], Awaitable[tuple[float, float]]]:
    async def timed(shape: str, n: int) -> tuple[float, float]:
        box = FunctionToolbox({"noop": noop})
        bound = check_plan(parse_plan(plan_text(shape, n)), box.specs())
        run = Run()
        calls = CallPolicy(box, limits).for_run()
        start = _now()
        await Scheduler(calls, run, run_timeout_s=limits.run_timeout_s).run(bound)
        elapsed = _since(start)
        if not run.ok or len(run.tasks) != n:
            raise SystemExit(f"our run failed: {[(r.id, r.error) for r in run.tasks if r.status != 'ok'][:3]}")
        return elapsed
    return timed


async def time_floor(shape: str, n: int) -> tuple[float, float]:
    """Only the calls: concurrent for `wide`, one after another (each awaiting the last) for `chain`."""
    start = _now()
    if shape == "wide":
        await asyncio.gather(*(asyncio.create_task(noop(i)) for i in range(1, n + 1)))
    else:
        value: Any = 0
        for _ in range(n):
            value = await asyncio.create_task(noop(value))
    return _since(start)


async def time_anyio_floor(shape: str, n: int) -> tuple[float, float]:
    """A task per call in one task group, each call under its own timeout; the chain's wait on events."""
    done = [anyio.Event() for _ in range(n + 1)]
    done[0].set()
    results: list[Any] = [0] * (n + 1)

    async def call(i: int) -> None:
        if shape == "chain":
            await done[i - 1].wait()
        with anyio.move_on_after(60):
            results[i] = await noop(results[i - 1] if shape == "chain" else i)
        done[i].set()

    start = _now()
    async with anyio.create_task_group() as tg:
        for i in range(1, n + 1):
            tg.start_soon(call, i)
    return _since(start)


ENGINES: dict[str, Callable[[str, int], Awaitable[tuple[float, float]]]] = {
    "reference TFU": time_reference,
    "ours, default limits (16 in flight)": time_ours(Limits()),
    "ours, no binding cap": time_ours(Limits(max_concurrency=1000, max_per_server=1000)),
    "anyio floor": time_anyio_floor,
    "asyncio floor": time_floor,
}
SHAPES = {"wide": 1000, "chain": 200}


async def main(repeats: int) -> None:
    rows: dict[str, list[str]] = {"wall": [], "CPU": []}
    for shape, n in SHAPES.items():
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ENGINES}
        for engine in ENGINES.values():
            await engine(shape, n)  # warm-up
        for _ in range(repeats):
            for name, engine in ENGINES.items():
                samples[name].append(await engine(shape, n))
        for k, clock in enumerate(rows):
            per_task = [[s[k] * 1e6 / n for s in runs] for runs in samples.values()]
            cells = [f"{statistics.median(s):.1f} ({min(s):.1f}–{max(s):.1f})" for s in per_task]
            rows[clock].append(f"| {shape} ({n:,}) | " + " | ".join(cells) + " |")
    for clock, lines in rows.items():
        print(f"\nZero-latency tasks, {clock} time per task in µs: median (min–max) of {repeats} alternating runs "
              f"(Python {sys.version.split()[0]})\n")
        print("| shape | " + " | ".join(ENGINES) + " |")
        print("|---|" + "---:|" * len(ENGINES))
        print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    anyio.run(main, args.repeats)
