"""The package's one exception family.

Every error mcp-compiler raises on purpose is a `CompilerError`; the families say whose fault it
is and so how a caller reacts. Exceptions of the SDKs underneath (the `mcp` SDK, httpx2, the
Anthropic and OpenAI SDKs, pydantic) are mapped into these by type at the edge that calls them,
never by their message text, and never leak out of the package as they are.

    CompilerError
    ├── PlanError        the plan text or content is wrong (line, column); nothing ran
    │   └── UnknownTool  a name the catalog does not have, or a bare name several servers share
    ├── ConfigError      the config file cannot be used; says where
    ├── RequestError     a compile_and_run call cannot run as asked (the tool error the host sees)
    │   └── NoPlanner    a query came in and no model can plan it
    ├── ToolError        one tool call failed; becomes that task's error, never the run's
    │   ├── CallTimeout      the call ran past its timeout
    │   ├── CallRefused      the destructive-tool policy did not let it run
    │   ├── OverBudget       its resolved arguments or its result are larger than a size limit
    │   └── ConnectionLost   the server went away while the call was in flight (safe to
    │                        retry only for tools marked read-only or idempotent)
    └── LLMError         an LLM call failed (kind: auth, rate_limit, timeout, ...)

`PlanError`, `UnknownTool` and `LLMError` are defined beside the code that raises them
(`language/plan.py`, `tools/catalog.py`, `llm/base.py`, which carry extra fields: line and column,
the tool's name, kind and status); they derive from `CompilerError` all the same, and
`mcp_compiler` re-exports every one of them.
"""

from __future__ import annotations

__all__ = [
    "CompilerError", "ConfigError", "RequestError", "NoPlanner", "ToolError", "CallTimeout",
    "CallRefused", "ConnectionLost", "OverBudget",
]


class CompilerError(Exception):
    """Base of every error mcp-compiler raises on purpose; its message is meant for a person."""


class ConfigError(CompilerError, ValueError):
    """The config file cannot be used; the message says where and why, one problem per line."""


class RequestError(CompilerError):
    """A compile_and_run call cannot run as asked; the message is the tool error the caller sees."""


class NoPlanner(RequestError):
    """A query came in and there is no model to plan it; the message says how to configure one."""


class ToolError(CompilerError):
    """A tool call failed in a way worth telling; the message is shown as the task's error."""


class CallTimeout(ToolError):
    """The call did not finish within its timeout (the server's `timeout_s`, else the default)."""


class CallRefused(ToolError):
    """The destructive-tool policy refused the call (denied, not confirmed, nobody to ask)."""


class OverBudget(ToolError):
    """A value is larger than a size limit (`max_value_bytes`, `max_run_bytes`); the message names it."""


class ConnectionLost(ToolError):
    """The tool's server went away while the call was in flight; the call may or may not have run."""
