"""The MCP server in process: `Client(app.server)` against `CompilerServer` over Python tools.

End-to-end tests over real stdio and HTTP subprocesses live in test_server_e2e.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pytest
from mcp import Client

from mcp_compiler.config import Config, ConfigError, default_config
from mcp_compiler.engine.run import Run, TaskRecord
from mcp_compiler.server import (
    CATALOG_JSON_URI,
    CATALOG_URI,
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    RUN_SCHEMA,
    TOOL_NAME,
    BearerTokenMiddleware,
    CompilerServer,
    RequestLimits,
    require_token,
    run_result,
    tool_description,
    transport_security,
)
from mcp_compiler.tools.toolbox import FunctionToolbox, ToolSpec

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # 2026-07-28 direct dispatch, and the 2025-11-25 handshake over JSON-RPC


async def add(a: float, b: float) -> float:
    """Add two numbers."""
    await anyio.sleep(0.05)
    return a + b


add.read_only = True  # type: ignore[attr-defined]  # pure: plan order does not hold its calls back


async def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


def make_app(tools: Mapping[str, Any] | None = None, **kwargs: Any) -> CompilerServer:
    return CompilerServer(FunctionToolbox(dict(tools or {"add": add, "fail": fail})), **kwargs)


async def call(client: Client, arguments: dict[str, Any], **kwargs: Any) -> types.CallToolResult:
    with anyio.fail_after(60):
        return await client.call_tool(TOOL_NAME, arguments, **kwargs)


def text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


# ---- tools/list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_one_tool_with_precise_input_and_output_schemas(mode: str) -> None:
    async with Client(make_app().server, mode=mode) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == [TOOL_NAME]
    tool = tools[0]
    assert tool.input_schema == INPUT_SCHEMA
    assert set(tool.input_schema["properties"]) == {"plan", "query"}
    assert all(p["type"] == "string" for p in tool.input_schema["properties"].values())
    assert tool.input_schema["additionalProperties"] is False
    assert tool.output_schema == OUTPUT_SCHEMA
    assert {"tasks", "timings", "rounds", "usage"} <= set(tool.output_schema["required"])
    jsonschema.Draft202012Validator.check_schema(tool.output_schema)


def test_the_declared_schema_types_what_every_task_has_and_names_the_rest() -> None:
    precise = RUN_SCHEMA["properties"]["tasks"]["items"]
    declared = OUTPUT_SCHEMA["properties"]["tasks"]["items"]
    assert set(declared["properties"]) == set(precise["required"]) == {"id", "tool", "status"}
    for field in set(precise["properties"]) - set(declared["properties"]):
        assert f"{field} (" in declared["description"]
    run = {"answer": "x", "timings": {}, "rounds": [], "usage": {"calls": [], "input_tokens": 0, "output_tokens": 0},
           "tasks": [{"id": 1, "tool": "m.add", "status": "ok", "result": 3}]}
    jsonschema.validate(run, OUTPUT_SCHEMA)
    run["tasks"][0]["status"] = "finished"
    with pytest.raises(jsonschema.ValidationError, match="finished"):
        jsonschema.validate(run, OUTPUT_SCHEMA)


async def test_description_teaches_the_language_and_lists_every_tool() -> None:
    async with Client(make_app().server) as client:
        description = (await client.list_tools()).tools[0].description or ""
    assert "join()" in description and "$N" in description and "Example" in description
    assert "add(a: number, b: number) — Add two numbers." in description
    assert "fail(reason: string) — Always fails." in description
    assert CATALOG_URI not in description  # a small catalog is listed in full


async def test_description_uses_the_wiki_math_example_when_those_tools_exist() -> None:
    catalog = {name: ToolSpec(name=name, provider=name.split(".")[0]) for name in ("wiki.fact", "math.eval")}
    description = tool_description(catalog)
    assert 'wiki.fact("Nile", "length_km")' in description
    assert "placeholders" in tool_description({"x.y": ToolSpec(name="x.y")})


async def test_a_large_catalog_lists_a_subset_and_offers_the_full_catalog_as_a_resource() -> None:
    def spec(i: int) -> ToolSpec:
        server = f"s{i % 4}"
        return ToolSpec(
            name=f"{server}.tool{i}", provider=server, description=f"Tool number {i}. " + "x" * 80,
            input_schema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        )

    class BigToolbox:
        def specs(self) -> dict[str, ToolSpec]:
            return {s.name: s for s in map(spec, range(120))}

        async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
            return arguments

    limits = RequestLimits()
    app = CompilerServer(BigToolbox(), limits=limits)  # type: ignore[arg-type]
    async with Client(app.server) as client:
        description = (await client.list_tools()).tools[0].description or ""
        listed = [line for line in description.splitlines() if line.startswith("s") and "(q: string)" in line]
        assert "120 exist on 4 servers" in description
        assert CATALOG_URI in description
        assert 0 < len(listed) <= limits.description_max_tools
        assert {line.split(".")[0] for line in listed} == {"s0", "s1", "s2", "s3"}  # every server represented
        assert len(description) < limits.description_max_chars + 2500
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {CATALOG_URI, CATALOG_JSON_URI} <= uris
        full = await client.read_resource(CATALOG_URI)
        assert all(f"tool{i}(" in full.contents[0].text for i in range(120))  # type: ignore[union-attr]
        as_json = json.loads((await client.read_resource(CATALOG_JSON_URI)).contents[0].text)  # type: ignore[union-attr]
        assert len(as_json) == 120 and as_json[0]["input_schema"]["required"] == ["q"]


async def test_the_per_call_limits_and_the_description_size_come_from_the_config() -> None:
    config = Config.model_validate(
        {"compiler": {"max_plan_tasks": 2, "max_plan_bytes": 200, "description_max_tools": 1}}
    )
    app = make_app(config=config)
    async with Client(app.server) as client:
        description = (await client.list_tools()).tools[0].description or ""
        too_many = await call(client, {"plan": "1. add(1, 2)\n2. add(3, 4)\n3. add($1, $2)"})
        too_big = await call(client, {"plan": "1. add(1, 2)  " + " " * 200})
        fine = await call(client, {"plan": "1. add(1, 2)\n2. add($1, 4)"})
    assert "2 exist" in description  # add and fail, one listed
    assert too_many.is_error and "limit is 2 per call" in text(too_many) and "compiler.max_plan_tasks" in text(too_many)
    assert too_big.is_error and "compiler.max_plan_bytes" in text(too_big)
    assert not fine.is_error and text(fine) == "7"


# ---- tools/call: results --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_plan_returns_the_answer_as_text_and_the_run_as_structured_content(mode: str) -> None:
    plan = "1. add(1, 2)\n2. add(3, 4)\n3. add($1, $2)\njoin()"
    async with Client(make_app().server, mode=mode) as client:
        result = await call(client, {"plan": plan})
    assert not result.is_error
    assert text(result) == "10"
    run = result.structured_content
    assert run is not None
    jsonschema.validate(run, RUN_SCHEMA)
    assert "answer" not in run  # the text is the answer: the Run does not carry it twice
    assert [(t["id"], t["tool"], t["status"], t["result"]) for t in run["tasks"]] == [
        (1, "add", "ok", 3), (2, "add", "ok", 7), (3, "add", "ok", 10)
    ]
    assert run["tasks"][2]["args"] == {"a": 3, "b": 7}
    assert run["tasks"][2]["deps"] == [1, 2]
    # 1 and 2 ran side by side: 3 started only after both ended.
    t1, t2, t3 = run["tasks"]
    assert t3["start_s"] >= max(t1["end_s"], t2["end_s"])
    assert t1["start_s"] < t2["end_s"] and t2["start_s"] < t1["end_s"]


async def test_failed_tasks_are_reported_in_the_run_and_the_call_still_answers() -> None:
    async with Client(make_app().server) as client:
        result = await call(client, {"plan": '1. add(1, 1)\n2. fail("boom")\n3. add($2, 1)'})
    assert not result.is_error
    run = result.structured_content
    assert run is not None
    statuses = {t["id"]: t["status"] for t in run["tasks"]}
    assert statuses == {1: "ok", 2: "error", 3: "skipped"}
    assert "boom" in (run["tasks"][1]["error"] or "")
    assert "$1 add: 2" in text(result)


async def test_a_run_with_no_answer_is_an_error_that_still_carries_the_run() -> None:
    async with Client(make_app().server) as client:
        result = await call(client, {"plan": '1. fail("first")\n2. fail("second")'})
    assert result.is_error
    assert "every task failed" in text(result) and "first" in text(result)
    assert result.structured_content is not None
    assert [t["status"] for t in result.structured_content["tasks"]] == ["error", "error"]


def test_run_result_is_an_error_only_without_an_answer() -> None:
    ok = Run(tasks=[TaskRecord(1, "t", status="ok", result=1)], answer="1")
    assert not run_result(ok).is_error
    planned_nothing = Run(answer=None, error="the planner gave up")
    result = run_result(planned_nothing)
    assert result.is_error and "the planner gave up" in result.content[0].text  # type: ignore[union-attr]


# ---- tools/call: bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "got neither"),
        ({"plan": "1. add(1, 2)", "query": "add one and two"}, "got both"),
        ({"plan": ""}, "`plan` is empty"),
        ({"plan": "  \n\t"}, "`plan` is empty"),
        ({"query": ""}, "`query` is empty"),
        ({"plan": 42}, "must be a string"),
        ({"plan": "1. add(1, 2)", "plann": "x"}, "unknown argument"),
        ({"plan": "Thought: nothing to do\njoin()"}, "no tasks"),
        ({"plan": "1. add(1, "}, "line 1, column"),
        ({"plan": "1. add(1, 2)\n2. ad(3, 4)"}, "did you mean"),
        ({"plan": "1. add(1, $2)\n2. add(3, 4)"}, "$2, which is not an earlier task"),
        ({"plan": '1. add("one", 2)'}, "'one' is not of type 'number'"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
async def test_bad_input_is_a_clear_tool_error_and_the_server_keeps_serving(
    mode: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(make_app().server, mode=mode) as client:
        result = await call(client, arguments)
        assert result.is_error, text(result)
        assert expected in text(result)
        after = await call(client, {"plan": "1. add(2, 2)"})
        assert not after.is_error and text(after) == "4"


async def test_a_syntax_error_names_line_and_column() -> None:
    async with Client(make_app().server) as client:
        result = await call(client, {"plan": "1. add(1, 2)\n2. add(3 4)"})
    assert result.is_error
    assert "line 2, column" in text(result)


async def test_a_plan_over_the_size_limit_is_refused_before_parsing() -> None:
    huge = "1. add(1, 2)\n" + "Thought: " + "x" * 1_000_000 + "\n"
    async with Client(make_app().server) as client:
        started = time.perf_counter()
        result = await call(client, {"plan": huge})
        assert result.is_error and "too large" in text(result) and "1,000,000" in text(result)
        assert time.perf_counter() - started < 10
        assert not (await call(client, {"plan": "1. add(1, 1)"})).is_error


async def test_a_plan_of_ten_thousand_tasks_is_refused_and_nothing_runs() -> None:
    calls: list[int] = []

    async def count(x: int) -> int:
        calls.append(x)
        return x

    plan = "".join(f"{i}. count({i})\n" for i in range(1, 10_001))
    async with Client(make_app({"count": count}).server) as client:
        result = await call(client, {"plan": plan})
        assert result.is_error and "10,000 tasks" in text(result) and "1,000" in text(result)
        assert calls == []
        ok = await call(client, {"plan": "".join(f"{i}. count({i})\n" for i in range(1, 1001))})
        assert not ok.is_error
        assert ok.structured_content is not None and len(ok.structured_content["tasks"]) == 1000
        assert len(calls) == 1000


async def test_a_query_without_a_model_says_what_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    async with Client(make_app().server) as client:
        result = await call(client, {"query": "what is 1 + 2?"})
    assert result.is_error
    message = text(result)
    for needed in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "--model", "compiler.model", "`plan` works without"):
        assert needed in message


def _sampling_host(seen: list[str]):
    """A host model behind a sampling callback: writes the plan, then the joiner's answer."""

    async def callback(ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        system = params.system_prompt or ""
        seen.append("join" if "Action: Finish(" in system else "plan")
        if "Action: Finish(" in system:
            value = re.findall(r"-> (-?[\d.]+)", params.messages[-1].content.text)[-1]
            reply = f"Thought: the sum is known.\nAction: Finish({value})"
        else:
            reply = "1. add(1, 2)\n2. add($1, 10)\njoin()\n<END_OF_PLAN>"
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=reply), model="host-model"
        )

    return callback


