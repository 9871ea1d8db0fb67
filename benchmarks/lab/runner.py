"""`python -m benchmarks.bench`: every workload through the four strategies, then the bridge's own cost.

Order of a run: build the instances; start the servers (wiki, math and the BFCL stubs, with the
simulated tool latency in their env) and the simulated LLM endpoint; calibrate the model's
time to first token on ReAct probe runs at zero model latency; run every instance through every
strategy, one at a time (nothing else competes for the 2 cores); then overhead, load and
prompt size; write the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from pydantic import SecretStr

from mcp_compiler.config import Config, StdioServerConfig, default_config
from mcp_compiler.gateway import limits_from
from mcp_compiler.llm import Timeouts
from mcp_compiler.upstreams import UpstreamPool

from .. import ROOT
from ..simllm import LatencyModel, SimulatedLLM
from . import bridge, strategies
from .bfcl import BFCL_VERSION, bfcl_instances, find_bfcl_data
from .model import DEFAULT_PROFILES, GroundTruthModel, LatencySetup, calibrate
from .report import write_report
from .strategies import STRATEGIES, Outcome, SubsetToolbox, run_strategy
from .workloads import PAPER, Instance, wiki_instances

log = logging.getLogger("benchmarks.lab")

LATENCY_ENV = "MCP_COMPILER_SIM_LATENCY_MS"
SEED_ENV = "MCP_COMPILER_SIM_SEED"
ALL_WORKLOADS = ("hotpot", "movie", "parallelqa", "chain", "bfcl_parallel", "bfcl_parallel_multiple")


@dataclass(frozen=True)
class Mode:
    name: str
    time_scale: float
    instances: dict[str, int]
    overhead_ns: tuple[int, ...] = (1, 8, 32, 128)
    overhead_repeats: int = 5
    load_clients: tuple[int, ...] = (1, 8, 32)
    load_requests: int = 96
    catalog_sizes: tuple[int, ...] = (10, 100, 1000)


QUICK = Mode("quick", 0.1, {"hotpot": 3, "movie": 3, "parallelqa": 4, "chain": 2, "bfcl_parallel": 2,
                            "bfcl_parallel_multiple": 2}, overhead_repeats=15)
FULL = Mode("full", 1.0, {"hotpot": 10, "movie": 10, "parallelqa": 12, "chain": 8, "bfcl_parallel": 10,
                          "bfcl_parallel_multiple": 10}, overhead_repeats=40, load_requests=480)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _with_env(config: Config, env: dict[str, str]) -> Config:
    servers = {}
    for name, server in config.mcp_servers.items():
        if isinstance(server, StdioServerConfig):
            server = server.model_copy(update={"env": {**server.env, **{k: SecretStr(v) for k, v in env.items()}}})
        servers[name] = server
    return config.model_copy(update={"mcp_servers": servers})


def _bfcl_server(tools_file: Path) -> StdioServerConfig:
    args = ["-m", "benchmarks.lab.bfcl_server", "--data", str(tools_file.resolve())]
    return StdioServerConfig(command=sys.executable, args=args, cwd=str(ROOT))  # cwd: where `benchmarks` imports


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count()}


def build_instances(mode: Mode, workloads: Sequence[str], work: Path) -> tuple[dict[str, list[Instance]], list[dict[str, Any]], dict[str, Any]]:
    out: dict[str, list[Instance]] = {}
    tools: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    for w in workloads:
        n = mode.instances.get(w, 2)
        if w.startswith("bfcl_"):
            folder, source = find_bfcl_data()
            info["bfcl_source"] = source
            if folder is None:
                _stderr(f"bench: skipping {w}: {source}")
                info.setdefault("skipped", []).append(w)
                continue
            insts, ts, dropped = bfcl_instances(folder, w.removeprefix("bfcl_"), n)
            info[f"{w}_dropped_before_{n}"] = dropped
            names = {t["name"] for t in tools}
            tools += [t for t in ts if t["name"] not in names]
            out[w] = insts
        else:
            out[w] = wiki_instances(w, n)
    if tools:
        (work / "bfcl_tools.json").write_text(json.dumps(tools))
    return out, tools, info


def _profile(workload: str) -> str:
    return PAPER.get(workload, {}).get("profile", "gpt-3.5")


async def bench(
    quick: bool = False,
    out: str | os.PathLike[str] = "bench-out",
    config: Config | None = None,
    *,
    workloads: Sequence[str] | None = None,
    instances: int | None = None,
    bridge_cost: bool = True,
    charts: bool = True,
    time_scale: float | None = None,
    tool_ms: tuple[float, float] | None = None,
    ttft_s: dict[str, float] | None = None,
) -> int:
    """Run the benchmark, write `out/bench.md`, `out/bench.json` and the charts; 0 when the
    strategies agreed on every answer and nothing failed, 1 otherwise.

    `tool_ms` replaces the tool latency range; `ttft_s` fixes each profile's time to first token
    instead of calibrating it (for sensitivity runs: the same model, another tool speed)."""
    mode = QUICK if quick else FULL
    if instances is not None:
        mode = Mode(mode.name, mode.time_scale, {w: instances for w in ALL_WORKLOADS}, mode.overhead_ns,
                    mode.overhead_repeats, mode.load_clients, mode.load_requests, mode.catalog_sizes)
    if time_scale is not None:
        mode = Mode(mode.name, time_scale, mode.instances, mode.overhead_ns, mode.overhead_repeats,
                    mode.load_clients, mode.load_requests, mode.catalog_sizes)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    chosen = tuple(workloads or ALL_WORKLOADS)
    setup = LatencySetup(time_scale=mode.time_scale)
    if tool_ms is not None:
        setup.tool_ms = tool_ms
    for name, value in (ttft_s or {}).items():
        if name not in setup.profiles:
            raise ValueError(f"unknown profile {name!r} in ttft_s: use {', '.join(setup.profiles)}")
        setup.profiles[name] = replace(setup.profiles[name], ttft_s=value)
    _stderr(f"bench: {mode.name} mode, time scale {mode.time_scale}, workloads {', '.join(chosen)}")

    by_workload, bfcl_tools, info = build_instances(mode, chosen, outdir)
    base = config or default_config()
    missing = [s for s in ("wiki", "math") if s not in base.servers]
    if missing:
        _stderr(f"bench: the config lacks the {', '.join(missing)} server(s) the workloads use; using the default servers")
        base = default_config()
    servers = dict(base.mcp_servers)
    if bfcl_tools:
        servers["bfcl"] = _bfcl_server(outdir / "bfcl_tools.json")
    cfg = _with_env(base.model_copy(update={"mcp_servers": servers}),
                    {LATENCY_ENV: setup.tool_env(), SEED_ENV: str(setup.seed)})

    model = GroundTruthModel(setup)
    results: dict[str, list[dict[str, Any]]] = {}
    calibration: dict[str, Any] = {}
    example_spans: dict[str, Any] = {}
    from mcp_compiler.llm.openai import OpenAILLM

    async with SimulatedLLM(responder=model, latency=LatencyModel(seed=setup.seed)) as sim, UpstreamPool(cfg) as pool:
        bad = [s for s in pool.status() if not s.connected]
        if bad:
            _stderr(f"bench: servers not connected: {', '.join(f'{s.name} ({s.last_error})' for s in bad)}")
            return 1
        llm = OpenAILLM("sim-gpt", base_url=sim.base_url_openai, api_key="sim",
                        timeouts=Timeouts(total=600, first_token=300, idle=300), max_retries=0)
        limits = limits_from(cfg)
        boxes: dict[str, SubsetToolbox] = {}
        for insts in by_workload.values():
            for inst in insts:
                box = boxes[inst.question] = SubsetToolbox(pool, inst.tools)
                model.add(inst, box.specs(), _profile(inst.workload))

        # Calibration probe: ReAct at zero model latency gives each call's tokens (tools run as set).
        scale, setup.time_scale = setup.time_scale, 0.0
        probes: dict[str, list[dict[str, Any]]] = {}
        for w in ("hotpot", "movie", "parallelqa") if not ttft_s else ():  # a fixed ttft needs no fit
            for inst in by_workload.get(w, []):
                o = await run_strategy("react", inst.question, boxes[inst.question], llm, limits, 120)
                probes.setdefault(w, []).append({"calls": o.calls, "tools": o.tool_calls})
        first = next(iter(by_workload.values()))[0]
        for s in STRATEGIES:  # warm-up of every code path, untimed
            await run_strategy(s, first.question, boxes[first.question], llm, limits, 120)
        setup.time_scale = scale
        targets = {w: (PAPER[w]["profile"], PAPER[w]["react_s"]) for w in probes}
        calibration = calibrate(setup, probes, targets)  # no probes (ttft given): nothing to fit
        _stderr("bench: latency model " + json.dumps(setup.describe()))

        for w, insts in by_workload.items():
            rows = results.setdefault(w, [])
            for i, inst in enumerate(insts):
                outcomes: dict[str, Outcome] = {}
                for s in STRATEGIES:
                    outcomes[s] = await run_strategy(s, inst.question, boxes[inst.question], llm, limits,
                                                     timeout_s=max(60.0, 300 * mode.time_scale))
                answers = {s: o.answer for s, o in outcomes.items()}
                agree = len(set(answers.values())) == 1 and None not in answers.values()
                rows.append({"question": inst.question, "agree": agree,
                             "outcomes": {s: o.to_dict() for s, o in outcomes.items()}})
                _stderr(f"bench: {w} #{i + 1}: " + ", ".join(
                    f"{s} {o.wall_s:.2f}s" + (f" ERROR {o.error}" if o.error else "") for s, o in outcomes.items())
                    + ("" if agree else f"  ANSWERS DIFFER: {answers}"))
                # Saved as it goes: a failure later (or ^C) does not lose what was measured.
                (outdir / "bench.partial.json").write_text(json.dumps(results, default=str))
                if w not in example_spans and (w == "movie" or not example_spans):
                    example_spans[w] = {s: outcomes[s].to_dict()["spans"] for s in ("react", "compiler_stream")}
                    example_spans[w]["question"] = inst.question
        await llm.aclose()

    bridge_results: dict[str, Any] = {}
    if bridge_cost:
        _stderr("bench: bridge overhead (no-op server, direct SDK vs run_plan vs compile_and_run)")
        try:
            bridge_results["overhead"] = await bridge.overhead(outdir, mode.overhead_ns, mode.overhead_repeats)
        except Exception as exc:  # noqa: BLE001 - reported, the rest of the report still matters
            bridge_results["overhead_error"] = f"{type(exc).__name__}: {exc}"
        _stderr("bench: load over Streamable HTTP")
        try:
            bridge_results["load"] = await bridge.load(outdir, mode.load_clients, mode.load_requests)
        except Exception as exc:  # noqa: BLE001
            bridge_results["load_error"] = f"{type(exc).__name__}: {exc}"
        try:
            bridge_results["prompt_size"] = bridge.prompt_sizes(mode.catalog_sizes, bfcl_tools)
        except Exception as exc:  # noqa: BLE001
            bridge_results["prompt_size_error"] = f"{type(exc).__name__}: {exc}"

    data = {
        "mode": mode.name, "command": "python -m benchmarks.bench" + (" --quick" if quick else ""),
        "machine": machine(), "latency_model": setup.describe(), "calibration": calibration,
        "bfcl": {"version": BFCL_VERSION, **info}, "results": results, "example_spans": example_spans,
        "bridge": bridge_results, "elapsed_s": round(time.perf_counter() - started, 1),
    }
    summary = write_report(data, outdir, charts=charts)
    _stderr(summary["markdown_path"] + " written" + ("" if summary["charts"] else f" (charts skipped: {summary['charts_note']})"))
    print(summary["markdown"])
    return 0 if summary["ok"] else 1


def _range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        pair = (float(low), float(high if sep else low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW-HIGH in ms, e.g. 200-600") from None
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return pair


def _ttft(text: str) -> dict[str, float]:
    out = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in DEFAULT_PROFILES:
            raise argparse.ArgumentTypeError(f"unknown profile {name.strip()!r}: use {', '.join(DEFAULT_PROFILES)}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not PROFILE=SECONDS, e.g. gpt-3.5=1.4") from None
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description="mcp-compiler benchmarks")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default="bench-out")
    p.add_argument("--workloads", help="comma-separated subset of " + ",".join(ALL_WORKLOADS))
    p.add_argument("--instances", type=int)
    p.add_argument("--no-bridge", action="store_true")
    p.add_argument("--time-scale", type=float)
    p.add_argument("--tool-ms", metavar="LOW-HIGH", type=_range, help="tool latency range (default 200-600)")
    p.add_argument("--ttft", metavar="PROFILE=S,...", type=_ttft,
                   help="fix the time to first token (e.g. gpt-3.5=1.419,gpt-4=4.163) instead of calibrating")
    p.add_argument("--planner-prompt-tokens", type=int, metavar="N",
                   help=f"the planner prompt's budget, beyond which tools are retrieved (default "
                        f"{strategies.PLANNER_PROMPT_TOKENS}, compiler.planner_prompt_tokens)")
    a = p.parse_args(argv)
    if a.planner_prompt_tokens is not None:
        strategies.PLANNER_PROMPT_TOKENS = a.planner_prompt_tokens
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    code = anyio.run(lambda: bench(a.quick, a.out, workloads=a.workloads.split(",") if a.workloads else None,
                                   instances=a.instances, bridge_cost=not a.no_bridge, time_scale=a.time_scale,
                                   tool_ms=a.tool_ms, ttft_s=a.ttft))
    raise SystemExit(code)
