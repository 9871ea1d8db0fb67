"""`mcp-compiler bench`: a smoke run of --quick on a tiny workload (no timing assertions), and the
pieces that decide what the strategies are shown: the BFCL conversion and the simulated model."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import ROOT
from benchmarks.lab import bench
from benchmarks.lab.bfcl import _instance, convert_schema
from benchmarks.lab.bridge import overhead, prompt_sizes
from benchmarks.lab.report import TABLE_COLUMNS
from benchmarks.lab.runner import _range, _ttft
from benchmarks.lab.stats import percentile
from benchmarks.lab.strategies import STRATEGIES

pytestmark = pytest.mark.anyio


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_quick_bench_on_a_tiny_workload_writes_tables_and_the_strategies_agree(tmp_path) -> None:
    code = await bench(quick=True, out=tmp_path, workloads=["hotpot", "chain"], instances=1,
                       bridge_cost=False, time_scale=0.03)
    data = json.loads((tmp_path / "bench.json").read_text())
    md = (tmp_path / "bench.md").read_text()
    assert code == 0
    for workload in ("hotpot", "chain"):
        (row,) = data["results"][workload]
        answers = {s: row["outcomes"][s]["answer"] for s in STRATEGIES}
        assert row["agree"] and len(set(answers.values())) == 1 and None not in answers.values(), answers
        assert all(row["outcomes"][s]["error"] is None for s in STRATEGIES)
        # ReAct makes one LLM call per step; LLMCompiler plans once and joins once.
        assert row["outcomes"]["react"]["llm_calls"] == row["outcomes"]["react"]["tool_calls"] + 1
        assert row["outcomes"]["compiler_stream"]["llm_calls"] == 2
        assert row["outcomes"]["compiler_project"]["llm_calls"] == 1  # join(VALUE, ...): no joiner
    assert "| " + " | ".join(TABLE_COLUMNS) + " |" in md
    assert "ttft_s (calibrated)" in md and "hotpot" in data["calibration"]
    assert (tmp_path / "latency.png").exists() or "Charts skipped" in md


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_sensitivity_run_holds_the_given_ttft_and_tool_speed_instead_of_calibrating(tmp_path) -> None:
    code = await bench(quick=True, out=tmp_path, workloads=["hotpot"], instances=1, bridge_cost=False,
                       charts=False, time_scale=0.03, tool_ms=(40.0, 40.0), ttft_s={"gpt-3.5": 0.25})
    data = json.loads((tmp_path / "bench.json").read_text())
    assert code == 0 and data["calibration"] == {}
    assert data["latency_model"]["profiles"]["gpt-3.5"]["ttft_s"] == 0.25
    assert data["latency_model"]["tool_latency_ms"] == {"distribution": "uniform", "low": 40.0, "high": 40.0}
    assert "## Calibration" not in (tmp_path / "bench.md").read_text()


def test_the_sensitivity_flags_are_checked_before_anything_runs() -> None:
    assert _range("200-600") == (200.0, 600.0) and _range("50") == (50.0, 50.0)
    assert _ttft("gpt-3.5=1.2,gpt-4=3") == {"gpt-3.5": 1.2, "gpt-4": 3.0}
    for bad in ("fast", "600-200", "-5"):
        with pytest.raises(argparse.ArgumentTypeError):
            _range(bad)
    for bad in ("gpt-5=1", "gpt-4=soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            _ttft(bad)


def test_bfcl_types_become_json_schema() -> None:
    schema = convert_schema({"type": "dict", "properties": {
        "x": {"type": "float"}, "pair": {"type": "tuple", "items": {"type": "integer"}}, "v": {"type": "any"}},
        "required": ["x"]})
    assert schema == {"type": "object", "required": ["x"], "properties": {
        "x": {"type": "number"}, "pair": {"type": "array", "items": {"type": "integer"}}, "v": {}}}


def test_bfcl_ground_truth_becomes_a_parallel_plan_leaving_out_omittable_arguments() -> None:
    question = {"id": "parallel_0", "question": [[{"role": "user", "content": "Play A and B."}]], "function": [
        {"name": "spotify.play", "description": "Play.", "parameters": {"type": "dict", "properties": {
            "artist": {"type": "string"}, "duration": {"type": "integer"}}, "required": ["artist"]}}]}
    truth = [{"spotify.play": {"artist": ["A"], "duration": [20]}}, {"spotify.play": {"artist": ["B"], "duration": ["", 5]}}]
    inst, tools = _instance(question, truth, "parallel")
    assert [t["name"] for t in tools] == ["spotify_play"]
    assert '1. bfcl.spotify_play(artist="A", duration=20)' in inst.plan
    assert '2. bfcl.spotify_play(artist="B")\n' in inst.plan


def test_planner_prompt_grows_with_the_catalog() -> None:
    rows = prompt_sizes([10, 100])
    assert rows[0]["planner_prompt_tokens"] < rows[1]["planner_prompt_tokens"]


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 90) == 5


def test_pin_runs_a_module_on_the_cpus_given(tmp_path: Path) -> None:
    (tmp_path / "where.py").write_text("import os, sys\nprint(sorted(os.sched_getaffinity(0)), sys.argv[1:])\n")
    cpu = min(os.sched_getaffinity(0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "benchmarks.pin", str(cpu), "where", "a", "b"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"[{cpu}] ['a', 'b']"
    assert "RuntimeWarning" not in out.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_overhead_rows_split_compile_and_run_into_engine_and_hop(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    rows = await overhead(tmp_path, [1, 4], repeats=3, timeout_s=120)
    assert os.sched_getaffinity(0) == before  # the pinning is undone
    assert [r["n"] for r in rows] == [1, 4]
    for r in rows:
        assert r["pinned"] == (len(os.sched_getaffinity(0)) >= 2)
        assert r["direct_ms"] > 0 and r["run_plan_ms"] > 0
        # The engine's time is part of what the caller waited for; the hop is the rest.
        assert 0 < r["server_engine_ms"] < r["server_ms"]
        assert r["server_hop_ms"] == pytest.approx(r["server_ms"] - r["server_engine_ms"], abs=0.02)
        assert r["server_ratio"] == pytest.approx(r["server_ms"] / r["direct_ms"], abs=0.02)  # both rounded
