"""The hook interface the engine and the edges call (`Observer`), and the process's observer.

Imports nothing of the package, so that any module may call the hooks (the call policy, the
compiler, the upstream sessions) without an import cycle; `observability/__init__.py` says what
plugs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.run import Run, TaskRecord

__all__ = ["CallOutcome", "Observer", "TaskHook", "current", "install", "reset"]

TaskHook = Callable[["TaskRecord"], None]


class CallOutcome:
    """What an upstream call's observers learn at its end: its `status` (`ok`, `tool_error`,
    `error`, `cancelled`) and, when it failed, the `error`."""

    __slots__ = ("status", "error")

    def __init__(self) -> None:
        self.status = "cancelled"  # until the call says otherwise: a cancellation says nothing
        self.error: str | None = None


class Observer:
    """The hook interface, doing nothing. Subclasses override what they watch.

    `active`: whether the engine should hand this observer every task event (`task_hook`); an
    observer of runs and calls only (the metrics) leaves it False, so the scheduler's per-task
    path is untouched.
    """

    active = False

    def run(self, run: Run) -> AbstractContextManager[None]:
        """Around one Run, from its start to its answer."""
        return nullcontext()

    def round(self, run: Run, number: int, purpose: str) -> AbstractContextManager[None]:
        """Around one planning-and-execution round of a run (`purpose`: plan, replan)."""
        return nullcontext()

    def task_hook(self, run: Run, forward: TaskHook | None) -> TaskHook | None:
        """The scheduler's task event handler for `run`: `forward` (the door's), plus this observer's."""
        return forward

    def upstream_call(
        self, server: str, tool: str, *, transport: str, session_id: str | None, meta: dict[str, Any]
    ) -> AbstractContextManager[CallOutcome]:
        """Around one `tools/call` to an upstream; `meta` is the request's `_meta`, which the
        observer may add to (the W3C trace context)."""
        return _no_outcome()

    def connection(self, server: str, state: str) -> None:
        """An upstream session's state changed: connecting, connected, restarting, failed."""

    def retry(self, server: str, reason: str) -> None:
        """The call being made lost its server mid-call (`reason`) and is about to be made again (its
        tool may be repeated: read-only or idempotent)."""

    def wait(self, kind: str, server: str) -> AbstractContextManager[None]:
        """Around a wait of the task making a call: `server_slot` (its server's concurrency limit),
        `run_slot` (the run's), `confirmation` (a destructive tool's, asked of the host). Only a call
        that has to wait passes here."""
        return nullcontext()


@contextmanager
def _no_outcome() -> Iterator[CallOutcome]:
    yield CallOutcome()


class _Observers(Observer):
    """Several observers as one, each told everything in order."""

    def __init__(self, observers: list[Observer]) -> None:
        self.observers = observers
        self.active = any(o.active for o in observers)

    @contextmanager
    def run(self, run: Run) -> Iterator[None]:
        with _all(o.run(run) for o in self.observers):
            yield

    @contextmanager
    def round(self, run: Run, number: int, purpose: str) -> Iterator[None]:
        with _all(o.round(run, number, purpose) for o in self.observers):
            yield

    def task_hook(self, run: Run, forward: TaskHook | None) -> TaskHook | None:
        for observer in self.observers:
            forward = observer.task_hook(run, forward)
        return forward

    @contextmanager
    def upstream_call(
        self, server: str, tool: str, *, transport: str, session_id: str | None, meta: dict[str, Any]
    ) -> Iterator[CallOutcome]:
        outcomes = [
            o.upstream_call(server, tool, transport=transport, session_id=session_id, meta=meta)
            for o in self.observers
        ]
        with _all(outcomes) as entered:
            shared = CallOutcome()
            try:
                yield shared
            finally:
                for outcome in entered:
                    outcome.status, outcome.error = shared.status, shared.error

    def connection(self, server: str, state: str) -> None:
        for observer in self.observers:
            observer.connection(server, state)

    def retry(self, server: str, reason: str) -> None:
        for observer in self.observers:
            observer.retry(server, reason)

    @contextmanager
    def wait(self, kind: str, server: str) -> Iterator[None]:
        with _all(o.wait(kind, server) for o in self.observers):
            yield


@contextmanager
def _all(managers: Any) -> Iterator[list[Any]]:
    with ExitStack() as stack:
        yield [stack.enter_context(m) for m in managers]


_NOTHING = Observer()
_installed: list[Observer] = []
_current: Observer = _NOTHING


def current() -> Observer:
    """The process's observer: every installed one as one, or one that does nothing."""
    return _current


def install(observer: Observer) -> None:
    """Add `observer` to the process's (once: installing the same one again changes nothing)."""
    global _current
    if observer in _installed:
        return
    _installed.append(observer)
    _current = _installed[0] if len(_installed) == 1 else _Observers(list(_installed))


def reset() -> None:
    """No observer again (for tests)."""
    global _current
    _installed.clear()
    _current = _NOTHING
