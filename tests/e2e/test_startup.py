"""`initialize` is answered at once, whatever the servers behind are doing; a plan waits only for
the servers it names, each at most its connect timeout (issue: one mute upstream delayed
mcp-compiler's own `initialize` by 30.9 s, past the 30 s start limit of hosts)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"


def text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def serve_params(tmp_path: Path, servers: dict, **compiler: object) -> StdioServerParameters:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": servers, "compiler": compiler}))
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])


def toy(name: str, *flags: str) -> dict:
    return {"command": sys.executable, "args": [str(FIXTURES / "toy_server.py"), "--name", name, *flags]}


async def test_initialize_does_not_wait_for_a_mute_or_slow_upstream(tmp_path: Path) -> None:
    servers = {
        "good": toy("good"),
        "slow": toy("slow", "--start-delay", "12"),
        "mute": {"command": sys.executable, "args": [str(FIXTURES / "hang_server.py")]},
    }
    params = serve_params(tmp_path, servers, connect_timeout_s=16)
    started = time.monotonic()
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            ready = time.monotonic() - started
            # Only `good` is named: the plan does not wait for slow or mute.
            first = await client.call_tool("compile_and_run", {"plan": '1. good.echo("hi")\njoin()'})
            first_done = time.monotonic() - started
            # `slow` is still starting: the plan waits for it and then runs against its tools.
            waited = await client.call_tool("compile_and_run", {"plan": '1. slow.echo("late")\njoin()'})
            slow_done = time.monotonic() - started
            # `mute` never answers: after its connect timeout, its task fails with the cause.
            mute = await client.call_tool("compile_and_run", {"plan": '1. mute.anything()\n2. good.echo("x")\njoin()'})
    # slow starts after 12 s and mute never: initialize waited for neither, and the first plan
    # only for tools/list's few seconds of grace (the SDK client lists tools before a call).
    assert ready < 8.0, f"initialize took {ready:.1f} s"
    assert not first.is_error and "good:hi" in text(first)
    assert first_done < 11.5
    assert not waited.is_error and "slow:late" in text(waited), text(waited)
    assert slow_done >= 11.5  # it did wait for slow's start
    run = mute.structured_content
    assert run is not None
    assert run["tasks"][0]["status"] == "error"
    assert "no answer to the MCP handshake within 16s" in run["tasks"][0]["error"]
    assert run["tasks"][1]["status"] == "ok"


async def test_the_description_names_each_server_that_is_down_and_why(tmp_path: Path) -> None:
    servers = {"good": toy("good"), "ghost": {"command": "no-such-mcp-server-xyz"}}
    params = serve_params(tmp_path, servers, connect_timeout_s=20)
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            description = (await client.list_tools()).tools[0].description or ""
            result = await client.call_tool("compile_and_run", {"plan": '1. good.echo("x")\n2. ghost.anything()\njoin()'})
    assert "Not connected right now" in description
    assert "- ghost: command not found: 'no-such-mcp-server-xyz'" in description
    assert "good.echo(" in description
    run = result.structured_content
    assert run is not None and run["tasks"][0]["status"] == "ok"
    assert run["tasks"][1]["error"] == "server 'ghost' is not available: command not found: 'no-such-mcp-server-xyz'"
