"""The latency model and the simulated model that writes each strategy's replies.

Latency of one LLM call (every strategy, same endpoint, same rule):

    time to first token = ttft_s + input_tokens / prefill_tokens_per_s
    then output at tokens_per_s, streamed in chunks of 3 tokens; every wait x U(1 - jitter, 1 + jitter)

Tool latency: every tool call of every server sleeps U(low, high) ms (the bundled servers'
`MCP_COMPILER_SIM_LATENCY_MS`, seeded per call: the same call waits the same for every strategy). `time_scale` multiplies every model and tool time
(--quick runs at 0.1); tokens do not scale.

Profiles stand for the models the paper used: GPT-3.5 for HotpotQA and Movie Recommendation,
GPT-4 for ParallelQA. Their output speed and prefill speed are fixed assumptions; only `ttft_s`
is calibrated (`calibrate`), by least squares so that ReAct's latency lands on the paper's ReAct
figures. Nothing about LLMCompiler enters the calibration.

`GroundTruthModel` is the SimulatedLLM responder: it tells the request's strategy from the system
prompt, finds the question, reads the tool results the prompt shows, and writes what a perfect
model would, from the instance's ground-truth plan (or, for a planner prompt ending in
`PROJECT_MARK`, the plan that ends in `join(VALUE, ...)`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from mcp_compiler.language.checks import BoundTask, check_plan
from mcp_compiler.language.parser import parse_plan
from mcp_compiler.language.plan import format_value, resolve
from mcp_compiler.tools.catalog import Catalog

from ..simllm import LatencyModel, Reply, SimRequest
from .workloads import Instance

__all__ = ["Profile", "LatencySetup", "GroundTruthModel", "Case", "calibrate",
           "REACT_MARK", "PFC_MARK", "PROJECT_MARK", "DEFAULT_PROFILES"]

REACT_MARK = "You are a ReAct agent"
PFC_MARK = "You call tools in parallel batches"
PLANNER_MARK = "You are the planner"
JOINER_MARK = "You are the joiner"
PROJECT_MARK = "\n(Projection.)"  # appended to the planner prompt by the compiler_project strategy


@dataclass(frozen=True)
class Profile:
    name: str
    ttft_s: float
    tokens_per_s: float
    prefill_tokens_per_s: float
    jitter: float = 0.1


DEFAULT_PROFILES = {
    # Output and prefill speeds: assumptions for 2023-era gpt-3.5-turbo / gpt-4-turbo over the API.
    "gpt-3.5": Profile("gpt-3.5", ttft_s=1.0, tokens_per_s=70.0, prefill_tokens_per_s=8000.0),
    "gpt-4": Profile("gpt-4", ttft_s=3.0, tokens_per_s=25.0, prefill_tokens_per_s=3000.0),
}


@dataclass
class LatencySetup:
    profiles: dict[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    tool_ms: tuple[float, float] = (200.0, 600.0)
    time_scale: float = 1.0
    seed: int = 1

    def tool_env(self) -> str:
        lo, hi = (v * self.time_scale for v in self.tool_ms)
        return f"{lo:g}-{hi:g}"

    def reply_latency(self, profile: str, input_tokens: int) -> LatencyModel:
        p = self.profiles[profile]
        if self.time_scale <= 0:
            return LatencyModel()
        ttft = (p.ttft_s + input_tokens / p.prefill_tokens_per_s) * self.time_scale
        return LatencyModel(ttft_s=ttft, tokens_per_s=p.tokens_per_s / self.time_scale, jitter=p.jitter,
                            tokens_per_chunk=3)

    def describe(self) -> dict[str, Any]:
        return {
            "time_scale": self.time_scale,
            "profiles": {k: vars(v) for k, v in self.profiles.items()},
            "tool_latency_ms": {"distribution": "uniform", "low": self.tool_ms[0], "high": self.tool_ms[1]},
            "ttft_rule": "ttft_s + input_tokens / prefill_tokens_per_s",
            "seed": self.seed,
        }


@dataclass
class Case:
    instance: Instance
    profile: str
    tasks: dict[int, BoundTask]

    @property
    def order(self) -> list[int]:
        return sorted(self.tasks)


_OBS = re.compile(r"^Observation: (.*)$", re.MULTILINE)
_RESULT = re.compile(r"^\$(\d+) = .*\n  -> (.*)$", re.MULTILINE)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class GroundTruthModel:
    """SimulatedLLM responder for every strategy; register each question with `add` first."""

    def __init__(self, setup: LatencySetup) -> None:
        self.setup = setup
        self.cases: dict[str, Case] = {}

    def add(self, instance: Instance, catalog: Catalog, profile: str) -> Case:
        bound = check_plan(parse_plan(instance.plan), catalog)
        case = Case(instance, profile, {b.id: b for b in bound})
        self.cases[instance.question] = case
        return case

    def __call__(self, req: SimRequest) -> Reply:
        first = req.messages[0].content if req.messages else ""
        case = self._case(first)
        if req.system.startswith(PLANNER_MARK):
            projecting = req.system.endswith(PROJECT_MARK) and case.instance.projection
            text = case.instance.projection if projecting else case.instance.plan
        elif req.system.startswith(JOINER_MARK):
            values = {int(i): _loads(body) for i, body in _RESULT.findall(req.last_user_message)}
            text = f"Thought: The results answer the question.\nAction: Finish({case.instance.answer(values)})"
        elif req.system.startswith(REACT_MARK):
            text = self._react(case, first)
        elif req.system.startswith(PFC_MARK):
            text = self._pfc(case, req)
        else:
            raise ValueError(f"unrecognised request: {req.system[:60]!r}")
        return Reply(text, latency=self.setup.reply_latency(case.profile, req.input_tokens))

    def _case(self, first_message: str) -> Case:
        body = first_message.removeprefix("Question: ")
        best = None
        for q, case in self.cases.items():
            if body.startswith(q) and (best is None or len(q) > len(best.instance.question)):
                best = case
        if best is None:
            raise KeyError(f"no registered question for {first_message[:80]!r}")
        return best

    def _react(self, case: Case, prompt: str) -> str:
        observed = [_loads(o) for o in _OBS.findall(prompt)]
        values = dict(zip(case.order, observed, strict=False))  # observed so far: may be fewer
        if len(observed) >= len(case.order):
            return f"Thought: I have all I need.\nAction: Finish({case.instance.answer(values)})"
        tid = case.order[len(observed)]
        bound = case.tasks[tid]
        args = {k: resolve(v, values) for k, v in bound.arguments.items()}
        call = f"{bound.spec.name}({', '.join(f'{k}={format_value(v)}' for k, v in args.items())})"
        return f"Thought: {case.instance.thoughts.get(tid, 'Next step.')}\nAction: {call}"

    def _pfc(self, case: Case, req: SimRequest) -> str:
        called: set[int] = set()
        values: dict[int, Any] = {}
        for m in req.messages[1:]:
            for line in m.content.splitlines():
                data = _loads(line.strip()) if line.strip().startswith("{") else None
                if not isinstance(data, dict):
                    continue
                for call in data.get("tool_calls", []):
                    called.add(int(str(call["id"]).removeprefix("call_")))
                if "id" in data and "result" in data:
                    values[int(str(data["id"]).removeprefix("call_"))] = data["result"]
        ready = [t for t in case.order if t not in called and case.tasks[t].task.deps <= set(values)]
        if not ready:
            return json.dumps({"answer": case.instance.answer(values)}, ensure_ascii=False)
        calls = [{"id": f"call_{t}", "name": case.tasks[t].spec.name,
                  "arguments": {k: resolve(v, values) for k, v in case.tasks[t].arguments.items()}} for t in ready]
        return json.dumps({"tool_calls": calls}, ensure_ascii=False)


def calibrate(setup: LatencySetup, probes: dict[str, list[dict[str, Any]]], targets: dict[str, tuple[str, float]]) -> dict[str, Any]:
    """Fit each profile's ttft_s so the predicted ReAct latency meets the paper's (least squares).

    `probes[workload]`: ReAct runs at zero model latency, each `{"calls": [(in, out), ...], "tools": n}`.
    `targets[workload] = (profile, seconds)`. Returns the fit and the predictions; updates `setup`.
    """
    e_tool = sum(setup.tool_ms) / 2 / 1000
    fit: dict[str, Any] = {}
    by_profile: dict[str, list[tuple[float, float, float, str]]] = {}
    for workload, (profile, target) in targets.items():
        runs = probes.get(workload) or []
        if not runs:
            continue
        p = setup.profiles[profile]
        a = sum(len(r["calls"]) for r in runs) / len(runs)
        b = sum(sum(i / p.prefill_tokens_per_s + o / p.tokens_per_s for i, o in r["calls"]) + r["tools"] * e_tool
                for r in runs) / len(runs)
        by_profile.setdefault(profile, []).append((a, b, target, workload))
    for profile, rows in by_profile.items():
        ttft = sum(a * (t - b) for a, b, t, _ in rows) / sum(a * a for a, b, t, _ in rows)
        ttft = max(ttft, 0.05)
        setup.profiles[profile] = replace(setup.profiles[profile], ttft_s=round(ttft, 3))
        for a, b, t, w in rows:
            fit[w] = {"profile": profile, "llm_calls": round(a, 2), "predicted_react_s": round(a * ttft + b, 2),
                      "paper_react_s": t}
    return fit
