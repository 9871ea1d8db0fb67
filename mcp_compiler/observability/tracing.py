"""OpenTelemetry spans for runs, rounds, tasks, LLM calls and upstream calls (the `otel` extra).

Imported only when the `OTEL_*` variables ask for traces (`setup_tracing()`), so without the extra
and without those variables none of the SDK is loaded. The tracer provider is made the global one,
so the `mcp` SDK's own spans (the server span of each request, the client span of each request sent)
land in the same trace: a host's `traceparent` in `_meta` parents the server span, and the SDK
writes the current span's `traceparent` into every request it sends, our upstream calls included.

The spans, outermost first (docs/observability.md, "Spans"):

- `tools/call compile_and_run` (SERVER, the SDK's): the request, the host's span its parent
- `mcp_compiler.run`: the Run, with its id, outcome and task count; the LLM calls below it
- `mcp_compiler.round {N}`: one planning-and-execution round
- `task {tool}`: one task, from its start to its final status (edges, dedup, spread elements)
- `tools/call {tool}` (CLIENT): one call to an upstream server, MCP attributes
- `MCP send tools/call {tool}` (CLIENT, the SDK's): the request on the wire, whose `traceparent`
  the upstream receives

Argument and result values are never recorded; error messages are (they are what an operator
needs, and what the Run shows the host already).
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._version import __version__
from ..engine.scheduler import current_task_id
from .hooks import CallOutcome, Observer, TaskHook

if TYPE_CHECKING:
    from ..engine.run import Run, TaskRecord

__all__ = ["TracingObserver", "configure", "current_ids"]

logger = logging.getLogger(__name__)

# The spans of the run whose code is running: set around a run, so every task the run spawns (the
# scheduler's workers, a spread's element calls) inherits it. With the scheduler's own
# `current_task_id()`, an upstream call finds its task's span without the scheduler passing it.
_current_run: contextvars.ContextVar[_RunSpans | None] = contextvars.ContextVar("mcp_compiler_run_spans", default=None)


def configure(environ: Mapping[str, str]) -> TracerProvider | None:
    """A tracer provider exporting as the `OTEL_*` variables say, made the global one; None (with
    a warning) for a protocol this build does not speak."""
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    ).strip().lower()
    kind = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    exporter: SpanExporter
    if kind == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)  # stdout is the MCP protocol on stdio
    elif kind == "otlp" and protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # endpoint, headers, timeout, compression: from OTEL_EXPORTER_OTLP_*
    else:
        logger.warning(
            "traces not exported: OTEL_TRACES_EXPORTER=%s with protocol %s; mcp-compiler exports OTLP over "
            "http/protobuf (or console)", kind, protocol,
        )
        return None
    attributes: dict[str, Any] = {"service.version": __version__}
    if not environ.get("OTEL_SERVICE_NAME") and "service.name=" not in environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = "mcp-compiler"
    provider = TracerProvider(resource=Resource.create(attributes))  # the sampler: OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(exporter))  # batch: OTEL_BSP_* variables
    trace.set_tracer_provider(provider)
    return provider


@dataclass
class _RunSpans:
    span: trace.Span
    wall_ns: int  # the run's start on the wall clock, for spans drawn from the Run's times
    parent: otel_context.Context  # the round's context: tasks' spans are its children
    tasks: dict[int, trace.Span] = field(default_factory=dict)  # the running tasks' spans
    retries: dict[int, int] = field(default_factory=dict)  # per task, when any
    run_id: str = ""

    def at(self, seconds: float | None) -> int | None:
        return None if seconds is None else self.wall_ns + int(seconds * 1e9)


def _hex(trace_id: int) -> str:
    return format(trace_id, "032x")


class TracingObserver(Observer):
    """Spans for what the engine and the upstream sessions report (see the module's docstring)."""

    active = True

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        source = provider if provider is not None else trace.get_tracer_provider()
        self.tracer = source.get_tracer("mcp_compiler", __version__)
        self._runs: dict[int, _RunSpans] = {}

    # ---- the run and its rounds -------------------------------------------------------------------

    @contextmanager
    def run(self, run: Run) -> Iterator[None]:
        wall_ns = time.time_ns() - int((time.perf_counter() - run.started) * 1e9)
        with self.tracer.start_as_current_span(
            "mcp_compiler.run", attributes={"mcp_compiler.run.id": run.id}, record_exception=True,
        ) as span:
            run.trace_id = _hex(span.get_span_context().trace_id)
            spans = self._runs[id(run)] = _RunSpans(span, wall_ns, otel_context.get_current(), run_id=run.id)
            token = _current_run.set(spans)
            try:
                yield
            finally:
                _current_run.reset(token)
                del self._runs[id(run)]
                self._end_run(run, spans)

    def _end_run(self, run: Run, spans: _RunSpans) -> None:
        span = spans.span
        for usage in run.usage:  # the LLM calls, as the Run recorded them (GenAI conventions)
            llm = self.tracer.start_span(
                f"chat {usage.model}", context=trace.set_span_in_context(span), kind=SpanKind.CLIENT,
                start_time=spans.at(usage.start_s), attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": usage.model,
                    "gen_ai.provider.name": usage.model.split(":", 1)[0] if ":" in usage.model else usage.model,
                    "gen_ai.usage.input_tokens": usage.input_tokens,
                    "gen_ai.usage.output_tokens": usage.output_tokens,
                    "mcp_compiler.llm.purpose": usage.purpose,
                },
            )
            llm.end(end_time=spans.at(usage.end_s))
        failed = [t for t in run.tasks if t.status != "ok"]
        span.set_attributes({
            "mcp_compiler.run.tasks": len(run.tasks), "mcp_compiler.run.tasks_failed": len(failed),
            "mcp_compiler.run.rounds": len(run.rounds),
        })
        if run.error:
            span.set_status(Status(StatusCode.ERROR, run.error))
        elif failed:
            span.set_status(Status(StatusCode.ERROR, f"{len(failed)} of {len(run.tasks)} tasks did not succeed"))

    @contextmanager
    def round(self, run: Run, number: int, purpose: str) -> Iterator[None]:
        spans = self._runs.get(id(run))
        if spans is None:  # a round outside an observed run: nothing to hang it on
            yield
            return
        with self.tracer.start_as_current_span(
            f"mcp_compiler.round {number}", context=trace.set_span_in_context(spans.span),
            attributes={"mcp_compiler.round.number": number, "mcp_compiler.round.purpose": purpose},
        ) as span:
            before, spans.parent = spans.parent, otel_context.get_current()
            try:
                yield
            finally:
                spans.parent = before
                for rnd in run.rounds:
                    if rnd.number == number and rnd.planner_error:
                        span.set_status(Status(StatusCode.ERROR, rnd.planner_error))

    # ---- tasks ------------------------------------------------------------------------------------

    def task_hook(self, run: Run, forward: TaskHook | None) -> TaskHook | None:
        spans = self._runs.get(id(run))
        if spans is None:
            return forward
        tracer = self.tracer

        def hook(record: TaskRecord) -> None:
            try:
                if record.status == "running":
                    span = tracer.start_span(
                        f"task {record.tool}", context=spans.parent, start_time=spans.at(record.start_s),
                        attributes={"mcp_compiler.task.id": record.id, "gen_ai.tool.name": record.tool},
                    )
                    spans.tasks[record.id] = span
                elif record.done:
                    self._end_task(spans, record)
            except Exception:  # noqa: BLE001 - an observer must never fail a task
                logger.debug("task span for task %s failed", record.id, exc_info=True)
            if forward is not None:
                forward(record)

        return hook

    def _end_task(self, spans: _RunSpans, record: TaskRecord) -> None:
        span = spans.tasks.pop(record.id, None)
        if span is None:  # it never ran: skipped, shared an identical call, cancelled while waiting
            span = self.tracer.start_span(
                f"task {record.tool}", context=spans.parent, start_time=spans.at(record.start_s),
                attributes={"mcp_compiler.task.id": record.id, "gen_ai.tool.name": record.tool},
            )
        attributes: dict[str, Any] = {"mcp_compiler.task.status": record.status, "mcp_compiler.task.round": record.round}
        for name in ("deps", "after", "ordered_after"):
            edges = getattr(record, name)
            if edges:
                attributes[f"mcp_compiler.task.{name}"] = list(edges)
        if record.deduplicated_from is not None:
            attributes["mcp_compiler.task.deduplicated_from"] = record.deduplicated_from
        if record.exception is not None:
            attributes["error.type"] = record.exception
        elif record.status == "error":
            attributes["error.type"] = "tool_error"
        if record.calls is not None:
            attributes["mcp_compiler.task.elements"] = len(record.calls)
        span.set_attributes(attributes)
        if record.calls is not None:  # a spread: one span per element, drawn from its times
            parent = trace.set_span_in_context(span)
            for call in record.calls:
                element = self.tracer.start_span(
                    f"element {record.tool}", context=parent, start_time=spans.at(call.start_s),
                    attributes={"mcp_compiler.task.id": record.id, "mcp_compiler.element.index": call.index,
                                "mcp_compiler.task.status": call.status},
                )
                if call.deduplicated_from is not None:
                    element.set_attribute("mcp_compiler.element.deduplicated_from", call.deduplicated_from)
                if call.status in ("error", "cancelled"):
                    element.set_status(Status(StatusCode.ERROR, call.error or call.status))
                element.end(end_time=spans.at(call.end_s))
        if record.status in ("error", "cancelled"):  # skipped: the failure is its dependency's span
            span.set_status(Status(StatusCode.ERROR, record.error or record.status))
        span.end(end_time=spans.at(record.end_s))

    def retry(self, server: str, reason: str) -> None:
        spans, task_id = _current_run.get(), current_task_id()
        task = spans.tasks.get(task_id) if spans is not None and task_id is not None else None
        if spans is None or task is None or task_id is None:
            return
        spans.retries[task_id] = count = spans.retries.get(task_id, 0) + 1
        task.set_attribute("mcp_compiler.task.retries", count)
        task.add_event("retry", {"mcp_compiler.server": server, "mcp_compiler.retry.reason": reason})

    @contextmanager
    def wait(self, kind: str, server: str) -> Iterator[None]:
        spans, task_id = _current_run.get(), current_task_id()
        if spans is None:
            yield
            return
        attributes: dict[str, Any] = {"mcp_compiler.wait.kind": kind, "mcp_compiler.server": server}
        if task_id is not None:
            attributes["mcp_compiler.task.id"] = task_id
        # Before its task's span starts (a task starts when it holds its slots): a child of the round.
        with self.tracer.start_as_current_span(f"wait {kind}", context=spans.parent, attributes=attributes):
            yield

    # ---- upstream calls ---------------------------------------------------------------------------

    @contextmanager
    def upstream_call(
        self, server: str, tool: str, *, transport: str, session_id: str | None, meta: dict[str, Any]
    ) -> Iterator[CallOutcome]:
        attributes: dict[str, Any] = {
            "mcp.method.name": "tools/call", "gen_ai.tool.name": tool, "gen_ai.operation.name": "execute_tool",
            "mcp_compiler.server": server, "network.transport": "pipe" if transport == "stdio" else "tcp",
        }
        if transport != "stdio":
            attributes["network.protocol.name"] = "http"
        if session_id:
            attributes["mcp.session.id"] = session_id
        outcome = CallOutcome()
        # Its parent: the span of the task making the call, when a traced run makes it.
        spans, task_id = _current_run.get(), current_task_id()
        task = spans.tasks.get(task_id) if spans is not None and task_id is not None else None
        parent = trace.set_span_in_context(task) if task is not None else None
        with self.tracer.start_as_current_span(
            f"tools/call {tool}", context=parent, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            propagate.inject(meta)  # the SDK writes its own (a child of this span) too; either is in this trace
            try:
                yield outcome
            finally:
                span.set_attribute("mcp_compiler.call.status", outcome.status)
                if outcome.status != "ok":
                    span.set_attribute("error.type", outcome.status)
                    span.set_status(Status(StatusCode.ERROR, outcome.error or outcome.status))


def current_ids() -> dict[str, str]:
    """The current span's trace and span ids (hex, as the W3C traceparent writes them), if any;
    with the run's id when a traced run is under way."""
    context = trace.get_current_span().get_span_context()
    found: dict[str, str] = {}
    if context.is_valid:
        found["trace_id"] = _hex(context.trace_id)
        found["span_id"] = format(context.span_id, "016x")
    spans = _current_run.get()
    if spans is not None:
        found["run_id"] = spans.run_id
    return found
