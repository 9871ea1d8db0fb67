"""`mcp-compiler demo`: a plan with real parallelism over the bundled servers, no API key needed.

It starts the `wiki` and `math` servers with a simulated network latency (unless one is set),
runs one plan — look-ups fanning out, arithmetic fanning in — shows each task live on stderr,
prints the answer on stdout, then a timeline and the wall time against the sum of the task
times: what running the same calls one after another would have cost.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from pydantic import SecretStr

from .compiler import Event, EventHandler
from .config import Config, StdioServerConfig
from .engine.run import Run
from .gateway import open_gateway
from .language.plan import PlanError

__all__ = ["demo", "DEMO_PLAN", "DEFAULT_LATENCY_MS", "with_latency", "timeline"]

LATENCY_ENV = "MCP_COMPILER_SIM_LATENCY_MS"
DEFAULT_LATENCY_MS = "250-500"

DEMO_PLAN = """\
Thought: if the Nile were 10% shorter and the Amazon 5% longer, which would be longer? \
The two look-ups are independent; so are the three mountains and the river ranking.
1. wiki.fact("Nile", "length_km")
2. wiki.fact("Amazon", "length_km")
3. math.eval("nile * 0.9", {"nile": $1.value})
4. math.eval("amazon * 1.05", {"amazon": $2.value})
5. math.compare($3.value, $4.value)
6. wiki.fact("Mount Everest", "height_m")
7. wiki.fact("K2", "height_m")
8. wiki.fact("Kangchenjunga", "height_m")
9. math.stats([$6.value, $7.value, $8.value])
10. wiki.rank("river", "length_km", 3)
join()
"""


def with_latency(config: Config, latency_ms: str) -> Config:
    """The config with `MCP_COMPILER_SIM_LATENCY_MS` in every stdio server's env (unless it sets its own).

    Stdio children inherit only an allow-list of variables, so the value has to go in `env`.
    """
    servers = {}
    for name, server in config.mcp_servers.items():
        if isinstance(server, StdioServerConfig) and LATENCY_ENV not in server.env:
            server = server.model_copy(update={"env": {**server.env, LATENCY_ENV: SecretStr(latency_ms)}})
        servers[name] = server
    return config.model_copy(update={"mcp_servers": servers})


def _live(out: TextIO) -> EventHandler:
    def show(event: Event) -> None:
        if event.kind == "task":
            print(f"  [{event.done:>2}/{event.total}] {event.message}", file=out, flush=True)

    return show


def timeline(run: Run, width: int = 40) -> str:
    """One bar per task on a shared time axis, so the overlap is visible."""
    end = max((t.end_s or 0.0 for t in run.tasks), default=0.0) or 1.0
    lines = []
    for t in run.tasks:
        if t.start_s is None or t.end_s is None:
            lines.append(f"  {t.id:>2} {t.tool:<14} {t.status}")
            continue
        first = int(t.start_s / end * width)
        last = max(first + 1, int(round(t.end_s / end * width)))
        bar = " " * first + "█" * (last - first)
        lines.append(f"  {t.id:>2} {t.tool:<14} |{bar:<{width}}| {t.start_s:5.2f}–{t.end_s:5.2f} s {t.status}")
    return "\n".join(lines)


async def demo(config: Config, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the demo plan; 0 when every task succeeded, 1 otherwise, 2 when the servers are missing."""
    out = out or sys.stdout
    err = err or sys.stderr
    latency = os.environ.get(LATENCY_ENV) or DEFAULT_LATENCY_MS
    config = with_latency(config, latency)
    print(f"Starting the servers ({', '.join(config.servers)}) with a simulated latency of {latency} ms per call…", file=err)
    started = time.perf_counter()
    async with open_gateway(config, startup_wait_s=config.compiler.startup_wait_s) as gateway:
        pool = gateway.pool
        print(f"  {len(pool.specs())} tools ready in {time.perf_counter() - started:.1f} s\n", file=err)
        print("The plan:\n" + "\n".join(f"  {line}" for line in DEMO_PLAN.strip().splitlines()) + "\n", file=err)
        print("Running (each task starts the moment its inputs are ready):", file=err)
        try:
            run = await gateway.compiler.run_plan(DEMO_PLAN, on_event=_live(err))
        except PlanError as exc:
            missing = [s.name for s in pool.status() if not s.connected]
            print(f"\nThe demo needs the bundled wiki and math servers (run it without --config): {exc}", file=err)
            if missing:
                print(f"Not connected: {', '.join(missing)}", file=err)
            return 2

    print("\nTimeline:\n" + timeline(run) + "\n", file=err)
    print(run.answer if run.answer is not None else f"(no answer: {run.error})", file=out, flush=True)
    wall = run.timings.get("total_s", run.elapsed())
    sequential = sum((t.end_s or 0.0) - (t.start_s or 0.0) for t in run.tasks if t.start_s is not None)
    speedup = sequential / wall if wall > 0 else float("inf")
    if not run.ok:  # a comparison with failed tasks in it measures nothing
        failed = [f"task {t.id} {t.tool}: {t.status}" for t in run.tasks if t.status != "ok"]
        print(f"\nThe demo failed ({'; '.join(failed)}); see the errors above.", file=out)
        return 1
    print(
        f"\n{len(run.tasks)} tasks in {wall:.2f} s wall time; one after another they would take "
        f"{sequential:.2f} s (the sum of the task times): {speedup:.1f}× faster.",
        file=out,
    )
    compare = run.task(5).result if run.tasks and run.task(5).status == "ok" else None
    if isinstance(compare, dict) and compare.get("larger") in ("a", "b"):
        winner = "the Nile" if compare["larger"] == "a" else "the Amazon"
        print(
            f"Nile −10%: {compare['a']:,.0f} km, Amazon +5%: {compare['b']:,.0f} km → {winner} would be longer.",
            file=out,
        )
    return 0 if run.ok else 1
