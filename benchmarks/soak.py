"""Soak: many hosts at once against a fault-injecting upstream mix, counting lost replies.

    python -m benchmarks.soak --clients 32 --seconds 120          # Streamable HTTP (the README's figures)
    python -m benchmarks.soak --transport stdio --clients 16 --seconds 120
    python -m benchmarks.soak --hostile --clients 8 --seconds 60   # and the budget shapes (issue 23)

One `mcp-compiler serve` runs behind a mix of upstreams: a healthy one, one that writes garbage on
stdout, one whose `crash` tool kills it mid-call (so it restarts), and calls that hang past their
server's 1 s timeout. Over HTTP each client is its own MCP session; on stdio the clients share the
one session, each keeping one call in flight. Every call must come back with a result (a task
error is a result); a call that raises or outlives its bound is a lost reply. The server's RSS and
open file descriptors are sampled from /proc after a warm-up and at the end: they must stay flat.

`--hostile` adds an upstream that sends what the budgets are for (tests/fixtures/budget_upstream.py):
a 1 MB error with 50 dependents, a 1,000-call spread of 2 KB arguments, a 1.2 MB progress message,
a result nested 1,000 deep, an 18 MB result, `join` of 100 references to 2 MB; the largest reply
and the server's peak RSS (VmHWM) are reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "fixtures" / "toy_server.py"
HOSTILE = ROOT / "tests" / "fixtures" / "budget_upstream.py"

PLANS = [
    '1. good.echo("a")\n2. good.echo("b")\n3. good.add(1, 2)\njoin()',  # plain and parallel
    '1. garbage.echo("x")\n2. good.sleep(0.2)\njoin()',  # an upstream that prints junk on stdout
    "1. crashy.crash()\njoin()",  # kills its server mid-call: an error, then a restart
    "1. crashy.echo(\"after\")\njoin()",  # waits through the restart
    "1. hang.sleep(30)\n2. good.echo(\"meanwhile\")\njoin()",  # past hang's 1 s timeout
    '1. nope.tool()\njoin()',  # a plan error
]
HOSTILE_PLANS = [
    "1. hostile.fail_big(1000000)\n" + "\n".join(f"{i}. hostile.echo($1)" for i in range(2, 52)) + "\njoin()",
    "1. hostile.items(1000, 2048)\n2. hostile.echo($1.items[*])\njoin()",
    "1. hostile.progress_big(1200000)\njoin()",
    "1. hostile.deep(1000)\n2. good.echo(\"after\")\njoin()",
    "1. hostile.huge_line(18000000)\njoin()",
    "1. hostile.big(2000000)\njoin(" + ", ".join(["$1"] * 100) + ")",
]


@dataclass
class Tally:
    replies: int = 0
    tool_errors: int = 0
    max_reply: int = 0  # bytes of the largest reply
    lost: list[str] = field(default_factory=list)


def config(tmp: Path, hostile: bool = False) -> Path:
    def toy(name: str, *flags: str, **extra: Any) -> dict[str, Any]:
        return {"command": sys.executable, "args": [str(TOY), "--name", name, *flags], **extra}

    path = tmp / "soak-config.json"
    path.write_text(json.dumps({
        "mcpServers": {
            "good": toy("good"), "garbage": toy("garbage", "--garbage"), "crashy": toy("crashy"),
            "hang": toy("hang", timeout_s=1),
            **({"hostile": {"command": sys.executable, "args": [str(HOSTILE)]}} if hostile else {}),
        },
        "compiler": {"call_timeout_s": 10, "connect_timeout_s": 30},
    }))
    return path


def proc_stats(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open file descriptors) of a process, from /proc."""
    return proc_memory(pid)[0], len(os.listdir(f"/proc/{pid}/fd"))


