"""Spread tasks: `wiki.fact($1.items[*].name, "length_km")` is one call per element of `$1.items`.

The scheduler hands a task here only when its arguments hold a spread reference
(`BoundTask.spread`), so a plain task pays nothing for it. The rules, which the README states:

- The list is `$N.path` as resolved; anything else (an object, a string, null) is the task's error,
  naming the path and what it found. An empty list is the value `[]`, with no call. A list longer
  than `Limits.max_spread` is an error before any call, and so is one with more elements than the
  run's calls left (`Limits.max_run_calls`).
- Each element gives one call, with the element (and the path after `[*]` taken from it) in place of
  the spread reference, everywhere it appears in the arguments (inside strings, its text). Every
  call goes through the run's `RunCalls` like any task's: confirmation of a destructive tool (one
  question per call, with that call's arguments), the per-server and per-run slots, the timeout,
  the retry, the size budgets.
- The calls of a read-only tool (or of a server with `ordering: "free"`) start at once; those of a
  tool with side effects under plan order run one after another in element order, as the calls of
  consecutive tasks to that server would.
- The task's value is the list of the calls' values in element order. One failed call makes the
  task an error naming the first failed element's index; the others still run and their values stay
  in the Run (the failed ones are null in `result`).
- Identical calls among the elements of one concurrent spread over a read-only or idempotent tool
  are made once (`deduplicated_from`: the first element's index).
- Each call is recorded in `TaskRecord.calls` (index, arguments, status, error, `exception` for a
  failure that was not a ToolError, timing; its value only once, in the task's `result`) and
  reported as the task's progress when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio

from ..errors import CompilerError, OverBudget
from ..language.checks import BoundTask
from ..language.coercion import coerce_arguments
from ..language.plan import AS_WRITTEN, ResolveError, arguments_key, resolve, resolve_element
from ..text import MESSAGE_BYTES, cut
from ..tools.toolbox import ToolError
from .policy import RunCalls, cut_text
from .run import ElementCall, Run, TaskRecord

__all__ = ["SpreadFailed", "run_spread", "spread_list"]

Progress = Callable[[TaskRecord, float, "float | None", "str | None"], None]


class SpreadFailed(CompilerError):
    """The spread task cannot make its calls: its list is not a list, or is over the limit."""


def spread_list(bound: BoundTask, results: dict[int, Any], limit: int) -> list[Any]:
    """The list the task spreads over, checked to be a list of at most `limit` elements."""
    assert bound.spread is not None
    try:
        value = resolve(bound.spread, results)
    except ResolveError as e:
        raise SpreadFailed(str(e)) from None
    if not isinstance(value, list):
        raise SpreadFailed(f"{bound.spread}[*] spreads over a list, but {bound.spread} is {_kind(value)}")
    if len(value) > limit:
        raise SpreadFailed(
            f"{bound.spread}[*] has {len(value):,} elements; a spread makes at most {limit:,} calls "
            "(compiler.max_spread); nothing was called"
        )
    return value


async def run_spread(
    bound: BoundTask, record: TaskRecord, results: dict[int, Any], calls: RunCalls, run: Run, *,
    sequential: bool, on_start: Callable[[], None], progress: Progress | None,
) -> tuple[str, Any, str | None]:
    """Make the task's calls; return its (status, value, error). `on_start` runs once, when the
    first call starts (or an element fails before any did, or the list is empty)."""
    try:
        record.args = resolve_element(bound.arguments, results, AS_WRITTEN)  # the spread as written, the rest resolved
    except ResolveError:
        pass  # every call fails on it, and says so
    elements = spread_list(bound, results, calls.policy.limits.max_spread)
    try:
        calls.reserve_calls(len(elements), f"{bound.spread}[*]'s {len(elements):,} calls")
    except OverBudget as e:
        raise SpreadFailed(str(e)) from None
    spread = _Spread(bound, record, calls, run, on_start, progress, len(elements))
    return await spread.run(elements, results, sequential)


class _Spread:
    """One spread task's calls under way: their records, values and progress."""

    def __init__(
        self, bound: BoundTask, record: TaskRecord, calls: RunCalls, run: Run, on_start: Callable[[], None],
        progress: Progress | None, size: int,
    ) -> None:
        self.bound, self.record, self.calls, self.t0 = bound, record, calls, run.started
        self.on_start, self.progress, self.size = on_start, progress, size
        self.records = record.calls = [ElementCall(i) for i in range(size)]
        self.values: list[Any] = [None] * size
        self.started = False
        self.finished = 0

    async def run(self, elements: list[Any], results: dict[int, Any], sequential: bool) -> tuple[str, Any, str | None]:
        try:
            todo = _prepare(self.bound, elements, results, self.calls, self.records, self.end, dedupe=not sequential)
            if sequential:
                for i, arguments in todo:
                    await self.one(i, arguments)
            else:
                async with anyio.create_task_group() as tg:
                    for i, arguments in todo:
                        tg.start_soon(self.one, i, arguments)
            for call in self.records:  # identical calls share the first one's outcome
                if call.deduplicated_from is not None:
                    first = self.records[call.deduplicated_from]
                    self.values[call.index] = self.values[first.index]
                    call.exception = first.exception
                    self.end(call, first.status, first.error)
        finally:
            for call in self.records:
                if call.status in ("pending", "running"):
                    call.status, call.end_s = "cancelled", self.now()
        self.task_started()  # an empty list: no call, no element
        failed = [c for c in self.records if c.status != "ok"]
        if not failed:
            return "ok", self.values, None
        self.record.exception = failed[0].exception  # the element its error names
        return "error", self.values, self.failure(failed)

    async def one(self, i: int, arguments: dict[str, Any]) -> None:
        call = self.records[i]
        relay = None if self.progress is None else (lambda value, total, message: self.relay(i, value, total, message))
        try:
            with self.calls.lane() as lane:
                self.values[i] = await self.calls.call(
                    self.bound.spec, arguments, lane, lambda: self.start(call), relay, reserved=True
                )
        except ToolError as e:
            self.end(call, "error", str(e) or type(e).__name__)
        except Exception as e:  # a tool's own bug is that call's error, not the run's; marked as one
            call.exception = type(e).__name__
            self.end(call, "error", f"{type(e).__name__}: {e}")
        else:
            self.end(call, "ok")

    def task_started(self) -> None:  # once, before the first call starts or the first element ends
        if not self.started:
            self.started = True
            self.on_start()

    def start(self, call: ElementCall) -> None:
        call.status, call.start_s = "running", self.now()
        self.task_started()

    def end(self, call: ElementCall, status: Any, error: str | None = None) -> None:
        self.task_started()
        if error is not None:
            error = cut_text(error, self.calls.policy.limits.max_error_bytes)
        call.status, call.error, call.end_s = status, error, self.now()
        if call.start_s is None:
            call.start_s = call.end_s
        self.finished += 1
        if self.progress is not None:
            took = f" in {call.end_s - call.start_s:.2f} s" if call.deduplicated_from is None else ""
            text = f"element {call.index} {status}{took}" + (f": {error}" if error else "")
            self.progress(self.record, self.finished, self.size, text)

    def relay(self, i: int, value: float, total: float | None, message: str | None) -> None:
        """A server's progress report during element i's call, as the task's progress."""
        assert self.progress is not None
        if message:
            message = cut(message, MESSAGE_BYTES, "an upstream's progress message")
        text = f"element {i}: {value:g}" + (f"/{total:g}" if total else "") + (f" {message}" if message else "")
        self.progress(self.record, self.finished, self.size, text)

    def failure(self, failed: list[ElementCall]) -> str:
        first = failed[0]
        text = f"element {first.index} of {self.size} ({self.bound.spread}[{first.index}]) {first.status}: {first.error}"
        if len(failed) > 1:
            shown = ", ".join(str(c.index) for c in failed[1:6]) + (", ..." if len(failed) > 6 else "")
            text += f" ({len(failed) - 1} more failed: elements {shown})"
        return text

    def now(self) -> float:
        return time.perf_counter() - self.t0


def _prepare(
    bound: BoundTask, elements: list[Any], results: dict[int, Any], calls: RunCalls, records: list[ElementCall],
    end: Callable[..., None], *, dedupe: bool,
) -> list[tuple[int, dict[str, Any]]]:
    """Each element's arguments, resolved; the calls to make (the first of identical ones)."""
    dedupe = dedupe and bound.spec.dedupable
    seen: dict[str, int] = {}
    todo: list[tuple[int, dict[str, Any]]] = []
    for i, element in enumerate(elements):
        try:
            calls.check_arguments(bound.arguments, results, element)
            arguments = coerce_arguments(resolve_element(bound.arguments, results, element), bound.spec)
        except (ResolveError, ToolError) as e:
            end(records[i], "error", str(e))
            continue
        records[i].args = arguments
        if dedupe:
            first = seen.setdefault(arguments_key(arguments), i)  # identical as a task's call is
            if first != i:
                records[i].deduplicated_from = first
                continue
        todo.append((i, arguments))
    return todo


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return f"a string ({len(value):,} characters)"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}"
