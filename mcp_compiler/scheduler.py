"""The Task Fetching Unit and executor: start each task the moment its last dependency has a result.

Every task gets a coroutine in the run's task group as soon as it arrives (from a list or from a
streaming parser). The coroutine waits on its dependencies' completion events — no polling, no
waves — resolves its references, and hands the call to the run's `RunCalls` (policy.py), which
owns every per-call decision: confirmation, concurrency slots, timeout, retry. Whatever happens,
the task ends with a final status and sets its own event, so dependents never hang: a failed
dependency makes them `skipped`.

A task waits for three kinds of edge, all to earlier tasks (so none can form a cycle):

- **data** (`deps`): the tasks it refers to; their values are its arguments;
- **explicit order** (`after`): the tasks the plan says it runs after; no value is passed;
- **side-effect order** (`ordered_after`), added here as tasks arrive, the way a compiler keeps
  memory order: on each server (`ToolSpec.provider`), a call not marked read-only waits for every
  earlier call to that server, and every later call waits for it; read-only calls between two such
  calls wait only for the one before them, so they still run side by side. Servers whose limits
  say `ordering="free"` get no such edges.

A task whose arguments hold a spread reference (`$1.items[*].name`) is one call per element of that
list, made by spread.py; the scheduler treats it as one task with one value (the list).

A failed data or `after` dependency makes the task `skipped`; a side-effect edge only orders: the
task runs once the earlier call has ended, whatever its status. A task ends only after every task
it waits for has ended, so the order holds transitively even through skipped tasks.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio

from .checks import BoundTask, coerce_arguments
from .plan import ResolveError, resolve
from .policy import RunCalls
from .run import Run, TaskRecord
from .spread import SpreadFailed, run_spread
from .tools import ToolError

__all__ = ["Scheduler", "TaskEvent", "TaskProgress", "current_task_id"]

log = logging.getLogger(__name__)

_current_task: contextvars.ContextVar[int | None] = contextvars.ContextVar("mcp_compiler_task", default=None)


def current_task_id() -> int | None:
    """The id of the task whose call is being made, for code the call goes through (a `Confirm`)."""
    return _current_task.get()


_TASK_NAME = "mcp_compiler.scheduler.task"  # named here: anyio would otherwise build the name for each
_CALL_KEY = json.JSONEncoder(sort_keys=True, default=str)  # what json.dumps builds for each call

TaskEvent = Callable[[TaskRecord], None]
"""Called when a task starts running and when it ends; must be quick and must not raise."""

TaskProgress = Callable[[TaskRecord, float, "float | None", "str | None"], None]
"""Called when a running task's server reports progress (value, total, message); quick, never raises."""


@dataclass(slots=True)  # one per task: no __dict__ to allocate and to trace
class _Slot:
    record: TaskRecord
    ended: bool = False  # its record has its final status: the last thing its task does
    _done: anyio.Event | None = None  # made only for a slot something waits on: most have no waiter
    writes: bool = False  # not read-only: its server's later calls wait for it (plan ordering)
    last_write: _Slot | None = None  # the last such call to its server before it (plan ordering)
    call_key: str | None = None  # tool and resolved arguments, once known
    epoch: int = 0  # which state of its server a read-only or idempotent call saw, for sharing

    @property
    def done(self) -> anyio.Event:
        """Set once the slot has ended."""
        if self._done is None:
            self._done = anyio.Event()
            if self.ended:
                self._done.set()
        return self._done

    def end(self) -> None:
        self.ended = True
        if self._done is not None:
            self._done.set()


@dataclass(slots=True)
class _ServerOrder:
    """Plan order on one server so far: its last call with side effects and the reads since."""

    free: bool = False  # the server's limits say `ordering="free"`: no edges

    last_write: _Slot | None = None
    reads: list[_Slot] = field(default_factory=list)


