"""What a confirmation costs in each protocol era: one `compile_and_run` whose plan has one
destructive task, approved by the host, in process (`mcp.Client(server)`), 2026-07-28 vs 2025-11-25.

    python benchmarks/rounds_overhead.py [--calls 30]

2026-07-28 answers `input_required` before anything runs and runs on the retry (server/round_trips.py);
the handshake era asks mid-call. Both tools are instant, so the difference is the round trip and
the run held across it. Prints a Markdown table of milliseconds per call (median, p90).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio
import mcp_types as types
from mcp import Client

from mcp_compiler.server import TOOL_NAME, CompilerServer
from mcp_compiler.tools.toolbox import FunctionToolbox


async def note(text: str) -> str:
    return text


async def erase(name: str) -> str:
    return name


erase.destructive = True  # type: ignore[attr-defined]


async def approve(ctx: Any, params: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"run": True})


async def per_call(mode: str, calls: int) -> list[float]:
    app = CompilerServer(FunctionToolbox({"note": note, "erase": erase}))
    times: list[float] = []
    async with Client(app.server, mode=mode, elicitation_callback=approve) as client:
        for _ in range(calls + 3):  # the first few warm up
            start = time.perf_counter()
            result = await client.call_tool(TOOL_NAME, {"plan": '1. note("a")\n2. erase("x")\njoin()'})
            times.append(time.perf_counter() - start)
            assert not result.is_error, result.content
    return times[3:]


async def main(calls: int) -> None:
    print("| era | median ms | p90 ms |\n|---|---|---|")
    for era, mode in (("2026-07-28 (input_required)", "auto"), ("2025-11-25 (mid-call)", "legacy")):
        times = sorted(await per_call(mode, calls))
        print(f"| {era} | {statistics.median(times) * 1000:.1f} | {times[int(len(times) * 0.9) - 1] * 1000:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    anyio.run(main, parser.parse_args().calls)
