"""`mcp-compiler serve` as a real subprocess, driven by the SDK's `Client` over stdio and HTTP.

Each server runs the bundled wiki and math servers behind it. Both protocol eras are exercised:
`mode="legacy"` handshakes at 2025-11-25, the default `auto` lands on 2026-07-28.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jsonschema
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import OUTPUT_SCHEMA, RUN_SCHEMA, TOOL_NAME

pytestmark = pytest.mark.anyio

SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]
TOKEN = "e2e-test-token-7f3a9c"

FAN_OUT_PLAN = """\
Thought: four look-ups at once, then arithmetic over them
1. wiki.fact("Nile", "length_km")
2. wiki.fact("Amazon", "length_km")
3. wiki.fact("Mount Everest", "height_m")
4. wiki.fact("K2", "height_m")
5. math.eval("nile * 0.9 > amazon * 1.05", {"nile": $1.value, "amazon": $2.value})
6. math.sum([$3.value, $4.value])
join()
"""
EXPECTED_TASKS = 6


def start_http(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [*SERVE, "--transport", "http", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
            env={**os.environ, **(env or {})},
        )
    return proc, log


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc, log = start_http(tmp_path_factory.mktemp("http"), "--port", str(port))
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=SERVE[0], args=SERVE[1:], cwd=str(Path(__file__).parents[2]))


async def check_fan_out(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == [TOOL_NAME]
    assert "wiki.fact(name: string, key: string)" in (tools[0].description or "")
    assert tools[0].output_schema == OUTPUT_SCHEMA

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    with anyio.fail_after(90):
        result = await client.call_tool(TOOL_NAME, {"plan": FAN_OUT_PLAN}, progress_callback=on_progress)
    assert not result.is_error, result.content
    run = result.structured_content
    assert run is not None
    jsonschema.validate(run, RUN_SCHEMA)
    assert [t["status"] for t in run["tasks"]] == ["ok"] * EXPECTED_TASKS
    assert run["tasks"][4]["result"]["value"] is False  # 6650 * 0.9 > 6400 * 1.05 is false
    assert run["tasks"][5]["result"]["value"] == 8849 + 8611
    answer = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
    assert "answer" not in run and len(result.content) == 1  # the answer is the text, once
    assert "$5 math.eval" in answer and "$6 math.sum" in answer
    # The four look-ups ran side by side: each started before any of the others ended.
    lookups = run["tasks"][:4]
    assert max(t["start_s"] for t in lookups) < min(t["end_s"] for t in lookups)

    with anyio.fail_after(15):  # progress may trail the result
        while len(progress) < 2 * EXPECTED_TASKS:
            await anyio.sleep(0.05)
    messages = [m or "" for _, _, m in progress]
    assert any(m.startswith("task 1 wiki.fact started") for m in messages)
    assert any(m.startswith("task 6 math.sum ok") for m in messages)
    values = [v for v, _, _ in progress]
    assert values == sorted(values)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_stdio_subprocess_runs_a_fan_out_plan(mode: str, version: str) -> None:
    with anyio.fail_after(150):
        async with Client(stdio_params(), mode=mode) as client:
            assert client.protocol_version == version
            await check_fan_out(client)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_http_server_runs_a_fan_out_plan(http_server: str, mode: str, version: str) -> None:
    with anyio.fail_after(120):
        async with Client(http_server, mode=mode) as client:
            assert client.protocol_version == version
            await check_fan_out(client)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_stateless_http_runs_a_fan_out_plan_and_keeps_no_session(tmp_path: Path, mode: str, version: str) -> None:
    port = free_port()
    proc, log = start_http(tmp_path, "--port", str(port), "--stateless")
    try:
        await anyio.to_thread.run_sync(wait_for_port, port, proc)
        with anyio.fail_after(120):
            async with httpx2.AsyncClient(timeout=30) as http:
                # No Mcp-Session-Id is handed out, so any replica can take the next request.
                initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
                reply = await http.post(f"http://127.0.0.1:{port}/mcp", content=json.dumps(initialize), headers={
                    "content-type": "application/json", "accept": "application/json, text/event-stream"})
                assert reply.status_code == 200 and "mcp-session-id" not in reply.headers
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
                assert client.protocol_version == version
                await check_fan_out(client)
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


def test_stateless_without_http_is_a_usage_error() -> None:
    out = subprocess.run([*SERVE, "--stateless"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert "--stateless applies to --transport http only" in out.stderr


async def test_http_bad_input_is_a_tool_error_and_the_server_keeps_serving(http_server: str) -> None:
    with anyio.fail_after(120):
        async with Client(http_server) as client:
            bad = await client.call_tool(TOOL_NAME, {"plan": "1. wiki.fact(\"Nile\""})
            assert bad.is_error and "line 1, column" in bad.content[0].text  # type: ignore[union-attr]
            huge = await client.call_tool(TOOL_NAME, {"plan": "1. math.sum([1])\n" + "Thought: " + "x" * 1_100_000})
            assert huge.is_error and "too large" in huge.content[0].text  # type: ignore[union-attr]
            ok = await client.call_tool(TOOL_NAME, {"plan": "1. math.sum([1, 2])"})
            assert not ok.is_error and ok.structured_content is not None
            assert ok.structured_content["tasks"][0]["result"]["value"] == 3


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_cancelling_a_call_leaves_the_server_serving(tmp_path: Path, mode: str) -> None:
    # A call that cannot end on its own before the cancel (a 60 s downstream sleep), so the cancel
    # is what ends it; the toy server notes the cancel it receives.
    note = tmp_path / "cancelled-note"
    plan = f'1. toy.sleep(60, "{note}")'
    started = anyio.Event()
    answered: list[types.CallToolResult] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("task 1 toy.sleep started"):
            started.set()

    async def call_and_keep_the_answer() -> None:
        answered.append(await client.call_tool(TOOL_NAME, {"plan": plan}, progress_callback=on_progress))

    port = free_port()
    proc, log = start_http(tmp_path, "--port", str(port), "--config", str(toy_config(tmp_path)))
    try:
        await anyio.to_thread.run_sync(wait_for_port, port, proc)
        with anyio.fail_after(120):
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call_and_keep_the_answer)
                    await started.wait()
                    await anyio.sleep(0.5)  # let the downstream request reach the toy server
                    tg.cancel_scope.cancel()
                assert tg.cancel_scope.cancelled_caught and answered == []  # the cancel, not a reply, ended it
                with anyio.fail_after(30):  # the server acted on it: the downstream sleep was cancelled too
                    while not (note.exists() and note.read_text() == "cancelled"):
                        await anyio.sleep(0.1)
                ok = await client.call_tool(TOOL_NAME, {"plan": "1. toy.add(2, 2)"})
                assert not ok.is_error and ok.structured_content is not None
                assert ok.structured_content["tasks"][0]["result"] == {"result": 4}
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


async def test_http_rejects_a_foreign_host_header(http_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(http_server, json=body, headers={**headers, "host": "evil.example:80"})
        assert response.status_code == 421
        response = await http.post(http_server, json=body, headers={**headers, "origin": "http://evil.example"})
        assert response.status_code == 403


def test_http_on_a_public_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MCP_COMPILER_TOKEN"}
    proc = subprocess.run(
        [*SERVE, "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())],
        stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60,
    )
    assert proc.returncode == 2
    assert b"MCP_COMPILER_TOKEN" in proc.stderr
    assert proc.stdout == b""


async def test_http_on_a_public_bind_answers_401_without_the_token(tmp_path: Path) -> None:
    port = free_port()
    proc, log = start_http(tmp_path, "--host", "0.0.0.0", "--port", str(port), env={"MCP_COMPILER_TOKEN": TOKEN})
    try:
        await anyio.to_thread.run_sync(wait_for_port, port, proc)
        url = f"http://127.0.0.1:{port}/mcp"  # bound to every interface, but only ever asked on loopback
        initialize = {
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        }
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        async with httpx2.AsyncClient(timeout=30) as http:
            for auth in (None, "Bearer wrong-token", f"Basic {TOKEN}"):
                sent = {**headers, **({"authorization": auth} if auth else {})}
                response = await http.post(url, content=json.dumps(initialize), headers=sent)
                assert response.status_code == 401, auth
                assert TOKEN not in response.text
                assert response.headers.get("www-authenticate", "").startswith("Bearer")

        with anyio.fail_after(120):
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    result = await client.call_tool(TOOL_NAME, {"plan": "1. math.sum([40, 2])"})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["tasks"][0]["result"]["value"] == 42
    finally:
        stop(proc)
    assert TOKEN not in log.read_text(errors="replace")  # the secret never reaches the logs


def test_serve_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc, log = start_http(tmp_path, "--port", str(port))
    wait_for_port(port, proc)
    started = time.monotonic()
    code = stop(proc)
    assert time.monotonic() - started < 20
    # README, the CLI: a signal stops `serve` with status 0 (being stopped is how a server ends);
    # 130 is for the other commands cut short, -SIGTERM would mean the signal was not handled.
    assert code == 0, log.read_text(errors="replace")[-2000:]
    assert "Traceback" not in log.read_text(errors="replace")


# ---- behind the server: a downstream that changes its tools, calls that get cancelled ------------

TOY_SERVER = Path(__file__).parents[1] / "fixtures" / "toy_server.py"


def toy_config(tmp: Path) -> Path:
    config = tmp / "toy.json"
    config.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [str(TOY_SERVER)]}}}))
    return config


def stdio_with_config(config: Path) -> StdioServerParameters:
    return StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(config)])


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_cancelling_the_call_cancels_the_downstream_calls_in_flight(tmp_path: Path, mode: str) -> None:
    notes = [tmp_path / "note1", tmp_path / "note2"]
    plan = f'1. toy.sleep(60, "{notes[0]}")\n2. toy.sleep(60, "{notes[1]}")'
    started: list[str] = []
    both_started = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if message and "started" in message:
            started.append(message)
            if len(started) == 2:
                both_started.set()

    with anyio.fail_after(120):
        async with Client(stdio_with_config(toy_config(tmp_path)), mode=mode) as client:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: client.call_tool(TOOL_NAME, {"plan": plan}, progress_callback=on_progress))
                await both_started.wait()
                await anyio.sleep(0.5)  # let the downstream requests reach the toy server
                tg.cancel_scope.cancel()
            # Both downstream sleeps were cancelled: the toy server wrote its notes.
            while not all(n.exists() and n.read_text() == "cancelled" for n in notes):
                await anyio.sleep(0.1)
            ok = await client.call_tool(TOOL_NAME, {"plan": "1. toy.add(2, 3)"})
            assert not ok.is_error and ok.structured_content is not None


async def test_a_downstream_tool_change_reaches_the_host_in_the_handshake_era(tmp_path: Path) -> None:
    changes: list[float] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.append(time.monotonic())

    with anyio.fail_after(120):
        async with Client(stdio_with_config(toy_config(tmp_path)), mode="legacy", message_handler=on_message) as client:
            before = (await client.list_tools()).tools[0].description or ""
            assert "toy.echo(" in before and "toy.fresh_tool" not in before
            # A list_changed may still be on its way from the servers joining; only one sent after
            # the call counts, and the host re-lists on each until the new tool is there.
            called = time.monotonic()
            result = await client.call_tool(TOOL_NAME, {"plan": '1. toy.add_tool("fresh_tool")'})
            assert not result.is_error
            after = ""
            with anyio.fail_after(30):
                while "toy.fresh_tool(" not in after:
                    while not any(at > called for at in changes):
                        await anyio.sleep(0.05)
                    after = (await client.list_tools()).tools[0].description or ""
                    called = max(changes)  # the next pass waits for a later change
            assert "toy.fresh_tool() -> {result} — added at runtime: fresh_tool" in after
            fresh = await client.call_tool(TOOL_NAME, {"plan": "1. toy.fresh_tool()"})
            assert not fresh.is_error and fresh.structured_content is not None
            assert fresh.structured_content["tasks"][0]["result"] == {"result": "fresh_tool"}


async def test_a_downstream_tool_change_reaches_the_host_in_the_2026_era(tmp_path: Path) -> None:
    with anyio.fail_after(120):
        async with Client(stdio_with_config(toy_config(tmp_path))) as client:
            assert client.protocol_version == "2026-07-28"
            async with client.listen(tools_list_changed=True) as subscription:
                result = await client.call_tool(TOOL_NAME, {"plan": '1. toy.add_tool("newer_tool")'})
                assert not result.is_error
                event = await subscription.__anext__()
            assert type(event).__name__ == "ToolsListChanged"
            assert "toy.newer_tool()" in ((await client.list_tools()).tools[0].description or "")


# ---- mcp-compiler demo ------------------------------------------------------------------------------


def test_demo_runs_in_parallel_and_reports_the_speedup() -> None:
    import re

    env = {**os.environ, "MCP_COMPILER_SIM_LATENCY_MS": "300"}
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "demo"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "task 1 wiki.fact started" in proc.stderr  # the live view, on stderr
    assert "300 ms" in proc.stderr  # the latency we asked for reached the servers' env
    assert "the Amazon would be longer" in proc.stdout
    assert '"larger": "b"' in proc.stdout  # the answer itself
    match = re.search(r"10 tasks in ([\d.]+) s wall time; .* ([\d.]+) s \(the sum of the task times\): ([\d.]+)× faster", proc.stdout)
    assert match, proc.stdout
    wall, sequential, speedup = map(float, match.groups())
    assert sequential >= 10 * 0.3 * 0.9  # every call really waited its latency
    assert wall < sequential and speedup > 1.5  # three levels deep, ten calls: well under the sum


def test_demo_latency_goes_to_every_stdio_server_without_overriding_their_own() -> None:
    from mcp_compiler.config import parse_config
    from mcp_compiler.demo import with_latency

    config = parse_config({"mcpServers": {
        "a": {"command": "x"},
        "b": {"command": "y", "env": {"MCP_COMPILER_SIM_LATENCY_MS": "5"}},
        "c": {"url": "http://127.0.0.1:1/mcp"},
    }})
    servers = with_latency(config, "250").servers
    assert servers["a"].env_values() == {"MCP_COMPILER_SIM_LATENCY_MS": "250"}  # type: ignore[union-attr]
    assert servers["b"].env_values() == {"MCP_COMPILER_SIM_LATENCY_MS": "5"}  # type: ignore[union-attr]
    assert not hasattr(servers["c"], "env")


async def test_a_query_over_stdio_is_planned_and_joined_by_the_hosts_model_through_sampling() -> None:
    """No API key reaches the server (a stdio child gets only allow-listed variables): the host's
    model, behind the client's sampling callback, writes the plan and the joiner's answer."""
    asked: list[str] = []

    async def host_model(ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        joining = "Action: Finish(" in (params.system_prompt or "")
        asked.append("join" if joining else "plan")
        if joining:
            total = json.loads(params.messages[-1].content.text.split("-> ")[-1].splitlines()[0])["value"]
            reply = f"Thought: summed.\nAction: Finish(Everest and K2 together: {total} m)"
        else:
            reply = (
                '1. wiki.fact("Mount Everest", "height_m")\n2. wiki.fact("K2", "height_m")\n'
                "3. math.sum([$1.value, $2.value])\njoin()\n<END_OF_PLAN>"
            )
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=reply), model="host"
        )

    with anyio.fail_after(120):
        async with Client(stdio_params(), mode="legacy", sampling_callback=host_model) as client:
            result = await client.call_tool(TOOL_NAME, {"query": "How tall are Everest and K2 together?"})
    assert not result.is_error, result.content
    run = result.structured_content
    assert run is not None and [t["status"] for t in run["tasks"]] == ["ok", "ok", "ok"]
    heights = [t["result"]["value"] for t in run["tasks"][:2]]
    assert result.content[0].text == f"Everest and K2 together: {float(sum(heights))} m"  # type: ignore[union-attr]
    assert asked == ["plan", "join"]
