"""Planner, joiner and replanning, driven through the real anthropic/openai SDKs against the
simulated endpoint over loopback. Tools are plain Python functions here; the last tests run the
default MCP servers."""

from __future__ import annotations

import re
import time
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from benchmarks.simllm import Fail, LatencyModel, Reply, SimRequest, SimulatedLLM
from mcp_compiler import FunctionToolbox, check_plan, parse_plan
from mcp_compiler.compiler import Compiler, NoPlanner
from mcp_compiler.config import load_config
from mcp_compiler.language import prompt as language
from mcp_compiler.language.prompt import EXAMPLE_GENERIC, EXAMPLE_WIKI_MATH, example_for
from mcp_compiler.llm import Timeouts
from mcp_compiler.llm.anthropic import AnthropicLLM
from mcp_compiler.llm.joiner import joiner_prompt, parse_decision
from mcp_compiler.llm.openai import OpenAILLM
from mcp_compiler.llm.planner import planner_prompt
from mcp_compiler.testing import ScriptedLLM
from mcp_compiler.tools.catalog import Catalog
from mcp_compiler.tools.toolbox import ToolSpec
from mcp_compiler.upstreams import UpstreamPool

pytestmark = pytest.mark.anyio

WIRES = ["openai", "anthropic"]


def make_llm(sim: SimulatedLLM, wire: str, **timeouts: float):
    t = Timeouts(**timeouts) if timeouts else Timeouts()
    if wire == "openai":
        return OpenAILLM("sim-model", base_url=sim.base_url_openai, api_key="test", timeouts=t, max_retries=0)
    return AnthropicLLM("sim-model", base_url=sim.base_url_anthropic, api_key="test", timeouts=t, max_retries=0)


@asynccontextmanager
async def sim_llm(respond, wire: str, latency: LatencyModel | None = None, **timeouts: float):
    async with SimulatedLLM(responder=respond, latency=latency or LatencyModel()) as sim:
        llm = make_llm(sim, wire, **timeouts)
        try:
            yield sim, llm
        finally:
            await llm.aclose()


def is_joiner(req: SimRequest) -> bool:
    return "Action: Finish(" in req.system


CALLS: list[tuple[str, float]] = []


async def population(city: str) -> int:
    """The population of a city."""
    await anyio.sleep(0.05)
    return {"Paris": 2_100_000, "Rome": 2_800_000, "Oslo": 700_000}[city]


async def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


async def double(x: float) -> float:
    """Twice a number."""
    return 2 * x


TOOLS = FunctionToolbox({"population": population, "add": add, "double": double})


def last_result_number(req: SimRequest) -> str:
    """A joiner double that answers with the last number in the results it was shown."""
    return re.findall(r"-> (-?[\d.]+)", req.last_user_message)[-1]


@pytest.mark.parametrize("wire", WIRES)
async def test_question_answered_end_to_end(wire: str) -> None:
    def respond(req: SimRequest) -> str:
        if is_joiner(req):
            return f"Thought: done.\nAction: Finish({last_result_number(req)})"
        return '1. population("Paris")\n2. population("Rome")\n3. add($1, $2)\njoin()\n<END_OF_PLAN>'

    async with sim_llm(respond, wire) as (sim, llm):
        run = await Compiler(TOOLS).run_query("Paris plus Rome?", llm=llm)
    assert run.answer == "4900000"
    assert [t.status for t in run.tasks] == ["ok", "ok", "ok"]
    assert [u.purpose for u in run.usage] == ["plan", "join"]
    assert all(u.input_tokens > 0 and u.output_tokens > 0 for u in run.usage)
    assert run.to_dict()["usage"]["input_tokens"] == sum(u.input_tokens for u in run.usage)
    assert set(run.timings) >= {"plan_s", "execute_s", "join_s", "total_s"}
    assert sim.requests[0].stop == ("<END_OF_PLAN>",)


