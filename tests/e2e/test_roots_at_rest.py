"""Roots at connect (issue 22, item 5): a server behind mcp-compiler that asks `roots/list` outside
any call (as the reference filesystem server does when it connects) gets the roots of the host
connected; its `notifications/roots/list_changed` is passed on; with several HTTP hosts, the server
entry's configured `roots`, or a refusal saying why.

`mcp-compiler serve` is a real subprocess; the hosts are the Python SDK's client (handshake era:
the 2026-07-28 era has no server-to-client requests outside a call); the upstream is
tests/fixtures/roots_server.py, which records every answer it got (`fs.roots_seen`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from procs import serving_http

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).parents[1] / "fixtures"
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]


def write_config(path: Path, roots: list[str] | None) -> Path:
    entry: dict[str, Any] = {"command": sys.executable, "args": [str(FIXTURES / "roots_server.py")]}
    if roots is not None:
        entry["roots"] = roots
    path.write_text(json.dumps({"mcpServers": {"fs": entry}}))
    return path


@asynccontextmanager
async def host(target: Any, roots: list[str]) -> AsyncIterator[Client]:
    """A handshake-era host offering `roots` (a list it may change)."""

    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=uri) for uri in roots])  # type: ignore[arg-type]

    async with Client(target, mode="legacy", list_roots_callback=list_roots) as client:
        yield client


async def seen(client: Client) -> list[Any]:
    result = await client.call_tool("compile_and_run", {"plan": "1. fs.roots_seen()\njoin($1)"})
    assert not result.is_error, result.content
    text = "".join(b.text for b in result.content if isinstance(b, types.TextContent))
    return list(json.loads(text)["seen"])


async def seen_at_least(client: Client, count: int) -> list[Any]:
    with anyio.fail_after(30):
        while len(answers := await seen(client)) < count:
            await anyio.sleep(0.2)
    return answers


async def test_over_stdio_the_one_host_answers_and_its_changes_pass_on(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.json", None)
    roots = ["file:///home/me/project"]
    target = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(config)])
    async with host(target, roots) as client:
        assert await seen_at_least(client, 1) == [["file:///home/me/project"]]  # asked at connect, outside a call
        roots.append("file:///tmp/other")
        await client.session.send_notification(types.RootsListChangedNotification())
        answers = await seen_at_least(client, 2)
    assert answers == [["file:///home/me/project"], ["file:///home/me/project", "file:///tmp/other"]]


@pytest.mark.parametrize("configured", [["/srv/data"], None])
async def test_with_several_http_hosts_the_configured_roots_or_a_refusal(
    tmp_path: Path, configured: list[str] | None
) -> None:
    config = write_config(tmp_path / "config.json", configured)
    with serving_http([*SERVE, "--config", str(config)], tmp_path, show_log=True) as url:
        async with host(url, ["file:///home/a"]) as first:
            # One host: its roots, whether the server asked before it connected or after.
            assert await seen_at_least(first, 1) == [["file:///home/a"]]
            async with host(url, ["file:///home/b"]) as second:
                await seen(second)  # a request of its own, so mcp-compiler knows it is there
                answer = await answer_once_two_hosts_are_connected(first)
    if configured is not None:
        assert answer == ["file:///srv/data"]
    else:
        assert isinstance(answer, str)
        assert answer.startswith("error: mcp-compiler cannot answer roots/list outside a call: 2 hosts")
        assert "`roots`" in answer


async def answer_once_two_hosts_are_connected(first: Client) -> Any:
    """What the server answers its upstream's roots/list once the second host is connected.

    The second host counts once its event stream is open, which its client opens in the background
    after its first request: until then the first host is the only one and answers (rightly). So the
    change is signalled again until the answer is no longer the first host's alone (30 s at most).
    """
    with anyio.fail_after(30):
        count = 1
        while True:
            await first.session.send_notification(types.RootsListChangedNotification())
            count += 1
            answers = await seen_at_least(first, count)
            if answers[-1] != ["file:///home/a"]:
                return answers[-1]
            await anyio.sleep(0.5)
