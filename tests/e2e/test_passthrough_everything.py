"""Issue 22 with the reference server the issue names: `@modelcontextprotocol/server-everything`
(handshake era) behind `mcp-compiler serve` (a real subprocess, stdio), the Python SDK's client as
the host in both eras, each feature compared with what the server gives directly: its prompts,
completions, instructions, resource subscriptions, and its task-required tool
(`simulate-research-query`, `execution.taskSupport: "required"`) inside a plan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

pytestmark = [pytest.mark.network, pytest.mark.anyio, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).parents[1] / "fixtures"
THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))
EVERYTHING = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not EVERYTHING.exists():
        done = subprocess.run(["bash", str(FIXTURES / "install_third_party.sh"), str(THIRD_PARTY)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not EVERYTHING.exists():
            pytest.fail(f"server-everything is not in {THIRD_PARTY} and installing it failed: run "
                        f'`bash tests/fixtures/install_third_party.sh`, or -m "not network".\n{done.stderr[-500:]}')
    path = tmp_path_factory.mktemp("everything") / "config.json"
    path.write_text(json.dumps({"mcpServers": {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}}))
    return path


def through(config: Path) -> StdioServerParameters:
    return StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(config)])


def direct() -> StdioServerParameters:
    return StdioServerParameters(command=str(EVERYTHING), args=["stdio"])


async def answer(client: Client, plan: str) -> str:
    result = await client.call_tool("compile_and_run", {"plan": plan})
    text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
    assert not result.is_error, text
    return text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_prompts_completions_and_instructions_as_directly(config: Path, mode: str) -> None:
    async with Client(direct(), mode="legacy") as plain:
        prompts = [p.name for p in (await plain.list_prompts()).prompts]
        instructions = plain.instructions or ""
        completed = await plain.complete(
            types.PromptReference(type="ref/prompt", name="completable-prompt"), {"name": "department", "value": "E"})
        got = await plain.get_prompt("args-prompt", {"city": "Paris", "state": "TX"})
    assert len(prompts) == 4 and completed.completion.values == ["Engineering"]

    async with Client(through(config), mode=mode) as client:
        listed = [p.name for p in (await client.list_prompts()).prompts]
        assert listed == [f"everything.{name}" for name in prompts]
        done = await client.complete(
            types.PromptReference(type="ref/prompt", name="everything.completable-prompt"),
            {"name": "department", "value": "E"})
        assert done.completion.values == ["Engineering"]
        assert (await client.get_prompt("everything.args-prompt", {"city": "Paris", "state": "TX"})).messages == got.messages
        assert instructions and instructions.strip()[:200] in (client.instructions or "")
        assert "## The server everything" in (client.instructions or "")


async def test_the_task_required_tool_runs_in_a_plan(config: Path) -> None:
    async with Client(through(config), mode="legacy") as client:
        tools = await client.list_tools()
        description = tools.tools[0].description or ""
        assert "simulate-research-query" in description
        assert "unavailable: it runs only as a 2025-11-25" not in description
        text = await answer(client, '1. everything.simulate-research-query(topic="tide pools")\n'
                                    '2. everything.echo(message="next")\njoin($1, $2)')
    assert "# Research Report: tide pools" in text and "next" in text


async def test_subscriptions_carry_server_everythings_updates(config: Path) -> None:
    messages: list[Any] = []

    async def on_message(message: Any) -> None:
        messages.append(message)

    async with Client(through(config), mode="legacy", message_handler=on_message) as client:
        resources = (await client.list_resources()).resources
        uri = next(r.uri for r in resources if r.uri.startswith("mcp-compiler://servers/everything/"))
        await client.session.send_request(
            types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri)), types.EmptyResult)
        # server-everything sends updates to its subscribers every 5 s once this is on.
        await answer(client, "1. everything.toggle-subscriber-updates()\njoin()")
        with anyio.fail_after(30):
            while not any(isinstance(m, types.ResourceUpdatedNotification) for m in messages):
                await anyio.sleep(0.2)
    updated = {m.params.uri for m in messages if isinstance(m, types.ResourceUpdatedNotification)}
    assert updated == {uri}
