"""Static checks (checks.py) hold every plan to the same rules, whether it was parsed from text, given
in the JSON form or built in code, whole or one streamed task at a time."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest

from mcp_compiler import FunctionToolbox, Plan, PlanError, PlanParser, Ref, Task, check_plan, execute, parse_plan
from mcp_compiler.checks import PlanChecker
from mcp_compiler.plan import Template, template

pytestmark = pytest.mark.anyio


async def f(x: Any = None) -> Any:
    return x


BOX = FunctionToolbox({"f": f})
SPECS = BOX.specs()

# Each bad plan three ways: built in code, as plan text (with where the error points), as JSON.
BAD = {
    "cycle": (
        [Task(1, "f", [Ref(2)]), Task(2, "f", [Ref(1)])],
        "1. f($2)\n2. f($1)", (1, 1),
        "task 1 refers to $2, which is not an earlier task",
    ),
    "forward reference": (
        [Task(1, "f", [1]), Task(2, "f", [Ref(3, ("value",))]), Task(3, "f", [3])],
        "1. f(1)\n2. f($3.value)\n3. f(3)", (2, 1),
        "task 2 refers to $3, which is not an earlier task",
    ),
    "self reference": (
        [Task(1, "f", [{"a": [Ref(1)]}])],
        '1. f({"a": [$1]})', (1, 1),
        "task 1 refers to $1, which is not an earlier task",
    ),
    "duplicate ID": (
        [Task(1, "f", [1]), Task(1, "f", [2])],
        "1. f(1)\n1. f(2)", (2, 1),
        "duplicate task number 1: numbers must increase (last was 1)",
    ),
    "decreasing IDs": (
        [Task(2, "f"), Task(1, "f")],
        "2. f()\n1. f()", (2, 1),
        "out-of-order task number 1: numbers must increase (last was 2)",
    ),
    "missing task": (
        [Task(1, "f", [1]), Task(2, "f", [Ref(9)])],
        "1. f(1)\n2. f($9)", (2, 1),
        "task 2 refers to $9, which is not an earlier task",
    ),
    "reference inside a string": (
        [Task(1, "f", [1]), Task(3, "f", [template(["total: ", Ref(2)])])],
        '1. f(1)\n3. f("total: ${2}")', (2, 1),
        "task 3 refers to $2, which is not an earlier task",
    ),
}


def _json(text: str) -> str:
    """The JSON form of a plan text."""
    tasks = [{"id": t.id, "tool": t.tool, "args": [_json_value(a) for a in t.args]} for t in parse_plan(text).tasks]
    return json.dumps({"tasks": tasks})


def _json_value(value: Any) -> Any:
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else "${" + str(p)[1:] + "}" for p in value.parts)
    return value


def _error(plan: Any, **kwargs: Any) -> PlanError:
    with pytest.raises(PlanError) as caught:
        check_plan(plan, SPECS, **kwargs)
    return caught.value


@pytest.mark.parametrize("case", list(BAD))
def test_a_plan_built_in_code_fails_its_check_with_the_message_a_parsed_one_gets(case: str) -> None:
    tasks, text, where, message = BAD[case]
    in_code = _error(Plan(tasks=tasks))
    assert (in_code.message, in_code.line, in_code.column) == (message, None, None)
    assert str(in_code) == message
    assert _error(tasks).message == message  # a bare list of tasks too

    parse_plan(text)  # the parser checks syntax only ...
    parsed = _error(parse_plan(text))  # ... and check_plan says the same, pointing at the task
    assert (parsed.message, parsed.line, parsed.column) == (message, *where)
    assert str(parsed) == f"line {where[0]}, column {where[1]}: {message}"

    as_json = _error(parse_plan(_json(text)))
    assert (as_json.message, as_json.line) == (message, None)


def test_a_task_built_in_code_with_a_position_gets_it_in_the_error() -> None:
    err = _error([Task(1, "f", line=3, column=5), Task(1, "f", line=4, column=1)])
    assert (err.line, err.column) == (4, 1) and str(err).startswith("line 4, column 1: duplicate task number 1")


async def test_a_cycle_built_in_code_fails_at_once_instead_of_waiting_for_the_run_deadline() -> None:
    calls: list[Any] = []

    async def g(x: Any = None) -> Any:
        calls.append(x)
        return x

    plan = Plan(tasks=[Task(1, "g", [0]), Task(2, "g", [Ref(3)]), Task(3, "g", [Ref(2)])])
    started = time.perf_counter()
    with anyio.fail_after(5), pytest.raises(PlanError, match=r"task 2 refers to \$3, which is not an earlier task"):
        await execute(plan, tools={"g": g})
    assert time.perf_counter() - started < 0.5
    assert calls == []  # nothing ran, not even the task that was fine


def test_ids_may_skip_numbers_and_later_rounds_continue_after_earlier_ones() -> None:
    assert [b.id for b in check_plan(parse_plan("1. f(1)\n3. f($1)\n10. f($3)"), SPECS)] == [1, 3, 10]
    # A replan: its numbering goes on after the earlier rounds' IDs and it may refer to them.
    assert [b.id for b in check_plan(parse_plan("4. f($2)\n", known_ids=[1, 2, 3]), SPECS)] == [4]
    assert [b.id for b in check_plan([Task(4, "f", [Ref(2)])], SPECS, known_ids=[1, 2, 3])] == [4]
    assert _error(parse_plan("3. f()", known_ids=[1, 2, 3])).message.startswith("duplicate task number 3")
    assert _error([Task(3, "f")], known_ids=[1, 2, 4]).message == (
        "out-of-order task number 3: numbers must increase (last was 4)"
    )
    assert _error([Task(5, "f", [Ref(4)])], known_ids=[1, 2, 3]).message == (
        "task 5 refers to $4, which is not an earlier task"
    )


def test_the_checks_run_in_plan_order_and_stop_at_the_first_bad_task() -> None:
    err = _error(parse_plan("1. f($2)\n2. nosuch(1)"))
    assert "task 1 refers to $2" in err.message  # task 1's reference, before task 2's tool
    err = _error(parse_plan("1. nosuch(1)\n2. f($3)"))
    assert "unknown tool 'nosuch'" in err.message and err.line == 1


def test_a_streamed_plan_is_checked_task_by_task_with_the_same_checker() -> None:
    parser, checker = PlanParser(), PlanChecker(SPECS, known_ids=[1])
    bound = [checker.check(t) for t in parser.feed("2. f($1)\n3. f(")]
    assert [b.id for b in bound] == [2]  # checked while task 3 is still being written
    bound += [checker.check(t) for t in parser.feed("$2)\n")]
    assert [b.id for b in bound] == [2, 3]
    (late,) = parser.feed("4. f($5)\n")
    with pytest.raises(PlanError, match=r"task 4 refers to \$5, which is not an earlier task") as caught:
        checker.check(late)
    assert (caught.value.line, caught.value.column) == (3, 1)


def test_positional_arguments_bind_in_the_order_the_catalog_shows() -> None:
    from mcp_compiler.catalog import param_list
    from mcp_compiler.tools import ToolSpec

    # `required` lists b before a; the schema's properties list a first: both follow the properties.
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {}},
              "required": ["b", "a"]}
    spec = ToolSpec("t.f", input_schema=schema)
    assert spec.parameters == ["a", "b", "c"]
    assert [entry.split(":")[0] for entry in param_list(schema)] == ["a", "b", "c?"]


def test_task_numbers_start_at_one() -> None:
    from mcp_compiler import FunctionToolbox, check_plan, parse_plan

    async def f(x: int) -> int:
        return x

    with pytest.raises(PlanError) as info:
        check_plan(parse_plan("0. f(1)"), FunctionToolbox({"f": f}).specs())
    assert str(info.value) == "line 1, column 1: task number 0: task numbers start at 1"
