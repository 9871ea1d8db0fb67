"""The Task Fetching Unit and executor: start each task the moment its last dependency has a result.

A task is ready once every task it waits for has ended: each slot counts the edges it still waits
on, and the task that ends last puts it on the ready queue (no polling, no waves, no coroutine
per waiting task). Ready tasks are run by workers, tasks of the run's task group that each take
the next ready task, run it to its end and take the next. A worker about to wait (for a call, a
slot, a person's answer) starts one more worker first if ready tasks are left and the run has a
free call slot, so calls that wait overlap as if each had its own task, while calls that never
wait (a local function, a cached value) run one after another on one worker at the cost of a
function call. The call itself goes to the run's `RunCalls` (policy.py), which owns every
per-call decision: confirmation, concurrency slots, timeout, retry. Whatever happens, the task
ends with a final status, and the tasks waiting on it count it off, so dependents never hang: a
failed dependency makes them `skipped`. A worker running calls that never wait lets the event
loop run every `_SLICE_S`, so a large plan does not hold up the process.

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
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from ..language.checks import BoundTask
from ..language.coercion import coerce_arguments
from ..language.plan import ResolveError, arguments_key, resolve
from ..text import MESSAGE_BYTES, cut
from ..tools.toolbox import ToolError
from .policy import Lane, RunCalls, cut_text
from .run import NO_EDGES, Run, TaskRecord
from .spread import SpreadFailed, run_spread

__all__ = ["Scheduler", "TaskEvent", "TaskProgress", "current_task_id"]

log = logging.getLogger(__name__)

_current_task: contextvars.ContextVar[int | None] = contextvars.ContextVar("mcp_compiler_task", default=None)


def current_task_id() -> int | None:
    """The id of the task whose call is being made, for code the call goes through (a `Confirm`)."""
    return _current_task.get()


_WORKER_NAME = "mcp_compiler.engine.scheduler.worker"  # named here: anyio would otherwise build the name for each
_NO_RESULTS: dict[int, Any] = {}  # a task that refers to none: read, never written
_SLICE_S = 0.005  # a worker whose calls never wait lets the event loop run this often

TaskEvent = Callable[[TaskRecord], None]
"""Called when a task starts running and when it ends; must be quick and must not raise."""

TaskProgress = Callable[[TaskRecord, float, "float | None", "str | None"], None]
"""Called when a running task's server reports progress (value, total, message); quick, never raises."""


