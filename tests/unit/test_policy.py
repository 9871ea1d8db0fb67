"""The destructive-tool policy of the call-policy layer."""

from __future__ import annotations

import pytest

from mcp_compiler import execute

pytestmark = pytest.mark.anyio

DELETED: list[str] = []


async def delete(path: str) -> str:
    """Delete a file."""
    DELETED.append(path)
    return f"deleted {path}"


async def read(path: str) -> str:
    """Read a file."""
    return f"contents of {path}"


delete.destructive = True  # type: ignore[attr-defined]
PLAN = '1. read("a")\n2. delete("a")\njoin()'


async def run_with(policy: str, confirm=None):
    return await execute(PLAN, tools={"delete": delete, "read": read}, destructive=policy, confirm=confirm)


async def test_allow_runs_destructive_tools() -> None:
    DELETED.clear()
    run = await run_with("allow")
    assert run.ok and DELETED == ["a"]


async def test_deny_refuses_destructive_tools_and_runs_the_rest() -> None:
    DELETED.clear()
    run = await run_with("deny")
    assert run.task(1).status == "ok"
    assert run.task(2).status == "error" and "'deny'" in (run.task(2).error or "")
    assert DELETED == []


async def test_confirm_asks_with_the_call_and_obeys_the_answer() -> None:
    asked: list[tuple[str, dict]] = []

    async def say(answer: bool):
        async def confirm(spec, arguments) -> bool:
            asked.append((spec.name, arguments))
            return answer
        return confirm

    DELETED.clear()
    run = await run_with("confirm", await say(False))
    assert run.task(2).status == "error" and "not confirmed" in (run.task(2).error or "")
    assert DELETED == [] and asked == [("delete", {"path": "a"})]
    run = await run_with("confirm", await say(True))
    assert run.ok and DELETED == ["a"]


async def test_confirm_without_anyone_to_ask_refuses_and_says_how_to_allow() -> None:
    DELETED.clear()
    run = await run_with("confirm")
    assert run.task(2).status == "error" and "compiler.destructive" in (run.task(2).error or "")
    assert DELETED == []
