"""Slots of the 2026-07-28 round trips and of the Tasks extension, per caller (issue 23, item 3):
a call takes a round-trip slot only when it asks, one caller holds at most its share, an
abandoned first round frees its slot early, a round trip carries a bounded number of questions;
and a task's owner is its caller's normalized credentials."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest

from mcp_compiler.server.round_trips import MAX_QUESTIONS, HeldRun, HeldRuns
from mcp_compiler.server.task_server import TaskLimits, TaskStore, owner_key
from mcp_compiler.state.memory import MemoryState

pytestmark = pytest.mark.anyio


def question(n: int) -> types.ElicitRequest:
    return types.ElicitRequest(
        params=types.ElicitRequestFormParams(message=f"q{n}", requested_schema={"type": "object", "properties": {}})
    )


async def asks_once(held: HeldRun) -> types.CallToolResult:
    await held.ask("confirm-1", question(1))
    return types.CallToolResult(content=[types.TextContent(type="text", text="asked")])


async def asks_nothing(held: HeldRun) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text="read-only")])


async def first_call(held_runs: HeldRuns, work: Any, owner: str) -> types.CallToolResult | types.InputRequiredResult:
    held = await held_runs.start(work, owner)
    return await held_runs.serve(held, None)


async def test_64_abandoned_round_trips_of_one_caller_leave_room_for_another() -> None:
    state = MemoryState()
    held_runs = HeldRuns(ttl_s=600, max_pending=64, max_per_caller=8, state=state)
    with anyio.fail_after(20):
        async with held_runs.open():
            replies = [await first_call(held_runs, asks_once, "mallory") for _ in range(64)]
            asked = [r for r in replies if isinstance(r, types.InputRequiredResult)]
            refused = [r for r in replies if isinstance(r, types.CallToolResult)]
            assert len(asked) == 8 and len(refused) == 56
            assert all(r.is_error and "(the limit per caller, 8)" in r.content[0].text for r in refused)  # type: ignore[union-attr]
            # Another caller: a plan that never asks takes no slot at all, and one that asks gets one.
            read_only = await first_call(held_runs, asks_nothing, "alice")
            assert isinstance(read_only, types.CallToolResult) and not read_only.is_error
            assert isinstance(await first_call(held_runs, asks_once, "alice"), types.InputRequiredResult)
            while len(held_runs) > 9:  # the 56 refused runs were cancelled at their first question
                await anyio.sleep(0.01)
            assert (await state.size(held_runs.kind))[0] == 9
            held_runs._groups[-1].cancel_scope.cancel()


async def test_the_global_ceiling_holds_across_callers() -> None:
    held_runs = HeldRuns(ttl_s=600, max_pending=4, max_per_caller=8, state=MemoryState())
    with anyio.fail_after(20):
        async with held_runs.open():
            replies = [await first_call(held_runs, asks_once, f"caller-{n}") for n in range(6)]
            assert [isinstance(r, types.InputRequiredResult) for r in replies] == [True] * 4 + [False] * 2
            assert "4 calls are already waiting" in replies[4].content[0].text  # type: ignore[union-attr]
            held_runs._groups[-1].cancel_scope.cancel()


async def test_an_abandoned_first_round_frees_its_slot_after_first_round_s() -> None:
    state = MemoryState()
    held_runs = HeldRuns(ttl_s=600, first_round_s=0.3, max_per_caller=1, state=state)
    with anyio.fail_after(20):
        async with held_runs.open():
            assert isinstance(await first_call(held_runs, asks_once, "bob"), types.InputRequiredResult)
            refused = await first_call(held_runs, asks_once, "bob")
            assert isinstance(refused, types.CallToolResult) and refused.is_error
            while len(held_runs):  # nobody came back: released after 0.3 s, not 600
                await anyio.sleep(0.02)
            assert await state.size(held_runs.kind) == (0, 0)
            assert isinstance(await first_call(held_runs, asks_once, "bob"), types.InputRequiredResult)
            held_runs._groups[-1].cancel_scope.cancel()


async def test_a_round_trip_carries_at_most_max_questions() -> None:
    async def asks_many(held: HeldRun) -> types.CallToolResult:
        await held.ask_all({f"upstream-{n}": question(n) for n in range(5000)})
        return types.CallToolResult(content=[types.TextContent(type="text", text="answered")])

    held_runs = HeldRuns(ttl_s=600, state=MemoryState())
    with anyio.fail_after(20):
        async with held_runs.open():
            reply = await first_call(held_runs, asks_many, "carol")
            assert isinstance(reply, types.InputRequiredResult) and len(reply.input_requests or {}) == MAX_QUESTIONS
            answers = {key: types.ElicitResult(action="decline") for key in reply.input_requests or {}}
            second = await held_runs.retry(reply.request_state or "", answers, None)
            assert isinstance(second, types.InputRequiredResult) and len(second.input_requests or {}) == MAX_QUESTIONS
            assert not set(second.input_requests or {}) & set(answers)  # the next ones, not the answered again
            held_runs._groups[-1].cancel_scope.cancel()


def test_a_tasks_owner_is_the_normalized_credentials() -> None:
    assert owner_key("Bearer TOKEN") == owner_key("bearer TOKEN") == owner_key("  BEARER   TOKEN ")
    assert owner_key("Bearer TOKEN") != owner_key("Bearer token")  # the token itself is case-sensitive
    assert owner_key(None) == owner_key("") == owner_key("   ") == ""


async def test_one_caller_cannot_take_every_task_slot() -> None:
    store = TaskStore(TaskLimits(max_tasks=256, max_running_per_caller=3), state=MemoryState())
    release = anyio.Event()

    async def work(task: Any) -> dict[str, Any]:
        await release.wait()
        return {"content": []}

    with anyio.fail_after(20):
        async with store.running():
            mine = [await store.start("mallory", work) for _ in range(5)]
            assert [t is not None for t in mine] == [True] * 3 + [False] * 2
            assert await store.start("alice", work) is not None
            release.set()


async def test_a_bogus_error_answer_through_tasks_update_fails_closed_with_a_clear_error() -> None:
    from mcp.shared.exceptions import MCPError

    from mcp_compiler.server.task_server import TaskSession, ToolCallTask

    task = ToolCallTask("t", "owner", 60.0, 500)
    session = TaskSession(task, None, TaskLimits(input_timeout_s=5))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            async def answer_when_asked() -> None:
                while not task.questions:
                    await anyio.sleep(0.01)
                task.answer({key: {"code": "invalid", "message": "x"} for key in task.questions})

            tg.start_soon(answer_when_asked)
            with pytest.raises(MCPError, match="code is not an integer"):
                await session.send_request(types.ElicitRequest(params=types.ElicitRequestFormParams(
                    message="go?", requested_schema={"type": "object", "properties": {}})), types.ElicitResult)


def test_a_task_shows_at_most_max_questions_at_once() -> None:
    from mcp_compiler.server._common import Question
    from mcp_compiler.server.task_server import MAX_QUESTIONS, ToolCallTask

    task = ToolCallTask("t", "owner", 60.0, 500)
    for n in range(5000):  # an upstream asking for sampling 5,000 times at once
        task.questions[f"q{n}"] = Question({"method": "sampling/createMessage", "params": {}})
    task.set("input_required", "waiting")
    shown = task.detailed()["inputRequests"]
    assert len(shown) == MAX_QUESTIONS == 64 and list(shown) == [f"q{n}" for n in range(64)]
    assert len(json.loads(task.record())["asked"]) == 64