async def test_a_query_is_planned_with_the_hosts_model_through_sampling_without_an_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    seen: list[str] = []
    async with Client(make_app().server, mode="legacy", sampling_callback=_sampling_host(seen)) as client:
        result = await call(client, {"query": "what is (1 + 2) + 10?"})
    assert not result.is_error, text(result)
    assert text(result) == "13"
    assert seen == ["plan", "join"]
    run = result.structured_content
    assert run is not None and [u["model"] for u in run["usage"]["calls"]] == ["sampling", "sampling"]


async def test_sampling_in_the_2026_era_goes_through_input_required(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    seen: list[str] = []
    async with Client(make_app(model="sampling").server, sampling_callback=_sampling_host(seen)) as client:
        result = await call(client, {"query": "what is (1 + 2) + 10?"})
        assert client.protocol_version == "2026-07-28"
    assert not result.is_error, text(result)
    assert text(result) == "13" and seen == ["plan", "join"]


async def test_model_sampling_with_a_client_that_cannot_sample_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with Client(make_app(model="sampling").server, mode="legacy") as client:
        result = await call(client, {"query": "what is 1 + 2?"})
    assert result.is_error and "did not offer sampling" in text(result) and "plan" in text(result)


async def test_a_query_goes_to_the_planner_with_the_configured_llm_and_reports_its_phases() -> None:
    from mcp_compiler.compiler import Event

    class PlanningCompiler:
        llm = "the-llm"

        def __init__(self) -> None:
            self.asked: list[tuple[str, Any]] = []

        async def run_plan(self, plan: Any, *, on_event: Any = None, confirm: Any = None) -> Run:
            raise AssertionError("a query must not take the plan path")

        async def run_query(self, question: str, *, llm: Any = None, on_event: Any = None, confirm: Any = None) -> Run:
            self.asked.append((question, llm))
            if on_event:
                on_event(Event("phase", "planning (round 1)"))
                on_event(Event("phase", "joining"))
            return Run(answer="42")

    compiler = PlanningCompiler()
    app = CompilerServer(FunctionToolbox({"add": add}), compiler=compiler)  # type: ignore[arg-type]
    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    async with Client(app.server) as client:
        result = await call(client, {"query": "what is six times seven?"}, progress_callback=on_progress)
    assert not result.is_error and text(result) == "42"
    assert compiler.asked == [("what is six times seven?", "the-llm")]
    assert messages == ["planning (round 1)", "joining"]


async def test_an_unknown_tool_name_is_a_tool_error() -> None:
    async with Client(make_app().server) as client:
        with anyio.fail_after(30):
            result = await client.call_tool("compile", {"plan": "1. add(1, 2)"})
    assert result.is_error and TOOL_NAME in text(result)


# ---- progress, cancellation, concurrency ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_progress_names_each_task_as_it_starts_and_finishes(mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(make_app().server, mode=mode) as client:
        result = await call(client, {"plan": "1. add(1, 2)\n2. add(3, 4)\n3. add($1, $2)"}, progress_callback=on_progress)
        assert not result.is_error
        with anyio.fail_after(10):  # notifications may trail the result on JSON-RPC transports
            while len(seen) < 6:
                await anyio.sleep(0.02)
    messages = [m for _, _, m in seen]
    for task in ("task 1 add", "task 2 add", "task 3 add"):
        assert any(m and m.startswith(task) and "started" in m for m in messages)
        assert any(m and m.startswith(task) and " ok" in m for m in messages)
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and len(set(progress)) == len(progress)  # strictly increasing
    assert seen[-1][0] == seen[-1][1] == 6


@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_the_call_cancels_every_downstream_call_in_flight(mode: str) -> None:
    started: list[int] = []
    cancelled: list[int] = []
    all_started = anyio.Event()

    async def hang(n: int) -> int:
        started.append(n)
        if len(started) == 3:
            all_started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(n)
            raise
        return n

    hang.read_only = True  # type: ignore[attr-defined]  # the three calls are in flight together
    async with Client(make_app({"hang": hang, "add": add}).server, mode=mode) as client:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, TOOL_NAME, {"plan": "1. hang(1)\n2. hang(2)\n3. hang(3)"})
                await all_started.wait()
                tg.cancel_scope.cancel()
            while len(cancelled) < 3:
                await anyio.sleep(0.02)
            assert sorted(cancelled) == [1, 2, 3]
            # and the server goes on serving
            assert text(await call(client, {"plan": "1. add(5, 5)"})) == "10"


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_calls_share_the_toolbox_and_each_gets_its_own_answer(mode: str) -> None:
    in_flight = 0
    peak = 0

    async def slow_double(x: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await anyio.sleep(0.2)
            return 2 * x
        finally:
            in_flight -= 1

    answers: dict[int, str] = {}
    async with Client(make_app({"slow_double": slow_double}).server, mode=mode) as client:

        async def one(i: int) -> None:
            answers[i] = text(await call(client, {"plan": f"1. slow_double({i})"}))

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)
        elapsed = time.perf_counter() - started
    assert answers == {i: str(2 * i) for i in range(20)}
    assert peak > 1  # the calls overlapped
    assert elapsed < 20 * 0.2  # faster than one after another