def proc_memory(pid: int) -> tuple[int, int]:
    """(RSS, peak RSS) in KiB of a process, from /proc."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in found:
            found[fields[0]] = int(fields[1])
    return found["VmRSS:"], found["VmHWM:"]


def serve_pid(marker: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_text().replace("\0", " ")
            except OSError:
                continue
            if "mcp_compiler serve" in cmdline and marker in cmdline:
                return int(entry.name)
    raise RuntimeError("the serve process is not running")


async def one_call(client: Client, rng: random.Random, tally: Tally) -> None:
    plan = rng.choice(PLANS)
    try:
        with anyio.fail_after(30):
            result = await client.call_tool("compile_and_run", {"plan": plan})
    except Exception as exc:  # noqa: BLE001 - every failure to get a reply counts
        tally.lost.append(f"{type(exc).__name__}: {exc}"[:200])
        return
    tally.replies += 1
    tally.tool_errors += bool(result.is_error)
    tally.max_reply = max(tally.max_reply, len(result.model_dump_json(by_alias=True, exclude_none=True)))


async def client_loop(target: Any, seconds: float, seed: int, tally: Tally, mode: str) -> None:
    rng = random.Random(seed)
    deadline = anyio.current_time() + seconds
    async with Client(target, mode=mode) as client:
        while anyio.current_time() < deadline:
            await one_call(client, rng, tally)


async def shared_session_loop(client: Client, seconds: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    deadline = anyio.current_time() + seconds
    while anyio.current_time() < deadline:
        await one_call(client, rng, tally)


async def soak(transport: str, clients: int, seconds: float, mode: str, hostile: bool = False) -> dict[str, Any]:
    if hostile:
        PLANS.extend(HOSTILE_PLANS)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp), hostile)
        tally = Tally()
        warm = min(10.0, seconds / 4)
        if transport == "http":
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http", "--port", str(port),
                 "--config", str(cfg)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
            )
            try:
                await _wait_for_port(port)
                url = f"http://127.0.0.1:{port}/mcp"
                async with anyio.create_task_group() as tg:
                    for n in range(clients):
                        tg.start_soon(client_loop, url, warm, n, Tally(), mode)
                before = proc_stats(proc.pid)
                started = time.monotonic()
                async with anyio.create_task_group() as tg:
                    for n in range(clients):
                        tg.start_soon(client_loop, url, seconds, 1000 + n, tally, mode)
                elapsed = time.monotonic() - started
                after = proc_stats(proc.pid)
                peak = proc_memory(proc.pid)[1]
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        else:
            params = StdioServerParameters(
                command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(cfg)], cwd=str(ROOT)
            )
            async with Client(params, mode=mode) as client:
                async with anyio.create_task_group() as tg:
                    for n in range(clients):
                        tg.start_soon(shared_session_loop, client, warm, n, Tally())
                pid = serve_pid(str(cfg))
                before = proc_stats(pid)
                started = time.monotonic()
                async with anyio.create_task_group() as tg:
                    for n in range(clients):
                        tg.start_soon(shared_session_loop, client, seconds, 1000 + n, tally)
                elapsed = time.monotonic() - started
                after = proc_stats(pid)
                peak = proc_memory(pid)[1]
    return {
        "transport": transport, "clients": clients, "seconds": round(elapsed, 1), "replies": tally.replies,
        "tool_errors": tally.tool_errors, "lost": len(tally.lost), "lost_examples": tally.lost[:5],
        "rss_mib_before": round(before[0] / 1024, 1), "rss_mib_after": round(after[0] / 1024, 1),
        "fds_before": before[1], "fds_after": after[1],
        "max_reply_bytes": tally.max_reply, "peak_rss_mib": round(peak / 1024, 1),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_for_port(port: int, timeout: float = 90) -> None:
    with anyio.fail_after(timeout):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.2)
            else:
                await stream.aclose()
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["http", "stdio"], default="http")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto", help="the hosts' protocol era")
    parser.add_argument("--hostile", action="store_true", help="add the budget shapes (tests/fixtures/budget_upstream.py)")
    args = parser.parse_args()
    print(json.dumps(anyio.run(soak, args.transport, args.clients, args.seconds, args.mode, args.hostile), indent=1))


if __name__ == "__main__":
    main()
