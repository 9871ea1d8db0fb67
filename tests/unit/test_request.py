"""One request path: a request is parsed and checked once (`mcp_compiler/request.py`), by every door.

The counting tests patch the one parse of the request path and go through the MCP server in both
protocol eras, the 2026-07-28 one across an `input_required` round trip (a destructive task
confirmed by the host), asserting the plan was parsed exactly once per call.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from mcp_compiler import request as request_module
from mcp_compiler.errors import RequestError
from mcp_compiler.language.plan import Plan, PlanError
from mcp_compiler.request import Request, RequestLimits, parse_request, parse_request_async
from mcp_compiler.server import TOOL_NAME, CompilerServer
from mcp_compiler.tools.toolbox import FunctionToolbox

pytestmark = pytest.mark.anyio

ERAS = {"2026-07-28": "auto", "2025-11-25": "legacy"}


def test_a_plan_in_text_or_json_and_a_query_each_make_one_request() -> None:
    text = parse_request({"plan": "1. add(1, 2)\n2. add($1, 3)"})
    as_json = parse_request({"plan": '{"tasks": [{"id": 1, "tool": "add", "args": [1, 2]}]}'})
    query = parse_request({"query": "what is 1 + 2?"})
    assert isinstance(text.plan, Plan) and len(text.plan.tasks) == 2 and text.query is None
    assert isinstance(as_json.plan, Plan) and [t.tool for t in as_json.plan.tasks] == ["add"]
    assert query == Request(query="what is 1 + 2?")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "got neither"),
        ({"plan": "1. a()", "query": "x"}, "got both"),
        ({"plan": 3}, "must be a string"),
        ({"plan": "1. a()", "extra": 1}, "unknown argument"),
        ({"plan": "  "}, "`plan` is empty"),
        ({"query": ""}, "`query` is empty"),
    ],
)
def test_a_request_that_breaks_a_rule_is_refused_with_what_to_do(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_request(arguments)


def test_every_request_limit_is_checked_in_the_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = RequestLimits(max_plan_bytes=100, max_plan_tasks=2, max_query_chars=10)
    parsed: list[str] = []
    monkeypatch.setattr(request_module, "parse_plan", lambda text: parsed.append(text) or Plan())
    with pytest.raises(RequestError, match="compiler.max_plan_bytes"):
        parse_request({"plan": "1. a()\n" * 20}, limits)
    assert parsed == []  # the size is checked before the plan is parsed
    monkeypatch.undo()
    with pytest.raises(RequestError, match="compiler.max_plan_tasks"):
        parse_request({"plan": "1. a()\n2. a()\n3. a()"}, limits)
    with pytest.raises(RequestError, match="limit is 10"):
        parse_request({"query": "x" * 11}, limits)
    with pytest.raises(PlanError):
        parse_request({"plan": "1. a("}, limits)


async def test_a_big_plan_is_parsed_once_in_a_worker_thread_and_a_small_one_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    real = request_module.parse_plan

    def recording(text: str) -> Plan:
        threads.append(threading.current_thread().name)
        return real(text)

    monkeypatch.setattr(request_module, "parse_plan", recording)
    big = "\n".join(f'{i}. add("{"x" * 40}", 1)' for i in range(1, 901))
    assert len(big) > 32_768
    request = await parse_request_async({"plan": big})
    assert request.plan is not None and len(request.plan.tasks) == 900
    await parse_request_async({"plan": "1. add(1, 2)"})
    assert len(threads) == 2 and threads[0] != threads[1] == threading.current_thread().name


# ---- parses per request, through the server --------------------------------------------------------


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every parse of a plan on the request path, counted."""
    seen: list[str] = []
    real = request_module.parse_plan

    def counting(text: str, **kwargs: Any) -> Plan:
        seen.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(request_module, "parse_plan", counting)
    return seen


@pytest.mark.parametrize("era", ERAS)
async def test_a_plan_is_parsed_once_per_call_in_either_era(era: str, parses: list[str]) -> None:
    async def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    app = CompilerServer(FunctionToolbox({"add": add}))
    with anyio.fail_after(30):
        async with Client(app.server, mode=ERAS[era]) as client:
            assert client.protocol_version == era
            result = await client.call_tool(TOOL_NAME, {"plan": "1. add(1, 2)\n2. add($1, 3)"})
    assert not result.is_error and parses == ["1. add(1, 2)\n2. add($1, 3)"]


async def test_a_plan_held_across_a_round_trip_is_parsed_once(parses: list[str]) -> None:
    erased: list[str] = []

    async def erase(name: str) -> str:
        """Erase a record."""
        erased.append(name)
        return f"erased {name}"

    erase.destructive = True  # type: ignore[attr-defined]

    async def never(ctx: Any, params: Any) -> types.ElicitResult:
        raise AssertionError("this test answers by hand")

    app = CompilerServer(FunctionToolbox({"erase": erase}))
    arguments = {"plan": '1. erase("x")'}
    with anyio.fail_after(30):
        async with Client(app.server, elicitation_callback=never) as client:
            session = client.session
            first = await session.call_tool(TOOL_NAME, arguments, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            yes = {"confirm-1": types.ElicitResult(action="accept", content={"run": True})}
            done = await session.call_tool(
                TOOL_NAME, arguments, input_responses=yes, request_state=first.request_state, allow_input_required=True
            )
    assert isinstance(done, types.CallToolResult) and not done.is_error and erased == ["x"]
    assert parses == ['1. erase("x")']  # the first call parsed it; the retry continued the held run
