"""Static checks (checks.py) hold every plan to the same rules, whether it was parsed from text, given
in the JSON form or built in code, whole or one streamed task at a time."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest

from mcp_compiler import FunctionToolbox, Plan, PlanError, Ref, Task, check_plan, execute, parse_plan
from mcp_compiler.language.checks import PlanChecker
from mcp_compiler.language.parser import PlanParser
from mcp_compiler.language.plan import Template, template

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
    "forward order": (
        [Task(1, "f", [1]), Task(2, "f", after=(3,)), Task(3, "f", [3])],
        "1. f(1)\n2. f() after $3\n3. f(3)", (2, 1),
        "task 2 is to run after $3, which is not an earlier task",
    ),
    "cycle through an order edge": (
        [Task(1, "f", after=(2,)), Task(2, "f", [Ref(1)])],
        "1. f() after $2\n2. f($1)", (1, 1),
        "task 1 is to run after $2, which is not an earlier task",
    ),
    "order on itself": (
        [Task(1, "f", [1]), Task(2, "f", after=(1, 2))],
        "1. f(1)\n2. f() after $1, $2", (2, 1),
        "task 2 is to run after $2, which is not an earlier task",
    ),
}


def _json(text: str) -> str:
    """The JSON form of a plan text."""
    tasks = [{"id": t.id, "tool": t.tool, "args": [_json_value(a) for a in t.args], "deps": list(t.after)}
             for t in parse_plan(text).tasks]
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
    from mcp_compiler.tools.catalog import param_list
    from mcp_compiler.tools.toolbox import ToolSpec

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



# ---- an empty plan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "Thought: nothing to do\njoin()", "```\n```", '{"tasks": []}', "<END_OF_PLAN>"])
async def test_a_plan_without_tasks_is_an_error_that_says_so(text: str) -> None:
    with pytest.raises(PlanError, match=r"^the plan has no tasks: write at least one, such as `1\. server\.tool"):
        check_plan(parse_plan(text), SPECS)
    with pytest.raises(PlanError, match="the plan has no tasks"):
        await execute(text, tools={"f": f})
    with pytest.raises(PlanError, match="the plan has no tasks"):
        check_plan(Plan(), SPECS)


# ---- references against the tools' output schemas -----------------------------------------------------

from mcp_compiler.servers.wiki import FactResult  # noqa: E402  (wiki.fact's own output schema)

from mcp_compiler.tools.toolbox import ToolSpec  # noqa: E402

CALLS: list[str] = []


async def _counted(**arguments: Any) -> Any:
    CALLS.append(json.dumps(arguments))
    return {}


def _spec(name: str, properties: dict[str, Any], output: dict[str, Any] | None, required: list[str] = ()) -> ToolSpec:
    return ToolSpec(name, input_schema={"type": "object", "properties": properties, "required": list(required)},
                    output_schema=output, provider=name.split(".")[0], read_only=True)


HITS = {
    "$defs": {"Hit": {"type": "object", "properties": {"name": {"type": "string"}, "score": {"type": "number"}},
                      "required": ["name"]}},
    "type": "object",
    "properties": {"query": {"type": "string"}, "hits": {"type": "array", "items": {"$ref": "#/$defs/Hit"}},
                   "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
                   "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
                   "tags": {"type": "object", "patternProperties": {"^x-": {}}},
                   "raw": {"type": "object"},
                   "larger": {"enum": ["a", "b", "equal"]},
                   "count_text": {"type": "string"}},
}


class CountingToolbox:
    """Tools with hand-written specs (output schemas included); every call is counted in CALLS."""

    SPECS = {s.name: s for s in [
        _spec("wiki.fact", {"name": {"type": "string"}, "key": {"type": "string"}}, FactResult.model_json_schema(),
              ["name", "key"]),
        _spec("wiki.search", {"query": {"type": "string"}}, HITS, ["query"]),
        _spec("math.eval", {"expression": {"type": "string"}, "variables": {"anyOf": [{"type": "object"}, {"type": "null"}]}},
              None, ["expression"]),
        _spec("math.compare", {"a": {"type": "number"}, "b": {"type": "number"}}, None, ["a", "b"]),
        _spec("math.sum", {"values": {"type": "array", "items": {"type": "number"}}}, None, ["values"]),
        _spec("store.put", {"doc": {"type": "object"}}, None, ["doc"]),
        _spec("blob.get", {}, None),
    ]}

    def specs(self) -> dict[str, ToolSpec]:
        return self.SPECS

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return await _counted(tool=spec.name, **arguments)


BAD_REFERENCES = {
    "missing key": (
        '1. wiki.fact("Nile", "length_km")\n2. wiki.fact("Amazon", "length_km")\n'
        '3. math.eval("a - b", {"a": $1.value, "b": $2.valu})', (3, 1),
        "task 3 (math.eval): $2.valu: task 2 (wiki.fact) has no field 'valu' (did you mean value?); "
        "its fields: name, key, value, unit (wiki.fact's output schema)",
    ),
    "missing key inside a string": (
        '1. wiki.fact("Nile", "length_km")\n2. math.eval("${1.valeu} * 2")', (2, 1),
        "task 2 (math.eval): $1.valeu: task 1 (wiki.fact) has no field 'valeu' (did you mean value?)",
    ),
    "missing key deeper, through a $ref": (
        '1. wiki.search("Nile")\n  2. math.eval("$1.hits[0].nmae")', (2, 3),
        "task 2 (math.eval): $1.hits[0].nmae: $1.hits[0] has no field 'nmae' (did you mean name?); "
        "its fields: name, score (wiki.search's output schema)",
    ),
    "an index into a non-array": (
        '1. wiki.fact("Nile", "length_km")\n2. math.eval("x", {"x": $1.value[0]})', (2, 1),
        "task 2 (math.eval): $1.value[0]: $1.value is an integer or a number or a string (wiki.fact's output "
        "schema), not a list: it has no [0]",
    ),
    "an index past a fixed-length list": (
        '1. wiki.search("Nile")\n2. math.eval("$1.pair[2]")', (2, 1),
        "task 2 (math.eval): $1.pair[2]: $1.pair has at most 2 item(s) (wiki.search's output schema), so there is no [2]",
    ),
    "a key into a scalar": (
        '1. wiki.fact("Nile", "length_km")\n2. math.eval("$1.unit.symbol")', (2, 1),
        "task 2 (math.eval): $1.unit.symbol: $1.unit is a string or null (wiki.fact's output schema), not an "
        "object: it has no field 'symbol'",
    ),
    "a key into a list": (
        '1. wiki.search("Nile")\n2. math.eval("$1.hits.name")', (2, 1),
        "task 2 (math.eval): $1.hits.name: $1.hits is a list (wiki.search's output schema): pick an item first, "
        "as in $1.hits[0].name",
    ),
    "an object into a number": (
        '1. wiki.fact("Nile", "length_km")\n2. math.compare($1, 6650)', (2, 1),
        "task 2 (math.compare): argument a: $1 is an object (wiki.fact's output schema), but math.compare takes "
        "a number for a (did you mean $1.value?)",
    ),
    "a list into a string": (
        '1. wiki.search("Nile")\n2. math.eval(expression=$1.hits)', (2, 1),
        "task 2 (math.eval): argument expression: $1.hits is a list (wiki.search's output schema), but math.eval "
        "takes a string for expression",
    ),
    "a scalar into a list": (
        '1. wiki.fact("Nile", "length_km")\n2. math.sum($1.value)', (2, 1),
        "task 2 (math.sum): argument values: $1.value is an integer or a number or a string (wiki.fact's output "
        "schema), but math.sum takes a list for values",
    ),
    "a scalar into an object": (
        '1. wiki.search("Nile")\n2. store.put($1.query)', (2, 1),
        "task 2 (store.put): argument doc: $1.query is a string (wiki.search's output schema), but store.put takes "
        "an object for doc",
    ),
    "text that cannot be a number, into a number": (
        '1. wiki.search("Nile")\n2. math.compare($1.larger, 1)', (2, 1),
        "task 2 (math.compare): argument a: $1.larger is a string that is not a number (wiki.search's output "
        "schema), but math.compare takes a number for a",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REFERENCES))
async def test_a_reference_the_output_schema_rules_out_is_a_plan_error_and_nothing_runs(case: str) -> None:
    text, (line, column), message = BAD_REFERENCES[case]
    CALLS.clear()
    with pytest.raises(PlanError) as caught:
        await execute(text, toolbox=CountingToolbox())
    assert message in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).startswith(f"line {line}, column {column}: ")
    assert CALLS == []  # not one upstream call, though the tasks before the bad one were fine
    # Streamed one task at a time (the planner's way), the same check stops at the same task.
    checker, parser = PlanChecker(CountingToolbox.SPECS), PlanParser()
    with pytest.raises(PlanError) as streamed:
        for task in [*parser.feed(text), *parser.close()]:
            checker.check(task)
    assert str(streamed.value) == str(caught.value)


async def test_references_the_output_schema_allows_or_cannot_judge_run() -> None:
    text = """\