@pytest.mark.parametrize("wire", WIRES)
async def test_first_task_starts_while_the_plan_is_still_streaming(wire: str) -> None:
    plan = '1. population("Paris")\n' + "".join(f"Thought: step {i} of a long explanation here.\n" for i in range(8))
    plan += '2. population("Rome")\n3. add($1, $2)\njoin()\n<END_OF_PLAN>'

    def respond(req: SimRequest) -> str:
        return "Action: Finish(ok)" if is_joiner(req) else plan

    slow = LatencyModel(ttft_s=0.05, tokens_per_s=150)
    async with sim_llm(respond, wire, latency=slow) as (sim, llm):
        run = await Compiler(TOOLS).run_query("q", llm=llm)
    planning = run.usage[0]
    first, second = run.task(1), run.task(2)
    assert planning.end_s - planning.start_s > 0.5  # the plan really streamed slowly
    assert first.start_s is not None and first.start_s < planning.end_s - 0.3
    assert first.end_s is not None and first.end_s < second.start_s  # task 1 finished before task 2 was written


@pytest.mark.parametrize("wire", WIRES)
async def test_replan_continues_numbering_and_refers_to_an_earlier_round(wire: str) -> None:
    def respond(req: SimRequest) -> str:
        if is_joiner(req):
            if "$2 = double" in req.last_user_message:
                return f"Thought: now complete.\nAction: Finish({last_result_number(req)})"
            return "Thought: the doubled value is missing.\nAction: Replan(double the population of Oslo)"
        if "Earlier rounds" in req.last_user_message:
            return "2. double($1)\njoin()\n<END_OF_PLAN>"
        return '1. population("Oslo")\njoin()\n<END_OF_PLAN>'

    async with sim_llm(respond, wire) as (sim, llm):
        run = await Compiler(TOOLS).run_query("Oslo doubled?", llm=llm)
        replan_request = next(r for r in sim.requests if "Earlier rounds" in r.last_user_message)
    assert run.answer == "1400000"
    assert [(r.number, r.decision) for r in run.rounds] == [(1, "replan"), (2, "finish")]
    assert run.rounds[0].reason == "double the population of Oslo"
    assert run.task(2).round == 2 and run.task(2).args == {"x": 700000}
    assert "Number its tasks from 2" in replan_request.last_user_message
    assert "700000" in replan_request.last_user_message  # the earlier result was shown
    assert [u.purpose for u in run.usage] == ["plan", "join", "replan", "join"]


async def test_replans_are_capped_and_the_last_round_must_finish() -> None:
    def respond(req: SimRequest) -> str:
        if is_joiner(req):
            return "Thought: never enough.\nAction: Replan(more)"
        return '1. population("Oslo")\njoin()' if "Earlier" not in req.last_user_message else f"{req.last_user_message.count('Round ') + 1}. double(1)\njoin()"

    async with sim_llm(respond, "openai") as (sim, llm):
        run = await Compiler(TOOLS, max_replans=1).run_query("q", llm=llm)
        last_joiner = [r for r in sim.requests if is_joiner(r)][-1]
    assert len(run.rounds) == 2
    assert run.rounds[-1].decision == "finish"
    assert run.answer is not None and "more" in run.answer
    assert "last round" in last_joiner.system


@pytest.mark.parametrize("wire", WIRES)
async def test_joiner_answer_with_parentheses_survives(wire: str) -> None:
    def respond(req: SimRequest) -> str:
        if is_joiner(req):
            return "Thought: it is the film.\nAction: Finish(Star Wars (1977 film) (directed by George Lucas))"
        return '1. population("Rome")\njoin()'

    async with sim_llm(respond, wire) as (sim, llm):
        run = await Compiler(TOOLS).run_query("q", llm=llm)
    assert run.answer == "Star Wars (1977 film) (directed by George Lucas)"


