"""Calling an upstream tool that answers with a task (SEP-2663), as one call.

`UpstreamTasks` is a client extension (`mcp.Client(extensions=[UpstreamTasks()])`): the client
declares `io.modelcontextprotocol/tasks` on each 2026-07-28 request, and when a `tools/call` comes
back as a task (`resultType: "task"`), the SDK hands it to `follow_task`, whose `CallToolResult`
becomes the call's result. So a tool the upstream runs only as a task (one that refuses callers
without the extension, -32021) is one plan task like any other.

- Polling: `tasks/get` after 50 ms, then backing off (x2) up to the server's `pollIntervalMs`
  (at most 5 s). There is no deadline here: the caller's (the call policy's timeout, a cancelled
  run) cancels the poll.
- Cancellation: when the call is cancelled or fails while the task runs, the upstream task gets a
  `tasks/cancel` (shielded, within 5 s) so its work stops too.
- Progress: each new `statusMessage` of the upstream task is relayed as progress of the call, to
  the progress callback the caller set with `with_task_progress`.
- `completed` gives the task's result; `failed` raises its JSON-RPC error as `MCPError`;
  `cancelled` (by someone else) raises too. `input_required` fails the call with what the
  upstream asked: upstream questions are not relayed to our host (yet), and the task is cancelled.

The 2025-11-25 experimental tasks are another wire, which the SDK's client does not drive: a tool
listed with `execution.taskSupport: "required"` (only that revision has the field) is called by
`call_as_legacy_task`: a `tools/call` with a `task` param (the server answers with the task), then
`tasks/get` polled as above (its `statusMessage`s relayed as progress), `tasks/result` for the
tool's result, and `tasks/cancel` when the call is cancelled or fails while the task runs. A task
that goes to `input_required` is waited on: its server asks its questions with ordinary requests
(elicitation, sampling), which the relay passes to the host of the call. `optional` tools stay
plain calls.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.client import ClaimContext, ClientExtension, ClientSession, ResultClaim
from mcp.shared.exceptions import MCPError

from ..task_protocol import (
    TASKS_EXTENSION,
    Ack,
    CancelTaskParams,
    CancelTaskRequest,
    CreateTaskResult,
    GetTaskParams,
    GetTaskRequest,
    TaskState,
)
from .wire import LEGACY_TASK_CALL

__all__ = [
    "UpstreamTasks", "call_as_legacy_task", "follow_task", "legacy_task_only", "needs_legacy_task", "with_task_progress",
]

T = TypeVar("T")
Progress = Callable[[float, "float | None", "str | None"], Awaitable[None]]
# The SDK hands a claim's resolver no progress callback: the call's own travels beside it.
_progress: ContextVar[Progress | None] = ContextVar("mcp_compiler_upstream_task_progress", default=None)

logger = logging.getLogger(__name__)

_FIRST_POLL_S = 0.05
_MAX_POLL_S = 5.0
_LEGACY_TTL_MS = 3_600_000  # how long a 2025-11-25 upstream task is asked to keep its result
_CANCEL_WAIT_S = 5.0


class UpstreamTasks(ClientExtension):
    """Declares the Tasks extension and resolves task answers to `tools/call` (module docstring)."""

    identifier = TASKS_EXTENSION

    def claims(self) -> list[ResultClaim[CreateTaskResult]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=follow_task)]


async def follow_task(created: CreateTaskResult, ctx: ClaimContext) -> types.CallToolResult:
    """Poll the upstream task to its end and return its result (see the module docstring)."""
    session, task_id = ctx.session, created.task_id
    relay, said, steps = _progress.get(), created.status_message, 0
    ceiling = min(max((created.poll_interval_ms or 1000) / 1000, _FIRST_POLL_S), _MAX_POLL_S)
    delay = _FIRST_POLL_S
    finished = False
    try:
        while True:
            await anyio.sleep(delay)
            state = await session.send_request(GetTaskRequest(params=GetTaskParams(task_id=task_id)), TaskState)
            if state.poll_interval_ms:
                ceiling = min(max(state.poll_interval_ms / 1000, _FIRST_POLL_S), _MAX_POLL_S)
            delay = min(delay * 2, ceiling)
            if relay is not None and state.status_message and state.status_message != said:
                said, steps = state.status_message, steps + 1
                await relay(steps, None, said)
            if state.status == "completed":
                finished = True
                return types.CallToolResult.model_validate(state.result or {"content": []})
            if state.status == "failed":
                finished = True
                error = state.error or {}
                raise MCPError(
                    code=int(error.get("code", types.INTERNAL_ERROR)),
                    message=f"the upstream task failed: {error.get('message') or state.status_message or 'no reason given'}",
                )
            if state.status == "cancelled":
                finished = True
                raise MCPError(code=types.INTERNAL_ERROR, message="the upstream task was cancelled by its server")
            if state.status == "input_required":
                asked = ", ".join(sorted({str(r.get("method")) for r in (state.input_requests or {}).values()
                                          if isinstance(r, dict)})) or "input"
                raise MCPError(
                    code=types.INTERNAL_ERROR,
                    message=f"the upstream task asks for {asked} (input_required); mcp-compiler does not relay "
                            "an upstream task's questions to its host",
                )
    finally:
        if not finished:
            await _cancel(session, task_id)


async def with_task_progress(progress: Progress | None, call: Awaitable[T]) -> T:
    """Await `call` (a `tools/call`) with `progress` receiving its upstream task's status lines."""
    token = _progress.set(progress)
    try:
        return await call
    finally:
        _progress.reset(token)


