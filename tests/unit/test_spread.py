"""Spread tasks (`$N.path[*]`: one call per element of a list) and answer projection (`join(VALUE, ...)`).

The tools here are a small in-process toolbox with hand-written specs (output schemas and
annotations, as an MCP server declares them); the end-to-end tests over real stdio servers are in
tests/test_spread_e2e.py.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from mcp_compiler import PlanError, check_plan, parse_plan
from mcp_compiler.compiler import Compiler, Event
from mcp_compiler.engine.policy import Limits, ServerLimits
from mcp_compiler.language.plan import Ref
from mcp_compiler.testing import ScriptedLLM
from mcp_compiler.tools.toolbox import ToolError, ToolSpec

pytestmark = pytest.mark.anyio

ITEM = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}, "required": ["name"]}
LIST_OUT = {"type": "object", "properties": {"items": {"type": "array", "items": ITEM}, "title": {"type": "string"},
                                             "total": {"type": "integer"}}}
FACT_OUT = {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "number"}}}


def _spec(name: str, properties: dict[str, Any], output: dict[str, Any] | None = None, *, read_only: bool = True,
          destructive: bool = False, required: tuple[str, ...] = ()) -> ToolSpec:
    return ToolSpec(name, input_schema={"type": "object", "properties": properties, "required": list(required)},
                    output_schema=output, provider=name.split(".")[0], read_only=read_only, destructive=destructive)


class Box:
    """`data.items(count)` lists items; `data.fact(name)` is slow and counts calls in flight;
    `data.fail(name)` fails for names in `failing`; `store.write(name)` has side effects."""

    SPECS = {s.name: s for s in [
        _spec("data.items", {"count": {"type": "integer"}}, LIST_OUT, required=("count",)),
        _spec("data.fact", {"name": {"type": "string"}, "scale": {"type": "number"}}, FACT_OUT, required=("name",)),
        _spec("data.raw", {"what": {}}, None),
        _spec("data.sum", {"values": {"type": "array", "items": {"type": "number"}}}, None, required=("values",)),
        _spec("store.write", {"name": {"type": "string"}}, None, read_only=False),
        _spec("store.drop", {"name": {"type": "string"}}, None, read_only=False, destructive=True),
    ]}

    def __init__(self, delay: float = 0.0, failing: tuple[str, ...] = ()) -> None:
        self.delay, self.failing = delay, failing
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.in_flight = 0
        self.peak: dict[str, int] = {}
        self.spans: list[tuple[str, float, float]] = []

    def specs(self) -> dict[str, ToolSpec]:
        return self.SPECS

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        self.calls.append((spec.name, arguments))
        if spec.name == "data.items":
            return {"items": [{"name": f"n{i}", "n": i} for i in range(arguments["count"])], "title": "t",
                    "total": arguments["count"]}
        if spec.name == "data.raw":
            return arguments.get("what")
        if spec.name == "data.sum":
            return sum(arguments["values"])
        self.in_flight += 1
        self.peak[spec.name] = max(self.peak.get(spec.name, 0), self.in_flight)
        start = anyio.current_time()
        try:
            await anyio.sleep(self.delay)
            name = arguments.get("name")
            if name in self.failing:
                raise ToolError(f"no entry {name!r}")
            digits = str(name).lstrip("xn")
            return {"name": name, "value": (int(digits) if digits.isdigit() else len(digits)) * arguments.get("scale", 1)}
        finally:
            self.in_flight -= 1
            self.spans.append((str(arguments.get("name")), start, anyio.current_time()))


def _compiler(box: Box, **limits: Any) -> Compiler:
    return Compiler(box, Limits(**limits))


# ---- running ----------------------------------------------------------------------------------------

async def test_a_spread_over_50_elements_runs_its_calls_at_once_and_keeps_element_order() -> None:
    box = Box(delay=0.3)
    run = await _compiler(box, max_concurrency=64, max_per_server=64).run_plan(
        '1. data.items(50)\n2. data.fact($1.items[*].name, scale=2)\njoin()'
    )
    task = run.task(2)
    assert task.status == "ok", task.error
    assert task.result == [{"name": f"n{i}", "value": 2 * i} for i in range(50)]
    assert [c.index for c in task.calls] == list(range(50))
    assert [c.args for c in task.calls] == [{"name": f"n{i}", "scale": 2} for i in range(50)]
    assert all(c.status == "ok" and c.start_s is not None and c.end_s >= c.start_s + 0.25 for c in task.calls)
    # Concurrent: sequential calls would take 50 x 0.3 = 15 s; generous bounds for a shared machine.
    assert box.peak["data.fact"] >= 25
    assert task.end_s - task.start_s < 7.5
    assert task.args == {"name": "$1.items[*].name", "scale": 2}
    # The Run keeps each value once: in the task's result, not in its calls.
    record = run.to_dict()["tasks"][1]
    assert "result" not in record["calls"][0] and record["calls"][3]["args"] == {"name": "n3", "scale": 2}


async def test_element_calls_count_against_the_runs_concurrency_limit() -> None:
    box = Box(delay=0.05)
    run = await _compiler(box, max_concurrency=4, max_per_server=8).run_plan(
        "1. data.items(20)\n2. data.fact($1.items[*].name)"
    )
    assert run.task(2).status == "ok"
    assert box.peak["data.fact"] == 4


async def test_a_failing_element_makes_the_task_an_error_naming_its_index_and_keeps_the_others() -> None:
    box = Box(delay=0.01, failing=("n3", "n7"))
    run = await _compiler(box).run_plan(
        "1. data.items(10)\n2. data.fact($1.items[*].name)\n3. data.sum([$2[0].value])"
    )
    task = run.task(2)
    assert task.status == "error"
    assert task.error.startswith("element 3 of 10 ($1.items[3]) error: no entry 'n3'")
    assert "1 more failed: elements 7" in task.error
    assert [c.status for c in task.calls] == ["ok"] * 3 + ["error"] + ["ok"] * 3 + ["error"] + ["ok"] * 2
    assert task.result[0] == {"name": "n0", "value": 0} and task.result[3] is None and task.result[9]["value"] == 9
    assert len([c for c in box.calls if c[0] == "data.fact"]) == 10  # the others still ran
    assert run.task(3).status == "skipped" and run.task(3).error == "task 2 (data.fact) error; see its error"


async def test_a_spread_over_an_empty_list_is_the_empty_list_with_no_call() -> None:
    box = Box()
    run = await _compiler(box).run_plan("1. data.items(0)\n2. data.fact($1.items[*].name)\n3. data.fact($2[*].name)")
    assert run.task(2).status == "ok" and run.task(2).result == [] and run.task(2).calls == []
    assert run.task(3).status == "ok" and run.task(3).result == [] and run.task(3).calls == []
    assert [c[0] for c in box.calls] == ["data.items"]


async def test_a_spread_over_what_is_not_a_list_at_run_time_names_the_path_and_the_type() -> None:
    box = Box()
    run = await _compiler(box).run_plan('1. data.raw({"a": 1})\n2. data.fact($1.a[*])\n3. data.fact($1.b[*])')
    assert run.task(2).status == "error"
    assert run.task(2).error == "$1.a[*] spreads over a list, but $1.a is a number"
    assert run.task(3).status == "error" and "cannot resolve $1.b" in run.task(3).error
    assert [c[0] for c in box.calls] == ["data.raw"]


async def test_a_spread_longer_than_max_spread_makes_no_call() -> None:
    box = Box()
    run = await _compiler(box, max_spread=5).run_plan("1. data.items(6)\n2. data.fact($1.items[*].name)")
    assert run.task(2).status == "error"
    assert "has 6 elements; a spread makes at most 5 calls (compiler.max_spread)" in run.task(2).error
    assert [c[0] for c in box.calls] == ["data.items"]


async def test_a_spread_of_exactly_max_spread_elements_makes_every_call() -> None:
    box = Box()
    run = await _compiler(box, max_spread=5).run_plan("1. data.items(5)\n2. data.fact($1.items[*].name)")
    assert run.task(2).status == "ok", run.task(2).error
    assert [c[0] for c in box.calls] == ["data.items"] + ["data.fact"] * 5


async def test_a_spread_of_a_spread_tasks_value_and_a_spread_inside_a_string() -> None:
    box = Box()
    run = await _compiler(box).run_plan(
        '1. data.items(3)\n2. data.fact($1.items[*].name)\n3. data.fact("x${2[*].name}", scale=$2[*].value)'
    )
    assert run.task(3).status == "ok", run.task(3).error
    assert [c.args for c in run.task(3).calls] == [{"name": f"xn{i}", "scale": i} for i in range(3)]
    assert run.task(3).args == {"name": "x$2[*].name", "scale": "$2[*].value"}


async def test_several_mentions_of_one_list_are_the_same_element() -> None:
    box = Box()
    run = await _compiler(box).run_plan('1. data.items(3)\n2. data.raw({"a": $1.items[*].name, "b": $1.items[*].n})')
    assert run.task(2).result == [{"a": f"n{i}", "b": i} for i in range(3)]


async def test_element_calls_of_a_tool_with_side_effects_run_one_at_a_time_in_element_order() -> None:
    box = Box(delay=0.05)
    run = await _compiler(box).run_plan("1. data.items(5)\n2. store.write($1.items[*].name)")
    assert run.task(2).status == "ok"
    assert [args["name"] for name, args in box.calls if name == "store.write"] == [f"n{i}" for i in range(5)]
    assert box.peak["store.write"] == 1
    calls = run.task(2).calls
    assert all(calls[i].end_s <= calls[i + 1].start_s for i in range(4))


async def test_ordering_free_lets_a_side_effect_tools_element_calls_overlap() -> None:
    box = Box(delay=0.2)
    compiler = _compiler(box, servers={"store": ServerLimits(ordering="free")})
    run = await compiler.run_plan("1. data.items(5)\n2. store.write($1.items[*].name)")
    assert run.task(2).status == "ok" and box.peak["store.write"] >= 3


async def test_identical_element_calls_to_a_read_only_tool_are_made_once() -> None:
    box = Box()
    run = await _compiler(box).run_plan('1. data.raw(["a", "b", "a", "a"])\n2. data.fact($1[*])')
    assert [args["name"] for name, args in box.calls if name == "data.fact"] == ["a", "b"]
    assert [c.deduplicated_from for c in run.task(2).calls] == [None, None, 0, 0]
    assert [r["name"] for r in run.task(2).result] == ["a", "b", "a", "a"]
    assert all(c.status == "ok" for c in run.task(2).calls)


async def test_a_destructive_tool_is_confirmed_once_per_element_call_with_its_arguments() -> None:
    asked: list[dict[str, Any]] = []

    async def confirm(spec: ToolSpec, arguments: dict[str, Any]) -> bool:
        asked.append(arguments)
        return arguments["name"] != "n1"

    box = Box()
    compiler = Compiler(box, Limits(), destructive="confirm")
    run = await compiler.run_plan("1. data.items(3)\n2. store.drop($1.items[*].name)", confirm=confirm)
    assert asked == [{"name": "n0"}, {"name": "n1"}, {"name": "n2"}]
    assert [c.status for c in run.task(2).calls] == ["ok", "error", "ok"]
    assert "element 1 of 3" in run.task(2).error and "not confirmed" in run.task(2).error
    assert [args["name"] for name, args in box.calls if name == "store.drop"] == ["n0", "n2"]


async def test_each_element_call_is_reported_as_the_tasks_progress() -> None:
    events: list[Event] = []
    box = Box()
    await _compiler(box).run_plan("1. data.items(3)\n2. data.fact($1.items[*].name)", on_event=events.append)
    progress = [e.message for e in events if e.kind == "progress"]
    assert len(progress) == 3
    assert all(m.startswith("task 2 data.fact: ") for m in progress)
    assert sorted(m.split(": ", 1)[1].split(" ")[0] for m in progress) == ["1/3", "2/3", "3/3"]
    assert {m.split(" element ")[1].split(" ")[0] for m in progress} == {"0", "1", "2"}
    assert [e.message for e in events if e.kind == "task" and e.task.id == 2][-1].startswith("task 2 data.fact ok")


# ---- projection ---------------------------------------------------------------------------------

async def test_join_with_values_is_the_answer_with_references_into_a_spread_tasks_value() -> None:
    box = Box()
    run = await _compiler(box).run_plan(
        '1. data.items(3)\n2. data.fact($1.items[*].name, scale=10)\n'
        'join("first: $2[0].name = ${2[0].value}!", $2[2], $1.total, "$2[*].name is $2[*].value")'
    )
    assert run.answer == 'first: n0 = 0!\n{"name":"n2","value":20}\n3\nn0 is 0\nn1 is 10\nn2 is 20'


async def test_a_projection_of_a_failed_task_says_so_in_its_line() -> None:
    box = Box(failing=("n1",))
    run = await _compiler(box).run_plan('1. data.items(2)\n2. data.fact($1.items[*].name)\njoin($1.total, $2[0].value)')
    assert run.answer.splitlines()[0] == "2"
    assert run.answer.splitlines()[1].startswith("(unavailable: task 2 data.fact error: element 1 of 2")


PLAN = '1. data.items(2)\n2. data.fact($1.items[*].name, scale=3)\n{join}\n<END_OF_PLAN>'


async def test_a_query_whose_plan_ends_in_join_values_is_answered_without_the_joiner() -> None:
    llm = ScriptedLLM([PLAN.format(join='join("$2[1].value is the largest")')], chunk_size=7)
    run = await Compiler(Box(), llm=llm).run_query("which is largest?")
    assert run.answer == "3 is the largest"
    assert [u.purpose for u in run.usage] == ["plan"] and len(llm.requests) == 1
    assert run.rounds[0].decision == "finish" and run.rounds[0].projected is True
    assert run.to_dict()["rounds"][0]["projected"] is True


async def test_a_query_with_a_bare_join_or_a_failed_task_asks_the_joiner_as_before() -> None:
    for join, box in (("join()", Box()), ('join("$2[1].value")', Box(failing=("n0",)))):
        llm = ScriptedLLM([PLAN.format(join=join), "Thought: done.\nAction: Finish(joined)"])
        run = await Compiler(box, llm=llm, max_replans=0).run_query("q?")
        assert run.answer == "joined", join
        assert [u.purpose for u in run.usage] == ["plan", "join"]
        assert run.rounds[0].projected is False


async def test_a_query_whose_join_values_do_not_check_asks_the_joiner() -> None:
    llm = ScriptedLLM([PLAN.format(join="join($2.value)"), "Action: Finish(joined)"])
    run = await Compiler(Box(), llm=llm, max_replans=0).run_query("q?")
    assert run.answer == "joined" and [u.purpose for u in run.usage] == ["plan", "join"]


async def test_the_planner_prompt_teaches_spread_and_join_values() -> None:
    llm = ScriptedLLM([PLAN.format(join='join("$2[0].value")')])
    await Compiler(Box(), llm=llm).run_query("q?")
    system = llm.requests[0].system
    assert "$N.path[*]" in system and "join(VALUE, ...)" in system and 'join("$3.value km is longer")' in system


# ---- parsing ------------------------------------------------------------------------------------

def test_spread_references_parse_in_every_spelling_and_round_trip() -> None:
    plan = parse_plan(
        '1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact("a ${2[*].name} b", scale=${2}[*].value)\n'
        '4. data.raw([$3[*]])\njoin("x $2[0].name", $3[*].value)'
    )
    assert plan.tasks[1].args == [Ref(1, ("items",), spread=("name",))]
    assert plan.tasks[2].kwargs["scale"] == Ref(2, (), spread=("value",))
    assert plan.tasks[3].args == [[Ref(3, (), spread=())]]
    assert plan.answer is not None and plan.answer[1] == Ref(3, (), spread=("value",))
    again = parse_plan(plan.to_text())
    assert [t.to_text() for t in again.tasks] == [t.to_text() for t in plan.tasks] and again.answer == plan.answer
    assert plan.to_text().splitlines()[-2] == 'join("x ${2[0].name}", $3[*].value)'


def test_spread_references_parse_the_same_whatever_the_chunks() -> None:
    from mcp_compiler.language.parser import PlanParser

    text = '1. data.items(2)\n2. data.fact($1.items[*].name, "$1.items[*].n")\njoin($2[*].value)\n'
    whole = parse_plan(text)
    parser = PlanParser()
    tasks = [t for ch in text for t in parser.feed(ch)] + parser.close()
    assert tasks == whole.tasks and parser.plan.answer == whole.answer


def test_the_json_form_takes_spreads_in_strings_and_a_join_list() -> None:
    plan = parse_plan(json.dumps({
        "tasks": [{"id": 1, "tool": "data.items", "args": [2]},
                  {"id": 2, "tool": "data.fact", "args": {"name": "$1.items[*].name"}}],
        "join": ["$2[0].value km", "$2"],
    }))
    assert plan.tasks[1].kwargs == {"name": Ref(1, ("items",), spread=("name",))}
    assert plan.answer is not None and plan.answer[1] == Ref(2)
    with pytest.raises(PlanError, match='"join": expected a list of values'):
        parse_plan(json.dumps({"tasks": [{"id": 1, "tool": "f"}], "join": "$1"}))


@pytest.mark.parametrize("text, message", [
    ("1. f($1.a[*][*])", r"one \[\*\] per reference, not 2"),
    ("1. f(1)\njoin(x=$1)", r"join\(\.\.\.\) takes values, not name=value"),
    ('1. f("$1[*].a[*]")', r"one \[\*\] per reference"),
])
def test_bad_spread_and_join_syntax_is_a_plan_error(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_plan(text)


# ---- static checks ------------------------------------------------------------------------------

GOOD = [
    "1. data.items(2)\n2. data.fact($1.items[*].name)",
    '1. data.items(2)\n2. data.fact("$1.items[*].n")',  # an integer's text into a string
    "1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2[0].name, scale=$2[1].value)",
    "1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2[*].name)\n4. data.sum([$3[0].value, 1])",
    "1. data.raw(1)\n2. data.fact($1[*])\n3. data.fact($1.x[*].y)",  # no output schema: no verdict
    '1. data.items(2)\n2. data.fact($1.items[*].name)\njoin("$2[0].value", $2[*].name, $1.title)',
]

BAD = [
    ("1. data.items(2)\n2. data.fact($1.title[*])",
     r"\$1\.title\[\*\]: \$1\.title is a string \(data\.items's output schema\), not a list: \[\*\] spreads over a list"),
    ("1. data.items(2)\n2. data.fact($1[*])", r"\$1\[\*\]: \$1 is an object .* not a list"),
    ("1. data.items(2)\n2. data.fact($1.items[*].nme)",
     r"\$1\.items\[\*\]\.nme: \$1\.items\[\*\] has no field 'nme' \(did you mean name\?\); its fields: name, n"),
    ("1. data.items(2)\n2. data.fact($1.items[*])", r"argument name: \$1\.items\[\*\] is an object .* takes a string"),
    ("1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2.name)",
     r"\$2\.name: \$2 is a list \(task 2 spreads over a list: its value is the list of its calls' values\): "
     r"pick an item first, as in \$2\[0\]\.name"),
    ("1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2[0].valu)",
     r"\$2\[0\]\.valu: \$2\[0\] has no field 'valu' \(did you mean value\?\)"),
    ("1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2)",
     r"argument name: \$2 is a list \(task 2's list of data\.fact values\), but data\.fact takes a string"),
    ("1. data.raw(1)\n2. data.fact($1[*])\n3. data.fact($2.name)", r"\$2\.name: \$2 is a list"),  # even without a schema
    # A spread is one call per element: each call of data.sum would get one number, not the list.
    ("1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.sum($2[*].value)",
     r"argument values: \$2\[\*\]\.value is a number \(data\.fact's output schema\), but data\.sum takes a list"),
    ("1. data.items(2)\n2. data.items(2)\n3. data.raw({\"a\": $1.items[*], \"b\": $2.items[*]})",
     r"spreads over one list only, this one over 2: \$1\.items\[\*\], \$2\.items\[\*\]"),
    ("1. data.items(2)\n2. data.fact($1.items[*].name)\njoin($2.value)", r"^join\(\.\.\.\): \$2\.value: \$2 is a list"),
    ("1. data.items(2)\njoin($3)", r"^join\(\.\.\.\): \$3 refers to \$3, which is not a task of the plan"),
    ("1. data.items(2)\n2. data.items(2)\njoin(\"$1.items[*].name $2.items[*].name\")",
     r"^join\(\.\.\.\): a value of join\(\.\.\.\) spreads over one list only"),
]


@pytest.mark.parametrize("text", GOOD)
def test_spread_paths_that_fit_the_output_schemas_check(text: str) -> None:
    check_plan(parse_plan(text), Box.SPECS)


@pytest.mark.parametrize("text, message", BAD)
def test_spread_paths_the_output_schemas_rule_out_are_plan_errors(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        check_plan(parse_plan(text), Box.SPECS)


async def test_a_spread_plan_that_fails_the_checks_runs_nothing() -> None:
    box = Box()
    with pytest.raises(PlanError):
        await _compiler(box).run_plan("1. data.items(2)\n2. data.fact($1.items[*].name)\n3. data.fact($2.name)")
    assert box.calls == []


def test_a_replan_may_refer_to_an_earlier_spread_task_as_a_list_or_not_without_being_told() -> None:
    from mcp_compiler.language.checks import PlanChecker

    # The planner knows earlier rounds' tasks by tool name only; either shape is accepted.
    for text in ("3. data.fact($2[0].name)", "3. data.fact($2.name)"):
        PlanChecker(Box.SPECS, known_tools={2: "data.fact"}).check(parse_plan(text).tasks[0])
    with pytest.raises(PlanError, match="has no field 'nope'"):
        PlanChecker(Box.SPECS, known_tools={2: "data.fact"}).check(parse_plan("3. data.fact($2.nope)").tasks[0])
    with pytest.raises(PlanError, match=r"\$2 is a list"):
        PlanChecker(Box.SPECS, known_tools={2: "data.fact"}, spread_ids=[2]).check(
            parse_plan("3. data.fact($2.name)").tasks[0])


def test_compiler_max_spread_in_the_config_is_the_engines_limit() -> None:
    from mcp_compiler.config import ConfigError, parse_config
    from mcp_compiler.gateway import limits_from

    assert limits_from(parse_config({"mcpServers": {}, "compiler": {"max_spread": 7}})).max_spread == 7
    assert limits_from(parse_config({"mcpServers": {}})).max_spread == 1000
    with pytest.raises(ConfigError, match="max_spread"):
        parse_config({"mcpServers": {}, "compiler": {"max_spread": 0}})


async def test_a_replan_referring_to_an_earlier_spread_task_is_checked_as_a_list() -> None:
    # Round 1 spreads; the replan's `$2.value` would take a field of a list, so the planner is sent
    # back with the error ("$2 is a list"), and its repair `$2[1].value` runs.
    llm = ScriptedLLM([
        "1. data.items(2)\n2. data.fact($1.items[*].name)\njoin()",
        "Thought: need more.\nAction: Replan(scale the second)",
        "3. data.fact(\"x\", $2.value)\njoin()",
        "3. data.fact(\"x\", $2[1].value)\njoin()",
        "Action: Finish(done)",
    ])
    run = await _compiler(Box()).run_query("q", llm=llm)
    assert run.answer == "done", run.error
    assert "$2 is a list" in llm.requests[3].messages[-1].content
    assert run.task(3).args == {"name": "x", "scale": 1} and run.task(3).status == "ok"
