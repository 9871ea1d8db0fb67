"""The Tasks extension's wire shapes (`io.modelcontextprotocol/tasks`, SEP-2663), for both sides.

The server side is `server/task_server.py`, the client side (calling an upstream's task-backed tools)
`upstream_tasks.py`. The field names are the conformance suite's for SEP-2663 (`ttlMs`,
`pollIntervalMs`, no `requestState` on tasks). The SDK (mcp 2.3) has no Tasks types of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import mcp_types as types
from pydantic import ConfigDict, Field

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL = frozenset({"completed", "failed", "cancelled"})


class GetTaskParams(types.RequestParams):
    task_id: str
    request_state: str | None = None  # tolerated on the way in; never sent by this program


class UpdateTaskParams(types.RequestParams):
    task_id: str
    input_responses: dict[str, Any] = Field(default_factory=dict)
    request_state: str | None = None


class CancelTaskParams(types.RequestParams):
    task_id: str
    request_state: str | None = None


class GetTaskRequest(types.Request[GetTaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param: ClassVar[str | None] = "taskId"  # Mcp-Name on HTTP (SEP-2663 routing headers)


class UpdateTaskRequest(types.Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param: ClassVar[str | None] = "taskId"


class CancelTaskRequest(types.Request[CancelTaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param: ClassVar[str | None] = "taskId"


class CreateTaskResult(types.Result):
    """`tools/call` answered with a task (`resultType: "task"`): the task's seed state."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = "task"
    task_id: str
    status: str = "working"
    status_message: str | None = None
    poll_interval_ms: int | None = None
    ttl_ms: int | None = None


class TaskState(types.Result):
    """A `tasks/get` answer (DetailedTask): the status with its payload."""

    model_config = ConfigDict(extra="allow")
    result_type: str | None = None
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] | None = None


class Ack(types.Result):
    model_config = ConfigDict(extra="allow")
    result_type: str | None = None