async def _cancel(session: ClientSession, task_id: str) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_WAIT_S):
        try:
            await session.send_request(
                CancelTaskRequest(params=CancelTaskParams(task_id=task_id)), Ack
            )
        except Exception as exc:  # noqa: BLE001 - best effort: the server may be gone
            logger.debug("tasks/cancel for an upstream task failed: %s", exc)


def legacy_task_only(tool: types.Tool) -> str | None:
    """Why `tool` cannot be called; None since 2025-11-25 task augmentation is spoken (`needs_legacy_task`)."""
    return None


def needs_legacy_task(tool: types.Tool) -> bool:
    """`tool` runs only as a 2025-11-25 task (`execution.taskSupport: "required"`)."""
    execution = getattr(tool, "execution", None)
    return getattr(execution, "task_support", None) == "required"


async def call_as_legacy_task(
    session: ClientSession, name: str, arguments: dict[str, Any], progress: Progress | None = None
) -> types.CallToolResult:
    """One `tools/call` run as a 2025-11-25 task, to its end (see the module docstring)."""
    request = types.CallToolRequest(params=types.CallToolRequestParams(
        name=name, arguments=arguments, task=types.TaskMetadata(ttl=_LEGACY_TTL_MS),
    ))
    # The wire hands the SDK the CreateTaskResult as a tools/call result it can read (`Wire._task_created`).
    answer = await session.send_request(request, types.CallToolResult)
    raw = (answer.meta or {}).get(LEGACY_TASK_CALL)
    if raw is None:
        return answer  # the server ran it as a plain call after all
    created = types.Task.model_validate(raw)
    task_id, said, steps = created.task_id, created.status_message, 0
    ceiling = min(max((created.poll_interval or 1000) / 1000, _FIRST_POLL_S), _MAX_POLL_S)
    delay = _FIRST_POLL_S
    finished = False
    try:
        while True:
            await anyio.sleep(delay)
            state = await session.send_request(
                types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id)), types.GetTaskResult
            )
            if state.poll_interval:
                ceiling = min(max(state.poll_interval / 1000, _FIRST_POLL_S), _MAX_POLL_S)
            delay = min(delay * 2, ceiling)
            if progress is not None and state.status_message and state.status_message != said:
                said, steps = state.status_message, steps + 1
                await progress(steps, None, said)
            if state.status in ("completed", "failed"):
                # tasks/result gives the tool's own result (or its JSON-RPC error) in both cases.
                finished = True
                return await session.send_request(
                    types.GetTaskPayloadRequest(params=types.GetTaskPayloadRequestParams(task_id=task_id)),
                    types.CallToolResult,
                )
            if state.status == "cancelled":
                finished = True
                raise MCPError(code=types.INTERNAL_ERROR, message="the upstream task was cancelled by its server")
    finally:
        if not finished:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_WAIT_S):
                try:
                    await session.send_request(
                        types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id=task_id)),
                        types.CancelTaskResult,
                    )
                except Exception as exc:  # noqa: BLE001 - best effort: the server may be gone
                    logger.debug("tasks/cancel for an upstream task failed: %s", exc)
