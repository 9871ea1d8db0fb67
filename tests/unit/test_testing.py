"""`mcp_compiler.testing.ScriptedLLM`: the in-process scripted model users test their own code with."""

from __future__ import annotations

import re

import pytest

from mcp_compiler import FunctionToolbox
from mcp_compiler.compiler import Compiler
from mcp_compiler.llm import LLM, LLMError, Message, complete
from mcp_compiler.llm.joiner import joiner_prompt
from mcp_compiler.llm.tokens import count_tokens
from mcp_compiler.testing import ScriptedLLM

pytestmark = pytest.mark.anyio

PLAN = "1. add(2, 3)\n2. add($1, 10)\n3. add($1, 1)\njoin()\n<END_OF_PLAN>"
FINISH = "Thought: $2 is the sum.\nAction: Finish(15)"


async def add(a: int, b: int) -> int:
    return a + b


def toolbox() -> FunctionToolbox:
    return FunctionToolbox({"add": add})


async def test_a_query_plans_runs_and_joins_over_python_functions() -> None:
    llm = ScriptedLLM([PLAN, FINISH])
    run = await Compiler(toolbox(), llm=llm).run_query("What is 2 + 3 + 10?")
    assert run.error is None and run.answer == "15"
    assert [(t.id, t.status, t.result) for t in run.tasks] == [(1, "ok", 5), (2, "ok", 15), (3, "ok", 6)]
    assert [r.decision for r in run.rounds] == ["finish"]
    plan, join = llm.requests
    assert "add(a: integer, b: integer)" in plan.system and plan.stop == ("<END_OF_PLAN>",)
    assert plan.messages == [Message("user", "Question: What is 2 + 3 + 10?")]
    assert join.system == joiner_prompt(last_round=False)
    assert "$2 = add" in join.messages[-1].content and "15" in join.messages[-1].content
    # Usage is the package's token count of what was sent and of the reply up to the stop sequence.
    assert [(u.purpose, u.model) for u in run.usage] == [("plan", "scripted"), ("join", "scripted")]
    assert run.usage[0].input_tokens == count_tokens(plan.system) + count_tokens(plan.messages[0].content)
    assert run.usage[0].output_tokens == count_tokens(PLAN.removesuffix("<END_OF_PLAN>"))


async def test_a_plan_streamed_in_chunks_starts_tasks_before_the_planner_finishes() -> None:
    llm = ScriptedLLM([PLAN, FINISH], chunk_size=2)
    run = await Compiler(toolbox(), llm=llm).run_query("q")
    assert run.answer == "15"
    plan_call = run.usage[0]
    assert run.tasks[0].start_s is not None and run.tasks[0].start_s < plan_call.end_s


async def test_chunks_reassemble_and_a_stop_sequence_ends_the_reply() -> None:
    llm = ScriptedLLM(["abcdefgSTOPhidden", "no stop here"], chunk_size=3)
    async with llm.stream("s", [Message("user", "u")], stop=["STOP"]) as s:
        chunks = [c async for c in s]
    assert chunks == ["abc", "def", "g"] and s.text == "abcdefg"
    assert s.usage.output_tokens == 1 and s.usage.input_tokens == 2
    text, _ = await complete(llm, "s", [Message("user", "u")], stop=["STOP"])
    assert text == "no stop here"


async def test_a_callable_reply_sees_the_request() -> None:
    def joiner(system: str, messages: list[Message]) -> str:
        assert system.startswith("You are the joiner")
        last = re.findall(r"-> (\d+)", messages[-1].content)[-1]
        return f"Action: Finish(the last result is {last})"

    llm = ScriptedLLM([PLAN, joiner])
    run = await Compiler(toolbox(), llm=llm).run_query("q")
    assert run.answer == "the last result is 6"


async def test_a_replan_takes_the_next_replies_in_order() -> None:
    llm = ScriptedLLM(["1. add(1, 1)\njoin()", "Action: Replan(need more)", "2. add($1, 40)\njoin()",
                       "Action: Finish(42)"])
    run = await Compiler(toolbox(), llm=llm).run_query("q")
    assert run.answer == "42" and [t.result for t in run.tasks] == [2, 42]
    assert [r.decision for r in run.rounds] == ["replan", "finish"] and len(llm.requests) == 4
    assert "Number its tasks from 2" in llm.requests[2].messages[0].content


async def test_running_out_of_script_is_a_clear_llm_error() -> None:
    run = await Compiler(toolbox(), llm=ScriptedLLM([PLAN])).run_query("q")
    assert run.answer is None and [t.result for t in run.tasks] == [5, 15, 6]  # the plan still ran
    assert run.error is not None and run.error.startswith("joiner LLM failed: scripted: the script ran out")
    assert "call 2 has no reply (the script has 1)" in run.error and "You are the joiner" in run.error
    with pytest.raises(LLMError) as caught:
        await complete(ScriptedLLM([]), "sys", [])
    assert caught.value.kind == "config" and "call 1 has no reply" in str(caught.value)


async def test_a_scripted_llm_error_reaches_the_run() -> None:
    llm = ScriptedLLM([LLMError("scripted", "HTTP 429, rate limited", kind="rate_limit", status=429)])
    run = await Compiler(toolbox(), llm=llm).run_query("q")
    assert run.tasks == [] and run.answer is None
    assert run.error == "planner LLM failed: scripted: HTTP 429, rate limited"


@pytest.mark.parametrize(("step", "message"), [
    (ValueError("boom"), "scripted: ValueError: boom"),
    (ValueError, "scripted: ValueError: "),
    (lambda system, messages: 42, "scripted: TypeError: script entry 2 gave int, not a reply string"),
])
async def test_other_failures_become_llm_errors_as_from_a_real_backend(step: object, message: str) -> None:
    llm = ScriptedLLM(["fine", step])
    assert (await complete(llm, "s", []))[0] == "fine"  # the entry before is a reply
    with pytest.raises(LLMError) as caught:
        await complete(llm, "s", [])
    assert caught.value.kind == "protocol" and str(caught.value) == message


def test_it_is_an_llm_and_checks_its_options() -> None:
    llm = ScriptedLLM(["x"], name="fake:model")
    assert isinstance(llm, LLM) and llm.name == "fake:model" and llm.requests == []
    with pytest.raises(ValueError, match="chunk_size"):
        ScriptedLLM([], chunk_size=0)
