"""The Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), server side.

A `tools/call` from a client that declares the extension on that request (its `_meta`
`io.modelcontextprotocol/clientCapabilities.extensions`, 2026-07-28 era only) may be answered at
once with a task (`resultType: "task"`) while the call runs in the background; the client polls
`tasks/get`, answers `input_required` through `tasks/update`, and may `tasks/cancel`. Which calls
become tasks is the server's choice (`TasksExtension(runs_as_task=...)`).

- Ownership: every task runs in the store's task group (`TaskStore.running()`, entered by the
  server's lifespan), inside its own cancel scope: `tasks/cancel` cancels that scope and with it
  everything the call awaits (for `compile_and_run`: every downstream call in flight).
- State: a task's record (status, message, questions, result or error) goes through the state
  seam (`mcp_compiler/state`, kind `tasks`), written when it starts, asks, is answered and ends;
  what cannot leave the process (its cancel scope, the events its questions wait on, its latest
  progress line) stays in the store's registry of the tasks running here, which `tasks/get`
  reads first.
- Bounds: a task is kept `ttl_s` from its creation once it has ended (a running one is pinned
  until it ends), at most `max_tasks` at once (the oldest ended ones go first; with every slot
  running, a new call is answered directly instead of as a task), at most
  `max_running_per_caller` running for one caller (past it, its calls are answered directly
  too, so one caller cannot take the slots of the others). A question waits `input_timeout_s`
  for its answer.
- Task ids are 256 random bits (`secrets`), the only handle to a task. A task is bound to the
  credentials of the request that made it (a digest of its `Authorization` header, the scheme's
  case and extra spaces aside: `owner_key`): a request with other credentials is told the task
  does not exist.
- Asking the host: the handler runs with a `TaskSession` in place of the request's session. Its
  `send_request` (what the destructive-tool confirmation and sampling call) parks the task in
  `input_required` with the request under a fresh key, and returns when `tasks/update` brings the
  answer; `report_progress` and `on_run_event` become the task's `statusMessage`. So code that
  asks "the session" needs no change to ask through a task.
- Wire shapes follow the conformance suite for SEP-2663: flat `CreateTaskResult`, `ttlMs`,
  `pollIntervalMs`, no `requestState`; unknown task ids give -32602 on `tasks/get` and an empty
  ack on `tasks/update`/`tasks/cancel`; a request that did not declare the extension gets -32021
  from the tasks methods.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import anyio.abc
import anyio.lowlevel
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding, compose_tool_call_handler
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp_types.jsonrpc import HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from ..auth.identity import identity_of
from ..state import Kind, StateStore, StateUnavailable, default_state
from ..state.lease import LEASE_S, Lease
from ..task_protocol import TASKS_EXTENSION, CancelTaskParams, GetTaskParams, UpdateTaskParams
from ..text import scrub
from ._common import Question

__all__ = [
    "TASKS_EXTENSION", "TaskLimits", "TaskSession", "TaskStore", "TasksExtension", "ToolCallTask",
    "client_declares_tasks", "install_tasks",
]

logger = logging.getLogger(__name__)

Status = Literal["working", "input_required", "completed", "failed", "cancelled"]
_TERMINAL = frozenset({"completed", "failed", "cancelled"})


MAX_QUESTIONS = 64  # a task's open questions shown at once in inputRequests (and kept in its record)


@dataclass(frozen=True)
class TaskLimits:
    ttl_s: float = 3600.0  # how long an ended task stays readable (from its creation)
    max_tasks: int = 256  # stored at once, running or ended
    poll_interval_ms: int = 500  # the pace suggested to pollers
    input_timeout_s: float = 600.0  # how long a question waits for tasks/update
    max_bytes: int = 1 << 30  # the records of every task kept, results included
    lease_s: float = LEASE_S  # a task whose replica is unheard of this long is failed (state/lease.py)
    control_poll_s: float = 0.25  # how often a replica reads the cancels and answers other replicas left
    max_running_per_caller: int = 32  # running at once for one owner; more are answered directly


# ---- the wire ------------------------------------------------------------------------------------


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def _wire(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return value


# ---- one task ------------------------------------------------------------------------------------


@dataclass(eq=False)
class ToolCallTask:
    """A `tools/call` running as a task (SEP-2663): its record, changed only by its own run and by
    the store's methods. Not the plan's `Task` (`language/plan.py`), a step of a plan."""

    task_id: str
    owner: str
    ttl_s: float
    poll_interval_ms: int
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    status: Status = "working"
    status_message: str | None = None
    replica: str = ""  # the lease id of the replica running it (state/lease.py)
    result: Any = None
    error: dict[str, Any] | None = None
    questions: dict[str, Question] = field(default_factory=dict)
    scope: anyio.CancelScope | None = None
    saved: Callable[[ToolCallTask], Awaitable[None]] | None = None  # writes the record through the seam
    _keys: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.updated = self.updated or self.created

    def record(self) -> bytes:
        """What goes through the state seam: everything but the live parts (scope, events)."""
        return json.dumps({
            "task_id": self.task_id, "owner": self.owner, "ttl_s": self.ttl_s,
            "poll_interval_ms": self.poll_interval_ms, "created": self.created, "updated": self.updated,
            "status": self.status, "status_message": self.status_message, "result": self.result,
            "replica": self.replica,
            "error": self.error,
            "asked": {key: q.request for key, q in itertools.islice(self.questions.items(), MAX_QUESTIONS)},
        }, default=str).encode()

    @classmethod
    def from_record(cls, kept: bytes) -> ToolCallTask:
        """A task as its record shows it (read-only: nothing runs it in this process)."""
        data = json.loads(kept)
        asked = data.pop("asked", {})
        task = cls(**data)
        task.questions = {key: Question(request) for key, request in asked.items()}
        return task

    @property
    def ended(self) -> bool:
        return self.status in _TERMINAL

    def set(self, status: Status, message: str | None = None) -> None:
        if self.ended:
            return  # terminal states never change
        self.status = status
        if message is not None:
            self.status_message = scrub(message)
        self.updated = time.time()

    def note(self, message: str) -> None:
        """A progress line while working (no status change)."""
        if not self.ended:
            self.status_message = scrub(message)
            self.updated = time.time()

    def header(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taskId": self.task_id, "status": self.status, "createdAt": _iso(self.created),
            "lastUpdatedAt": _iso(self.updated), "ttlMs": int(self.ttl_s * 1000),
            "pollIntervalMs": self.poll_interval_ms,
        }
        if self.status_message:
            out["statusMessage"] = self.status_message
        return out

    def detailed(self) -> dict[str, Any]:
        """What `tasks/get` returns: the header plus the status's own payload."""
        out = self.header()
        if self.status == "completed" and self.result is not None:
            out["result"] = self.result
        elif self.status == "failed" and self.error is not None:
            out["error"] = self.error
        elif self.status == "input_required":
            # At most MAX_QUESTIONS at a time (as a round trip carries): the others once these are answered.
            out["inputRequests"] = {key: q.request for key, q in itertools.islice(self.questions.items(), MAX_QUESTIONS)}
        return out

    async def ask(self, request: dict[str, Any], timeout_s: float) -> Any:
        """Park in `input_required` with `request` until `tasks/update` answers it."""
        key = f"q{next(self._keys)}"  # unique over the task's life (SEP-2663)
        question = self.questions[key] = Question(request)
        self.set("input_required", "waiting for the host's answer through tasks/update")
        await self._save()
        try:
            with anyio.fail_after(timeout_s):
                await question.answered.wait()
        except TimeoutError:
            raise MCPError(
                code=types.REQUEST_TIMEOUT, message=f"no answer through tasks/update within {timeout_s:g} s"
            ) from None
        finally:
            self.questions.pop(key, None)
            if not self.questions and self.status == "input_required":
                self.set("working", "answer received; working")
            with anyio.CancelScope(shield=True):  # the record says so even when the ask is cancelled
                await self._save()
        return question.answer

    async def _save(self) -> None:
        if self.saved is not None:
            await self.saved(self)

    def answer(self, responses: Mapping[str, Any]) -> None:
        """Deliver answers to outstanding questions; other keys are ignored (SEP-2663)."""
        for key, response in responses.items():
            question = self.questions.get(key)
            if question is not None and not question.answered.is_set():
                question.deliver(response)


