"""The Tasks extension (SEP-2663) end to end: an SDK client in the 2026-07-28 era runs a plan as a
task of `mcp-compiler serve` (a real subprocess over stdio), polls it, cancels it (the cancellation
is seen inside a real upstream subprocess), answers its `input_required` through `tasks/update`;
a plan calls an upstream tool that runs only as a task. Plus the store's bounds, in process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcp_compiler.config import Config
from mcp_compiler.errors import ToolError
from mcp_compiler.server.task_server import TaskLimits, TaskStore
from mcp_compiler.task_protocol import (
    TASKS_EXTENSION,
    Ack,
    CancelTaskParams,
    CancelTaskRequest,
    CreateTaskResult,
    GetTaskParams,
    GetTaskRequest,
    TaskState,
    UpdateTaskParams,
    UpdateTaskRequest,
)
from mcp_compiler.upstreams import UpstreamPool
from mcp_compiler.upstreams.task_client import UpstreamTasks

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
TASKS_SERVER = FIXTURES / "tasks_server.py"


def serve_params(tmp_path: Path, log: Path) -> StdioServerParameters:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpServers": {"up": {"command": sys.executable, "args": [str(TASKS_SERVER)], "env": {"TASKS_SERVER_LOG": str(log)}}},
    }))
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])


async def _no_elicitation(*_: Any) -> types.ElicitResult:
    raise AssertionError("2026-07-28 has no server-to-client requests: questions come through the task")


def host(params: StdioServerParameters, **kwargs: Any) -> Client:
    """An SDK client declaring the Tasks extension (and elicitation, so confirmations are asked)."""
    return Client(params, extensions=[UpstreamTasks()], elicitation_callback=_no_elicitation, **kwargs)


async def start_task(client: Client, plan: str) -> CreateTaskResult:
    created = await client.session.call_tool("compile_and_run", {"plan": plan}, allow_claimed=True)
    assert isinstance(created, CreateTaskResult), created
    return created


async def get(client: Client, task_id: str) -> TaskState:
    return await client.session.send_request(GetTaskRequest(params=GetTaskParams(task_id=task_id)), TaskState)


async def poll_until(client: Client, task_id: str, done: Any, timeout: float = 60) -> tuple[TaskState, list[TaskState]]:
    seen: list[TaskState] = []
    with anyio.fail_after(timeout):
        while True:
            state = await get(client, task_id)
            seen.append(state)
            if done(state):
                return state, seen
            await anyio.sleep(0.05)


async def wait_for_lines(log: Path, *lines: str, timeout: float = 30) -> list[str]:
    with anyio.fail_after(timeout):
        while True:
            have = log.read_text().splitlines() if log.exists() else []
            if all(line in have for line in lines):
                return have
            await anyio.sleep(0.05)


async def test_a_plan_runs_as_a_task_with_progress_and_the_run_as_its_result(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    async with host(serve_params(tmp_path, log)) as client:
        assert client.protocol_version == "2026-07-28"
        with anyio.fail_after(60):
            # Its upstream is starting still: the plan waits for it inside the task, not here.
            created = await start_task(client, '1. up.slow(0.5, "a")\n2. up.slow(0.5, "b")\n3. up.greet($1.result)\njoin()')
        assert created.status == "working" and len(created.task_id) >= 40
        assert created.ttl_ms and created.poll_interval_ms and "requestState" not in created.model_dump(by_alias=True)
        final, seen = await poll_until(client, created.task_id, lambda s: s.status not in ("working",))
    assert final.status == "completed", final
    assert final.result_type == "complete"
    result = types.CallToolResult.model_validate(final.result)
    assert not result.is_error, result.content
    progress = [s.status_message for s in seen if s.status == "working" and s.status_message]
    assert any(re.match(r"\d of 3 tasks done; ", m) for m in progress), progress
    assert any(m.startswith("2 of 3 tasks done") or m.startswith("3 of 3 tasks done") for m in progress + [final.status_message or ""])
    run = result.structured_content
    assert run is not None and [t["status"] for t in run["tasks"]] == ["ok", "ok", "ok"]
    assert run["tasks"][2]["result"] == {"result": "Hello, done a!"}


async def test_cancelling_the_task_cancels_every_downstream_call(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    async with host(serve_params(tmp_path, log)) as client:
        with anyio.fail_after(60):
            created = await start_task(client, '1. up.slow(60, "x")\n2. up.slow(60, "y")\njoin()')
            await wait_for_lines(log, "start x", "start y")
            ack = await client.session.send_request(
                CancelTaskRequest(params=CancelTaskParams(task_id=created.task_id)), Ack
            )
            assert ack.result_type == "complete"
            final, _ = await poll_until(client, created.task_id, lambda s: s.status != "working")
            assert final.status == "cancelled"
            # The upstream (a task there too) was told, and its tool saw the cancellation.
            lines = await wait_for_lines(log, "cancelled x", "cancelled y")
    assert "end x" not in lines and "end y" not in lines


@pytest.mark.parametrize(("answer", "outcome"), [(True, "ok"), (False, "error")])
async def test_a_confirmation_parks_the_task_in_input_required_until_tasks_update(
    tmp_path: Path, answer: bool, outcome: str
) -> None:
    log = tmp_path / "upstream.log"
    async with host(serve_params(tmp_path, log)) as client:
        with anyio.fail_after(60):
            created = await start_task(client, '1. up.wipe("disk")\njoin()')
            asking, _ = await poll_until(client, created.task_id, lambda s: s.status != "working")
            assert asking.status == "input_required", asking
            [(key, request)] = (asking.input_requests or {}).items()
            assert request["method"] == "elicitation/create"
            assert "up.wipe" in request["params"]["message"] and "destructive" in request["params"]["message"]
            # An answer to a key never asked is ignored; the task keeps waiting.
            await client.session.send_request(UpdateTaskRequest(params=UpdateTaskParams(
                task_id=created.task_id, input_responses={"nope": {"action": "accept", "content": {"run": True}}})), Ack)
            assert (await get(client, created.task_id)).status == "input_required"
            ack = await client.session.send_request(UpdateTaskRequest(params=UpdateTaskParams(
                task_id=created.task_id, input_responses={key: {"action": "accept", "content": {"run": answer}}})), Ack)
            assert ack.result_type == "complete"
            final, _ = await poll_until(client, created.task_id, lambda s: s.status not in ("working", "input_required"))
    assert final.status == "completed"
    run = types.CallToolResult.model_validate(final.result).structured_content
    assert run is not None and run["tasks"][0]["status"] == outcome
    assert answer or "was not confirmed" in run["tasks"][0]["error"]
    wiped = "wiped disk" in (log.read_text() if log.exists() else "")
    assert wiped is answer


async def test_an_upstream_tool_that_runs_only_as_a_task_is_one_plan_task(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    # The upstream refuses a caller without the extension...
    upstream = StdioServerParameters(command=sys.executable, args=[str(TASKS_SERVER)])
    async with Client(upstream) as plain:
        with pytest.raises(MCPError) as refused:
            await plain.call_tool("required_job", {"text": "x"})
    assert refused.value.code == -32021
    # ...and a plan over mcp-compiler, called the plain way (no task at our level), gets its result.
    async with Client(serve_params(tmp_path, log)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("compile_and_run", {"plan": '1. up.required_job("loud")\njoin()'})
    assert not result.is_error, result.content
    run = result.structured_content
    assert run is not None and run["tasks"][0]["result"] == {"result": "LOUD"}


async def test_an_upstream_tasks_status_lines_reach_the_host_as_progress_of_its_plan_task(tmp_path: Path) -> None:
    seen: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with Client(serve_params(tmp_path, tmp_path / "upstream.log")) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "compile_and_run", {"plan": '1. up.slow(1.6, "p")\njoin()'}, progress_callback=on_progress
            )
    assert not result.is_error, result.content
    relayed = [m for m in seen if m.startswith("task 1 up.slow: ") and "p: slept" in m]
    assert len(relayed) >= 2 and relayed == sorted(relayed), seen  # slept 1, 2, ... of 4, in order


async def test_the_tasks_methods_answer_minus_32021_to_a_client_without_the_extension(tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    async with Client(serve_params(tmp_path, log), elicitation_callback=_no_elicitation) as client:
        discovered = await client.session.discover()
        assert TASKS_EXTENSION in (discovered.capabilities.extensions or {})
        for request in (
            GetTaskRequest(params=GetTaskParams(task_id="t")),
            UpdateTaskRequest(params=UpdateTaskParams(task_id="t", input_responses={})),
            CancelTaskRequest(params=CancelTaskParams(task_id="t")),
        ):
            with pytest.raises(MCPError) as refused:
                await client.session.send_request(request, Ack)
            assert refused.value.code == -32021, request.method
            assert TASKS_EXTENSION in refused.value.error.data["requiredCapabilities"]["extensions"]
        # Its compile_and_run is answered directly, as before.
        with anyio.fail_after(60):
            result = await client.call_tool("compile_and_run", {"plan": '1. up.greet("x")\njoin()'})
        assert not result.is_error
    async with host(serve_params(tmp_path, log)) as client:
        with pytest.raises(MCPError) as unknown:
            await get(client, "no-such-task")
        assert unknown.value.code == -32602
        # Acks for an unknown id, as the SEP requires.
        await client.session.send_request(CancelTaskRequest(params=CancelTaskParams(task_id="no-such-task")), Ack)


async def test_over_http_a_task_outlives_its_request_and_a_connection_with_the_same_token_cancels_it(tmp_path: Path) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from procs import free_port, stop, wait_for_port

    log = tmp_path / "upstream.log"
    serve = serve_params(tmp_path, log)
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as errlog:
        proc = subprocess.Popen(
            [serve.command, *serve.args, "--transport", "http", "--port", str(port)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=errlog, env={**os.environ, "MCP_COMPILER_TOKEN": "tok-1"},
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        await anyio.to_thread.run_sync(wait_for_port, port, proc)
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer tok-1"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http), extensions=[UpstreamTasks()]) as client:
                assert client.protocol_version == "2026-07-28"
                with anyio.fail_after(60):
                    created = await start_task(client, '1. up.slow(60, "h")\njoin()')
                    await wait_for_lines(log, "start h")
                    # A second connection with the same token sees the task: it is the token's.
                    async with Client(streamable_http_client(url, http_client=http), extensions=[UpstreamTasks()]) as other:
                        assert (await get(other, created.task_id)).status == "working"
                        await other.session.send_request(
                            CancelTaskRequest(params=CancelTaskParams(task_id=created.task_id)), Ack)
                    final, _ = await poll_until(client, created.task_id, lambda s: s.status != "working")
                    assert final.status == "cancelled"
                    await wait_for_lines(log, "cancelled h")
    finally:
        stop(proc)


# ---- the store, in process --------------------------------------------------------------------------


async def test_a_task_is_only_visible_to_the_credentials_that_made_it() -> None:
    store = TaskStore()
    async with store.running():
        task = await store.start("alice", lambda t: anyio.sleep(0))
        assert task is not None
        assert await store.get(task.task_id, "alice") is task
        assert await store.get(task.task_id, "mallory") is None
        await store.cancel(task.task_id, "mallory")  # not hers: nothing happens
        await anyio.sleep(0.05)
        assert task.status == "completed"


async def test_the_store_keeps_at_most_max_tasks_and_drops_the_oldest_ended_first() -> None:
    store = TaskStore(TaskLimits(max_tasks=2))
    forever = anyio.Event()
    async with store.running():
        ended = await store.start("", lambda t: anyio.sleep(0))
        await anyio.sleep(0.01)
        running = await store.start("", lambda t: forever.wait())
        third = await store.start("", lambda t: forever.wait())  # evicts the ended one
        assert ended is not None and running is not None and third is not None
        assert await store.get(ended.task_id, "") is None and len(store) == 2
        assert await store.start("", lambda t: forever.wait()) is None  # every slot running: no task
        await store.cancel(running.task_id, "")
        await anyio.sleep(0.01)
        assert running.status == "cancelled"
    assert third.status == "cancelled"  # leaving the store cancels what still runs


async def test_a_store_that_is_not_running_makes_no_task() -> None:
    assert await TaskStore().start("", lambda t: anyio.sleep(0)) is None


async def test_an_unanswered_question_times_out_and_fails_the_ask() -> None:
    store = TaskStore(TaskLimits(input_timeout_s=0.2))
    async with store.running():
        outcome: list[str] = []

        async def work(task: Any) -> str:
            try:
                await task.ask({"method": "elicitation/create", "params": {}}, store.limits.input_timeout_s)
            except MCPError as exc:
                outcome.append(exc.error.message)
            return "x"

        task = await store.start("", work)
        assert task is not None
        await anyio.sleep(0.05)
        assert task.status == "input_required" and list(task.detailed()["inputRequests"]) == ["q1"]
        await anyio.sleep(0.4)
    assert outcome and "tasks/update" in outcome[0]
    assert task.status == "completed"


# ---- the 2025-11-25 experimental tasks: listed as unavailable, with why ----------------------------------

THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))


@pytest.mark.network
async def test_a_tool_needing_2025_11_25_task_augmentation_is_called_as_such_a_task() -> None:
    """Issue 22 item 6 (it used to be listed unavailable): created, polled, its result fetched."""
    everything = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
    if not everything.exists():
        pytest.fail(f"{everything} is missing: run `bash tests/fixtures/install_third_party.sh`")
    config = Config.model_validate({"mcpServers": {"everything": {"command": str(everything), "args": ["stdio"]}}})
    async with UpstreamPool(config) as pool:
        spec = pool.specs()["everything.simulate-research-query"]  # execution.taskSupport: required
        assert not spec.description.startswith("(unavailable")
        report = await pool.call(spec, {"topic": "tasks"})
        assert "# Research Report: tasks" in str(report)
        assert await pool.call(pool.specs()["everything.echo"], {"message": "hi"}) == "Echo: hi"  # the rest works


async def test_a_query_planned_with_the_hosts_model_asks_through_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampling has no back channel at 2026-07-28; inside a task it is the task's input_required."""
    from mcp_compiler import FunctionToolbox
    from mcp_compiler.server.app import CompilerServer

    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)

    async def add(a: int, b: int) -> int:
        return a + b

    async def no_sampling(*_: Any) -> types.CreateMessageResult:
        raise AssertionError("questions come through the task")

    app = CompilerServer(FunctionToolbox({"add": add}), model="sampling")
    asked: list[str] = []
    async with Client(app.server, extensions=[UpstreamTasks()], sampling_callback=no_sampling) as client:
        assert client.protocol_version == "2026-07-28"
        created = await client.session.call_tool("compile_and_run", {"query": "(1 + 2) + 10?"}, allow_claimed=True)
        assert isinstance(created, CreateTaskResult)
        with anyio.fail_after(30):
            while True:
                state, _ = await poll_until(client, created.task_id, lambda s: s.status != "working")
                if state.status != "input_required":
                    break
                for key, request in (state.input_requests or {}).items():
                    assert request["method"] == "sampling/createMessage"
                    joining = "Action: Finish(" in request["params"].get("systemPrompt", "")
                    asked.append("join" if joining else "plan")
                    reply = "Thought: known.\nAction: Finish(13)" if joining else "1. add(1, 2)\n2. add($1, 10)\njoin()\n<END_OF_PLAN>"
                    answer = {"role": "assistant", "content": {"type": "text", "text": reply}, "model": "host"}
                    await client.session.send_request(UpdateTaskRequest(params=UpdateTaskParams(
                        task_id=created.task_id, input_responses={key: answer})), Ack)
                    # The answer is taken up asynchronously: wait until that question is gone.
                    await poll_until(client, created.task_id, lambda s, k=key: k not in (s.input_requests or {}))
    assert state.status == "completed", state
    result = types.CallToolResult.model_validate(state.result)
    assert not result.is_error and result.content[0].text == "13"
    assert asked == ["plan", "join"]


async def test_an_upstream_task_that_asks_a_question_fails_its_call_saying_what_it_asked(tmp_path: Path) -> None:
    config = Config.model_validate({"mcpServers": {"up": {"command": sys.executable, "args": [str(TASKS_SERVER)]}}})
    async with UpstreamPool(config) as pool:
        with anyio.fail_after(30), pytest.raises(ToolError) as failed:
            await pool.call(pool.specs()["up.confirm_delete"], {"filename": "f.txt"})
        assert "elicitation/create" in str(failed.value) and "input_required" in str(failed.value)
        # The same session goes on: a task tool and a plain one both answer.
        with anyio.fail_after(30):
            assert await pool.call(pool.specs()["up.slow"], {"seconds": 0.1, "tag": "after"}) == {"result": "done after"}
            assert await pool.call(pool.specs()["up.greet"], {"name": "x"}) == {"result": "Hello, x!"}
