"""LLM backends behind one small streaming interface (see `base.py`), and the choice between them.

The SDK-backed classes are imported lazily: `anthropic` and `openai` take about two seconds to
import, which a host would otherwise wait through even when the caller writes its own plans.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .base import LLM, LLMError, LLMStream, Message, Timeouts, Usage, complete

if TYPE_CHECKING:
    from .anthropic import AnthropicLLM
    from .openai import OpenAILLM

__all__ = [
    "LLM",
    "LLMError",
    "LLMStream",
    "Message",
    "Timeouts",
    "Usage",
    "complete",
    "choose_model",
    "select_llm",
    "parse_model",
    "AnthropicLLM",
    "OpenAILLM",
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
]

# Kept here too (not only in the backend modules) so reading them does not import an SDK.
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"
DEFAULT_OPENAI_MODEL = "gpt-5.5"

Provider = Literal["anthropic", "openai", "sampling"]

ACCEPTED_FORMS = '"anthropic", "anthropic:MODEL", "openai", "openai:MODEL" or "sampling"'


def parse_model(spec: str) -> tuple[Provider, str | None]:
    """`"openai:llama3.1:8b"` → `("openai", "llama3.1:8b")`; a bare provider → `(provider, None)`.

    Only the first colon separates: Ollama model names contain colons.
    """
    provider, sep, name = spec.strip().partition(":")
    provider = provider.strip().lower()
    name = name.strip()
    if provider == "anthropic" and (name or not sep):
        return "anthropic", name or None
    if provider == "openai" and (name or not sep):
        return "openai", name or None
    if provider == "sampling" and not sep:
        return "sampling", None
    raise ValueError(f"malformed model {spec!r}: expected {ACCEPTED_FORMS}")


def choose_model(model: str | None = None, env: Mapping[str, str] = os.environ) -> LLM | Literal["sampling"] | None:
    """The one place the planner's model is chosen: an LLM, "sampling" (the MCP host's own model,
    which only the server can reach), or None when nothing is configured.

    First that applies: `model`; `MCP_COMPILER_MODEL`; `ANTHROPIC_API_KEY` → Anthropic's
    default model; `OPENAI_API_KEY` → OpenAI's default model. Raises ValueError for a malformed
    model name, saying which forms are accepted.
    """
    spec = model if model is not None else env.get("MCP_COMPILER_MODEL")
    if spec is not None and spec.strip():
        provider, name = parse_model(spec)
    elif model is not None:
        raise ValueError(f"malformed model {model!r}: expected {ACCEPTED_FORMS}")
    elif env.get("ANTHROPIC_API_KEY"):
        provider, name = "anthropic", None
    elif env.get("OPENAI_API_KEY"):
        provider, name = "openai", None
    else:
        return None

    if provider == "anthropic":
        from .anthropic import AnthropicLLM

        return AnthropicLLM(
            name or DEFAULT_ANTHROPIC_MODEL,
            api_key=env.get("ANTHROPIC_API_KEY") or None,
            base_url=env.get("ANTHROPIC_BASE_URL") or None,
        )
    if provider == "openai":
        from .openai import OpenAILLM

        return OpenAILLM(
            name or DEFAULT_OPENAI_MODEL,
            api_key=env.get("OPENAI_API_KEY") or None,
            base_url=env.get("OPENAI_BASE_URL") or None,
        )
    return "sampling"


def select_llm(model: str | None = None, env: Mapping[str, str] = os.environ) -> LLM | None:
    """`choose_model` for callers that cannot sample: the LLM, or None (also for "sampling")."""
    chosen = choose_model(model, env)
    return None if chosen == "sampling" else chosen


def __getattr__(name: str) -> Any:
    if name == "AnthropicLLM":
        from .anthropic import AnthropicLLM

        return AnthropicLLM
    if name == "OpenAILLM":
        from .openai import OpenAILLM

        return OpenAILLM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
