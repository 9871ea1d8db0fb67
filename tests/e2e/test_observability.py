"""Seeing every run, end to end (issue 27): `mcp-compiler serve --transport http` as a subprocess with
the `OTEL_*` variables pointing at a real OTLP/HTTP receiver (tests/fixtures/otlp_receiver.py), over
a real upstream that writes down the `_meta` it receives (tests/fixtures/meta_server.py).

- A host's `traceparent`, in `_meta` or in the HTTP headers, makes one trace of the request, its
  tasks and their upstream calls; the upstream receives a `traceparent` of that trace; a failed
  task's span has error status; the Run names the trace.
- `/metrics` moves by exactly the plan's calls; `/healthz` and `/readyz` under a required server
  that is down.
- With tracing off, no part of the OpenTelemetry SDK is loaded.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fixtures.otlp_receiver import OtlpReceiver, ReceivedSpan
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from procs import free_port, stop, wait_for_port

FIXTURES = Path(__file__).parents[1] / "fixtures"
SERVE = [sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http"]

pytestmark = pytest.mark.anyio

PLAN = """\
1. meta.work(n=1)
2. meta.work(n=$1.result)
3. meta.items(count=3)
4. meta.work(n=$3.result[*])
5. meta.fail()
join()"""
# calls: work x 1 + work x 1 + items x 1 + work x 3 (the spread) + fail x 1
CALLS = {("work", "ok"): 5, ("items", "ok"): 1, ("fail", "tool_error"): 1}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as got:
        yield got


def _config(tmp: Path, record: Path, **extra_servers: Any) -> Path:
    path = tmp / "config.json"
    path.write_text(json.dumps({"mcpServers": {
        "meta": {"command": sys.executable, "args": [str(FIXTURES / "meta_server.py"), "--record", str(record)],
                 "required": True},
        **extra_servers,
    }}))
    return path


def _serve(config: Path, log: Path, env: dict[str, str], *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(log, "wb") as errlog:
        proc = subprocess.Popen([*SERVE, "--config", str(config), "--port", str(port), *flags], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def traced(receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """The server with traces on and JSON logs: its base URL, the upstream's record of the `_meta` it
    got, and the server's log."""
    tmp = tmp_path_factory.mktemp("traced")
    record = tmp / "meta.jsonl"
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "mcp-compiler-test",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    proc, url = _serve(_config(tmp, record), tmp / "serve.log", env, "--log-format", "json", "-vv")
    try:
        yield url, record, tmp / "serve.log"
    finally:
        stop(proc)
        print((tmp / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def _call(url: str, plan: str, *, meta: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    async with httpx2.AsyncClient(headers=headers or {}, timeout=60) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            with anyio.fail_after(60):
                return await client.call_tool("compile_and_run", {"plan": plan}, meta=meta)


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def _check_one_trace(receiver: OtlpReceiver, trace_id: str, host_span: str, structured: dict[str, Any]) -> None:
    def complete() -> bool:
        spans = receiver.trace(trace_id)
        return len([s for s in spans if s.name.startswith("task ")]) == 5 and any(
            s.name == "mcp_compiler.run" for s in spans) and any(s.kind == "server" for s in spans)

    receiver.wait_for(complete)
    spans = receiver.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    assert structured["trace_id"] == trace_id
    # The request: the SDK's server span, a child of the host's span.
    (server,) = [s for s in spans if s.kind == "server" and "compile_and_run" in s.name]
    assert server.parent_id == host_span and server.service == "mcp-compiler-test"
    (run,) = [s for s in spans if s.name == "mcp_compiler.run"]
    assert run.attributes["mcp_compiler.run.id"] == structured["run_id"]
    assert server in _ancestors(run, by_id)
    # One task span per task, each below the run, through its round.
    tasks = {s.attributes["mcp_compiler.task.id"]: s for s in spans if s.name.startswith("task ")}
    assert sorted(tasks) == [1, 2, 3, 4, 5]
    for span in tasks.values():
        names = [a.name for a in _ancestors(span, by_id)]
        assert names[:2] == ["mcp_compiler.round 1", "mcp_compiler.run"], names
    assert tasks[2].attributes["mcp_compiler.task.deps"] == [1]
    # One element span per element of the spread.
    elements = [s for s in spans if s.name == "element meta.work"]
    assert sorted(s.attributes["mcp_compiler.element.index"] for s in elements) == [0, 1, 2]
    assert all(by_id[s.parent_id] is tasks[4] for s in elements)
    # The failed task's span has error status; the others not.
    assert tasks[5].status == "error" and "always fails" in tasks[5].status_message
    assert {tasks[i].status for i in (1, 2, 3, 4)} == {"unset"}
    # Each upstream call: a client span with the MCP attributes, below its task's span.
    calls = [s for s in spans if s.kind == "client" and s.name.startswith("tools/call ")]
    assert sorted(s.attributes["gen_ai.tool.name"] for s in calls) == ["fail", "items", "work", "work", "work", "work", "work"]
    for call in calls:
        assert call.attributes["mcp.method.name"] == "tools/call" and call.attributes["mcp_compiler.server"] == "meta"
        assert call.attributes["network.transport"] == "pipe"
        assert any(a.name.startswith("task ") for a in _ancestors(call, by_id))
    (failed_call,) = [s for s in calls if s.attributes["gen_ai.tool.name"] == "fail"]
    assert failed_call.status == "error" and by_id[failed_call.parent_id] is tasks[5]
    # No argument or result value is recorded anywhere.
    assert not any("n" in s.attributes or "count" in s.attributes for s in spans)


def _upstream_saw(record: Path, trace_id: str, receiver: OtlpReceiver) -> None:
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    ours = [line for line in lines if trace_id in line["meta"].get("traceparent", "")]
    assert len(ours) == 7, lines  # every call of the plan carried the trace
    span_ids = {s.span_id for s in receiver.trace(trace_id)}
    for line in ours:
        _, _, parent, _ = line["meta"]["traceparent"].split("-")
        assert parent in span_ids  # the upstream's parent is one of our spans


async def test_a_hosts_traceparent_in_meta_makes_one_trace_down_to_the_upstream(
    traced: tuple[str, Path, Path], receiver: OtlpReceiver
) -> None:
    url, record, log = traced
    traceparent, trace_id, host_span = _traceparent()
    result = await _call(url, PLAN, meta={"traceparent": traceparent, "tracestate": "host=1"})
    _check_one_trace(receiver, trace_id, host_span, result.structured_content)
    _upstream_saw(record, trace_id, receiver)
    # --log-format json: every line a JSON object; the lines written during the call name its trace.
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    during = [line for line in lines if line.get("trace_id") == trace_id]
    assert during and all(line["span_id"] in {s.span_id for s in receiver.trace(trace_id)} for line in during)


async def test_a_hosts_traceparent_in_the_http_headers_does_the_same(
    traced: tuple[str, Path, Path], receiver: OtlpReceiver
) -> None:
    url, record, _ = traced
    traceparent, trace_id, host_span = _traceparent()
    result = await _call(url, PLAN, headers={"traceparent": traceparent})
    _check_one_trace(receiver, trace_id, host_span, result.structured_content)
    _upstream_saw(record, trace_id, receiver)


# ---- metrics and health ----------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p) if labels else frozenset()
        found[(name, frozenset((k, v.strip('"')) for k, v in pairs))] = float(value)
    return found


def _calls(samples: dict[Any, float]) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["tool"], dict(labels)["status"]): value
        for (name, labels), value in samples.items() if name == "mcp_compiler_calls_total"
    }


async def test_metrics_move_by_exactly_the_plans_calls(traced: tuple[str, Path, Path]) -> None:
    url, _, _ = traced
    async with httpx2.AsyncClient(timeout=30) as http:
        await _call(url, "1. meta.work(n=0)")  # the server is up and has called once
        before = _calls(_samples((await http.get(f"{url}/metrics")).text))
        result = await _call(url, PLAN)
        assert not result.is_error
        scraped = await http.get(f"{url}/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = _calls(_samples(scraped.text))
    moved = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
    assert moved == CALLS
    samples = _samples(scraped.text)
    assert samples[("mcp_compiler_upstream_connected", frozenset({("server", "meta")}))] == 1
    assert samples[("mcp_compiler_calls_in_flight", frozenset({("server", "meta")}))] == 0
    assert samples[("mcp_compiler_runs_total", frozenset({("outcome", "partial")}))] >= 1
    latency = ("mcp_compiler_call_duration_seconds_count", frozenset({("server", "meta"), ("tool", "work")}))
    assert samples[latency] == after[("work", "ok")]


async def test_healthz_and_readyz_with_a_required_server_down(tmp_path: Path) -> None:
    down = {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"], "required": True}
    config = _config(tmp_path, tmp_path / "meta.jsonl", down=down)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc, url = _serve(config, tmp_path / "serve.log", env)
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            health = await http.get(f"{url}/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            with anyio.fail_after(30):
                while True:  # 'meta' connects within seconds; 'down' never does
                    ready = await http.get(f"{url}/readyz")
                    problems = ready.json().get("problems", {})
                    if "server meta" not in problems:
                        break
                    await anyio.sleep(0.2)
            assert ready.status_code == 503
            assert problems == {"server down": "required, and not connected"}
    finally:
        stop(proc)


async def test_readyz_is_ready_when_the_required_servers_are_connected(traced: tuple[str, Path, Path]) -> None:
    url, _, _ = traced
    async with httpx2.AsyncClient(timeout=30) as http:
        await _call(url, "1. meta.work(n=0)")
        ready = await http.get(f"{url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_with_tracing_off_no_part_of_the_sdk_is_loaded() -> None:
    code = """
import sys, anyio
from mcp_compiler import execute
from mcp_compiler.observability import setup_tracing
import mcp_compiler.server.serve
assert setup_tracing() is False
async def add(a: int, b: int) -> int:
    return a + b
run = anyio.run(execute, "1. add(a=1, b=2)", {"add": add})
assert run.tasks[0].result == 3 and run.trace_id is None
print(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
                                                       "mcp_compiler.observability.tracing"))))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_log_format_json_makes_every_log_line_of_the_command_a_json_object() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "run", "--plan", "1. math.sum(values=[1, 2])", "--log-format", "json", "-v"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert logged, done.stderr
    for line in logged:
        entry = json.loads(line)
        assert entry["level"] in ("INFO", "WARNING", "ERROR") and entry["logger"].startswith("mcp_compiler")
    assert not [line for line in done.stderr.splitlines() if line.startswith(("INFO ", "WARNING ", "ERROR "))]


def test_the_cost_benchmark_runs_and_prints_a_figure_per_shape_and_mode() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/tracing_overhead.py", "--tasks", "50", "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| wide") or line.startswith("| chain")]
    assert [row[0].strip() for row in rows] == ["wide", "chain"]
    assert all(len(row) == 4 and all(float(cell) > 0 for cell in row[1:]) for row in rows)


async def test_an_http_upstream_gets_our_traceparent_in_the_headers_too(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    record = tmp_path / "meta.jsonl"
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(FIXTURES / "meta_server.py"), "--record", str(record),
                                 "--http", str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, upstream)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"mcpServers": {"meta": {"url": f"http://127.0.0.1:{port}/mcp"}}}))
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        proc, url = _serve(config, tmp_path / "serve.log", env)
        try:
            traceparent, trace_id, _ = _traceparent()
            await _call(url, "1. meta.work(n=1)\n2. meta.echo(text=\"traceparent\")", meta={"traceparent": traceparent})
        finally:
            stop(proc)
    finally:
        stop(upstream)
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["tool"] for line in lines] == ["work", "echo"]
    for line in lines:
        header, in_meta = line["traceparent_header"], line["meta"]["traceparent"]
        assert header == in_meta and trace_id in header
    receiver.wait_for(lambda: any(s.name == "tools/call work" for s in receiver.trace(trace_id)))
    calls = [s for s in receiver.trace(trace_id) if s.name.startswith("tools/call ") and s.kind == "client"]
    assert {s.attributes["network.transport"] for s in calls} == {"tcp"}
