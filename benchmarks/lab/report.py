"""The report: a table per workload (Markdown and JSON), acceptance checks, bridge cost, charts.

Cost uses one constant price for every strategy and profile, gpt-3.5-turbo-0125's list price:
$0.50 per million input tokens, $1.50 per million output tokens. A cost ratio is ReAct's cost
over the strategy's (how many times cheaper). Latency columns are measured wall seconds at the
run's time scale; the calibration section divides by it to compare with the paper.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean
from typing import Any

from .stats import percentile
from .strategies import STRATEGIES, STRATEGY_LABELS
from .workloads import PAPER

PRICE_IN = 0.50 / 1e6
PRICE_OUT = 1.50 / 1e6
TABLE_COLUMNS = ["strategy", "latency median (s)", "latency p90 (s)", "speedup vs ReAct", "speedup vs parallel FC",
                 "input tokens", "output tokens", "LLM calls", "cost ratio vs ReAct", "errors"]


def _cost(o: dict[str, Any]) -> float:
    return o["input_tokens"] * PRICE_IN + o["output_tokens"] * PRICE_OUT


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in STRATEGIES:
        os_ = [r["outcomes"][s] for r in rows]
        lat = [o["wall_s"] for o in os_]
        out[s] = {"median_s": percentile(lat, 50), "p90_s": percentile(lat, 90),
                  "input_tokens": mean(o["input_tokens"] for o in os_), "output_tokens": mean(o["output_tokens"] for o in os_),
                  "llm_calls": mean(o["llm_calls"] for o in os_), "cost": mean(_cost(o) for o in os_),
                  "errors": sum(1 for o in os_ if o["error"]), "n": len(os_)}
    for s in STRATEGIES:
        m = out[s]
        m["speedup_vs_react"] = out["react"]["median_s"] / m["median_s"] if m["median_s"] else None
        m["speedup_vs_pfc"] = out["parallel_fc"]["median_s"] / m["median_s"] if m["median_s"] else None
        m["cost_ratio_vs_react"] = out["react"]["cost"] / m["cost"] if m["cost"] else None
    return out


def _f(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def workload_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for s in STRATEGIES:
        m = summary[s]
        cells = [STRATEGY_LABELS[s], _f(m["median_s"]), _f(m["p90_s"]), _f(m["speedup_vs_react"]) + "×",
                 _f(m["speedup_vs_pfc"]) + "×", f"{m['input_tokens']:.0f}", f"{m['output_tokens']:.0f}",
                 _f(m["llm_calls"], 1), _f(m["cost_ratio_vs_react"]) + "×", str(m["errors"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ceiling(data: dict[str, Any], summaries: dict[str, dict[str, Any]], workload: str,
            strategy: str = "compiler_stream") -> float | None:
    """A strategy's speedup over ReAct if every tool call were free: ReAct's latency over the time
    of the strategy's own LLM calls under the latency model (streaming LLMCompiler: planner and
    joiner; with join values: the planner alone). No scheduling can beat it."""
    lm = data["latency_model"]
    profile = lm["profiles"].get(PAPER.get(workload, {}).get("profile", ""))
    if profile is None or not lm["time_scale"] or workload not in summaries:
        return None
    m = summaries[workload][strategy]
    llm_s = (m["llm_calls"] * profile["ttft_s"] + m["input_tokens"] / profile["prefill_tokens_per_s"]
             + m["output_tokens"] / profile["tokens_per_s"])
    return summaries[workload]["react"]["median_s"] / lm["time_scale"] / llm_s if llm_s else None


def checks(data: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for w, rows in data["results"].items():
        out.append({"check": f"{w}: the {len(STRATEGIES)} strategies give the same answers",
                    "ok": all(r["agree"] for r in rows), "value": f"{sum(r['agree'] for r in rows)}/{len(rows)}"})
    for w in ("hotpot", "movie", "parallelqa"):
        if w not in summaries:
            continue
        st = summaries[w]["compiler_stream"]
        top = ceiling(data, summaries, w)
        out.append({"check": f"{w}: streaming LLMCompiler ≥ {PAPER[w]['speedup']}× faster than ReAct (paper)",
                    "ok": st["speedup_vs_react"] >= PAPER[w]["speedup"],
                    "value": f"{st['speedup_vs_react']:.2f}×" + (f" (model ceiling {top:.2f}×)" if top else "")})
        out.append({"check": f"{w}: streaming LLMCompiler faster than parallel FC",
                    "ok": st["speedup_vs_pfc"] > 1.0, "value": f"{st['speedup_vs_pfc']:.2f}×"})
        out.append({"check": f"{w}: cost ≥ {PAPER[w]['cost']}× lower than ReAct (paper; informative)",
                    "ok": st["cost_ratio_vs_react"] >= PAPER[w]["cost"], "value": f"{st['cost_ratio_vs_react']:.2f}×",
                    "informative": True})
    if "chain" in summaries:
        st = summaries["chain"]["compiler_stream"]
        slower = 1 / st["speedup_vs_react"]
        out.append({"check": "chain: streaming LLMCompiler no more than 5% slower than ReAct",
                    "ok": slower <= 1.05, "value": f"{slower:.3f}× ReAct's latency"})
    bridge = data.get("bridge", {})
    for row in bridge.get("overhead", []):
        if row["n"] == 32:
            out.append({"check": "overhead at N=32 through compile_and_run ≤ 1.3× direct SDK calls",
                        "ok": row["server_ratio"] <= 1.3, "value": f"{row['server_ratio']:.2f}×"})
    if "overhead_error" in bridge:
        out.append({"check": "overhead measured", "ok": False, "value": bridge["overhead_error"]})
    if bridge.get("load") is not None or "load_error" in bridge:
        errs = sum(r["errors"] for r in bridge.get("load", []))
        out.append({"check": "zero errors under load", "ok": errs == 0 and "load_error" not in bridge,
                    "value": str(errs) if "load_error" not in bridge else bridge["load_error"]})
    return out


def render_markdown(data: dict[str, Any], summaries: dict[str, dict[str, Any]], check_rows: list[dict[str, Any]],
                    chart_files: list[str]) -> str:
    lm = data["latency_model"]
    m = data["machine"]
    parts = [f"# mcp-compiler bench ({data['mode']})", "",
             f"Command: `{data['command']}` — {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['platform']}; "
             f"took {data['elapsed_s']} s.", "",
             "## Latency model", "",
             f"- time scale: {lm['time_scale']} (every model and tool time multiplied by it; tokens unchanged)",
             f"- LLM call: first token after `{lm['ttft_rule']}`, then output at tokens_per_s, ×U(1±jitter) per wait",
             f"- tool calls: uniform {lm['tool_latency_ms']['low']:g}–{lm['tool_latency_ms']['high']:g} ms (before scaling), "
             f"seed {lm['seed']}; a call's delay is drawn from the seed, the tool and its arguments, so every strategy "
             "waits the same for the same call",
             "", "| profile | ttft_s (calibrated) | tokens/s | prefill tokens/s | jitter |", "|---|---|---|---|---|"]
    for p in lm["profiles"].values():
        parts.append(f"| {p['name']} | {p['ttft_s']} | {p['tokens_per_s']:g} | {p['prefill_tokens_per_s']:g} | {p['jitter']} |")
    parts += ["", f"Price (constant for every strategy): ${PRICE_IN * 1e6:.2f}/M input tokens, ${PRICE_OUT * 1e6:.2f}/M output tokens.", ""]
    if data["calibration"]:
        parts += ["## Calibration: ReAct against the paper", "",
                  "| workload | profile | paper ReAct (s) | predicted (s) | measured ÷ time scale (s) | off by |", "|---|---|---|---|---|---|"]
        for w, c in data["calibration"].items():
            measured = summaries[w]["react"]["median_s"] / lm["time_scale"] if w in summaries and lm["time_scale"] else None
            off = f"{(measured / c['paper_react_s'] - 1) * 100:+.1f}%" if measured else "–"
            parts.append(f"| {w} | {c['profile']} | {c['paper_react_s']} | {c['predicted_react_s']} | {_f(measured)} | {off} |")
        parts.append("")
    parts += ["## Results per workload", ""]
    for w, s in summaries.items():
        n = len(data["results"][w])
        paper = PAPER.get(w)
        note = f" — paper: LLMCompiler {paper['speedup']}× faster, {paper['cost']}× cheaper than ReAct" if paper else ""
        parts += [f"### {w} ({n} questions){note}", "", workload_table(s), ""]
    parts += _ceiling_section(data, summaries)
    parts += ["## Checks", "", "| check | result | value |", "|---|---|---|"]
    for c in check_rows:
        mark = "met" if c["ok"] else ("not met (informative)" if c.get("informative") else "NOT MET")
        parts.append(f"| {c['check']} | {mark} | {c['value']} |")
    parts.append("")
    bridge = data.get("bridge", {})
    if bridge.get("overhead"):
        pinned = all(r.get("pinned") for r in bridge["overhead"])
        parts += ["## Bridge overhead: N parallel no-op calls (median ms)", "",
                  "| N | direct SDK | Compiler.run_plan | × direct | +ms/call | compile_and_run (stdio) | × direct | +ms/call "
                  "| of which: bridge's engine | MCP hop |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in bridge["overhead"]:
            parts.append(f"| {r['n']} | {r['direct_ms']} | {r['run_plan_ms']} | {r['run_plan_ratio']} | {r['run_plan_added_ms_per_call']} "
                         f"| {r['server_ms']} | {r['server_ratio']} | {r['server_added_ms_per_call']} "
                         f"| {r.get('server_engine_ms', '–')} | {r.get('server_hop_ms', '–')} |")
        parts += ["", "Callers (this process, the bridge) pinned to one CPU and the no-op servers to another; the three "
                  "ways take turns in rotating order." if pinned else "Processes not pinned (fewer than 2 CPUs usable).",
                  "The MCP hop is compile_and_run's time minus the bridge's own `timings.total_s`: both ends' SDK work "
                  "(including the client validating the Run against the output schema) and the pipe.", ""]
    if bridge.get("load"):
        parts += ["## Load: concurrent clients over Streamable HTTP (plan of 4 no-op calls)", "",
                  "| clients | requests | throughput (req/s) | p50 (ms) | p99 (ms) | errors |", "|---|---|---|---|---|---|"]
        for r in bridge["load"]:
            parts.append(f"| {r['clients']} | {r['requests']} | {r['throughput_rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
        parts.append("")
    for key in ("overhead_error", "load_error", "prompt_size_error"):
        if key in bridge:
            parts += [f"{key}: {bridge[key]}", ""]
    if bridge.get("prompt_size"):
        parts += ["## Planner prompt size against catalog size", "",
                  "| tools | planner prompt (tokens) | compile_and_run description (tokens) |", "|---|---|---|"]
        for r in bridge["prompt_size"]:
            parts.append(f"| {r['tools']} | {r['planner_prompt_tokens']:,} | {r['tool_description_tokens']:,} |")
        parts.append("")
    for f in chart_files:
        parts += [f"![{f}]({f})", ""]
    return "\n".join(parts)


def _ceiling_section(data: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> list[str]:
    rows = [(w, ceiling(data, summaries, w), ceiling(data, summaries, w, "compiler_project"))
            for w in PAPER if w in summaries]
    rows = [(w, c, p) for w, c, p in rows if c]
    if not rows:
        return []
    parts = ["## What the latency model allows", "",
             "The ceiling is ReAct's latency over the time of streaming LLMCompiler's own LLM calls (planner and "
             "joiner): its speedup if every tool call took no time. A margin above the ceiling cannot be reached "
             "under this model by any scheduling; only a ReAct that makes more LLM calls than the ground truth needs "
             "would show it. A plan that ends in join(VALUE, ...) needs no joiner: one LLM call, a higher ceiling.", "",
             "| workload | ReAct LLM calls | LLMCompiler LLM calls | ceiling | measured (streaming) "
             "| ceiling, join values | measured, join values | paper |",
             "|---|---|---|---|---|---|---|---|"]
    for w, c, p in rows:
        s = summaries[w]
        parts.append(f"| {w} | {_f(s['react']['llm_calls'], 1)} | {_f(s['compiler_stream']['llm_calls'], 1)} | {c:.2f}× "
                     f"| {_f(s['compiler_stream']['speedup_vs_react'])}× | {_f(p)}× "
                     f"| {_f(s['compiler_project']['speedup_vs_react'])}× | {PAPER[w]['speedup']}× |")
    return [*parts, ""]


def write_report(data: dict[str, Any], outdir: Path, charts: bool = True) -> dict[str, Any]:
    summaries = {w: summarize(rows) for w, rows in data["results"].items() if rows}
    check_rows = checks(data, summaries)
    chart_files: list[str] = []
    note = ""
    if charts:
        try:
            from .charts import gantt_chart, latency_chart

            chart_files.append(latency_chart(summaries, outdir))
            if data.get("example_spans"):
                chart_files.append(gantt_chart(data["example_spans"], outdir))
        except ImportError:
            note = "matplotlib is not installed (pip install 'mcp-compiler[bench]')"
    else:
        note = "disabled"
    data = {**data, "summary": summaries, "checks": check_rows, "price_per_token": {"input": PRICE_IN, "output": PRICE_OUT},
            "charts": chart_files}
    (outdir / "bench.json").write_text(json.dumps(data, indent=1, default=str))
    md = render_markdown(data, summaries, check_rows, chart_files)
    if note:
        md += f"\nCharts skipped: {note}.\n"
    (outdir / "bench.md").write_text(md)
    hard = [c for c in check_rows if not c.get("informative") and c["check"].endswith("same answers")]
    errors = sum(s["errors"] for w in summaries.values() for s in w.values())
    return {"markdown": md, "markdown_path": str(outdir / "bench.md"), "charts": chart_files, "charts_note": note,
            "ok": all(c["ok"] for c in hard) and errors == 0}
