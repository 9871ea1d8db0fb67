"""Size budgets, in process: references cannot multiply data without bound, and results are
bounded too (the same attack over a real stdio upstream, with its peak memory measured, is in
tests/e2e/test_budgets_e2e.py)."""

from __future__ import annotations

import json

import pytest

from mcp_compiler import execute
from mcp_compiler.language.plan import measure


async def concat(a: str, b: str) -> str:
    return a + b


async def big(n: int) -> str:
    return "x" * n


def doubling_plan(tasks: int, seed: str = "ab" * 512) -> str:
    lines = [f'1. concat("{seed}", "")']
    lines += [f"{i}. concat(a=${i - 1}, b=${i - 1})" for i in range(2, tasks + 1)]
    return "\n".join(lines) + "\njoin()"


@pytest.mark.anyio
async def test_doubling_through_references_stops_at_the_value_limit() -> None:
    run = await execute(doubling_plan(17), tools={"concat": concat}, max_value_bytes=2**20)
    statuses = [t.status for t in run.tasks]
    # 1 KiB doubles each step: task 11 would take 1 MiB + 2 KiB, over the 1 MiB limit.
    assert statuses[:10] == ["ok"] * 10
    assert run.task(11).status == "error"
    assert run.task(11).error == (
        "arguments too large: over 1 MiB once their references are resolved (the limit per value, "
        "compiler.max_value_bytes); nothing was called"
    )
    assert all(t.status == "skipped" for t in run.tasks[11:])


@pytest.mark.anyio
async def test_a_string_splicing_a_result_many_times_is_refused_before_it_is_built() -> None:
    splices = "$1" * 5000
    plan = f'1. big(100000)\n2. concat("{splices}", "")\njoin()'
    run = await execute(plan, tools={"big": big, "concat": concat}, max_value_bytes=2**20)
    assert run.task(1).status == "ok"
    assert run.task(2).status == "error" and "arguments too large" in run.task(2).error


@pytest.mark.anyio
async def test_a_result_over_the_value_limit_is_dropped_and_the_run_limit_holds() -> None:
    run = await execute('1. big(2000000)\n2. big(10)\njoin()', tools={"big": big}, max_value_bytes=2**20)
    assert run.task(1).status == "error" and run.task(1).result is None
    assert run.task(1).error == (
        "result too large: over 1 MiB (the limit per value, compiler.max_value_bytes); the result was dropped"
    )
    assert run.task(2).status == "ok"
    plan = "\n".join(f"{i}. big({600_000 + i})" for i in range(1, 6)) + "\njoin()"
    run = await execute(plan, tools={"big": big}, max_value_bytes=2**20, max_run_bytes=2 * 2**20)
    # Three results fit in 2 MiB; a dropped one does not count against the rest.
    assert sorted(t.status for t in run.tasks) == ["error", "error", "ok", "ok", "ok"]
    assert all("compiler.max_run_bytes" in t.error for t in run.tasks if t.status == "error")


def test_measuring_a_huge_value_stops_just_past_the_limit() -> None:
    huge = ["x" * 1000] * 1_000_000  # about 1 GB as JSON
    assert 10_000 < measure(huge, 10_000) < 12_000
    assert measure({"a": [1, "bc", None]}, 10**9) == json_size_bound({"a": [1, "bc", None]})


def json_size_bound(value: object) -> int:
    # The estimate is close to the compact JSON size for small values (within a few bytes per item).
    exact = len(json.dumps(value, separators=(",", ":")))
    estimate = measure(value, 10**9)
    assert abs(estimate - exact) <= 12
    return estimate
