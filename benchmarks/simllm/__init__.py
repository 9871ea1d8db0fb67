"""A simulated LLM endpoint: an HTTP server on loopback speaking the OpenAI and Anthropic wire
formats, with scripted replies and a latency model. Test and benchmark support, not part of the
installed package (which ships the in-process `mcp_compiler.testing.ScriptedLLM` instead).

Standalone: `python -m benchmarks.simllm --port 0 --script FILE` from the repository root.
"""

from mcp_compiler.llm.tokens import count_tokens

from .endpoint import SimulatedLLM
from .script import Exchange, Fail, LatencyModel, Reply, Script, SimRequest

__all__ = [
    "SimulatedLLM",
    "SimRequest",
    "Reply",
    "Fail",
    "LatencyModel",
    "Exchange",
    "Script",
    "count_tokens",
]
