"""The plan language: grammar, references, errors, the JSON form and incremental parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_compiler import PlanError, Ref, Template, parse_plan
from mcp_compiler.language.parser import PlanParser
from mcp_compiler.language.plan import Plan, Task, template

# The plans of the reference LLMCompiler's few-shot prompts (ParallelQA, HotpotQA, Movie), as written
# there, including the task whose closing parenthesis is missing and the unquoted arguments.
REFERENCE_PLANS = [
    '1. search("cheetah")\n'
    '2. math("cheetah max speed in km/h if 1.3 times slower?", ["$1"]\n'
    '3. search("greyhound")\n'
    '4. math("greyhound max speed in km/h if 1.5 times faster?", ["$3"]\n'
    '5. search("falcon")\n'
    '6. math("falcon max speed in km/h if 2.3 times slower?", ["$5"]\n'
    '7. math("max($2, $4, $6) / min($2, $4, $6)")\n'
    "Thought: I can answer the question now.\n"
    "8. join()<END_OF_PLAN>\n",
    "1. search('Mount Everest')\n"
    '2. math("half of Mount Everest height in meter?", ["$1"])\n'
    '3. search("Mount Kilimanjaro")\n'
    '4. math("double of Mount Kilimanjaro height in meter?", ["$3"])\n'
    '5. math("abs($3 - $4)")\n'
    "Thought: I can answer the question now.\n"
    "6. join()<END_OF_PLAN>\n",
    "1. search('Sahara Desert')\n"
    "2. math('Sahara Desert area in km^2 if reduced by 33%?', ['$1'])\n"
    '3. search("Kalahari Desert")\n'
    "4. math('Kalahari Desert area in km^2 if magnified by 52%?', ['$3'])\n"
    "Thought: I can compare the numbers without calling math.\n"
    "5. join()<END_OF_PLAN>\n",
    '1. search("Arthur\'s Magazine")\n2. search("First for Women (magazine)")\nThought: I can answer the question now.\n3. join()<END_OF_PLAN>\n',
    "Thought: I need to find all movies in the Question.\n"
    '1. search("Mission Impossible")\n'
    '2. search("The Silence of the Lambs")\n'
    "Thought: I need to find all movies in the Options.\n"
    "3. search(Austin Powers International Man of Mystery)\n"
    "4. search(In Cold Blood)\n"
    "Thought: I can answer the question now.\n"
    "5. join()<END_OF_PLAN>\n",
]


@pytest.mark.parametrize("text", REFERENCE_PLANS)
def test_every_reference_prompt_plan_parses(text: str) -> None:
    plan = parse_plan(text)
    assert plan.joined
    assert len(plan.tasks) == text.count("search(") + text.count("math(")
    assert [t.id for t in plan.tasks] == sorted(t.id for t in plan.tasks)


def test_reference_math_task_with_missing_parenthesis_keeps_its_arguments() -> None:
    plan = parse_plan(REFERENCE_PLANS[0])
    task2 = plan.tasks[1]
    assert task2.tool == "math"
    assert task2.args == ["cheetah max speed in km/h if 1.3 times slower?", [Ref(1)]]
    assert task2.deps == {1}
    assert plan.tasks[6].deps == {2, 4, 6}
    assert plan.tasks[2].tool == "search"  # the next line was not swallowed


def test_unquoted_arguments_are_text_and_keep_balanced_parentheses() -> None:
    plan = parse_plan("1. search(Star Wars (1977 film))\n2. search(In Cold Blood)\n")
    assert [t.args for t in plan.tasks] == [["Star Wars (1977 film)"], ["In Cold Blood"]]


def test_design_example_with_thought_kwargs_and_paths() -> None:
    plan = parse_plan(
        "Thought: the two searches are independent\n"
        '1. wiki.search(query="Mariana Trench")\n'
        '2. wiki.search("Puerto Rico Trench")\n'
        '3. math.eval(expression="$1.depth_m * 0.8 - $2.depth_m * 1.2")\n'
        "4. join()\n<END_OF_PLAN>\n"
    )
    t1, t2, t3 = plan.tasks
    assert t1.thought == "the two searches are independent"
    assert (t1.tool, t1.kwargs, t2.args) == ("wiki.search", {"query": "Mariana Trench"}, ["Puerto Rico Trench"])
    assert t3.kwargs["expression"] == Template(
        (Ref(1, ("depth_m",)), " * 0.8 - ", Ref(2, ("depth_m",)), " * 1.2")
    )
    assert t3.deps == {1, 2}


def test_python_spellings_json_literals_and_multiline_arguments() -> None:
    plan = parse_plan(
        "1. f(True, None, False, 'it\\'s', {'a': [1, 2.5, -3e2]},\n"
        "     flag=true,\n"
        "     empty=null,\n"
        ")\n"
    )
    task = plan.tasks[0]
    assert task.args == [True, None, False, "it's", {"a": [1, 2.5, -300.0]}]
    assert task.kwargs == {"flag": True, "empty": None}


def test_parentheses_commas_and_dollars_inside_strings_are_text() -> None:
    plan = parse_plan('1. f("a, (b)", "cost: $$5 (USD)", "$x and ${y}")')
    assert plan.tasks[0].args == ["a, (b)", "cost: $5 (USD)", "$x and ${y}"]
    assert plan.tasks[0].deps == set()


def test_reference_forms() -> None:
    plan = parse_plan(
        "1. a()\n2. b()\n"
        '3. c($1, ${2}, $1.items[0].title, $2["the key"], "${1.name}.txt", "n=$1.count!")\n'
    )
    args = plan.tasks[2].args
    assert args[:4] == [Ref(1), Ref(2), Ref(1, ("items", 0, "title")), Ref(2, ("the key",))]
    assert args[4] == Template((Ref(1, ("name",)), ".txt"))
    assert args[5] == Template(("n=", Ref(1, ("count",)), "!"))


def test_quoted_whole_reference_keeps_its_type() -> None:
    assert parse_plan('1. a()\n2. b("$1")').tasks[1].args == [Ref(1)]


def test_json_form_gives_the_same_ir_as_text() -> None:
    text = parse_plan('1. wiki.search(query="Nile")\n2. math.eval(expression="$1.length * 2")')
    as_json = parse_plan(
        json.dumps(
            {
                "tasks": [
                    {"id": 1, "tool": "wiki.search", "args": {"query": "Nile"}},
                    {"id": 2, "tool": "math.eval", "args": {"expression": "$1.length * 2"}},
                ]
            }
        )
    )
    assert as_json.tasks == text.tasks
    assert as_json.joined


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        ("1. f(", 1, 6, "expected a value"),
        ('1. f("abc)', 1, 6, "unterminated string"),
        ("Question: what?", 1, 1, "expected a task"),
        ("1 f()", 1, 2, "expected '.'"),
        ("1. f(x=1, 2)", 1, 11, "positional argument after a keyword"),
        ("1. f(x=1, x=2)", 1, 11, "given twice"),
        ("1. f([1, 2)", 1, 11, "expected ',' or ']'"),
        ("1. f()\njoin()\n2. g()", 3, 1, "task after join()"),
        ("1. f(\n  [1,\n  2", 3, 4, "the plan text ended here"),
        ('{"tasks": [{"id": 1}]}', None, None, "tasks[0].tool"),
        ('{"tasks": [', 1, 12, "invalid JSON plan"),
    ],
)
def test_bad_plans_name_line_column_and_what_was_expected(text, line, column, expected) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(text)
    err = caught.value
    assert expected in str(err)
    assert (err.line, err.column) == (line, column)


def test_text_after_end_of_plan_is_ignored_and_the_stream_end_ends_a_plan() -> None:
    assert len(parse_plan("1. f()\n<END_OF_PLAN>\n###\nQuestion: x\n7. g(").tasks) == 1
    plan = parse_plan("1. f()\n2. g($1)")
    assert [t.id for t in plan.tasks] == [1, 2] and not plan.joined


def test_the_parser_checks_syntax_only_and_keeps_known_ids_for_the_checks() -> None:
    # ID order and references are checked by check_plan (tests/test_checks.py), on any plan.
    assert [t.id for t in parse_plan("2. f($3)\n1. g()\n1. h($1)").tasks] == [2, 1, 1]
    plan = parse_plan("4. f($2)\n", known_ids=[1, 2, 3])
    assert plan.tasks[0].deps == {2} and plan.known_ids == {1, 2, 3}
    assert parse_plan('{"tasks": [{"id": 1, "tool": "f", "args": ["$1"]}]}', known_ids=[7]).known_ids == {7}


def test_incremental_parser_yields_each_task_as_soon_as_its_text_is_complete() -> None:
    parser = PlanParser()
    assert parser.feed("1. wiki.search(") == []
    assert parser.feed('"Nile"') == []
    assert parser.feed(")") == []  # an `after` list may follow on the same line ...
    first = parser.feed("\n")  # ... the line end says none does
    assert [t.id for t in first] == [1]
    assert parser.feed("2. math.eval($1.len") == []
    assert [t.id for t in parser.feed("gth)\njoin()")] == [2]
    assert parser.done
    assert parser.close() == []


def test_after_makes_a_task_wait_without_a_value_and_parses_incrementally() -> None:
    plan = parse_plan("1. memory.create_entities([])\n2. web.fetch('x')\n3. memory.read_graph() after $1, ${2}\n"
                      "4. f($3) after $1\n5. g()after $2\njoin()")
    t3, t4, t5 = plan.tasks[2:]
    assert (t3.args, t3.kwargs, t3.after, t3.deps, t3.data_deps) == ([], {}, (1, 2), {1, 2}, set())
    assert (t4.after, t4.deps, t4.data_deps) == ((1,), {1, 3}, {3})
    assert t5.after == (2,)
    assert t3.to_text() == "3. memory.read_graph() after $1, $2"
    # Streamed: the task is handed out when its `after` list has ended (the line end).
    parser = PlanParser()
    assert parser.feed("1. a()\n2. b() af") == [plan_task(1)]
    assert parser.feed("ter $1") == []
    assert parser.feed(", $") == []
    (task,) = parser.feed("12\n")
    assert task.after == (1, 12)
    # A task whose ')' is missing is closed by the next line, as before; `after` needs the ')'.
    assert parse_plan('1. f("a"\n2. g() after $1').tasks[1].after == (1,)


def plan_task(task_id: int) -> Task:
    return Task(task_id, "a")


@pytest.mark.parametrize(("text", "column", "expected"), [
    ("1. a()\n2. b() after 1", 14, "expected a task reference such as $1 after `after`"),
    ("1. a()\n2. b() after $1.value", 14, "`after` names whole tasks: write $1, without a path"),
    ("1. a()\n2. b() after $1 and $2", 17, "expected ',' and another $N, or the end of the line"),
    ("1. a()\n2. b() after\n3. c()", 13, "expected a task reference such as $1"),
    ("1. a()\n2. b() after $1,", 17, "expected a task reference such as $1"),
    ("1. a()\n2. b()\nafter $1", 1, "`after $N` goes on its task's line"),
])
def test_a_bad_after_list_names_its_place(text: str, column: int, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(text)
    assert expected in caught.value.message
    assert caught.value.column == column, str(caught.value)


def test_the_json_forms_deps_are_the_tasks_it_runs_after() -> None:
    plan = parse_plan(json.dumps({"tasks": [
        {"id": 1, "tool": "memory.create_entities", "args": {"entities": []}},
        {"id": 2, "tool": "web.fetch", "args": ["x"]},
        {"id": 3, "tool": "memory.read_graph", "deps": [2, "$1", 1]},
    ]}))
    assert plan.tasks[2].after == (1, 2) and plan.tasks[2].deps == {1, 2}
    assert plan.tasks[2] == parse_plan("1. x()\n2. y()\n3. memory.read_graph() after $1, $2").tasks[2]
    for deps, shown in [(3, "got a number"), ([0], "got 0"), (["x"], "got 'x'"), ([True], "got True")]:
        with pytest.raises(PlanError, match=rf"tasks\[0\]\.deps: expected .*{shown}"):
            parse_plan(json.dumps({"tasks": [{"id": 1, "tool": "f", "deps": deps}]}))


def test_incremental_parser_reports_a_truncated_task_at_close() -> None:
    parser = PlanParser()
    parser.feed('1. f("a")\n2. g("unfinished')
    with pytest.raises(PlanError, match="unterminated string"):
        parser.close()


# -- property tests ----------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_letters = "abcxyzABZ_"
_ident = st.builds(str.__add__, st.sampled_from(_letters), st.text(_letters + "0123456789", max_size=6))
_tool = st.builds(lambda a, b: f"{a}.{b}" if b else a, _ident, st.one_of(st.none(), _ident)).filter(
    lambda n: n != "join"
)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False), _text,
)


def _values(earlier: list[int]) -> st.SearchStrategy:
    leaves = _scalar
    if earlier:
        path = st.lists(st.one_of(_ident, st.integers(0, 9), _text), max_size=3).map(tuple)
        ref = st.builds(Ref, st.sampled_from(earlier), path)
        tmpl = st.lists(st.one_of(_text, ref), min_size=1, max_size=4).map(template)
        leaves = st.one_of(_scalar, ref, tmpl)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
        max_leaves=6,
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    tasks: list[Task] = []
    next_id = 0
    for _ in range(draw(st.integers(1, 6))):
        next_id += draw(st.integers(1, 3))
        earlier = [t.id for t in tasks]
        args = draw(st.lists(_values(earlier), max_size=3))
        kwargs = draw(st.dictionaries(_ident, _values(earlier), max_size=3))
        words = st.lists(st.text("abcdefgh,.", min_size=1, max_size=6), min_size=1, max_size=4).map(" ".join)
        thought = draw(st.one_of(st.none(), words))
        after = tuple(draw(st.sets(st.sampled_from(earlier), max_size=3))) if earlier else ()
        tasks.append(Task(next_id, draw(_tool), args, kwargs, thought, after=after))
    return Plan(tasks=tasks, joined=True)


def _feed_in_pieces(text: str, cuts: list[int]) -> list[Task]:
    parser = PlanParser()
    out: list[Task] = []
    last = 0
    for cut in sorted(set(cuts)) + [len(text)]:
        out += parser.feed(text[last:cut])
        last = cut
    out += parser.close()
    assert out == parser.plan.tasks  # every task was handed out exactly once
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_printed_plans_parse_back_to_the_same_ir(plan: Plan) -> None:
    assert parse_plan(plan.to_text()).tasks == plan.tasks


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.data())
def test_any_split_into_chunks_yields_the_same_tasks(plan: Plan, data: st.DataObject) -> None:
    text = plan.to_text()
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=12))
    assert _feed_in_pieces(text, cuts) == parse_plan(text).tasks


@pytest.mark.parametrize("text", REFERENCE_PLANS)
def test_reference_plans_stream_one_character_at_a_time(text: str) -> None:
    assert _feed_in_pieces(text, list(range(len(text)))) == parse_plan(text).tasks


_junk_alphabet = st.sampled_from(list("0123456789.,()[]{}$'\"=:\n \tabcjoinThought<>_END-") + ["<END_OF_PLAN>"])


@settings(max_examples=500)
@given(st.lists(_junk_alphabet, max_size=60).map("".join), st.data())
def test_junk_never_raises_anything_but_plan_error_and_splitting_agrees(junk: str, data: st.DataObject) -> None:
    try:
        whole = parse_plan(junk).tasks
    except PlanError:
        whole = None
    cuts = data.draw(st.lists(st.integers(0, len(junk)), max_size=8))
    try:
        pieces = _feed_in_pieces(junk, cuts)
    except PlanError:
        pieces = None
    assert pieces == whole


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_plan_error(junk: str) -> None:
    try:
        parse_plan(junk)
    except PlanError:
        pass


def test_reference_keys_with_escapes_round_trip_and_bad_escapes_are_plan_errors() -> None:
    plan = Plan(tasks=[Task(1, "a"), Task(2, "b", [Ref(1, ("\\'",)), Ref(1, ('a"b',))])])
    assert parse_plan(plan.to_text()).tasks == plan.tasks
    assert parse_plan("1. a()\n2. b($1['it\\'s'])").tasks[1].args == [Ref(1, ("it's",))]
    with pytest.raises(PlanError, match="bad escape"):
        parse_plan('1. a()\n2. b($1["\\q"])')


def test_a_long_argument_streamed_in_small_chunks_is_not_re_read_on_every_chunk(monkeypatch) -> None:
    text = '1. f("' + "x" * 20_000 + '")\n2. g($1)\njoin()'
    attempts = 0
    original = PlanParser._statement

    def counting(self: PlanParser):
        nonlocal attempts
        attempts += 1
        return original(self)

    monkeypatch.setattr(PlanParser, "_statement", counting)
    parser = PlanParser()
    tasks = [t for i in range(0, len(text), 4) for t in parser.feed(text[i : i + 4])] + parser.close()
    assert [t.id for t in tasks] == [1, 2]
    assert attempts < 20_000 / 64 + 20  # about one attempt per 64 characters, not one per chunk


# ---- hostile plans: a PlanError with its place, never an internal error ----------------------------

@pytest.mark.parametrize("plan, message", [
    ("1. f(" + "[" * 600 + "]" * 600 + ")", "line 1, column 106: lists and objects nest deeper than 100 levels"),
    ("1. f([" + "9" * 5000 + "])", "line 1, column 7: an integer of 5,000 digits; at most 4,300 are allowed"),
    ('{"tasks":[{"id":1,"tool":"f","args":{"a":' + "[" * 3000 + "]" * 3000 + "}}]}",
     "invalid JSON plan: lists and objects nest deeper than 100 levels"),
    ('{"tasks":[{"id":1,"tool":"f","args":{"a":' + "[" * 600 + "]" * 600 + "}}]}",
     "tasks[0]: lists and objects nest deeper than 100 levels"),
    ('{"tasks":[{"id":1,"tool":"f","args":{"a":' + "9" * 5000 + "}}]}",
     "invalid JSON plan: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits"),
    ('{"tasks":[{"id":1,"tool":"f","kwargs":null}]}', "tasks[0].kwargs: expected an object of arguments by name, got null"),
    ('{"tasks":[{"id":1,"tool":"f","args":null}]}',
     "tasks[0].args: expected an object (by name) or a list (by position), got null"),
])
def test_hostile_plans_are_plan_errors_that_say_what_and_where(plan: str, message: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(plan)
    assert str(info.value) == message


def test_finding_a_tasks_line_does_not_recount_the_text_from_the_start() -> None:
    # 40,000 tasks took 13 s when each task's line was counted from the start of the text.
    import time

    text = "\n".join(f"{i}. f({i}, \"x\")" for i in range(1, 40_001))
    started = time.perf_counter()
    plan = parse_plan(text)
    elapsed = time.perf_counter() - started
    assert [(t.line, t.column) for t in plan.tasks[-2:]] == [(39_999, 1), (40_000, 1)]
    assert elapsed < 6, f"{elapsed:.1f} s for 40,000 tasks"


@pytest.mark.parametrize(("key", "path"), [('"a]b"', "a]b"), ("'a]b'", "a]b"), ('"a\\"]b"', 'a"]b')])
def test_a_reference_key_with_a_bracket_inside_streams_like_the_whole_text(key: str, path: str) -> None:
    # The key's own `]` once made a stream that had not yet received the key's closing quote fail
    # (inside a list, where no bare text is read in place of a value that does not parse).
    text = f"1. f(1)\n2. f([$1[{key}]])\n"
    whole = parse_plan(text).tasks
    assert whole[1].args == [[Ref(1, (path,))]]
    for cut in range(len(text)):  # two pieces: the first, holding a line end, is read at once
        assert _feed_in_pieces(text, [cut]) == whole, cut


# ---- comments: `#` to the end of the line, outside strings -----------------------------------------

# A comment holding everything that would mean something outside one.
_COMMENT = "# a comment: ) , ( \" ' $1 [*] {x after $2 join() <END_OF_PLAN> 9. f("


def _commented(value: object) -> str:
    """A value's text with a comment after every separator of its lists and objects."""
    sep = ",  " + _COMMENT + "\n    "
    if isinstance(value, list):
        return "[" + sep.join(_commented(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + sep.join(f"{json.dumps(k, ensure_ascii=False)}: {_commented(v)}" for k, v in value.items()) + "}"
    from mcp_compiler.language.plan import format_value

    return format_value(value)  # type: ignore[arg-type]


def _with_comments(plan: Plan) -> str:
    """The plan's text with a comment line before every line, a comment after every argument's ','
    and list or object separator, and one after every task's ')' and `after` list."""
    from mcp_compiler.language.plan import join_text

    lines = [_COMMENT]
    for task in plan.tasks:
        if task.thought:
            lines += [f"Thought: {task.thought}", "  " + _COMMENT]
        parts = [_commented(v) for v in task.args] + [f"{k}={_commented(v)}" for k, v in task.kwargs.items()]
        after = " after " + ", ".join(f"${i}" for i in task.after) if task.after else ""
        lines.append(f"{task.id}. {task.tool}(" + (",  " + _COMMENT + "\n  ").join(parts) + ")" + after + "  " + _COMMENT)
        lines.append(_COMMENT)
    lines += [join_text(plan.answer) + " " + _COMMENT, "<END_OF_PLAN>"]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.data())
def test_comments_anywhere_whitespace_goes_change_no_task_however_the_text_is_cut(
    plan: Plan, data: st.DataObject
) -> None:
    text = _with_comments(plan)
    assert parse_plan(text).tasks == plan.tasks
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=12))
    assert _feed_in_pieces(text, cuts) == plan.tasks


