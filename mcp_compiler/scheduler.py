"""The Task Fetching Unit and executor: start each task the moment its last dependency has a result.

Every task gets a coroutine in the run's task group as soon as it arrives (from a list or from a
streaming parser). The coroutine waits on its dependencies' completion events — no polling, no
waves — resolves its references, and hands the call to the run's `RunCalls` (policy.py), which
owns every per-call decision: confirmation, concurrency slots, timeout, retry. Whatever happens,
the task ends with a final status and sets its own event, so dependents never hang: a failed
dependency makes them `skipped`.
"""

from __future__ import annotations

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
from .tools import ToolError

__all__ = ["Scheduler", "TaskEvent"]

log = logging.getLogger(__name__)


TaskEvent = Callable[[TaskRecord], None]
"""Called when a task starts running and when it ends; must be quick and must not raise."""


@dataclass
class _Slot:
    record: TaskRecord
    done: anyio.Event = field(default_factory=anyio.Event)


class Scheduler:
    """Runs bound tasks over a toolbox for one Run; call `run()` once per plan round."""

    def __init__(
        self, calls: RunCalls, run: Run, *, run_timeout_s: float | None = 300.0, on_event: TaskEvent | None = None
    ) -> None:
        self._calls = calls
        self._run = run
        self._run_timeout_s = run_timeout_s
        self._on_event = on_event
        self._slots: dict[int, _Slot] = {}
        self._shared_calls: dict[str, _Slot] = {}
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
                        tg.start_soon(self._execute, bound, self._add(bound, round_number))
                else:
                    for bound in tasks:
                        tg.start_soon(self._execute, bound, self._add(bound, round_number))

    def _add(self, bound: BoundTask, round_number: int) -> _Slot:
        if bound.id in self._slots:
            raise ValueError(f"task {bound.id} was already scheduled in this run")
        record = TaskRecord(
            id=bound.id, tool=bound.spec.name, thought=bound.task.thought, round=round_number,
            deps=sorted(bound.task.deps),
        )
        self._run.tasks.append(record)
        slot = self._slots[bound.id] = _Slot(record)
        return slot

    async def _execute(self, bound: BoundTask, slot: _Slot) -> None:
        record = slot.record
        try:
            missing = [d for d in record.deps if d not in self._slots]
            if missing:
                self._finish(record, "error", error=f"refers to task {missing[0]}, which is not in this run")
                return
            for dep in record.deps:
                await self._slots[dep].done.wait()
            failed = [d for d in record.deps if self._slots[d].record.status != "ok"]
            if failed:
                first = self._slots[failed[0]].record
                self._finish(record, "skipped", error=f"task {first.id} ({first.tool}) {first.status}: {first.error}")
                return
            try:
                results = {d: self._slots[d].record.result for d in record.deps}
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
            slot.done.set()

    async def _call_or_share(self, bound: BoundTask, slot: _Slot, arguments: dict[str, Any]) -> None:
        """Identical calls to read-only or idempotent tools in one run are made once."""
        if bound.spec.dedupable:
            key = bound.spec.name + "\0" + json.dumps(arguments, sort_keys=True, default=str)
            first = self._shared_calls.setdefault(key, slot)
            if first is not slot:
                slot.record.start_s = self._now()
                slot.record.deduplicated_from = first.record.id
                await first.done.wait()
                source = first.record
                self._finish(slot.record, source.status, result=source.result, error=source.error)
                return
        await self._call(bound, slot.record, arguments)

    async def _call(self, bound: BoundTask, record: TaskRecord, arguments: dict[str, Any]) -> None:
        def started() -> None:
            record.status, record.start_s = "running", self._now()
            self._emit(record)

        try:
            result = await self._calls.call(bound.spec, arguments, started)
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
