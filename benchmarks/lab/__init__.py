"""The benchmark lab (`python -m benchmarks.bench`): ReAct, parallel function calling and
LLMCompiler (batch and streaming) side by side over real MCP sessions and a simulated LLM
endpoint, plus the bridge's own cost.

Modules: `workloads` and `bfcl` (questions with ground-truth call graphs), `model` (latency model,
calibration, the simulated model's replies), `strategies`, `bridge` (overhead, load, prompt
size), `report` (Markdown, JSON, charts), `runner` (the command). See docs/bench.md.
"""

from .runner import ALL_WORKLOADS, bench

__all__ = ["bench", "ALL_WORKLOADS"]
