"""The scheduler's own overhead: 1,000 zero-latency tool calls in three DAG shapes.

    python benchmarks/scheduler_overhead.py [--tasks 1000] [--repeats 7] [--clock wall|cpu]

Each tool is an async function that returns at once, so everything measured is the engine:
parsing the plan text, the static checks (binding to the catalog and schemas), and execution
(the ready queue and its workers, dependency counts, ref substitution, the call policy's budget,
slots and timeout, the call, the records).
Shapes: `wide` (independent tasks), `wide + join` (the same, feeding one final task that refers
to all of them), `chain` (each task refers to the one before). Prints a Markdown table of
microseconds per task, the median of several runs. `--clock cpu` counts this process's CPU time
instead of wall time: on a machine shared with other work, wall time counts the others' turns too.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio

from mcp_compiler import FunctionToolbox, Limits, Run, check_plan, parse_plan
from mcp_compiler.engine.policy import CallPolicy
from mcp_compiler.engine.scheduler import Scheduler


async def noop(x: Any) -> Any:
    return x


noop.read_only = True  # type: ignore[attr-defined]  # a pure function: no side-effect order among its calls


def wide(n: int) -> str:
    return "\n".join(f"{i}. noop({i})" for i in range(1, n + 1)) + "\njoin()\n"


def wide_join(n: int) -> str:
    refs = ", ".join(f"${i}" for i in range(1, n))
    return "\n".join(f"{i}. noop({i})" for i in range(1, n)) + f"\n{n}. noop([{refs}])\njoin()\n"


def chain(n: int) -> str:
    return "1. noop(0)\n" + "\n".join(f"{i}. noop(${i - 1})" for i in range(2, n + 1)) + "\njoin()\n"


SHAPES: dict[str, Callable[[int], str]] = {"wide": wide, "wide + join": wide_join, "chain": chain}


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


async def measure(text: str, limits: Limits, clock: Callable[[], float] = time.perf_counter) -> tuple[float, float, float]:
    """Seconds to parse, to check and to execute one plan."""
    box = FunctionToolbox({"noop": noop})
    t0 = clock()
    plan = parse_plan(text)
    t1 = clock()
    bound = check_plan(plan, box.specs())
    t2 = clock()
    run = Run()
    calls = CallPolicy(box, limits).for_run()
    await Scheduler(calls, run, run_timeout_s=limits.run_timeout_s).run(bound)
    t3 = clock()
    if not run.ok or len(run.tasks) != len(plan.tasks):
        raise SystemExit(f"the run failed: {[(r.id, r.error) for r in run.tasks if r.status != 'ok'][:3]}")
    return t1 - t0, t2 - t1, t3 - t2


async def main(n: int, repeats: int, clock: str = "wall") -> None:
    configs = {"default limits (16 in flight)": Limits(), "no binding cap": Limits(max_concurrency=n, max_per_server=n)}
    print(f"Scheduler overhead, {n} zero-latency tasks, median of {repeats} runs, µs ({clock} time) per task "
          f"(Python {sys.version.split()[0]}, anyio {importlib.metadata.version('anyio')})\n")
    print("| shape | limits | parse | check | execute | parse + check + execute |")
    print("|---|---|---:|---:|---:|---:|")
    for shape, make in SHAPES.items():
        text = make(n)
        for label, limits in configs.items():
            await measure(text, limits, CLOCKS[clock])  # warm-up
            samples = [await measure(text, limits, CLOCKS[clock]) for _ in range(repeats)]
            parse, check, execute = (statistics.median(s[k] for s in samples) * 1e6 / n for k in range(3))
            total = statistics.median(sum(s) for s in samples) * 1e6 / n
            print(f"| {shape} | {label} | {parse:.1f} | {check:.1f} | {execute:.1f} | {total:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    anyio.run(main, args.tasks, args.repeats, args.clock)