def test_a_commented_plan_streams_the_same_when_cut_at_every_point() -> None:
    text = (
        "# compare two rivers\n"
        '1. wiki.fact("Nile", "length_km")   # the first\n'
        '2. wiki.fact("Amazon",  # the second, "$1" and ) are comment text\n'
        '   "length_km") after $1  # waits\n'
        '3. math.eval("a # b", {"a": $1.value,  # a\n  "b": [$2.value, 1]})\n'
        "join()  # done <END_OF_PLAN>\n"
    )
    whole = parse_plan(text)
    assert [t.tool for t in whole.tasks] == ["wiki.fact", "wiki.fact", "math.eval"]
    assert whole.tasks[1].args == ["Amazon", "length_km"] and whole.tasks[1].after == (1,)
    assert whole.tasks[2].args == ["a # b", {"a": Ref(1, ("value",)), "b": [Ref(2, ("value",)), 1]}]
    assert whole.joined
    for cut in range(len(text) + 1):
        assert _feed_in_pieces(text, [cut]) == whole.tasks, cut
    assert _feed_in_pieces(text, list(range(len(text)))) == whole.tasks


def test_the_docs_spread_example_with_comments_parses() -> None:
    plan = parse_plan(
        '1. wiki.rank("river", "length_km", 6)\n'
        '2. wiki.fact($1.items[*].name, "length_km")        # six calls, one per ranked river\n'
        '3. math.eval("x / 1.609344", {"x": $2[*].value})   # six more, one per value of task 2\n'
        'join("$2[*].name: $2[*].value km", $3[*].value)\n'
    )
    assert [t.id for t in plan.tasks] == [1, 2, 3] and plan.answer is not None


def test_a_comment_after_a_task_hands_the_task_out_before_its_line_ends() -> None:
    parser = PlanParser()
    assert [t.id for t in parser.feed('1. f(1)  # the line end has not arrived')] == [1]
    assert [t.id for t in parser.feed(" yet\n2. g($1) after $1 # and")] == [2]
    assert parser.close() == []


def test_strings_thoughts_and_bare_text_keep_their_hash() -> None:
    plan = parse_plan("Thought: issue #5 first\n1. search(C# language)\n2. f('#x', \"y#\")\n")
    assert plan.thoughts == ["issue #5 first"]
    assert plan.tasks[0].args == ["C# language"]
    assert plan.tasks[1].args == ["#x", "y#"]


def test_a_comment_does_not_hide_an_error_and_an_error_after_one_is_placed_right() -> None:
    with pytest.raises(PlanError, match=r"line 2, column 9: expected ',' or '\]' in a list"):
        parse_plan("# fine\n1. f([1 2])  # comment\n")
    with pytest.raises(PlanError, match="unterminated string"):
        parse_plan('1. f("a # not a comment)\n')