class Scheduler:
    """Runs bound tasks over a toolbox for one Run; call `run()` once per plan round."""

    def __init__(
        self, calls: RunCalls, run: Run, *, run_timeout_s: float | None = 300.0, on_event: TaskEvent | None = None,
        on_progress: TaskProgress | None = None,
    ) -> None:
        self._calls = calls
        self._run = run
        self._run_timeout_s = run_timeout_s
        self._on_event = on_event
        self._on_progress = on_progress
        self._slots: dict[int, _Slot] = {}
        self._shared_calls: dict[str, _Slot] = {}
        self._order: dict[str, _ServerOrder] = {}  # per server, across every round of the run
        self._deadline: float | None = None  # set by the first round: the run's deadline spans all rounds

    async def run(self, tasks: Iterable[BoundTask] | AsyncIterable[BoundTask], round_number: int = 1) -> None:
        """Run `tasks` (arriving all at once or one by one) until each has a final status."""
        if self._deadline is None:
            timeout = self._run_timeout_s
            self._deadline = anyio.current_time() + timeout if timeout is not None else float("inf")
        with anyio.CancelScope(deadline=self._deadline):
            async with anyio.create_task_group() as tg:
                if isinstance(tasks, AsyncIterable):
                    async for bound in tasks:
                        tg.start_soon(self._execute, bound, self._add(bound, round_number), name=_TASK_NAME)
                else:
                    for bound in tasks:
                        tg.start_soon(self._execute, bound, self._add(bound, round_number), name=_TASK_NAME)

    def _add(self, bound: BoundTask, round_number: int) -> _Slot:
        if bound.id in self._slots:
            raise ValueError(f"task {bound.id} was already scheduled in this run")
        task = bound.task
        data = task.data_deps
        record = TaskRecord(
            id=task.id, tool=bound.spec.name, thought=task.thought, round=round_number,
            deps=sorted(data) if data else [], after=[d for d in task.after if d not in data] if task.after else [],
        )
        slot = _Slot(record)
        self._keep_plan_order(bound, slot)
        self._run.tasks.append(record)
        self._slots[bound.id] = slot
        return slot

    def _keep_plan_order(self, bound: BoundTask, slot: _Slot) -> None:
        """Side-effect edges: this call against the earlier calls to its server, in plan order."""
        server = bound.spec.provider or bound.spec.name.split(".", 1)[0]
        order = self._order.get(server)
        if order is None:
            order = self._order[server] = _ServerOrder(free=self._ordering_of(server) == "free")
        if order.free:
            return
        slot.writes = not bound.spec.read_only
        slot.last_write = order.last_write
        # The edges to wait for, none implied by another: a read waits for the last write; a write
        # for the reads since it (each of which waited for it), or for it when there are none.
        before = [order.last_write] if order.last_write is not None else []
        if slot.writes:
            before = order.reads or before
            order.last_write, order.reads = slot, []
        else:
            order.reads.append(slot)
        if before:
            record = slot.record
            known = {*record.deps, *record.after}
            record.ordered_after = sorted(s.record.id for s in before if s.record.id not in known)

    def _ordering_of(self, server: str) -> str:
        limits = self._calls.policy.limits
        own = limits.servers.get(server)
        return (own.ordering if own is not None else None) or limits.ordering

    async def _execute(self, bound: BoundTask, slot: _Slot) -> None:
        record = slot.record
        _current_task.set(record.id)  # each task has its own coroutine, so its own context
        try:
            # Must succeed; `deps` also give values. Both lists are sorted and share no ID.
            needed = sorted(record.deps + record.after) if record.after else record.deps
            missing = [d for d in needed if d not in self._slots]
            if missing:
                how = "refers to" if missing[0] in record.deps else "is to run after"
                self._finish(record, "error", error=f"{how} task {missing[0]}, which is not in this run")
                return
            # Every edge is waited for before anything else, skipping included: a task never ends
            # before the tasks it is ordered after, so plan order holds through skipped tasks too.
            for dep in (*needed, *record.ordered_after):
                earlier = self._slots[dep]
                if not earlier.ended:  # waiting on a set event still yields to the loop: one per edge
                    await earlier.done.wait()
            failed = [d for d in needed if self._slots[d].record.status != "ok"]
            if failed:
                first = self._slots[failed[0]].record
                because = "" if first.id in record.deps else f" (this task was to run after task {first.id})"
                self._finish(
                    record, "skipped", error=f"task {first.id} ({first.tool}) {first.status}: {first.error}{because}"
                )
                return
            results = {d: self._slots[d].record.result for d in record.deps}
            if bound.spread is not None:  # one call per element of a list (spread.py)
                await self._spread(bound, slot, results)
                return
            try:
                if results:  # literals alone are bounded by the plan's own size limit
                    self._calls.check_arguments(bound.arguments, results)
                arguments = coerce_arguments(resolve(bound.arguments, results), bound.spec)
            except (ResolveError, ToolError) as e:
                self._finish(record, "error", error=str(e))
                return
            record.args = arguments
            await self._call_or_share(bound, slot, arguments)
        finally:
            if not record.done:
                self._finish(record, "cancelled", error=self._cancel_reason())
            slot.end()

    async def _spread(self, bound: BoundTask, slot: _Slot, results: dict[int, Any]) -> None:
        record = slot.record

        def started() -> None:
            record.status, record.start_s = "running", self._now()
            self._emit(record)

        try:
            status, value, error = await run_spread(
                bound, record, results, self._calls, self._run,
                sequential=slot.writes, on_start=started, progress=self._on_progress,
            )
        except SpreadFailed as e:
            self._finish(record, "error", error=str(e))
        else:
            self._finish(record, status, result=value, error=error)

    async def _call_or_share(self, bound: BoundTask, slot: _Slot, arguments: dict[str, Any]) -> None:
        """Identical calls to read-only or idempotent tools in one run are made once.

        Under plan ordering only while their server's state is the same: a read after a write is a
        new call, and so is an idempotent write with another write between it and its twin.
        """
        if bound.spec.dedupable:
            slot.call_key = bound.spec.name + "\0" + _CALL_KEY.encode(arguments)
            last = slot.last_write
            if last is not None:
                # `last` has ended (this task waited for it); a twin of it right after it sees the
                # state it left, as it does itself.
                slot.epoch = last.epoch if slot.writes and last.call_key == slot.call_key else last.record.id
            key = f"{slot.epoch}\0{slot.call_key}"
            first = self._shared_calls.setdefault(key, slot)
            if first is not slot:
                slot.record.start_s = self._now()
                slot.record.deduplicated_from = first.record.id
                if not first.ended:
                    await first.done.wait()
                source = first.record
                self._finish(slot.record, source.status, result=source.result, error=source.error)
                return
        await self._call(bound, slot.record, arguments)

    async def _call(self, bound: BoundTask, record: TaskRecord, arguments: dict[str, Any]) -> None:
        def started() -> None:
            record.status, record.start_s = "running", self._now()
            self._emit(record)

        relay = self._on_progress
        progress = None if relay is None else (lambda value, total, message: relay(record, value, total, message))
        try:
            result = await self._calls.call(bound.spec, arguments, started, progress)
        except ToolError as e:
            self._finish(record, "error", error=str(e) or type(e).__name__)
        except Exception as e:  # a tool's own bug is that task's error, not the run's
            log.debug("task %s raised", record.id, exc_info=True)
            self._finish(record, "error", error=f"{type(e).__name__}: {e}")
        else:
            self._finish(record, "ok", result=result)

    def _finish(self, record: TaskRecord, status: Any, *, result: Any = None, error: str | None = None) -> None:
        record.status, record.result, record.error = status, result, error
        record.end_s = self._now()
        if record.start_s is None:
            record.start_s = record.end_s
        self._emit(record)

    def _emit(self, record: TaskRecord) -> None:
        if self._on_event is not None:
            self._on_event(record)

    def _cancel_reason(self) -> str:
        if self._deadline is not None and anyio.current_time() >= self._deadline:
            return f"cancelled: the run's deadline of {self._run_timeout_s:g} s passed"
        return "cancelled: the run was cancelled"

    def _now(self) -> float:
        return time.perf_counter() - self._run.started
