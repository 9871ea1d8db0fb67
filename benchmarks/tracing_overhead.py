"""What watching a run costs per task: 1,000 zero-latency tool calls through `Compiler.run_plan`,
with nothing watching, with the HTTP server's metrics, and with OpenTelemetry traces.

    python benchmarks/tracing_overhead.py [--tasks 1000] [--repeats 9] [--clock cpu|wall] [--modes off,metrics,traces]

Each tool is an async function that returns at once, so what is measured is the engine and the
hooks (docs/observability.md, "What it costs"). `traces` uses the OpenTelemetry SDK (the `otel`
extra) with its batch span processor and an exporter that drops the spans: the cost of making
them, not of sending them. Prints a Markdown table of microseconds per task (median of the runs)
for the `wide` and `chain` shapes of benchmarks/scheduler_overhead.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from mcp_compiler import Compiler, FunctionToolbox, Limits, parse_plan

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from scheduler_overhead import chain, noop, wide  # noqa: E402 - the same shapes and tool

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def install(mode: str) -> None:
    if mode == "off":
        return
    from mcp_compiler import observability

    observability.reset()
    if mode == "metrics":
        from mcp_compiler.observability.metrics import MetricsObserver

        observability.install(MetricsObserver())
    elif mode == "traces":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        from mcp_compiler.observability.tracing import TracingObserver

        class Drop(SpanExporter):
            def export(self, spans: Sequence[Any]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=100_000))
        observability.install(TracingObserver(provider))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


async def measure(compiler: Compiler, text: str, clock: Callable[[], float]) -> float:
    plan = parse_plan(text)
    t0 = clock()
    run = await compiler.run_plan(plan)
    took = clock() - t0
    if not run.ok:
        raise SystemExit("the run failed")
    return took


async def main(n: int, repeats: int, clock: str, modes: list[str]) -> None:
    print(f"Compiler.run_plan, {n} zero-latency tasks, median of {repeats} runs, µs ({clock} time) per task\n")
    print("| shape | " + " | ".join(modes) + " |")
    print("|---|" + "---:|" * len(modes))
    shapes = {"wide": wide(n), "chain": chain(n)}
    results: dict[str, dict[str, float]] = {shape: {} for shape in shapes}
    for mode in modes:
        install(mode)
        compiler = Compiler(FunctionToolbox({"noop": noop}), Limits())
        for shape, text in shapes.items():
            await measure(compiler, text, CLOCKS[clock])  # warm-up
            samples = [await measure(compiler, text, CLOCKS[clock]) for _ in range(repeats)]
            results[shape][mode] = statistics.median(samples) * 1e6 / n
    for shape, by_mode in results.items():
        print(f"| {shape} | " + " | ".join(f"{by_mode[m]:.1f}" for m in modes) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--modes", default="off,metrics,traces")
    args = parser.parse_args()
    anyio.run(main, args.tasks, args.repeats, args.clock, args.modes.split(","))
