"""Prometheus metrics: counters, gauges and histograms kept in process, served as text at `/metrics`.

The exposition format (text 0.0.4) is a few lines to write, so no library: `/metrics` works with
`pip install mcp-compiler` alone. `MetricsObserver` fills the metrics from the hooks; the names
are under `mcp_compiler_` and are a contract dashboards rely on (docs/observability.md, "Metrics").

Updates are plain dict operations on the event loop's thread, and a scrape reads them there too,
so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .hooks import CallOutcome, Observer

if TYPE_CHECKING:
    from ..engine.run import Run

__all__ = ["Counter", "Gauge", "Histogram", "MetricsObserver", "Registry", "critical_path_s"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a cached local call (a millisecond) to a slow remote tool (a minute).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RATIO_BUCKETS = (1, 1.05, 1.1, 1.25, 1.5, 2, 3, 5, 10)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help_text, tuple(labels)

    def _label_text(self, values: Labels, extra: str = "") -> str:
        pairs = [f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values, strict=True)]
        if extra:
            pairs.append(extra)
        return "{" + ",".join(pairs) + "}" if pairs else ""

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}", *self._samples()]

    def _samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[Labels, float] = {}

    def inc(self, *labels: str, by: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + by

    def get(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def _samples(self) -> list[str]:
        return [f"{self.name}{self._label_text(k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, *labels: str, value: float) -> None:
        self.values[labels] = value


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self.values: dict[Labels, list[float]] = {}  # per labels: a count per bucket, then sum, then count

    def observe(self, *labels: str, value: float) -> None:
        row = self.values.get(labels)
        if row is None:
            row = self.values[labels] = [0.0] * (len(self.buckets) + 2)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                row[i] += 1
                break
        row[-2] += value
        row[-1] += 1

    def count(self, *labels: str) -> float:
        row = self.values.get(labels)
        return row[-1] if row else 0.0

    def _samples(self) -> list[str]:
        lines = []
        for key, row in sorted(self.values.items()):
            running = 0.0
            for bound, n in zip(self.buckets, row[:-2], strict=True):  # the row ends with the sum and the count
                running += n
                le = self._label_text(key, 'le="' + _number(bound) + '"')
                lines.append(f"{self.name}_bucket{le} {_number(running)}")
            le = self._label_text(key, 'le="+Inf"')
            lines.append(f"{self.name}_bucket{le} {_number(row[-1])}")
            lines.append(f"{self.name}_sum{self._label_text(key)} {_number(row[-2])}")
            lines.append(f"{self.name}_count{self._label_text(key)} {_number(row[-1])}")
        return lines


class Registry:
    """The metrics of one process, rendered in Prometheus' text format."""

    def __init__(self) -> None:
        self.metrics: list[_Metric] = []

    def add(self, metric: Any) -> Any:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        return "\n".join(line for m in self.metrics for line in m.render()) + "\n"


def critical_path_s(run: Run) -> float:
    """The longest chain of tasks through every kind of edge, by the tasks' own durations."""
    longest: dict[int, float] = {}
    for record in sorted(run.tasks, key=lambda t: t.id):  # edges point to earlier tasks
        if record.start_s is None or record.end_s is None:
            continue
        before = [longest.get(e, 0.0) for e in (*record.deps, *record.after, *record.ordered_after)]
        longest[record.id] = (record.end_s - record.start_s) + max(before, default=0.0)
    return max(longest.values(), default=0.0)


def _outcome(run: Run) -> str:
    if run.error:
        return "failed"
    return "ok" if run.ok else "partial"


class MetricsObserver(Observer):
    """Fills the `mcp_compiler_*` metrics from the hooks (runs, upstream calls, connections).

    Not `active`: it watches no task event, so the scheduler's per-task path is untouched.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        r = self.registry = registry or Registry()
        self.calls = r.add(Counter("mcp_compiler_calls_total", "Upstream tool calls, one per call made, by outcome.",
                                   ("server", "tool", "status")))
        self.call_seconds = r.add(Histogram("mcp_compiler_call_duration_seconds", "Upstream tool call latency.",
                                            ("server", "tool")))
        self.in_flight = r.add(Gauge("mcp_compiler_calls_in_flight", "Upstream tool calls under way.", ("server",)))
        self.waiting = r.add(Gauge("mcp_compiler_calls_waiting", "Calls waiting for a slot or a confirmation.",
                                   ("server", "kind")))
        self.retries = r.add(Counter("mcp_compiler_retries_total",
                                     "Calls made again after their server reconnected mid-call.", ("server",)))
        self.runs = r.add(Counter("mcp_compiler_runs_total", "Runs ended, by outcome (ok, partial, failed).",
                                  ("outcome",)))
        self.runs_in_flight = r.add(Gauge("mcp_compiler_runs_in_flight", "Runs under way."))
        self.run_seconds = r.add(Histogram("mcp_compiler_run_duration_seconds", "Run duration, plan to answer.",
                                           ("outcome",)))
        self.tasks = r.add(Counter("mcp_compiler_tasks_total", "Tasks ended, by status.", ("status",)))
        self.ratio = r.add(Histogram("mcp_compiler_run_critical_path_ratio",
                                     "A run's makespan divided by its critical path (1: as parallel as the plan allows).",
                                     (), RATIO_BUCKETS))
        self.connected = r.add(Gauge("mcp_compiler_upstream_connected", "1 while an upstream server is connected.",
                                     ("server",)))
        self.reconnects = r.add(Counter("mcp_compiler_upstream_reconnects_total",
                                        "Upstream sessions lost and being re-established.", ("server",)))

    def render(self) -> str:
        return self.registry.render()

    @contextmanager
    def run(self, run: Run) -> Iterator[None]:
        self.runs_in_flight.inc(by=1)
        try:
            yield
        finally:
            self.runs_in_flight.inc(by=-1)
            outcome = _outcome(run)
            self.runs.inc(outcome)
            self.run_seconds.observe(outcome, value=run.elapsed())
            for record in run.tasks:
                self.tasks.inc(record.status)
            path = critical_path_s(run)
            starts = [t.start_s for t in run.tasks if t.start_s is not None]
            ends = [t.end_s for t in run.tasks if t.end_s is not None]
            if path > 0 and starts and ends:
                self.ratio.observe(value=(max(ends) - min(starts)) / path)

    @contextmanager
    def upstream_call(
        self, server: str, tool: str, *, transport: str, session_id: str | None, meta: dict[str, Any]
    ) -> Iterator[CallOutcome]:
        outcome = CallOutcome()
        self.in_flight.inc(server, by=1)
        started = time.perf_counter()
        try:
            yield outcome
        finally:
            self.in_flight.inc(server, by=-1)
            self.calls.inc(server, tool, outcome.status)
            self.call_seconds.observe(server, tool, value=time.perf_counter() - started)

    def retry(self, server: str, reason: str) -> None:
        self.retries.inc(server)

    @contextmanager
    def wait(self, kind: str, server: str) -> Iterator[None]:
        self.waiting.inc(server, kind, by=1)
        try:
            yield
        finally:
            self.waiting.inc(server, kind, by=-1)

    def connection(self, server: str, state: str) -> None:
        was = self.connected.get(server)
        self.connected.set(server, value=1.0 if state == "connected" else 0.0)
        if state == "restarting" and was:
            self.reconnects.inc(server)
