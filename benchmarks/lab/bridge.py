"""The bridge's own cost: overhead against direct SDK calls, load over HTTP, prompt size.

- overhead: N parallel `noop(n)` calls (N = 1, 8, 32, 128), three ways, to the same no-op server
  over stdio: direct (one SDK `Client`, N concurrent `call_tool`s); `Compiler.run_plan` in this
  process over an `UpstreamPool`; and `compile_and_run` (plan given) through `mcp-compiler serve`
  on stdio. The compiler's concurrency caps are raised to 256 for this, so the comparison is of
  the machinery, not of a limit; the ratio and the added ms per call are against direct. Callers
  run on one CPU and the no-op servers on another (`benchmarks.pin`), and the ways take turns in rotating
  order. compile_and_run's time is split into the bridge's engine (the Run's `total_s`) and the
  MCP hop (the rest: both ends' SDK work on request and reply, and the pipe).
- load: C = 1, 8, 32 concurrent clients, each with its own Streamable HTTP session, share a
  fixed count of `compile_and_run` requests (a plan of 4 no-op calls) to one `mcp-compiler serve
  --transport http` process: throughput, p50, p99, errors.
- prompt size: tokens of the planner's system prompt (and of the MCP tool description) for
  catalogs of 10, 100 and 1,000 tools, counted with the simulated endpoint's rule.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from mcp_compiler.compiler import Compiler
from mcp_compiler.config import parse_config
from mcp_compiler.gateway import limits_from
from mcp_compiler.llm.planner import planner_prompt
from mcp_compiler.llm.tokens import count_tokens
from mcp_compiler.tools.catalog import Catalog
from mcp_compiler.tools.toolbox import ToolSpec
from mcp_compiler.upstreams import UpstreamPool

from .. import ROOT
from ..pin import pin
from .stats import percentile

log = logging.getLogger(__name__)

NOOP_MODULE = "benchmarks.lab.noop_server"
RAISED = {"max_concurrency": 256, "max_per_server": 256}


def _module_args(module: str, cpus: set[int] | None) -> list[str]:
    if cpus is None:
        return ["-m", module]
    return ["-m", "benchmarks.pin", ",".join(map(str, sorted(cpus))), module]


def noop_config(cpus: set[int] | None = None) -> dict[str, Any]:
    # cwd: the children run `-m benchmarks...`, importable from the repository root.
    server = {"command": sys.executable, "args": _module_args(NOOP_MODULE, cpus), "cwd": str(ROOT)}
    return {"mcpServers": {"noop": server}, "compiler": RAISED}


def placement() -> tuple[set[int], set[int]] | None:
    """(caller CPUs, server CPUs): the first two CPUs this process may use; None with fewer."""
    getter = getattr(os, "sched_getaffinity", None)
    allowed = sorted(getter(0)) if getter is not None else []
    return ({allowed[0]}, {allowed[1]}) if len(allowed) >= 2 else None


def noop_plan(n: int, offset: int = 0) -> str:
    return "\n".join(f"{i}. noop.noop({offset + i})" for i in range(1, n + 1)) + "\njoin()\n"


async def _direct(client: Client, n: int) -> float:
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(1, n + 1):
            tg.start_soon(client.call_tool, "noop", {"n": i})
    return time.perf_counter() - start


async def _run_plan(compiler: Compiler, n: int) -> float:
    start = time.perf_counter()
    run = await compiler.run_plan(noop_plan(n))
    elapsed = time.perf_counter() - start
    if not run.ok:
        raise RuntimeError(f"run_plan N={n}: a task failed")
    return elapsed


async def _compile_and_run(bridge: Client, n: int, engine: list[float]) -> float:
    """Time one call; `engine` gets the part spent in the bridge's engine (the Run's own total)."""
    start = time.perf_counter()
    result = await bridge.call_tool("compile_and_run", {"plan": noop_plan(n)})
    elapsed = time.perf_counter() - start
    if result.is_error or not result.structured_content:
        raise RuntimeError(f"compile_and_run N={n} failed: {result.content}")
    engine.append(result.structured_content["timings"]["total_s"])
    return elapsed


async def overhead(work: Path, ns: Sequence[int], repeats: int, timeout_s: float = 300) -> list[dict[str, Any]]:
    """Median ms of each way per N; callers pinned to one CPU and no-op servers to another."""
    cpus = placement()
    caller, server = cpus if cpus is not None else (None, None)
    previous = os.sched_getaffinity(0) if cpus is not None else None
    if caller is not None and not pin(caller):
        caller = server = None
    try:
        times = await _overhead_times(work, ns, repeats, timeout_s, caller, server)
    finally:
        if previous is not None:
            pin(previous)
    rows = []
    for n in ns:
        d = percentile(times["direct"][n], 50)
        row: dict[str, Any] = {"n": n, "direct_ms": round(d * 1000, 2), "pinned": caller is not None}
        for way in ("run_plan", "server"):
            t = percentile(times[way][n], 50)
            row[f"{way}_ms"] = round(t * 1000, 2)
            row[f"{way}_ratio"] = round(t / d, 2)
            row[f"{way}_added_ms_per_call"] = round((t - d) * 1000 / n, 3)
        # compile_and_run = the bridge's engine + the MCP hop (both ends' SDK work and the pipe).
        engine = percentile(times["engine"][n], 50)
        row["server_engine_ms"] = round(engine * 1000, 2)
        row["server_hop_ms"] = round((percentile(times["server"][n], 50) - engine) * 1000, 2)
        rows.append(row)
    return rows


async def _overhead_times(
    work: Path, ns: Sequence[int], repeats: int, timeout_s: float, caller: set[int] | None, server: set[int] | None
) -> dict[str, dict[int, list[float]]]:
    cfg_file = (work / "noop-config.json").resolve()
    cfg_file.write_text(json.dumps(noop_config(server)))
    params = StdioServerParameters(command=sys.executable, args=_module_args(NOOP_MODULE, server), cwd=ROOT)
    serve = StdioServerParameters(
        command=sys.executable, args=[*_module_args("mcp_compiler", caller), "serve", "--config", str(cfg_file)],
        cwd=ROOT,
    )
    config = parse_config(noop_config(server))
    times: dict[str, dict[int, list[float]]] = {"direct": {}, "run_plan": {}, "server": {}, "engine": {}}
    with anyio.fail_after(timeout_s):
        async with Client(params) as direct, UpstreamPool(config) as pool, Client(serve) as bridge:
            compiler = Compiler(pool, limits_from(config))
            ways = {
                "direct": lambda n: _direct(direct, n),
                "run_plan": lambda n: _run_plan(compiler, n),
                "server": lambda n: _compile_and_run(bridge, n, times["engine"].setdefault(n, [])),
            }
            order = list(ways)
            for _ in range(2):  # warm-up: first calls pay for imports and caches
                for way in order:
                    await ways[way](8)
            times["engine"].clear()  # the warm-up's, which have no matching server time
            for n in ns:
                for r in range(repeats):
                    # Rotated each repeat: on 2 cores, a way's time depends on the one just before
                    # it (by up to 40% measured), so every way follows every other equally often.
                    for way in order[r % 3:] + order[: r % 3]:
                        times[way].setdefault(n, []).append(await ways[way](n))
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    with anyio.fail_after(timeout_s):
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mcp-compiler serve exited with {proc.returncode}")
            try:
                async with Client(url) as c:
                    await c.list_tools()
                    return
            except Exception:  # noqa: BLE001 - not up yet
                await anyio.sleep(0.2)


async def load(work: Path, clients: Sequence[int], requests: int, timeout_s: float = 300) -> list[dict[str, Any]]:
    cfg_file = work / "noop-config.json"
    cfg_file.write_text(json.dumps(noop_config()))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    errlog = open(work / "serve-http.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http", "--port", str(port), "--config", str(cfg_file)],
        stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog,
    )
    rows = []
    try:
        await _wait_ready(url, proc, 60)
        for c in clients:
            rows.append(await _load_once(url, c, requests, timeout_s))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        errlog.close()
    return rows


async def _load_once(url: str, n_clients: int, requests: int, timeout_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0

    async def client() -> None:
        nonlocal issued
        try:
            async with Client(url) as c:
                while issued < requests:
                    issued += 1
                    number = issued
                    start = time.perf_counter()
                    try:
                        r = await c.call_tool("compile_and_run", {"plan": noop_plan(4, offset=number * 10)})
                        if r.is_error:
                            errors.append(str(r.content)[:200])
                    except Exception as exc:  # noqa: BLE001 - counted
                        errors.append(f"{type(exc).__name__}: {exc}")
                    latencies.append(time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - a session that cannot open is an error too
            errors.append(f"session: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    with anyio.fail_after(timeout_s):
        async with anyio.create_task_group() as tg:
            for _ in range(n_clients):
                tg.start_soon(client)
    wall = time.perf_counter() - start
    return {
        "clients": n_clients, "requests": len(latencies), "wall_s": round(wall, 3),
        "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "errors": len(errors), "first_error": errors[0] if errors else None,
    }


def synthetic_specs(n: int, bfcl_tools: Sequence[dict[str, Any]] = ()) -> list[ToolSpec]:
    """`n` tool specs: BFCL's real function docs when given (cycled), else generated ones."""
    specs = []
    for i in range(n):
        if bfcl_tools:
            t = bfcl_tools[i % len(bfcl_tools)]
            name, desc, schema = t["name"], t.get("description", ""), t["inputSchema"]
            if i >= len(bfcl_tools):
                name = f"{name}_{i // len(bfcl_tools)}"
        else:
            name, desc = f"tool_{i}", f"Do operation number {i} on a record and return the result."
            schema = {"type": "object", "properties": {"id": {"type": "string"}, "limit": {"type": "integer"}},
                      "required": ["id"]}
        specs.append(ToolSpec(name=f"server{i // 50}.{name}", description=desc, input_schema=schema,
                              provider=f"server{i // 50}"))
    return specs


def prompt_sizes(sizes: Sequence[int], bfcl_tools: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    from mcp_compiler.server import tool_description

    rows = []
    for n in sizes:
        catalog = Catalog(synthetic_specs(n, bfcl_tools))
        prompt = planner_prompt(catalog)
        rows.append({"tools": n, "planner_prompt_tokens": count_tokens(prompt), "planner_prompt_chars": len(prompt),
                     "tool_description_tokens": count_tokens(tool_description(catalog))})
    return rows
