"""What the server's modules share: a tool error, the confirmation form, progress, a question.

Defined once here so that the handshake-era call (`app.py`), the 2026-07-28 round trips
(`round_trips.py`) and the Tasks extension (`task_server.py`) say these things the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types

from ..text import scrub

__all__ = ["CONFIRM_SCHEMA", "ProgressFn", "Question", "declares", "error_result"]

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]

CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"run": {"type": "boolean", "title": "Run it", "description": "Allow this call"}},
    "required": ["run"],
}


def declares(capabilities: Any, capability: str) -> bool:
    """The client's capabilities declare `capability` ("sampling", "elicitation", "roots")."""
    return capabilities is not None and getattr(capabilities, capability, None) is not None


def error_result(message: str) -> types.CallToolResult:
    """A tool error: the call failed, and says why (scrubbed, so any text serialises)."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=scrub(message))], is_error=True)


class Question:
    """A request to the host that a run waits on, until its answer is delivered (in this process:
    the event it waits on cannot leave it)."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.answer: Any = None
        self.answered = anyio.Event()

    def deliver(self, answer: Any) -> None:
        self.answer = answer
        self.answered.set()
