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
from typing import Any

from .hooks import CallOutcome, Observer, TaskHook, current, install, reset

__all__ = [
    "CallOutcome", "Observer", "TaskHook", "current", "install", "log_context", "reset", "setup_tracing",
    "tracing_wanted",
]

logger = logging.getLogger(__name__)

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
    if current().active:  # traces on: only then is a span worth asking for
        from .tracing import current_ids

        found.update(current_ids())
    from ..engine.scheduler import current_task_id

    task = current_task_id()
    if task is not None:
        found["task_id"] = task
    return found