@dataclass(slots=True)  # one per task: no __dict__ to allocate and to trace
class _Slot:
    bound: BoundTask
    record: TaskRecord
    ended: bool = False  # its record has its final status: the last thing its task does
    waiting: int = 0  # edges to tasks that have not ended yet; ready at 0
    dependents: list[_Slot] | None = None  # the slots counting this one among their `waiting`
    writes: bool = False  # not read-only: its server's later calls wait for it (plan ordering)
    last_write: _Slot | None = None  # the last such call to its server before it (plan ordering)
    call_key: str | None = None  # tool and resolved arguments, once known (a string: no GC to track it)
    epoch: int = 0  # which state of its server a read-only or idempotent call saw, for sharing
    twin_of: _Slot | None = None  # the identical call under way whose outcome it takes when it ends

    def wait_for(self, earlier: _Slot) -> None:
        self.waiting += 1
        if earlier.dependents is None:
            earlier.dependents = [self]
        else:
            earlier.dependents.append(self)


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
        self._ready: deque[_Slot] = deque()  # ready to run, in the order they became ready
        self._starting = False  # a worker has been started and has not run yet
        self._workers = 0  # workers running
        self._in_job = 0  # workers inside a job; when one starts, every other one is waiting
        self._tg: anyio.abc.TaskGroup | None = None  # the round's workers; set inside run()
        self._scope: anyio.CancelScope | None = None  # the round's, with the run's deadline; set inside run()
        self._shared_calls: dict[str, _Slot] = {}
        self._order: dict[str, _ServerOrder] = {}  # per server, across every round of the run
        self._deadline: float | None = None  # set by the first round: the run's deadline spans all rounds

    async def run(self, tasks: Iterable[BoundTask] | AsyncIterable[BoundTask], round_number: int = 1) -> None:
        """Run `tasks` (arriving all at once or one by one) until each has a final status."""
        if self._deadline is None:
            timeout = self._run_timeout_s
            self._deadline = anyio.current_time() + timeout if timeout is not None else float("inf")
        added: list[_Slot] = []
        self._starting, self._workers, self._in_job = False, 0, 0  # whatever a failed round left
        try:
            with anyio.CancelScope(deadline=self._deadline) as self._scope:
                async with self._calls.timing(), anyio.create_task_group() as self._tg:
                    if isinstance(tasks, AsyncIterable):
                        async for bound in tasks:
                            added.append(self._add(bound, round_number))
                    else:
                        yield_at = time.perf_counter() + _SLICE_S
                        for bound in tasks:
                            added.append(self._add(bound, round_number))
                            if time.perf_counter() > yield_at:  # a long plan: its workers start meanwhile
                                await anyio.lowlevel.checkpoint()
                                yield_at = time.perf_counter() + _SLICE_S
                # Every worker has ended, so every task has: a task that has not is waiting on
                # one that has not, and the first such one is running or ready, and so has a
                # worker. Unless the run was cancelled or timed out: those tasks say so.
        finally:
            self._tg = None
            self._ready.clear()
            for slot in added:
                if not slot.ended:
                    self._finish(slot.record, "cancelled", error=self._cancel_reason())
                    slot.ended = True

    def _add(self, bound: BoundTask, round_number: int) -> _Slot:
        task = bound.task
        slots = self._slots
        if task.id in slots:
            raise ValueError(f"task {task.id} was already scheduled in this run")
        data = bound.deps
        record = TaskRecord(task.id, bound.spec.name)  # the rest set only where not the default: keywords cost
        if task.thought is not None:
            record.thought = task.thought
        if round_number != 1:
            record.round = round_number
        if data:
            record.deps = list(data)
        if task.after:
            record.after = [d for d in task.after if d not in data] or NO_EDGES
        slot = _Slot(bound, record)
        self._keep_plan_order(bound, slot)
        self._run.tasks.append(record)
        slots[task.id] = slot
        # Must succeed (`deps` also give values), or only be waited for (`ordered_after`). Every
        # edge is waited for, skipping included: a task never ends before the tasks it is ordered
        # after, so plan order holds through skipped tasks too.
        if data or record.after or record.ordered_after:
            for dep in (*data, *record.after, *record.ordered_after):
                earlier = slots.get(dep)
                if earlier is None:
                    how = "refers to" if dep in data else "is to run after"
                    self._finish(record, "error", error=f"{how} task {dep}, which is not in this run")
                    self._end(slot)
                    return slot
                if not earlier.ended:
                    slot.wait_for(earlier)
        if not slot.waiting:
            self._ready.append(slot)
            if not self._starting:  # every worker is waiting (this task is the one running)
                self._start_worker()
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
        if slot.writes:
            before = order.reads or ([order.last_write] if order.last_write is not None else None)
            order.last_write, order.reads = slot, []
        else:
            order.reads.append(slot)
            before = [order.last_write] if order.last_write is not None else None
        if before:
            record = slot.record
            known = {*record.deps, *record.after}
            record.ordered_after = sorted(s.record.id for s in before if s.record.id not in known)

    def _ordering_of(self, server: str) -> str:
        limits = self._calls.policy.limits
        own = limits.servers.get(server)
        return (own.ordering if own is not None else None) or limits.ordering

    def _start_worker(self) -> None:
        self._starting = True
        self._tg.start_soon(self._work, name=_WORKER_NAME)  # type: ignore[union-attr]  # only inside run()

    def _before_wait(self) -> None:
        """About to wait: start another worker for the ready tasks, unless one is starting or no
        call of theirs could start (the run's slots are all taken: a slot freed goes to a worker
        waiting for one, and the worker that freed it takes the next ready task)."""
        if self._ready and not self._starting and self._calls.has_free_slot():
            self._start_worker()

    async def _work(self) -> None:
        self._starting = False
        if self._workers and not self._in_job:  # the others only let the loop run: they go on
            return
        ready, run_scope = self._ready, self._scope
        assert run_scope is not None  # workers run only inside run()
        self._workers += 1
        try:
            while ready and not run_scope.cancel_called:
                with self._calls.lane() as lane:  # left for a new one after a call of it timed out
                    # A cancellation reaches a worker where it waits; one that came while it was
                    # starting (or before) is seen here, so that no call starts after it. Not
                    # before every call: that check costs as much as a zero-latency call's policy.
                    await anyio.lowlevel.checkpoint_if_cancelled()
                    yield_at = time.perf_counter() + _SLICE_S
                    while ready and not lane.timed_out and not run_scope.cancel_called:
                        self._in_job += 1
                        await self._job(ready.popleft(), lane)
                        self._in_job -= 1
                        if time.perf_counter() > yield_at and not lane.timed_out:
                            await anyio.lowlevel.checkpoint()  # let the loop run: a long plan never stalls it
                            yield_at = time.perf_counter() + _SLICE_S
        finally:
            self._workers -= 1

    async def _job(self, slot: _Slot, lane: Lane) -> None:
        """Run a ready task to its final status, or park it behind its identical twin's call."""
        record = slot.record
        _current_task.set(record.id)  # for code the call goes through, until the next job
        try:
            results = self._inputs(slot)
            if results is None:
                return
            bound = slot.bound
            if bound.spread is not None:  # one call per element of a list (spread.py)
                self._before_wait()
                await self._spread(bound, slot, results)
                return
            arguments = self._arguments(slot, results)
            if arguments is None:
                return

            run, on_event = self._run, self._on_event

            def started() -> None:
                record.status, record.start_s = "running", time.perf_counter() - run.started
                if on_event is not None:
                    on_event(record)

            relay = self._on_progress
            progress = None if relay is None else (lambda value, total, message: relay(record, value, total, _note(message)))
            if self._ready and not self._starting:  # _before_wait(), without its frame
                self._before_wait()
            try:
                result = await self._calls.call(bound.spec, arguments, lane, started, progress)
            except ToolError as e:
                self._finish(record, "error", error=str(e) or type(e).__name__)
            except Exception as e:  # a tool's own bug is that task's error, not the run's; marked as one
                log.debug("task %s raised", record.id, exc_info=True)
                record.exception = type(e).__name__
                self._finish(record, "error", error=f"{type(e).__name__}: {e}")
            else:
                self._finish(record, "ok", result)
        finally:
            twin = slot.twin_of
            if twin is None or twin.ended:  # else parked: it ends when its twin does
                if record.end_s is None:  # no final status yet (`_finish` sets both)
                    self._finish(record, "cancelled", error=self._cancel_reason())
                self._end(slot)

    def _end(self, slot: _Slot) -> None:
        slot.ended = True
        dependents = slot.dependents
        if dependents is not None:
            ready = self._ready
            for later in dependents:
                later.waiting -= 1
                if not later.waiting:
                    ready.append(later)  # taken by this worker next, or one it starts before waiting

    def _inputs(self, slot: _Slot) -> dict[int, Any] | None:
        """The values of the tasks it refers to; None if that ends it (a dependency failed, or it
        waited for its twin's call, which has ended)."""
        record = slot.record
        twin = slot.twin_of
        if twin is not None:  # the identical call it waited for has ended: its outcome is this one's
            source = twin.record
            record.exception = source.exception
            self._finish(record, source.status, result=source.result, error=source.error)
            return None
        needed = sorted(record.deps + record.after) if record.after else record.deps
        if not needed:
            return _NO_RESULTS
        slots = self._slots
        failed = [d for d in needed if slots[d].record.status != "ok"]
        if failed:
            first = slots[failed[0]].record
            because = "" if first.id in record.deps else f" (this task was to run after task {first.id})"
            # Named, not copied: N dependents of one long error would carry it N times.
            self._finish(record, "skipped", error=f"task {first.id} ({first.tool}) {first.status}; see its error{because}")
            return None
        return {d: slots[d].record.result for d in record.deps}

    def _arguments(self, slot: _Slot, results: dict[int, Any]) -> dict[str, Any] | None:
        """Its arguments, resolved and fitted to the schema; None if that ends it (an error, or an
        identical call that gives it its outcome, now or when that call ends)."""
        bound, record = slot.bound, slot.record
        if results:
            try:
                self._calls.check_arguments(bound.arguments, results)
                arguments = coerce_arguments(resolve(bound.arguments, results), bound.spec)
            except (ResolveError, ToolError) as e:
                self._finish(record, "error", error=str(e))
                return None
        else:  # literals alone: checked against the schema, and bounded by the plan's size limit;
            arguments = bound.arguments  # as they are, not copied: nothing changes them
        record.args = arguments
        if bound.spec.dedupable and self._share(slot, arguments):
            return None
        return arguments

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

    def _share(self, slot: _Slot, arguments: dict[str, Any]) -> bool:
        """Identical calls to read-only or idempotent tools in one run are made once: True if an
        earlier identical call gives this one its outcome (now, or when it ends).

        Under plan ordering only while their server's state is the same: a read after a write is a
        new call, and so is an idempotent write with another write between it and its twin.
        """
        slot.call_key = f"{slot.bound.spec.name}\0{arguments_key(arguments)}"
        last = slot.last_write
        if last is not None:
            # `last` has ended (this task waited for it); a twin of it right after it sees the
            # state it left, as it does itself.
            slot.epoch = last.epoch if slot.writes and last.call_key == slot.call_key else last.record.id
        first = self._shared_calls.setdefault(f"{slot.epoch}\0{slot.call_key}", slot)
        if first is slot:
            return False
        record = slot.record
        record.start_s = self._now()
        record.deduplicated_from = first.record.id
        if first.ended:
            source = first.record
            record.exception = source.exception
            self._finish(record, source.status, result=source.result, error=source.error)
        else:
            slot.twin_of = first
            slot.wait_for(first)
        return True

    def _finish(self, record: TaskRecord, status: Any, result: Any = None, error: str | None = None) -> None:
        if error is not None:
            error = cut_text(error, self._calls.policy.limits.max_error_bytes)
        record.status, record.result, record.error = status, result, error
        record.end_s = end = time.perf_counter() - self._run.started
        if record.start_s is None:
            record.start_s = end
        if self._on_event is not None:
            self._on_event(record)

    def _emit(self, record: TaskRecord) -> None:
        if self._on_event is not None:
            self._on_event(record)

    def _cancel_reason(self) -> str:
        if self._deadline is not None and anyio.current_time() >= self._deadline:
            return f"cancelled: the run's deadline of {self._run_timeout_s:g} s passed"
        return "cancelled: the run was cancelled"

    def _now(self) -> float:
        return time.perf_counter() - self._run.started


def _note(message: str | None) -> str | None:
    """A server's progress message as the host is sent it: cut to `text.MESSAGE_BYTES`."""
    return message if message is None else cut(message, MESSAGE_BYTES, "an upstream's progress message")
