"""`python -m benchmarks.tokens`: a full run over real stdio sessions (the bundled servers and four
stub servers of 250 tools each directly, and `mcp-compiler serve` in front of the bundled servers,
with and without the stubs). Token counts are deterministic, so no timing here."""

from __future__ import annotations

import pytest

from benchmarks.tokens import RIVERS, TASKS, measure, prompt_table, read_over_turns, tasks_table, without_projection

pytestmark = pytest.mark.anyio


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_the_three_strategies_agree_and_projection_sends_the_least_on_the_fan_out() -> None:
    report = await measure()  # raises when a task's three answers disagree, or a reply beside the catalog differs
    rows, definitions = report.rows, report.definitions
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
    small, large = definitions["bundled"], definitions["catalog"]
    assert (small["tools"], large["tools"]) == (11, 1011)
    assert large["a"] > 10 * large["b"] and large["b"] < 2 * small["b"]  # compile_and_run lists a subset
    # Over its turns, with the definitions re-read each turn, the host calling 1,011 tools itself
    # reads far more than one compile_and_run.
    assert read_over_turns(fan_out.tallies["a"], large["a"]) > 10 * read_over_turns(fan_out.tallies["b"], large["b"])
    table = tasks_table(rows)
    assert table.count("\n") == 1 + len(TASKS) and f"| {fan_out.calls} | {a:,} | {b:,} | {c:,} |" in table


def test_the_bare_join_variant_keeps_the_plan_and_drops_only_the_projection() -> None:
    plain = without_projection(RIVERS.plan)
    assert plain.splitlines()[:-1] == RIVERS.plan.splitlines()[:-1]
    assert plain.endswith("\njoin()") and RIVERS.plan.splitlines()[-1].startswith("join(\"$2[*]")


def test_the_planner_prompt_table_has_a_row_per_catalog_size_and_retrieval_cuts_the_largest() -> None:
    table = prompt_table()
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    assert [cells[0].strip() for cells in rows] == ["10", "100", "1,000"]
    listed, retrieved = (int(rows[-1][i].split()[0].replace(",", "")) for i in (1, 2))
    assert retrieved < listed
