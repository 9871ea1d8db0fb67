"""An exception that is not a ToolError (a bug in a tool or in the engine) fails only its task, as
any failure does, and is marked as one: `exception` names its type on the task (and on a spread's
call), in the Run and in the server's structuredContent, so a fuzz test can tell it from a tool's
ordinary failure. Without one, the Run's shape is what it always was."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from mcp_compiler import ToolError, execute
from mcp_compiler.server import TOOL_NAME, CompilerServer
from mcp_compiler.tools.toolbox import FunctionToolbox

pytestmark = pytest.mark.anyio


async def buggy(x: int) -> int:
    """A tool with a bug in it."""
    return {"a": 1}["b" * x]  # KeyError


async def refuses(x: int) -> int:
    """A tool that fails on purpose."""
    raise ToolError(f"no {x}")


async def items() -> list[int]:
    """A list to spread over."""
    return [1, 2, 1]


async def picky(x: int) -> int:
    """Fails on purpose for 1, with a bug for 2."""
    if x == 2:
        raise ValueError(f"bad {x}")
    return x


buggy.read_only = True  # type: ignore[attr-defined]
picky.read_only = True  # type: ignore[attr-defined]

TOOLS = {"buggy": buggy, "refuses": refuses, "items": items, "picky": picky}


async def test_a_tool_raising_something_else_than_a_tool_error_fails_its_task_marked_as_a_bug() -> None:
    run = await execute("1. buggy(1)\n2. refuses(2)\n3. items()", TOOLS)
    bug, refused, fine = run.tasks
    assert (bug.status, bug.error, bug.exception) == ("error", "KeyError: 'b'", "KeyError")
    assert (refused.status, refused.error, refused.exception) == ("error", "no 2", None)
    assert fine.status == "ok"
    tasks = run.to_dict()["tasks"]
    assert tasks[0]["exception"] == "KeyError"
    assert "exception" not in tasks[1] and "exception" not in tasks[2]  # the shape is unchanged without one


async def test_a_task_sharing_a_buggy_call_is_marked_too() -> None:
    run = await execute("1. buggy(1)\n2. buggy(1)", TOOLS)
    first, twin = run.tasks
    assert twin.deduplicated_from == 1
    assert (twin.error, twin.exception) == (first.error, first.exception) == ("KeyError: 'b'", "KeyError")


async def test_a_spread_call_raising_a_bug_is_marked_on_the_call_and_the_task() -> None:
    run = await execute("1. items()\n2. picky($1[*])", TOOLS)
    task = run.tasks[1]
    assert task.status == "error" and task.exception == "ValueError"
    assert task.calls is not None
    assert [(c.index, c.status, c.exception) for c in task.calls] == [
        (0, "ok", None), (1, "error", "ValueError"), (2, "ok", None),
    ]
    calls = run.to_dict()["tasks"][1]["calls"]
    assert calls[1]["exception"] == "ValueError" and calls[1]["error"] == "ValueError: bad 2"
    assert "exception" not in calls[0]


async def test_a_spread_over_tool_errors_is_not_marked() -> None:
    run = await execute("1. items()\n2. refuses($1[*])", TOOLS)
    task = run.tasks[1]
    assert task.status == "error" and task.exception is None
    assert task.calls is not None and all(c.exception is None for c in task.calls)


async def test_the_marker_reaches_the_servers_structured_content() -> None:
    app = CompilerServer(FunctionToolbox(TOOLS))
    async with Client(app.server) as client:
        with anyio.fail_after(60):
            result: types.CallToolResult = await client.call_tool(TOOL_NAME, {"plan": "1. buggy(1)\n2. refuses(1)"})
    structured: Any = result.structured_content
    bug, refused = structured["tasks"]
    assert (bug["status"], bug["error"], bug["exception"]) == ("error", "KeyError: 'b'", "KeyError")
    assert refused["status"] == "error" and "exception" not in refused
