"""`python -m benchmarks.tokens`: a full run over real stdio sessions (the bundled servers directly,
and `mcp-compiler serve` in front of them). Token counts are deterministic, so no timing here."""

from __future__ import annotations

import pytest

from benchmarks.tokens import RIVERS, TASKS, catalog_definitions, measure, prompt_table, tasks_table, without_projection

pytestmark = pytest.mark.anyio


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_the_three_strategies_agree_and_projection_sends_the_least_on_the_fan_out() -> None:
    rows, definitions = await measure()  # raises when a task's three answers disagree
    assert [row.task for row in rows] == [task.name for task in TASKS]
    for row in rows:
        assert row.answers["a"] == row.answers["b"] == row.answers["c"], row.answers
        assert row.answers["a"] not in (None, (), "", 0)
    fan_out = next(row for row in rows if row.task == RIVERS.name)
    assert fan_out.calls == 21  # one search, then one look-up per hit
    assert len(fan_out.answers["a"]) == 3 and all(isinstance(name, str) for name in fan_out.answers["a"])
    a, b, c = (fan_out.tallies[s].calls_and_text for s in "abc")
    assert b < c < a, (a, b, c)
    # The host that calls each tool re-reads earlier results on every turn after them.
    assert fan_out.tallies["a"].over_turns > a
    assert definitions["tools"] == 11 and definitions["a"] > 0 and definitions["b"] > 0
    table = tasks_table(rows)
    assert table.count("\n") == 1 + len(TASKS) and f"| {fan_out.calls} | {a:,} | {b:,} | {c:,} |" in table


def test_the_bare_join_variant_keeps_the_plan_and_drops_only_the_projection() -> None:
    plain = without_projection(RIVERS.plan)
    assert plain.splitlines()[:-1] == RIVERS.plan.splitlines()[:-1]
    assert plain.endswith("\njoin()") and RIVERS.plan.splitlines()[-1].startswith("join(\"$2[*]")


def test_a_thousand_tools_cost_the_host_far_more_listed_than_behind_compile_and_run() -> None:
    catalog = catalog_definitions()
    assert catalog["tools"] == 1000
    assert catalog["a"] > 10 * catalog["b"]
    assert prompt_table().count("\n") == 4  # header, rule, 10 / 100 / 1,000 tools