# ---- the store -----------------------------------------------------------------------------------

Work = Callable[[ToolCallTask], Awaitable[Any]]
_SAVE_S = 5.0  # how long a task's last record may take to write (the seam's backend may be remote)


class TaskStore:
    """Tasks by id: their records through the state seam, the ones running here in the store's
    task group. Enter `running()` to serve tasks."""

    def __init__(self, limits: TaskLimits | None = None, *, state: StateStore | None = None) -> None:
        self.limits = limits or TaskLimits()
        self.kind = Kind("tasks", ttl_s=self.limits.ttl_s, max_bytes=self.limits.max_bytes,
                         max_entries=self.limits.max_tasks)
        self.state = state if state is not None else default_state()
        self.lease = Lease(self.state, lease_s=self.limits.lease_s)
        self._running: dict[str, ToolCallTask] = {}  # live here: their scopes and questions
        self._tg: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TaskStore]:
        """Own the tasks' task group; leaving cancels every task still running."""
        if self._tg is not None:  # entered already (e.g. several in-process connections): share it
            yield self
            return
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self.lease.keep)
            tg.start_soon(self._read_controls)
            try:
                yield self
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    def __len__(self) -> int:
        """Tasks running in this process."""
        return len(self._running)

    async def start(self, owner: str, work: Work) -> ToolCallTask | None:
        """A new task running `work`, readable by `get` before this returns; None when every slot
        is taken by a running task, or the store is not running (the caller then runs the work
        itself)."""
        if self._tg is None:
            return None
        # One caller cannot take every slot: past its share its calls are answered directly
        # (holding its own request, not a slot another caller's task could use).
        if sum(1 for t in self._running.values() if t.owner == owner) >= self.limits.max_running_per_caller:
            return None
        task = ToolCallTask(secrets.token_urlsafe(32), owner, self.limits.ttl_s, self.limits.poll_interval_ms,
                            replica=self.lease.id, saved=self._save)
        # Pinned while it runs: a running task is neither expired nor evicted.
        try:
            if not await self.state.put(self.kind, task.task_id, task.record(), owner=owner, pinned=True):
                return None
        except StateUnavailable as exc:  # the call needs no task: it is answered directly instead
            logger.warning("%s: a call is answered directly instead of as a task", exc)
            return None
        self._running[task.task_id] = task
        await self._tg.start(self._drive, task, work)
        return task

    async def get(self, task_id: str, owner: str) -> ToolCallTask | None:
        # Another caller's task does not exist for this one (no oracle for ids either).
        task = self._running.get(task_id)
        if task is not None:
            return task if secrets.compare_digest(task.owner, owner) else None
        kept = await self.state.get(self.kind, task_id, owner=owner)
        if kept is None:
            return None
        task = ToolCallTask.from_record(kept)
        if not task.ended and task.replica and not await self.lease.alive(task.replica):
            # Running on a replica that stopped: nothing will finish it. Every replica says so.
            task.error = {"code": types.INTERNAL_ERROR, "message": (
                f"the replica running this task stopped (its lease of {self.lease.lease_s:g} s ran out); "
                "its calls in flight were lost: call again")}
            task.set("failed", task.error["message"])
            await self.state.put(self.kind, task.task_id, task.record(), owner=task.owner)
            await self.state.expire(self.kind, task.task_id, task.ttl_s - (time.time() - task.created))
        return task

    def _live(self, task_id: str, owner: str) -> ToolCallTask | None:
        task = self._running.get(task_id)
        return task if task is not None and secrets.compare_digest(task.owner, owner) and not task.ended else None

    async def cancel(self, task_id: str, owner: str) -> None:
        task = self._live(task_id, owner)
        if task is not None:
            if task.scope is not None:
                task.scope.cancel()
        elif await self._elsewhere(task_id, owner):  # running on another replica: it reads this
            await self.state.put(self.kind, task_id, b"1", part="cancel")

    async def answer(self, task_id: str, owner: str, responses: Mapping[str, Any]) -> None:
        task = self._live(task_id, owner)
        if task is not None:
            task.answer(responses)
        elif await self._elsewhere(task_id, owner):
            kept = await self.state.get(self.kind, task_id, part="answers")
            merged = {**(json.loads(kept) if kept else {}), **responses}
            await self.state.put(self.kind, task_id, json.dumps(merged, default=str).encode(), part="answers")

    async def _elsewhere(self, task_id: str, owner: str) -> bool:
        """The task is this owner's, unfinished, and not running here."""
        task = await self.get(task_id, owner)
        return task is not None and not task.ended and task_id not in self._running

    async def _read_controls(self) -> None:
        """Cancels and answers left by other replicas for the tasks running here, every
        `control_poll_s` (a take: each is acted on once)."""
        failing = False
        while True:
            await anyio.sleep(self.limits.control_poll_s)
            try:
                for task in list(self._running.values()):
                    if await self.state.take(self.kind, task.task_id, part="cancel") and task.scope is not None:
                        task.scope.cancel()
                    answers = await self.state.take(self.kind, task.task_id, part="answers")
                    if answers:
                        task.answer(json.loads(answers))
                failing = False
            except StateUnavailable as exc:
                if not failing:  # once an outage (the lease says when it is over)
                    logger.warning("could not read other replicas' cancels and answers: %s", exc)
                failing = True

    async def _save(self, task: ToolCallTask) -> None:
        if await self.state.put(self.kind, task.task_id, task.record(), owner=task.owner):
            return
        if task.status == "completed":  # its result does not fit the tasks' byte cap: say so instead
            task.status, task.result = "failed", None
            task.error = {"code": types.INTERNAL_ERROR, "message": "the task's result is larger than the task store "
                                                                   "keeps (TaskLimits.max_bytes)"}
            task.status_message = task.error["message"]
            await self.state.put(self.kind, task.task_id, task.record(), owner=task.owner)

    async def _drive(self, task: ToolCallTask, work: Work, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        try:
            with anyio.CancelScope() as scope:
                task.scope = scope
                task_status.started()
                try:
                    task.result = _wire(await work(task))
                    task.set("completed", task.status_message)
                except MCPError as exc:
                    task.error = exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
                    task.set("failed", exc.error.message)
                except Exception as exc:  # noqa: BLE001 - a bug fails its task, not the server
                    await anyio.lowlevel.checkpoint_if_cancelled()
                    logger.exception("task %s failed unexpectedly", task.task_id[:8])
                    task.error = {"code": types.INTERNAL_ERROR, "message": f"internal error ({type(exc).__name__})"}
                    task.set("failed", task.error["message"])
        finally:
            task.scope = None
            if not task.ended:  # cancelled: by tasks/cancel, or the server shutting down
                task.set("cancelled", "cancelled")
            # Its last record, written even while the server shuts down; from now on it expires
            # `ttl_s` after its creation and may make room for newer tasks.
            with anyio.CancelScope(shield=True), anyio.move_on_after(_SAVE_S):
                await self._save(task)
                await self.state.expire(self.kind, task.task_id, task.ttl_s - (time.time() - task.created))
            self._running.pop(task.task_id, None)


# ---- asking the host through a task -------------------------------------------------------------


class TaskSession:
    """Stands in for a request's session while its call runs as a task (see the module docstring)."""

    can_send_request = True

    def __init__(self, task: ToolCallTask, session: Any, limits: TaskLimits) -> None:
        self._task = task
        self.client_capabilities = getattr(session, "client_capabilities", None)
        self.protocol_version = getattr(session, "protocol_version", None)
        self._limits = limits
        self._watched = False  # run events say more than progress lines: once they come, they win

    async def send_request(self, request: Any, result_type: Any, *args: Any, **kwargs: Any) -> Any:
        answer = await self._task.ask(_wire(request), self._limits.input_timeout_s)
        if isinstance(answer, Mapping) and "code" in answer and "message" in answer and len(answer) <= 3:
            code = answer["code"]
            if not isinstance(code, int) or isinstance(code, bool):  # not an ErrorData: say so, not a ValueError
                raise MCPError(code=types.INVALID_PARAMS, message=(
                    "the answer through tasks/update is an error whose code is not an integer"
                ))
            raise MCPError(code=code, message=scrub(str(answer["message"]))[:1000])  # the host's ErrorData
        try:
            return result_type.model_validate(answer)
        except ValidationError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=f"the answer through tasks/update does not fit: "
                                                               f"{exc.errors()[0]['msg']}") from None

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if message and not self._watched:
            self._task.note(message)

    def on_run_event(self, event: Any) -> None:
        """A compiler event (`compiler.Event`): tasks done of known, then what happened."""
        total = getattr(event, "total", 0)
        self._watched = True
        if total:
            self._task.note(f"{getattr(event, 'done', 0)} of {total} tasks done; {getattr(event, 'message', '')}")


