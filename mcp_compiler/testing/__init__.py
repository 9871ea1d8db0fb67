"""Test doubles shipped with the package (as httpx ships MockTransport): a simulated LLM endpoint
speaking the OpenAI and Anthropic wire formats, for tests, examples and benchmarks.
"""

from .script import Exchange, Fail, LatencyModel, Reply, Script, SimRequest
from .simllm import SimulatedLLM
from ..tokens import count_tokens

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