# ---- catalog changes ------------------------------------------------------------------------------


class MutableToolbox:
    """A FunctionToolbox whose tools can change, like an upstream that restarted."""

    def __init__(self, tools: Mapping[str, Any]) -> None:
        self.box = FunctionToolbox(tools)

    def specs(self) -> Mapping[str, ToolSpec]:
        return self.box.specs()

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return await self.box.call(spec, arguments)


async def mul(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


async def test_a_catalog_change_regenerates_the_description_and_tells_handshake_clients() -> None:
    toolbox = MutableToolbox({"add": add})
    app = CompilerServer(toolbox)  # type: ignore[arg-type]
    notified = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            notified.set()

    async with Client(app.server, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.tools is not None and client.server_capabilities.tools.list_changed
        before = (await client.list_tools()).tools[0].description or ""
        assert "mul(" not in before
        toolbox.box = FunctionToolbox({"add": add, "mul": mul})
        await app.catalog_changed()
        with anyio.fail_after(10):
            await notified.wait()
        after = (await client.list_tools()).tools[0].description or ""
        assert "mul(a: number, b: number) — Multiply two numbers." in after
        assert text(await call(client, {"plan": "1. mul(6, 7)"})) == "42"


async def test_a_catalog_change_reaches_2026_clients_through_subscriptions_listen() -> None:
    toolbox = MutableToolbox({"add": add})
    app = CompilerServer(toolbox)  # type: ignore[arg-type]
    async with Client(app.server) as client:
        assert client.protocol_version == "2026-07-28"
        with anyio.fail_after(15):
            async with client.listen(tools_list_changed=True) as subscription:
                toolbox.box = FunctionToolbox({"add": add, "mul": mul})
                await app.catalog_changed()
                event = await subscription.__anext__()
        assert type(event).__name__ == "ToolsListChanged"
        assert "mul(" in ((await client.list_tools()).tools[0].description or "")


# ---- over the real bundled servers ------------------------------------------------------------------


async def test_the_default_servers_appear_in_the_description_and_a_fan_out_plan_runs() -> None:
    from mcp_compiler.upstreams import UpstreamPool

    config = default_config()
    with anyio.fail_after(90):
        async with UpstreamPool(config) as pool:
            app = CompilerServer(pool, config)
            pool.on_catalog_change.append(app.catalog_changed)
            async with Client(app.server) as client:
                description = (await client.list_tools()).tools[0].description or ""
                assert "wiki.fact(name: string, key: string)" in description
                assert "math.eval(expression: string" in description
                plan = (
                    '1. wiki.fact("Nile", "length_km")\n2. wiki.fact("Amazon", "length_km")\n'
                    '3. math.eval("a * 0.9 > b * 1.05", {"a": $1.value, "b": $2.value})\njoin()'
                )
                result = await call(client, {"plan": plan})
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    assert result.structured_content["tasks"][2]["result"]["value"] is False  # 5985 > 6720 is false
    assert [t["status"] for t in result.structured_content["tasks"]] == ["ok", "ok", "ok"]


# ---- HTTP security (unit level; the real server is in test_server_e2e.py) ------------------------------


def test_a_non_loopback_bind_without_a_token_is_refused() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(ConfigError, match="MCP_COMPILER_TOKEN"):
            require_token(host, None)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        require_token(host, None)
    require_token("0.0.0.0", "s3cret")


def test_rebinding_protection_is_on_for_every_bind() -> None:
    for host in ("127.0.0.1", "0.0.0.0", "10.1.2.3"):
        settings = transport_security(host, environ={})
        assert settings.enable_dns_rebinding_protection
        assert "localhost:*" in settings.allowed_hosts and "127.0.0.1:*" in settings.allowed_hosts
        assert "evil.example:*" not in settings.allowed_hosts
    assert "10.1.2.3:*" in transport_security("10.1.2.3", environ={}).allowed_hosts
    extra = transport_security("0.0.0.0", environ={"MCP_COMPILER_ALLOWED_HOSTS": "mcp.example.com, 10.0.0.5:8765"})
    assert "mcp.example.com:*" in extra.allowed_hosts and "10.0.0.5:8765" in extra.allowed_hosts
    assert "https://mcp.example.com" in extra.allowed_origins


async def test_the_bearer_middleware_answers_401_without_the_token_and_passes_with_it() -> None:
    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BearerTokenMiddleware(inner, "s3cret-token")

    async def request(headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, dict[bytes, bytes]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        await app({"type": "http", "headers": headers, "method": "POST", "path": "/mcp"}, receive, send)
        return sent[0]["status"], sent[1]["body"], dict(sent[0]["headers"])

    status, body, headers = await request([])
    assert status == 401 and b"www-authenticate" in headers and b"s3cret" not in body
    assert (await request([(b"authorization", b"Bearer wrong")]))[0] == 401
    assert (await request([(b"authorization", b"Basic s3cret-token")]))[0] == 401
    assert reached == []
    assert (await request([(b"authorization", b"Bearer s3cret-token")]))[0] == 200
    assert (await request([(b"authorization", b"bearer s3cret-token")]))[0] == 200
    assert reached == ["http", "http"]
    with pytest.raises(ValueError):
        BearerTokenMiddleware(inner, "")


# ---- the destructive-tool policy ---------------------------------------------------------------

ERASED: list[str] = []


async def erase(name: str) -> str:
    """Erase a record."""
    ERASED.append(name)
    return f"erased {name}"


erase.destructive = True  # type: ignore[attr-defined]


def _answering(run_it: bool, asked: list[str]):
    async def callback(ctx: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"run": run_it})

    return callback


@pytest.mark.parametrize("run_it", [True, False])
async def test_confirm_asks_the_host_through_elicitation_before_a_destructive_call(run_it: bool) -> None:
    ERASED.clear()
    asked: list[str] = []
    app = make_app({"erase": erase, "add": add})
    async with Client(app.server, mode="legacy", elicitation_callback=_answering(run_it, asked)) as client:
        result = await call(client, {"plan": '1. add(1, 2)\n2. erase("old")\njoin()'})
    run = result.structured_content
    assert run is not None and run["tasks"][0]["status"] == "ok"
    assert len(asked) == 1 and "erase" in asked[0] and "destructive" in asked[0]
    assert ERASED == (["old"] if run_it else [])
    assert run["tasks"][1]["status"] == ("ok" if run_it else "error")


async def test_without_elicitation_a_destructive_call_is_refused_and_allow_runs_it() -> None:
    ERASED.clear()
    async with Client(make_app({"erase": erase}).server, mode="legacy") as client:
        refused = await call(client, {"plan": '1. erase("old")'})
    assert refused.is_error and "compiler.destructive" in text(refused) and ERASED == []
    allowing = Config.model_validate({"compiler": {"destructive": "allow"}})
    async with Client(make_app({"erase": erase}, config=allowing).server) as client:
        ran = await call(client, {"plan": '1. erase("old")'})
    assert not ran.is_error and ERASED == ["old"]


@pytest.mark.parametrize("answer", [{"run": "true"}, {"run": "false"}, {"run": "no"}, {"run": 1}, {}])
async def test_only_a_real_boolean_true_confirms_a_destructive_call(answer: dict) -> None:
    ERASED.clear()

    async def callback(ctx: Any, params: Any) -> types.ElicitResult:
        # The SDK client validates the form against the schema only when asked to; a host may send anything.
        return types.ElicitResult(action="accept", content=answer)

    async with Client(make_app({"erase": erase}).server, mode="legacy", elicitation_callback=callback) as client:
        result = await call(client, {"plan": '1. erase("old")'})
    run = result.structured_content
    assert ERASED == []
    assert run is not None and run["tasks"][0]["status"] == "error"
    assert "was not confirmed" in run["tasks"][0]["error"]


async def test_overlapping_sampling_and_elicitation_leave_the_warning_filters_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    before = list(warnings.filters)
    seen: list[str] = []
    sample = _sampling_host(seen)
    gate = anyio.Event()
    waiting = 0

    async def slow_sampling(ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        nonlocal waiting
        waiting += 1
        if waiting == 2:
            gate.set()
        with anyio.fail_after(10):
            await gate.wait()  # both runs are inside a sampling request at once
        return await sample(ctx, params)

    ERASED.clear()
    async with Client(
        make_app({"erase": erase, "add": add}).server, mode="legacy", sampling_callback=slow_sampling,
        elicitation_callback=_answering(True, []),
    ) as client:
        results: list[Any] = []

        async def ask() -> None:
            results.append(await call(client, {"query": "what is (1 + 2) + 10?"}))

        async def confirm() -> None:
            results.append(await call(client, {"plan": '1. erase("x")'}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            tg.start_soon(ask)
            tg.start_soon(confirm)
    assert [text(r) for r in results if "13" == text(r)] == ["13", "13"]
    assert ERASED == ["x"]
    assert warnings.filters == before


def test_the_package_uses_no_private_sdk_module_or_attribute() -> None:
    import pathlib

    private = re.compile(r"\b(mcp|mcp_types)(\.\w+)*\._\w+|\b(session|connection|client|ctx)\._[a-z]\w*")
    package = pathlib.Path(__file__).parents[2] / "mcp_compiler"
    found = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in package.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert found == []
