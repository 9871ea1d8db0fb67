"""Questions over the default MCP servers, planned by a simulated model that writes correct plans.

The joiner double answers with the `value` of the last task's result as it was shown to it, so the
answer is right only if the plan ran over the real servers and the results reached the joiner.
Expected answers are computed here from the bundled data file, not copied from a run.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from benchmarks.simllm import LatencyModel, SimRequest, SimulatedLLM
from mcp_compiler.compiler import Compiler
from mcp_compiler.config import load_config
from mcp_compiler.llm.openai import OpenAILLM
from mcp_compiler.upstreams import UpstreamPool

pytestmark = pytest.mark.anyio

FACTS = {
    e["name"]: e["facts"]
    for e in json.loads(resources.files("mcp_compiler.servers").joinpath("wiki.json").read_text("utf-8"))
}

SHAPES = {
    "fan-out and compare": (
        "Which is longer after the changes, the Nile shortened by 10% or the Amazon extended by 5%?",
        '1. wiki.fact("Nile", "length_km")\n2. wiki.fact("Amazon", "length_km")\n'
        '3. math.eval("nile * 0.9 - amazon * 1.05", {"nile": $1.value, "amazon": $2.value})\njoin()',
        FACTS["Nile"]["length_km"] * 0.9 - FACTS["Amazon"]["length_km"] * 1.05,
    ),
    "chain": (
        "How tall in feet is the highest mountain in Africa?",
        '1. wiki.search("highest mountain Africa", limit=1)\n2. wiki.fact($1.hits[0].name, "height_m")\n'
        '3. math.eval("$2.value * 3.28084")\njoin()',
        FACTS["Kilimanjaro"]["height_m"] * 3.28084,
    ),
    "fan-out feeding math": (
        "What is the combined population of Tokyo, Delhi and Shanghai?",
        '1. wiki.fact("Tokyo", "population")\n2. wiki.fact("Delhi", "population")\n'
        '3. wiki.fact("Shanghai", "population")\n4. math.sum([$1.value, $2.value, $3.value])\njoin()',
        sum(FACTS[c]["population"] for c in ("Tokyo", "Delhi", "Shanghai")),
    ),
    "ratio of fastest to slowest": (
        "What is the ratio of the fastest to the slowest of cheetah, greyhound and peregrine falcon?",
        '1. wiki.fact("Cheetah", "top_speed_kmh")\n2. wiki.fact("Greyhound", "top_speed_kmh")\n'
        '3. wiki.fact("Peregrine falcon", "top_speed_kmh")\n'
        '4. math.eval("max($1.value, $2.value, $3.value) / min($1.value, $2.value, $3.value)")\njoin()',
        max(FACTS[a]["top_speed_kmh"] for a in ("Cheetah", "Greyhound", "Peregrine falcon"))
        / min(FACTS[a]["top_speed_kmh"] for a in ("Cheetah", "Greyhound", "Peregrine falcon")),
    ),
}


def respond(req: SimRequest) -> str:
    if "Action: Finish(" in req.system:
        values = re.findall(r'"value": ?(-?[\d.e+]+)', req.last_user_message)  # results are compact JSON
        return f"Thought: the last result answers it.\nAction: Finish({values[-1]})"
    question = req.last_user_message.removeprefix("Question: ")
    plan = next(p for q, p, _ in SHAPES.values() if q == question)
    return plan + "\n<END_OF_PLAN>"


async def test_answers_over_the_default_servers_are_correct_for_several_shapes() -> None:
    async with SimulatedLLM(responder=respond, latency=LatencyModel(ttft_s=0.02, tokens_per_s=400)) as sim:
        llm = OpenAILLM("sim", base_url=sim.base_url_openai, api_key="test", max_retries=0)
        try:
            async with UpstreamPool(load_config(None)) as pool:
                compiler = Compiler(pool)
                for name, (question, _plan, expected) in SHAPES.items():
                    run = await compiler.run_query(question, llm=llm)
                    assert run.ok, (name, [t.error for t in run.tasks])
                    assert run.answer is not None
                    assert float(run.answer) == pytest.approx(expected), name
        finally:
            await llm.aclose()
