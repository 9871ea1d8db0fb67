"""What counts as an identical call, which a run makes once for a read-only or idempotent tool
(README, "Execution"): the same tool with the same arguments by name, compared as JSON would
compare them, so `1`, `1.0`, `True` and `"1"` are four different calls, and an object nested in
an argument compares with its key order. `plan.arguments_key` is that definition; the scheduler
and a spread both use it."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_compiler import execute
from mcp_compiler.language.plan import arguments_key

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "values",
    [
        [1, 1.0, True, "1"],
        [0, 0.0, False, "0", None, ""],
        [[1, 2], [2, 1], [1.0, 2], "[1, 2]"],
        [{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1.0, "b": 2}],
    ],
)
def test_values_that_differ_as_json_make_different_keys(values: list[Any]) -> None:
    keys = [arguments_key({"x": value, "y": 0}) for value in values]
    assert len(set(keys)) == len(values), keys


def test_equal_arguments_make_one_key_whatever_order_they_are_named_in() -> None:
    assert arguments_key({"x": 1, "y": [1, {"a": "b"}]}) == arguments_key({"y": [1, {"a": "b"}], "x": 1})
    assert arguments_key({"x": {"a": 1}}) == arguments_key({"x": {"a": 1}})
    assert arguments_key({}) == arguments_key({})


def test_a_nested_object_compares_with_its_key_order() -> None:
    assert arguments_key({"x": {"a": 1, "b": 2}}) != arguments_key({"x": {"b": 2, "a": 1}})


async def test_the_scheduler_calls_once_per_identical_call_and_once_per_different_one() -> None:
    calls: list[Any] = []

    async def look(x: Any, y: Any = None) -> Any:
        calls.append((x, y))
        return x

    look.read_only = True  # type: ignore[attr-defined]
    plan = "\n".join([
        "1. look(1)", "2. look(1.0)", "3. look(True)", '4. look("1")',  # four calls
        "5. look(1)",  # the same as 1: shared
        '6. look({"a": 1, "b": 2})', '7. look({"b": 2, "a": 1})',  # nested key order: two calls
        "8. look(x=2, y=3)", "9. look(y=3, x=2)",  # the same arguments named in another order: one call
    ])
    run = await execute(plan, {"look": look})
    assert run.ok, [(t.id, t.error) for t in run.tasks]
    shared = {t.id: t.deduplicated_from for t in run.tasks if t.deduplicated_from is not None}
    assert shared == {5: 1, 9: 8}
    assert len(calls) == 7
    assert [type(x) for x, _ in calls[:4]] == [int, float, bool, str]


async def test_a_spreads_elements_are_identical_calls_by_the_same_rule() -> None:
    calls: list[Any] = []

    async def items() -> list[Any]:
        return [1, 1.0, True, "1", 1, {"a": 1, "b": 2}, {"b": 2, "a": 1}]

    async def look(x: Any) -> Any:
        calls.append(x)
        return x

    look.read_only = True  # type: ignore[attr-defined]
    run = await execute("1. items()\n2. look($1[*])", {"items": items, "look": look})
    task = run.tasks[1]
    assert task.status == "ok", task.error
    assert task.calls is not None
    assert {c.index: c.deduplicated_from for c in task.calls if c.deduplicated_from is not None} == {4: 0}
    assert len(calls) == 6