@pytest.mark.parametrize("wire", WIRES)
async def test_a_plan_that_fails_checks_is_repaired_after_one_retry(wire: str) -> None:
    replies = iter([
        '1. population("Paris")\n2. populaton("Rome")\njoin()',  # task 2 misspells the tool
        '2. population("Rome")\n3. add($1, $2)\njoin()',
    ])

    def respond(req: SimRequest) -> str:
        return f"Action: Finish({last_result_number(req)})" if is_joiner(req) else next(replies)

    async with sim_llm(respond, wire) as (sim, llm):
        run = await Compiler(TOOLS).run_query("q", llm=llm)
        repair = sim.requests[1]
    assert "did you mean 'population'" in repair.last_user_message
    assert "already running" in repair.last_user_message
    assert run.answer == "4900000"
    assert [t.id for t in run.tasks] == [1, 2, 3]


async def test_a_plan_still_wrong_after_the_repair_is_a_clear_error() -> None:
    def respond(req: SimRequest) -> str:
        return "Action: Finish(x)" if is_joiner(req) else "1. nosuchtool(1)\njoin()"

    async with sim_llm(respond, "openai") as (sim, llm):
        run = await Compiler(TOOLS).run_query("q", llm=llm)
    assert run.answer is None
    assert "still wrong after one repair" in (run.error or "")
    assert "nosuchtool" in (run.error or "")
    assert len(sim.requests) == 2


@pytest.mark.parametrize("wire", WIRES)
async def test_an_endpoint_error_is_a_clear_error_not_a_hang(wire: str) -> None:
    async with sim_llm(lambda req: Fail(503, "overloaded"), wire) as (sim, llm):
        with anyio.fail_after(20):
            run = await Compiler(TOOLS).run_query("q", llm=llm)
    assert run.answer is None
    assert "planner LLM failed" in (run.error or "") and "503" in (run.error or "")


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stalled_endpoint_times_out(wire: str) -> None:
    async with sim_llm(lambda req: Reply("1. population(", stall_after_tokens=2), wire, idle=0.5, first_token=2) as (sim, llm):
        started = time.perf_counter()
        with anyio.fail_after(20):
            run = await Compiler(TOOLS).run_query("q", llm=llm)
    assert time.perf_counter() - started < 15
    assert run.answer is None and "planner LLM failed" in (run.error or "")
    assert "stalled" in (run.error or "") or "timed out" in (run.error or "") or "no first token" in (run.error or "")


async def test_a_query_without_a_model_says_what_to_configure() -> None:
    with pytest.raises(NoPlanner, match="ANTHROPIC_API_KEY"):
        await Compiler(TOOLS).run_query("q")


def test_planner_prompt_lists_tools_and_never_contains_the_joiner_action() -> None:
    prompt = planner_prompt(Catalog(TOOLS.specs().values()))
    assert "Action: Finish(" not in prompt
    assert "population(city: string)" in prompt and "<END_OF_PLAN>" in prompt
    assert "Action: Finish(" in joiner_prompt(last_round=False)


def test_planner_prompt_teaches_the_one_language_description_and_a_fitting_example() -> None:
    prompt = planner_prompt(Catalog(TOOLS.specs().values()))
    assert prompt.startswith("You are the planner")  # what the bench's simulated model keys on
    assert language.RULES in prompt and language.CHECK_FAILS_STREAMED in prompt
    assert language.CHECK_FAILS_WHOLE not in prompt  # a streamed plan keeps its good tasks running
    assert "increase by one" not in prompt  # the parser takes any increasing IDs
    assert EXAMPLE_GENERIC.plan in prompt and EXAMPLE_WIKI_MATH.plan not in prompt
    specs = [ToolSpec(name=name, provider=name.split(".")[0]) for name in ("wiki.fact", "math.eval", "x.y")]
    prompt = planner_prompt(Catalog(specs))
    assert EXAMPLE_WIKI_MATH.plan + "\n<END_OF_PLAN>" in prompt and EXAMPLE_GENERIC.plan not in prompt
    assert example_for(["wiki.fact"]) is EXAMPLE_GENERIC
    assert example_for(["wiki.fact", "math.eval", "x.y"]) is EXAMPLE_WIKI_MATH