# ---- the extension ---------------------------------------------------------------------------------


def client_declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """This request declared the extension (2026-07-28 per-request capabilities)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    declared = (ctx.meta or {}).get(types.CLIENT_CAPABILITIES_META_KEY)
    extensions = declared.get("extensions") if isinstance(declared, Mapping) else None
    if isinstance(extensions, Mapping) and TASKS_EXTENSION in extensions:
        return True
    capabilities = getattr(ctx.session, "client_capabilities", None)
    return TASKS_EXTENSION in (getattr(capabilities, "extensions", None) or {})


def owner_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """The caller's identity when the HTTP layer established one (auth/identity.py: stable across
    token refreshes); else the credentials a request came with, normalized (`owner_key`), as a
    digest (empty without any)."""
    identity = identity_of(ctx.request)
    if identity.source:
        return identity.owner
    headers = getattr(ctx.request, "headers", None)
    credentials = headers.get("authorization") if headers is not None else None
    return owner_key(credentials)


def owner_key(credentials: str | None) -> str:
    """An `Authorization` value as one identity: the scheme is case-insensitive (RFC 9110) and
    spaces around the parts are not part of it, so `bearer TOKEN` and `Bearer  TOKEN` are the
    same caller (the first authenticates, so the second must find its tasks)."""
    if not credentials or not credentials.strip():
        return ""
    scheme, _, rest = credentials.strip().partition(" ")
    normalized = f"{scheme.lower()} {rest.strip()}" if rest.strip() else scheme.lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def _missing_capability(method: str) -> MCPError:
    return MCPError(
        code=MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"{method} needs the {TASKS_EXTENSION} extension, which this request did not declare "
                f"(_meta {types.CLIENT_CAPABILITIES_META_KEY}.extensions)",
        data={"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
    )


class TasksExtension(Extension):
    """SEP-2663 on a server: `tools/call`s chosen by `runs_as_task` run as tasks; those chosen by
    `requires_task` are refused (-32021) to a request that did not declare the extension."""

    identifier = TASKS_EXTENSION

    def __init__(
        self, store: TaskStore, runs_as_task: Callable[[types.CallToolRequestParams], bool] = lambda _: True,
        requires_task: Callable[[types.CallToolRequestParams], bool] = lambda _: False,
    ) -> None:
        self.store = store
        self.runs_as_task = runs_as_task
        self.requires_task = requires_task

    def method_handlers(self) -> dict[str, tuple[type[BaseModel], Any]]:
        return {
            "tasks/get": (GetTaskParams, self._get),
            "tasks/update": (UpdateTaskParams, self._update),
            "tasks/cancel": (CancelTaskParams, self._cancel),
        }

    def methods(self) -> list[MethodBinding]:
        return [MethodBinding(method=m, params_type=p, handler=h) for m, (p, h) in self.method_handlers().items()]

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if not client_declares_tasks(ctx):
            if self.requires_task(params):
                raise _missing_capability(f"tools/call of {params.name!r}")
            return await call_next(ctx)
        if not self.runs_as_task(params):
            return await call_next(ctx)
        session = ctx.session

        async def work(task: ToolCallTask) -> Any:
            return await call_next(replace(ctx, session=TaskSession(task, session, self.store.limits)))  # type: ignore[arg-type]  # TaskSession stands in for the ServerSession

        task = await self.store.start(owner_of(ctx), work)
        if task is None:
            return await call_next(ctx)  # no room for another task: answer directly
        return {"resultType": "task", **task.header()}

    def _check(self, ctx: ServerRequestContext[Any, Any]) -> None:
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(code=types.METHOD_NOT_FOUND, message=f"{ctx.method}: the tasks extension is 2026-07-28 only")
        if not client_declares_tasks(ctx):
            raise _missing_capability(ctx.method)

    def _check_routing(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> None:
        """SEP-2663 routing: an `Mcp-Name` header, when sent, must be the body's `taskId` (the
        SDK checks it for the core methods only)."""
        headers = getattr(ctx.request, "headers", None)
        named = headers.get(MCP_NAME_HEADER) if headers is not None else None
        if named is not None and decode_header_value(named) != task_id:
            raise MCPError(code=HEADER_MISMATCH, message=f"{MCP_NAME_HEADER} header does not match the body's taskId")

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: GetTaskParams) -> dict[str, Any]:
        self._check(ctx)
        self._check_routing(ctx, params.task_id)
        try:
            task = await self.store.get(params.task_id, owner_of(ctx))
        except StateUnavailable as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from None
        if task is None:
            raise MCPError(code=types.INVALID_PARAMS, message="Failed to retrieve task: Task not found")
        return {"resultType": "complete", **task.detailed()}

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
        self._check(ctx)
        self._check_routing(ctx, params.task_id)
        try:
            await self.store.answer(params.task_id, owner_of(ctx), params.input_responses)
        except StateUnavailable as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from None
        return {"resultType": "complete"}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: CancelTaskParams) -> dict[str, Any]:
        self._check(ctx)
        self._check_routing(ctx, params.task_id)
        try:
            await self.store.cancel(params.task_id, owner_of(ctx))
        except StateUnavailable as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from None
        return {"resultType": "complete"}


def install_tasks(server: Server[Any], extension: TasksExtension) -> None:
    """What `MCPServer(extensions=[...])` does, for a lowlevel `Server`: advertise the extension,
    serve its methods, and wrap the `tools/call` handler with its interceptor."""
    for method, (params_type, handler) in extension.method_handlers().items():
        server.add_request_handler(method, params_type, handler)
    call = server.get_request_handler("tools/call")
    assert call is not None, "register on_call_tool before installing the tasks extension"
    server.add_request_handler(
        "tools/call", types.CallToolRequestParams, compose_tool_call_handler([extension], call.handler)
    )
    server.extensions[TASKS_EXTENSION] = extension.settings()
