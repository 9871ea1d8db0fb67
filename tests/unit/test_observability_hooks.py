"""The observability hooks in process (issue 27): spans from a run over Python functions, the
metrics' exposition, a host's trace context from HTTP headers, and when traces are wanted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mcp_compiler import execute, observability
from mcp_compiler.engine.run import Run, TaskRecord
from mcp_compiler.logs import JsonFormatter
from mcp_compiler.observability.metrics import Histogram, MetricsObserver, Registry, critical_path_s
from mcp_compiler.observability.propagation import headers_trace_context
from mcp_compiler.observability.tracing import TracingObserver

pytestmark = pytest.mark.anyio


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observability.install(TracingObserver(provider))
    try:
        yield exporter
    finally:
        observability.reset()


async def add(a: int, b: int) -> int:
    return a + b


async def boom(x: int) -> int:
    raise ValueError("no luck")


async def numbers() -> list[int]:
    return [1, 2, 3]


TOOLS = {"add": add, "boom": boom, "numbers": numbers}
PLAN = "1. add(a=1, b=2)\n2. add(a=$1, b=10)\n3. boom(x=$2)\n4. numbers()\n5. add(a=$4[*], b=1)\n6. boom(x=$3)"


def _by_name(found: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in found if s.name.startswith(prefix)]


async def test_a_run_gives_one_trace_of_run_round_and_a_span_per_task_and_element(spans: InMemorySpanExporter) -> None:
    run = await execute(PLAN, TOOLS)
    found = spans.get_finished_spans()
    (root,) = _by_name(found, "mcp_compiler.run")
    (rnd,) = _by_name(found, "mcp_compiler.round")
    assert {s.context.trace_id for s in found} == {root.context.trace_id}
    assert run.trace_id == format(root.context.trace_id, "032x") and run.to_dict()["trace_id"] == run.trace_id
    assert root.attributes["mcp_compiler.run.id"] == run.id == run.to_dict()["run_id"]
    assert rnd.parent.span_id == root.context.span_id
    tasks = {s.attributes["mcp_compiler.task.id"]: s for s in _by_name(found, "task ")}
    assert sorted(tasks) == [1, 2, 3, 4, 5, 6]
    assert all(s.parent.span_id == rnd.context.span_id for s in tasks.values())
    assert tasks[2].attributes["mcp_compiler.task.deps"] == (1,)
    # The failed task is an error, with the exception's type; the one skipped because of it is not.
    assert tasks[3].status.status_code is StatusCode.ERROR and tasks[3].attributes["error.type"] == "ValueError"
    assert tasks[6].status.status_code is StatusCode.UNSET and tasks[6].attributes["mcp_compiler.task.status"] == "skipped"
    assert root.status.status_code is StatusCode.ERROR
    elements = _by_name(found, "element ")
    assert sorted(s.attributes["mcp_compiler.element.index"] for s in elements) == [0, 1, 2]
    assert all(s.parent.span_id == tasks[5].context.span_id for s in elements)
    # A task's span lasts as long as the Run says it did.
    record = run.task(2)
    assert record.start_s is not None and record.end_s is not None
    took = (tasks[2].end_time - tasks[2].start_time) / 1e9
    assert abs(took - (record.end_s - record.start_s)) < 1e-3
    # No argument or result value on any span.
    for span in found:
        assert not any(str(v) in ("13", "[1, 2, 3]") for v in span.attributes.values()), span.attributes


async def test_with_no_observer_the_scheduler_gets_the_doors_handler_unwrapped() -> None:
    observability.reset()
    assert observability.current().active is False
    run = await execute("1. add(a=1, b=2)", TOOLS)
    assert run.trace_id is None and run.tasks[0].result == 3


async def test_a_json_log_line_written_during_a_call_names_its_trace_run_and_task(spans: InMemorySpanExporter) -> None:
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(JsonFormatter().format(record)))

    async def noisy(x: int) -> int:
        logging.getLogger("a.tool").warning("working on %s", x)
        return x

    logger = logging.getLogger("a.tool")
    handler = Keep()
    logger.addHandler(handler)
    try:
        run = await execute("1. noisy(x=1)\n2. noisy(x=2)", {"noisy": noisy})
    finally:
        logger.removeHandler(handler)
    assert sorted(line["task_id"] for line in lines) == [1, 2]
    assert {line["trace_id"] for line in lines} == {run.trace_id}
    assert {line["run_id"] for line in lines} == {run.id}
    assert lines[0]["message"] == "working on 1" and lines[0]["level"] == "WARNING" and lines[0]["logger"] == "a.tool"
    span_ids = {format(s.context.span_id, "016x") for s in spans.get_finished_spans()}
    assert all(line["span_id"] in span_ids for line in lines)


async def test_a_call_that_waits_for_its_slot_has_a_wait_span_and_counts_as_waiting(spans: InMemorySpanExporter) -> None:
    metrics = MetricsObserver()
    observability.install(metrics)
    seen: list[float] = []

    async def slow(x: int) -> int:
        await anyio.sleep(0.05)  # meanwhile the other call, ready too, waits for the server's one slot
        seen.append(metrics.waiting.get("slow", "server_slot"))
        return x

    slow.read_only = True  # type: ignore[attr-defined]  # no plan order between its calls: they may overlap
    run = await execute("1. slow(x=1)\n2. slow(x=2)", {"slow": slow}, max_per_server=1)
    assert [t.status for t in run.tasks] == ["ok", "ok"]
    (wait,) = _by_name(spans.get_finished_spans(), "wait ")
    assert wait.name == "wait server_slot" and wait.attributes["mcp_compiler.task.id"] == 2
    (rnd,) = _by_name(spans.get_finished_spans(), "mcp_compiler.round")
    assert wait.parent.span_id == rnd.context.span_id
    assert seen == [1, 0]  # the second call waited while the first ran
    assert metrics.waiting.get("slow", "server_slot") == 0


# ---- metrics ---------------------------------------------------------------------------------------


def test_the_exposition_escapes_labels_and_counts_histogram_buckets_cumulatively() -> None:
    registry = Registry()
    histogram = registry.add(Histogram("h_seconds", "help", ("tool",), buckets=(0.1, 1)))
    histogram.observe('a"b\\c\nd', value=0.05)
    histogram.observe('a"b\\c\nd', value=0.5)
    histogram.observe('a"b\\c\nd', value=5)
    text = registry.render()
    label = 'tool="a\\"b\\\\c\\nd"'
    assert f'h_seconds_bucket{{{label},le="0.1"}} 1' in text
    assert f'h_seconds_bucket{{{label},le="1"}} 2' in text
    assert f'h_seconds_bucket{{{label},le="+Inf"}} 3' in text
    assert f"h_seconds_sum{{{label}}} 5.55" in text and f"h_seconds_count{{{label}}} 3" in text
    assert "# TYPE h_seconds histogram" in text


def _record(task_id: int, start: float, end: float, deps: list[int] | None = None) -> TaskRecord:
    return TaskRecord(task_id, "t", status="ok", start_s=start, end_s=end, deps=deps or [])


def test_the_critical_path_is_the_longest_chain_by_the_tasks_durations() -> None:
    run = Run(tasks=[_record(1, 0, 1), _record(2, 0, 3), _record(3, 3, 4, [1, 2]), _record(4, 0, 0.5)])
    assert critical_path_s(run) == pytest.approx(4.0)


async def test_the_metrics_observer_counts_runs_and_calls_by_outcome() -> None:
    metrics = MetricsObserver()
    run = Run(tasks=[_record(1, 0, 1)])
    with metrics.run(run):
        pass
    with metrics.upstream_call("srv", "tool", transport="stdio", session_id=None, meta={}) as outcome:
        outcome.status = "ok"
    with pytest.raises(RuntimeError), metrics.upstream_call("srv", "tool", transport="stdio", session_id=None, meta={}):
        raise RuntimeError("lost")
    metrics.connection("srv", "connected")
    metrics.connection("srv", "restarting")
    assert metrics.runs.get("ok") == 1 and metrics.runs_in_flight.get() == 0
    assert metrics.calls.get("srv", "tool", "ok") == 1 and metrics.calls.get("srv", "tool", "cancelled") == 1
    assert metrics.in_flight.get("srv") == 0 and metrics.call_seconds.count("srv", "tool") == 2
    assert metrics.connected.get("srv") == 0 and metrics.reconnects.get("srv") == 1


# ---- a host's trace context from the HTTP headers ------------------------------------------------


PARENT = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


async def _meta_after(meta: Any, headers: dict[str, str] | None) -> Any:
    seen: list[Any] = []

    async def handler(ctx: Any) -> None:
        seen.append(ctx.meta)

    from dataclasses import dataclass

    @dataclass
    class Ctx:
        meta: Any
        request: Any

    request = SimpleNamespace(headers=headers) if headers is not None else None
    await headers_trace_context(Ctx(meta, request), handler)
    return seen[0]


async def test_a_traceparent_header_goes_into_a_meta_without_one() -> None:
    got = await _meta_after({"progressToken": 1}, {"traceparent": PARENT, "tracestate": "a=1"})
    assert got == {"progressToken": 1, "traceparent": PARENT, "tracestate": "a=1"}


async def test_the_meta_s_own_traceparent_wins_and_a_malformed_header_is_not_copied() -> None:
    own = "00-" + "11" * 16 + "-" + "22" * 8 + "-01"
    assert await _meta_after({"traceparent": own}, {"traceparent": PARENT}) == {"traceparent": own}
    assert await _meta_after(None, {"traceparent": "00-zz-<script>-01"}) is None
    assert await _meta_after(None, None) is None  # stdio: no HTTP request


# ---- when traces are wanted --------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "wanted"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
])
def test_traces_are_on_when_the_otel_variables_ask_for_them(env: dict[str, str], wanted: bool) -> None:
    assert observability.tracing_wanted(env) is wanted



def test_the_observability_page_names_every_metric_and_only_those() -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "observability.md").read_text()
    named = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\bmcp_compiler_[a-z_]+", page)}
    served = {m.name for m in MetricsObserver().registry.metrics}
    assert named == served


async def test_a_request_to_an_http_upstream_gets_its_meta_traceparent_as_a_header() -> None:
    from mcp_compiler.observability.propagation import trace_headers

    def request(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return SimpleNamespace(method="POST", headers=dict(headers or {}), content=json.dumps(body).encode())

    hostile = {"a": '"traceparent": "00-' + "1" * 32 + "-" + "2" * 16 + '-01"'}
    sent = request({"method": "tools/call", "params": {"name": "x", "arguments": hostile, "_meta": {"traceparent": PARENT}}})
    await trace_headers(sent)
    assert sent.headers == {"traceparent": PARENT}
    bare = request({"method": "tools/call", "params": {"name": "x", "arguments": {}}})
    await trace_headers(bare)
    assert bare.headers == {}
    own = request({"params": {"_meta": {"traceparent": PARENT}}}, {"traceparent": "mine"})
    await trace_headers(own)
    assert own.headers == {"traceparent": "mine"}


async def test_a_call_made_again_after_its_server_went_away_is_counted_on_its_task(spans: InMemorySpanExporter) -> None:
    from mcp_compiler.errors import ConnectionLost

    metrics = MetricsObserver()
    observability.install(metrics)
    tries: list[int] = []

    async def flaky(x: int) -> int:
        tries.append(x)
        if len(tries) == 1:
            raise ConnectionLost("server 'flaky' went away mid-call")
        return x

    flaky.read_only = True  # type: ignore[attr-defined]  # may be repeated
    run = await execute("1. flaky(x=1)", {"flaky": flaky})
    assert run.tasks[0].status == "ok" and tries == [1, 1]
    (task,) = _by_name(spans.get_finished_spans(), "task ")
    assert task.attributes["mcp_compiler.task.retries"] == 1
    assert [e.name for e in task.events] == ["retry"] and "went away" in task.events[0].attributes["mcp_compiler.retry.reason"]
    assert metrics.retries.get("flaky") == 1
