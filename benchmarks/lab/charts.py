"""PNG charts (matplotlib, the `bench` extra): latency per strategy per workload, and a Gantt
timeline of one question under ReAct and under streaming LLMCompiler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .strategies import STRATEGIES, STRATEGY_LABELS  # noqa: E402

COLORS = {"react": "#999999", "parallel_fc": "#6a9fd8", "compiler_batch": "#f0a45c", "compiler_stream": "#d9534f",
          "compiler_project": "#8e44ad"}


def latency_chart(summaries: dict[str, dict[str, Any]], outdir: Path) -> str:
    workloads = list(summaries)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(workloads)), 4))
    width = 0.8 / len(STRATEGIES)
    for i, s in enumerate(STRATEGIES):
        xs = [j + (i - (len(STRATEGIES) - 1) / 2) * width for j in range(len(workloads))]
        med = [summaries[w][s]["median_s"] for w in workloads]
        p90 = [summaries[w][s]["p90_s"] - summaries[w][s]["median_s"] for w in workloads]
        ax.bar(xs, med, width, yerr=[[0] * len(med), p90], capsize=2, label=STRATEGY_LABELS[s], color=COLORS[s])
    ax.set_xticks(range(len(workloads)), workloads)
    ax.set_ylabel("latency, s (median; whisker: p90)")
    ax.set_title("Latency per strategy per workload")
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "latency.png"
    fig.savefig(outdir / name, dpi=120)
    plt.close(fig)
    return name


def gantt_chart(example: dict[str, Any], outdir: Path) -> str:
    workload = "movie" if "movie" in example else next(iter(example))
    runs = example[workload]
    strategies = [s for s in ("react", "compiler_stream") if s in runs]
    fig, axes = plt.subplots(len(strategies), 1, figsize=(9, 1.2 + 0.28 * sum(len(runs[s]) for s in strategies)),
                             sharex=True, squeeze=False)
    for ax, s in zip(axes[:, 0], strategies, strict=True):
        spans = sorted(runs[s], key=lambda sp: sp["start_s"])
        for row, sp in enumerate(spans):
            color = "#d9534f" if sp["kind"] == "llm" else "#5cb85c"
            ax.barh(row, sp["end_s"] - sp["start_s"], left=sp["start_s"], color=color, height=0.7)
            ax.text(sp["end_s"], row, " " + sp["label"], va="center", fontsize=6)
        ax.set_yticks([])
        ax.invert_yaxis()
        ax.set_title(f"{STRATEGY_LABELS[s]} (red: LLM call, green: tool call)", fontsize=9)
    axes[-1, 0].set_xlabel("seconds since the question arrived")
    q = runs.get("question", "")
    fig.suptitle(f"{workload}: {q[:90]}", fontsize=8)
    fig.tight_layout()
    name = "timeline.png"
    fig.savefig(outdir / name, dpi=120)
    plt.close(fig)
    return name