1. wiki.fact("Nile", "length_km")
2. math.compare($1.value, 6650)
3. wiki.search("Nile")
4. math.eval("$1.value km, $3.hits[5].name, $3.pair[1], $3.meta.anything, $3.tags.x-y, $3.raw.any.thing")
5. math.compare($3.count_text, $3.hits[0].score)
6. blob.get()
7. math.eval("$6.anything[3].at.all")
8. math.eval($1.name)
9. math.eval("x", $3.meta)
10. math.eval($3.meta.n)
"""
    # 2: value may be a number. 4: items of any index, additionalProperties and patternProperties are
    # open, an object without properties has any key. 5: text may be numeric (it is converted then).
    # 7: blob.get declares no output schema. 8: a string into a string. 9: an object into an object.
    # 10: an integer into a string parameter (its text).
    CALLS.clear()
    check_plan(parse_plan(text), CountingToolbox.SPECS)
    assert CALLS == []


def test_references_to_earlier_rounds_are_checked_when_their_tools_are_known() -> None:
    known = {1: "wiki.fact"}
    with pytest.raises(PlanError, match=r"\$1\.valu: task 1 \(wiki\.fact\) has no field 'valu'"):
        check_plan(parse_plan("2. math.eval('$1.valu')", known_ids=[1]), CountingToolbox.SPECS, known_tools=known)
    checker = PlanChecker(CountingToolbox.SPECS, known_tools=known)
    assert checker.check(parse_plan("2. math.eval('$1.value')").tasks[0]).id == 2
    # Without the tool, the reference is taken on trust, as before.
    check_plan(parse_plan("2. math.eval('$1.valu')", known_ids=[1]), CountingToolbox.SPECS)


async def test_a_streamed_plan_gets_the_reference_checks_in_its_repair_and_in_a_replan() -> None:
    from mcp_compiler.compiler import Compiler
    from mcp_compiler.testing import ScriptedLLM

    CALLS.clear()
    bad = '1. wiki.fact("Nile", "length_km")\n2. math.eval("$1.valu")\njoin()\n<END_OF_PLAN>'
    still_bad = '2. math.eval("$1.valeu")\njoin()\n<END_OF_PLAN>'  # refers to the task already running
    llm = ScriptedLLM([bad, still_bad, "Action: Finish(partial)"], chunk_size=5)
    run = await Compiler(CountingToolbox(), llm=llm).run_query("q")
    # The good task ran; neither bad one did: the repair's checker knew task 1's tool, though task 1
    # came from the first attempt.
    assert [t.id for t in run.tasks] == [1] and len(CALLS) == 1
    repair = llm.requests[1].messages[-1].content
    assert "$1.valu: task 1 (wiki.fact) has no field 'valu' (did you mean value?)" in repair
    # A replan's references to an earlier round are checked against that round's tools.
    CALLS.clear()
    llm = ScriptedLLM([
        '1. wiki.fact("Nile", "length_km")\njoin()\n<END_OF_PLAN>', "Action: Replan(need the unit)",
        '2. math.eval("$1.unti")\njoin()\n<END_OF_PLAN>', '2. math.eval("$1.unit")\njoin()\n<END_OF_PLAN>',
        "Action: Finish(done)",
    ])
    run = await Compiler(CountingToolbox(), llm=llm).run_query("q")
    assert run.answer == "done" and [t.id for t in run.tasks] == [1, 2]
    assert "$1.unti: task 1 (wiki.fact) has no field 'unti' (did you mean unit?)" in llm.requests[3].messages[-1].content


HOSTILE_OUTPUT_SCHEMAS = [
    {"anyOf": [{"$ref": "#"}] * 40},  # alternatives that are the schema itself: exponential if followed naively
    {"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"},
                               {"type": "object", "properties": {"x": {"$ref": "#/$defs/a"}}}]}}, "$ref": "#/$defs/a"},
    {"type": "object", "properties": ["x"]}, {"type": ["object", 3]}, {"type": "object", "properties": {"x": True}},
    {"enum": [{"a": 1}, [1], None]}, {"type": "array", "prefixItems": "x", "items": 3, "maxItems": "2"},
    {"$ref": "#/nope"}, {"$ref": 5}, {"$ref": "http://example.com/s.json"}, {"allOf": [{"$ref": "#"}]},
]


@pytest.mark.parametrize("output", HOSTILE_OUTPUT_SCHEMAS)
def test_an_upstreams_odd_output_schema_gives_a_plan_error_or_no_verdict_quickly(output: dict[str, Any]) -> None:
    specs = {"a.t": _spec("a.t", {}, output), "b.u": _spec("b.u", {"v": {"type": "number"}}, None)}
    for path in ["$1", "$1.x", "$1" + ".x" * 30, "$1[0]", "$1[5].x", '"$1.x.y"']:
        started = time.perf_counter()
        try:
            check_plan(parse_plan(f"1. a.t()\n2. b.u({path})"), specs)
        except PlanError:
            pass
        assert time.perf_counter() - started < 0.5, path


def test_a_validator_is_built_once_per_tool_property_not_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    import mcp_compiler.language.checks as checks
    from mcp_compiler.language.schema_cache import PerSchema

    built: list[Any] = []

    def counting(schema: Any, *, root: Any = None) -> Any:
        built.append(schema)
        return checks.validator_for(schema, root=root)

    monkeypatch.setattr(checks, "_VALIDATORS", PerSchema(lambda schema, root: counting(schema, root=root)))
    spec = ToolSpec("t", input_schema={"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}})
    catalog = {"t": spec}
    text = "\n".join(f"{i}. t({i}, \"x\")" for i in range(1, 201))
    check_plan(parse_plan(text), catalog)
    check_plan(parse_plan(text), catalog)  # a second plan over the same catalog builds none
    assert [s["type"] for s in built] == ["integer", "string"]
    # And the cached validators still judge: a wrong literal is an error naming the argument.
    with pytest.raises(PlanError, match="argument n: 'x' is not of type 'integer'"):
        check_plan(parse_plan('1. t(1, "a")\n2. t("x", "b")'), catalog)


# ---- unknown tools: the suggestion follows the server's name (issue 21, item 8) ----------------------


@pytest.mark.parametrize(("name", "message"), [
    ("weather.get", "unknown tool 'weather.get'; no server is called 'weather' (servers: math, wiki)"),
    ("wikis.fact", "unknown tool 'wikis.fact'; no server is called 'wikis'; did you mean 'wiki.fact'?"),
    ("wikis.zzz", "unknown tool 'wikis.zzz'; no server is called 'wikis': did you mean the server 'wiki' (its tools: wiki.fact, wiki.rank)?"),
    ("wiki.fakt", "unknown tool 'wiki.fakt'; did you mean 'wiki.fact' or 'wiki.rank'?"),
    ("wiki.zzzz", "unknown tool 'wiki.zzzz' (its tools: wiki.fact, wiki.rank)"),
    ("math.evl", "unknown tool 'math.evl'; did you mean 'math.eval'?"),
])
def test_an_unknown_tool_is_matched_against_its_own_server_or_a_server_named_like_it(name: str, message: str) -> None:
    from mcp_compiler.tools.catalog import Catalog, UnknownTool
    from mcp_compiler.tools.toolbox import ToolSpec

    catalog = Catalog([ToolSpec("math.eval", provider="math"), ToolSpec("wiki.fact", provider="wiki"),
                       ToolSpec("wiki.rank", provider="wiki")])
    with pytest.raises(UnknownTool) as unknown:
        catalog.resolve(name)
    assert str(unknown.value) == message
