"""Load through nginx in front of 1 and 3 replicas on Redis (issue 25; docs/deployment.md).

    python benchmarks/replicas.py [--clients 32] [--seconds 20] [--out benchmarks/results/replicas.json]

Starts redis-server, the replicas (`mcp-compiler serve --transport http --state redis://...`, the
ledger server behind each) and nginx with deploy/nginx.conf, all from the system's packages and
this checkout, as tests/fixtures/services.py does. Then `--clients` 2026-07-28 hosts (the SDK's
`Client`) send a mix of plans for `--seconds`: a fan-out of eight calls, a big value read back
through its link, a destructive call confirmed in an `input_required` round trip (whose retry
nginx may send to another replica). With 3 replicas, one is SIGKILLed halfway. Reported per
topology: replies, errors by kind, p50/p99 latency, throughput, the RSS of each replica and of
Redis at start and end. Not a timed test: its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import anyio  # noqa: E402
import mcp_types as types  # noqa: E402
from fixtures.services import Redis, nginx_in_front  # noqa: E402
from mcp import Client  # noqa: E402
from procs import free_port, stop, wait_for_port  # noqa: E402

TOOL = "compile_and_run"
FANOUT = "\n".join(f"{n}. ledger.add({n}, {n})" for n in range(1, 9)) + "\njoin()"
BIG = "1. ledger.note(" + json.dumps("v" * 20_000) + ")\njoin()"
CONFIRM = '1. ledger.erase("bench")\njoin()'


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_replica(tmp: Path, config: Path, redis: Redis, name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MCP_COMPILER_STATE", "MCP_COMPILER_TOKEN")}
    with open(tmp / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_compiler", "serve", "--config", str(config), "--transport", "http",
             "--port", str(port), "--state", redis.url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=ROOT,
        )
    wait_for_port(port, proc)
    return proc, port


async def one_plan(url: str, kind: str) -> None:
    async def refuse(*_: Any) -> types.ElicitResult:
        raise AssertionError("2026-07-28 asks in rounds")

    async with Client(url, elicitation_callback=refuse) as host:
        if kind == "fanout":
            result = await host.call_tool(TOOL, {"plan": FANOUT})
            assert not result.is_error, result.content
        elif kind == "big":
            result = await host.call_tool(TOOL, {"plan": BIG})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            uri = result.structured_content["tasks"][0]["result_stored"]["uri"]
        else:
            asked = await host.session.call_tool(TOOL, {"plan": CONFIRM}, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult), asked
            answers = {k: types.ElicitResult(action="accept", content={"run": True}) for k in asked.input_requests or {}}
            result = await host.session.call_tool(TOOL, {"plan": CONFIRM}, input_responses=answers,
                                                  request_state=asked.request_state, allow_input_required=True)
            assert isinstance(result, types.CallToolResult) and not result.is_error, result
    if kind == "big":
        async with Client(url) as reader:  # a new connection: nginx may pick another replica
            try:
                read = await reader.read_resource(uri)
            except Exception as exc:
                raise RuntimeError(f"reading {uri}: {exc!r} {getattr(exc, 'error', '')}") from None
            assert read.contents


async def load(url: str, clients: int, seconds: float, kill: Any) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    kinds = ["fanout", "big", "confirm"]
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            kind = kinds[i % 3]
            i += 1
            started = time.monotonic()
            try:
                with anyio.fail_after(60):
                    await one_plan(url, kind)
                latencies.append(time.monotonic() - started)
            except BaseException as exc:  # noqa: BLE001 - counted, by kind
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                    exc = exc.exceptions[0]
                detail = getattr(getattr(exc, "error", None), "data", None) or ""
                text = " ".join(getattr(c, "text", "") for c in getattr(exc.args[0], "content", [])) if exc.args else ""
                name = f"{kind}: {type(exc).__name__}: {(text or str(exc))[:400]} {str(detail)[:80]}".strip()
                errors[name] = errors.get(name, 0) + 1

    async with anyio.create_task_group() as tg:
        for n in range(clients):
            tg.start_soon(client, n)
        if kill is not None:
            await anyio.sleep(seconds / 2)
            kill()
    latencies.sort()
    return {
        "replies": len(latencies), "errors": sum(errors.values()), "error_kinds": errors,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "throughput_per_s": round(len(latencies) / seconds, 1),
    }


def run_topology(replicas: int, clients: int, seconds: float, kill_one: bool = True) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="mcp-compiler-bench-"))
    config = tmp / "config.json"
    config.write_text(json.dumps({
        "mcpServers": {"ledger": {"command": sys.executable,
                                  "args": [str(ROOT / "tests/fixtures/ledger_server.py"), str(tmp / "ledger.jsonl")]}},
        "compiler": {"max_inline_value_bytes": 4096},
    }))
    redis = Redis()
    redis.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        started = [start_replica(tmp, config, redis, f"r{n}") for n in range(replicas)]
        procs = [p for p, _ in started]
        rss_start = {f"r{n}": rss_kib(p.pid) for n, p in enumerate(procs)} | {"redis": redis.rss_kib()}
        killed: list[str] = []

        def kill() -> None:
            procs[0].send_signal(signal.SIGKILL)
            killed.append("r0")

        with nginx_in_front([f"127.0.0.1:{port}" for _, port in started]) as nginx:
            result = anyio.run(load, nginx.url, clients, seconds, kill if replicas > 1 and kill_one else None)
        rss_end = {f"r{n}": rss_kib(p.pid) for n, p in enumerate(procs)} | {"redis": redis.rss_kib()}
        return {"replicas": replicas, "clients": clients, "seconds": seconds, "killed": killed, **result,
                "rss_kib_start": rss_start, "rss_kib_end": rss_end}
    finally:
        for proc in procs:
            stop(proc)
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--replicas", default="1,3", help="the topologies, as replica counts (default: 1,3)")
    parser.add_argument("--no-kill", action="store_true", help="kill no replica halfway")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/replicas.json"))
    args = parser.parse_args()
    results = [run_topology(n, args.clients, args.seconds, not args.no_kill) for n in map(int, args.replicas.split(","))]
    Path(args.out).write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
