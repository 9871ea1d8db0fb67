"""`call_as_legacy_task` (upstreams/task_client.py) against a scripted session: the 2025-11-25 task
of a `taskSupport: "required"` tool is created, polled, its result fetched, and cancelled upstream
when the call is cancelled (the plan's cancellation reaching the server's task)."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest

from mcp_compiler.upstreams.task_client import call_as_legacy_task, needs_legacy_task
from mcp_compiler.upstreams.wire import LEGACY_TASK_CALL

pytestmark = pytest.mark.anyio

TASK = {"taskId": "t1", "status": "working", "createdAt": "2026-01-01T00:00:00Z",
        "lastUpdatedAt": "2026-01-01T00:00:00Z", "ttl": 60_000, "pollInterval": 10}


class ScriptedSession:
    """Answers as a 2025-11-25 server would (through the wire): `statuses` for each tasks/get."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.sent: list[Any] = []

    async def send_request(self, request: Any, result_type: Any) -> Any:
        self.sent.append(request)
        if request.method == "tools/call":
            assert request.params.task is not None  # task-augmented
            return types.CallToolResult(content=[], _meta={LEGACY_TASK_CALL: TASK})
        if request.method == "tasks/get":
            status = self.statuses.pop(0) if self.statuses else "working"
            return types.GetTaskResult.model_validate({**TASK, "status": status, "statusMessage": status})
        if request.method == "tasks/result":
            return types.CallToolResult(content=[types.TextContent(type="text", text="the report")])
        if request.method == "tasks/cancel":
            return types.CancelTaskResult.model_validate({**TASK, "status": "cancelled"})
        raise AssertionError(request.method)


async def test_a_task_is_created_polled_and_its_result_fetched() -> None:
    session = ScriptedSession(["working", "completed"])
    lines: list[str | None] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        lines.append(message)

    result = await call_as_legacy_task(session, "research", {"topic": "x"}, progress)  # type: ignore[arg-type]
    assert result.content == [types.TextContent(type="text", text="the report")]
    assert [r.method for r in session.sent] == ["tools/call", "tasks/get", "tasks/get", "tasks/result"]
    assert lines == ["working", "completed"]  # each new statusMessage, once


async def test_cancelling_the_call_cancels_the_upstream_task() -> None:
    session = ScriptedSession([])  # working for ever
    with anyio.move_on_after(0.5):
        await call_as_legacy_task(session, "research", {"topic": "x"})  # type: ignore[arg-type]
    assert session.sent[-1].method == "tasks/cancel" and session.sent[-1].params.task_id == "t1"
    assert "tasks/result" not in [r.method for r in session.sent]


def test_only_required_tools_run_as_tasks() -> None:
    def tool(support: str | None) -> types.Tool:
        execution = types.ToolExecution(task_support=support) if support else None  # type: ignore[arg-type]
        return types.Tool(name="t", input_schema={"type": "object"}, execution=execution)

    assert needs_legacy_task(tool("required"))
    assert not needs_legacy_task(tool("optional")) and not needs_legacy_task(tool(None))
