"""Seeing every run: the one hook interface the engine and the edges call, and what plugs into it.

The engine (`compiler.py`) and the upstream sessions (`upstreams/session.py`) tell an `Observer`
what happens: a run, a round, a task starting and ending, an upstream call, a connection's state.
The default observer does nothing, and the engine asks it for task events only when it is `active`,
so with nothing installed a run costs one attribute read more than before (docs/observability.md).

What plugs in, each optional:

- `tracing.py`: OpenTelemetry spans, with the `otel` extra and the standard `OTEL_*` variables
  (`setup_tracing()`). Without the extra nothing of it is imported.
- `metrics.py`: the Prometheus counters and histograms `/metrics` serves (no third-party library).
- `propagation.py`: a host's `traceparent` from the HTTP headers, when its request `_meta` has none.

`install()` adds an observer to the process's (as OpenTelemetry's global tracer provider is the
process's); `current()` is what the hooks call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.run import Run, TaskRecord

__all__ = ["CallOutcome", "Observer", "current", "install", "reset", "setup_tracing", "tracing_wanted"]

logger = logging.getLogger(__name__)

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


@contextmanager
def _all(managers: Any) -> Iterator[list[Any]]:
    from contextlib import ExitStack

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


_OFF = {"none", ""}


def tracing_wanted(environ: Any = None) -> bool:
    """Whether the `OTEL_*` variables ask for traces: an OTLP endpoint (or `OTEL_TRACES_EXPORTER`
    naming otlp or console), and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(endpoint) or exporter not in _OFF


def setup_tracing(environ: Any = None) -> bool:
    """Install the OpenTelemetry observer when the `OTEL_*` variables ask for traces; True if they
    did and it is installed. Without the `otel` extra, say what to install (once) and go on."""
    if not tracing_wanted(environ):
        return False
    try:
        from .tracing import TracingObserver, configure
    except ImportError as exc:
        logger.warning(
            "OTEL_* variables ask for traces, but the OpenTelemetry SDK is not installed (%s): "
            "pip install 'mcp-compiler[otel]'; running without traces", exc.name or exc,
        )
        return False
    provider = configure(os.environ if environ is None else environ)
    if provider is None:
        return False
    install(TracingObserver(provider))
    return True


def log_context() -> dict[str, Any]:
    """What a log line written now belongs to: the trace and span (when traces are on and a span is
    current) and the task whose call is being made. For `--log-format json` (logs.py)."""
    found: dict[str, Any] = {}
    if _current.active:  # traces on: only then is a span worth asking for
        from .tracing import current_ids

        found.update(current_ids())
    from ..engine.scheduler import current_task_id

    task = current_task_id()
    if task is not None:
        found["task_id"] = task
    return found
