"""Startup cost: connecting N stdio servers at once vs the slowest one alone.

    python benchmarks/startup.py [--ns 1,4,8] [--reps 3] [--server wiki|math|toy]

For each repetition, each of max(N) servers is first connected alone, one after another (giving
"slowest single" = the max of the first N, and "one after another" = their sum), then N servers
are connected together through one UpstreamPool. Times run from entering the pool to every
server having listed its tools. Prints a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio

from mcp_compiler.config import Config, parse_config
from mcp_compiler.upstreams import UpstreamPool

TOY = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "toy_server.py"


def server_entry(kind: str, index: int) -> dict[str, object]:
    if kind == "toy":
        return {"command": sys.executable, "args": [str(TOY), "--name", f"s{index}"]}
    return {"command": sys.executable, "args": ["-m", f"mcp_compiler.servers.{kind}"]}


def pool_config(kind: str, n: int) -> Config:
    servers = {f"s{i}": server_entry(kind, i) for i in range(n)}
    return parse_config({"mcpServers": servers, "compiler": {"connect_timeout_s": 120}})


async def connect_seconds(config: Config) -> float:
    started = time.perf_counter()
    async with UpstreamPool(config) as pool:
        elapsed = time.perf_counter() - started
        failed = [s for s in pool.status() if not s.connected]
        if failed:
            raise SystemExit(f"server failed to connect: {failed[0].name}: {failed[0].last_error}")
    return elapsed


async def run(ns: list[int], reps: int, kind: str) -> dict[int, dict[str, list[float]]]:
    results = {n: {"together": [], "slowest": [], "sum": []} for n in ns}
    for rep in range(reps):
        singles = [await connect_seconds(pool_config(kind, 1)) for _ in range(max(ns))]
        for n in ns:
            results[n]["slowest"].append(max(singles[:n]))
            results[n]["sum"].append(sum(singles[:n]))
            results[n]["together"].append(await connect_seconds(pool_config(kind, n)))
        print(f"repetition {rep + 1}/{reps} done", file=sys.stderr)
    return results


def table(results: dict[int, dict[str, list[float]]]) -> str:
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    lines = [
        "| N | together (s) | slowest single (s) | one after another (s) | together / slowest |",
        "|---|---|---|---|---|",
    ]
    for n, r in results.items():
        ratio = statistics.median(r["together"]) / statistics.median(r["slowest"])
        lines.append(f"| {n} | {cell(r['together'])} | {cell(r['slowest'])} | {cell(r['sum'])} | {ratio:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", default="1,4,8", help="comma-separated server counts")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--server", default="wiki", choices=["wiki", "math", "toy"])
    args = parser.parse_args()
    ns = [int(n) for n in args.ns.split(",")]
    results = anyio.run(run, ns, args.reps, args.server)
    print(f"Connecting N `{args.server}` stdio servers; median (min–max) of {args.reps} runs.\n")
    print(table(results))


if __name__ == "__main__":
    main()
