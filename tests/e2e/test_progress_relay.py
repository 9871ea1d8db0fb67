"""Upstream progress reaches the host: a task's `notifications/progress` from its server are
forwarded on the caller's progress token as task-scoped messages, while the call runs, with
values still strictly increasing (so a host that resets its timeout on progress keeps waiting)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_upstream_progress_is_relayed_as_task_scoped_messages(tmp_path: Path, mode: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpServers": {"prog": {"command": sys.executable, "args": [str(FIXTURES / "progress_server.py")]}},
    }))
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])
    seen: list[tuple[float, float | None, str | None, float]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        seen.append((value, total, message, anyio.current_time()))

    async with Client(params, mode=mode) as client:
        with anyio.fail_after(60):
            started = anyio.current_time()
            result = await client.call_tool(
                "compile_and_run", {"plan": "1. prog.steps(4, 0.4)\njoin()"}, progress_callback=on_progress
            )
            ended = anyio.current_time()
    assert not result.is_error
    messages = [m for _, _, m, _ in seen]
    relayed = [m for m in messages if m and m.startswith("task 1 prog.steps: ")]
    assert relayed == [f"task 1 prog.steps: {i}/4 step {i}" for i in range(1, 5)], messages
    values = [v for v, _, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values)
    # They arrived while the call ran, spread over it, not all at the end.
    times = [t for _, _, m, t in seen if m in relayed]
    assert times[0] - started < (ended - started) * 0.75