def test_the_generic_example_parses_and_checks() -> None:
    async def find(query: str) -> dict:
        return {"length_km": len(query)}

    async def compare(a: float, b: float) -> bool:
        return a > b

    box = FunctionToolbox({"search.find": find, "calc.compare": compare})
    assert EXAMPLE_GENERIC.tools == {"search.find", "calc.compare"}
    assert [b.id for b in check_plan(parse_plan(EXAMPLE_GENERIC.plan), box.specs())] == [1, 2, 3]


async def test_the_wiki_math_example_runs_over_the_bundled_servers() -> None:
    async with UpstreamPool(load_config(None)) as pool:
        assert example_for(pool.specs()) is EXAMPLE_WIKI_MATH
        run = await Compiler(pool).run_plan(EXAMPLE_WIKI_MATH.plan)
    assert run.ok, [t.error for t in run.tasks]
    assert run.task(4).result["value"] == pytest.approx(abs(6650 * 0.9 - 6400 * 1.05) / 1.609344)


@pytest.mark.parametrize("wire", WIRES)
async def test_a_streamed_forward_reference_is_caught_by_the_checks_and_repaired(wire: str) -> None:
    replies = iter([
        '1. population("Paris")\n2. add($1, $3)\n3. population("Rome")\njoin()',  # $3 comes later
        '2. population("Rome")\n3. add($1, $2)\njoin()',
    ])

    def respond(req: SimRequest) -> str:
        return f"Action: Finish({last_result_number(req)})" if is_joiner(req) else next(replies)

    async with sim_llm(respond, wire) as (sim, llm):
        run = await Compiler(TOOLS).run_query("q", llm=llm)
        repair = sim.requests[1]
    assert "line 2, column 1: task 2 refers to $3, which is not an earlier task" in repair.last_user_message
    assert "1. population(" in repair.last_user_message and "already running" in repair.last_user_message
    assert run.answer == "4900000"
    assert [t.id for t in run.tasks] == [1, 2, 3]


@pytest.mark.parametrize(
    ("reply", "action", "text"),
    [
        ("Thought: yes.\nAction: Finish(Star Wars (1977 film))", "finish", "Star Wars (1977 film)"),
        ("Thought: no.\nAction: Replan(need (more) data)", "replan", "need (more) data"),
        ('{"action": "finish", "answer": "42"}', "finish", "42"),
        ('```json\n{"action": "replan", "reason": "x"}\n```', "replan", "x"),
        ("Finish(just this)", "finish", "just this"),
    ],
)
def test_parse_decision(reply: str, action: str, text: str) -> None:
    decision = parse_decision(reply)
    assert decision is not None and (decision.action, decision.text) == (action, text)


def test_parse_decision_without_an_action_is_none() -> None:
    assert parse_decision("I think the answer is 4.") is None


async def test_a_plan_cut_short_by_the_planner_tells_the_joiner_and_the_run() -> None:
    # Task 1 streams and runs; the rest of the plan is wrong twice, so planning stops with tasks
    # already done. The joiner must be told the plan is incomplete, and the Run must keep why.
    joiner_prompts: list[str] = []

    def joiner(system: str, messages: list[Any]) -> str:
        joiner_prompts.append(messages[-1].content)
        return "Action: Finish(partial)"

    llm = ScriptedLLM(['1. population("Paris")\n2. nosuchtool(1)\njoin()', "2. nosuchtool(2)\njoin()", joiner])
    run = await Compiler(TOOLS).run_query("q", llm=llm)
    assert [t.status for t in run.tasks] == ["ok"]
    assert run.answer == "partial"
    assert "still wrong after one repair" in (run.rounds[0].planner_error or "")
    assert "planning stopped early" in joiner_prompts[0] and "nosuchtool" in joiner_prompts[0]
    assert "still wrong" in run.to_dict()["rounds"][0]["planner_error"]
