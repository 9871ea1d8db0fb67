"""A tool result as a value: what a task's reference sees, and the check against its output schema.

The "value of a task" rule (docs/plan-language.md#the-value-of-a-task): `structured_content` when present, else the text content
parsed as JSON when it parses, else the text; a result with other content blocks (images, audio,
resources) is kept as data. An `is_error` result raises `ToolError(text)`.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from jsonschema.exceptions import best_match

from ..errors import ToolError
from ..language.plan import MAX_VALUE_DEPTH, nests_deeper
from ..tools.untrusted_schemas import validator_for

__all__ = ["OutputChecks", "result_text", "tool_value"]


def tool_value(result: types.CallToolResult) -> Any:
    """The value of a tool result, for references: see the module docstring. Raises on is_error."""
    if result.is_error:
        raise ToolError(result_text(result) or "the tool reported an error without a message")
    if result.structured_content is not None:
        if nests_deeper(result.structured_content, MAX_VALUE_DEPTH):
            raise ToolError(f"the tool's structured result nests deeper than {MAX_VALUE_DEPTH} levels")
        return result.structured_content
    if any(not isinstance(block, types.TextContent) for block in result.content):
        # Images, audio, resources: keep them as data rather than dropping them.
        return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
    text = result_text(result)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser handles
        return text
    # Text that parses into something nested past what a reply can carry stays text.
    return text if nests_deeper(value, MAX_VALUE_DEPTH) else value


def result_text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


class OutputChecks:
    """What the SDK checks of a result against its tool's output schema, with our validator
    (`untrusted_schemas.validator_for`: a server's patterns cannot block the event loop).
    One compiled validator per tool, rebuilt when the tool's schema changes."""

    def __init__(self) -> None:
        self._validators: dict[str, tuple[dict[str, Any], Any]] = {}  # tool -> (schema, its validator)

    def problem(self, tool: str, schema: dict[str, Any] | None, result: types.CallToolResult) -> str | None:
        """Why `result` does not fit `schema` (None: it fits, or there is nothing to check)."""
        if schema is None or result.is_error:
            return None
        if result.structured_content is None:
            return "the tool has an output schema but returned no structured content"
        cached = self._validators.get(tool)
        if cached is None or cached[0] is not schema:
            cached = self._validators[tool] = (schema, validator_for(schema))
        try:
            error = best_match(cached[1].iter_errors(result.structured_content))
        except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on a result nested past reason
            return f"its result cannot be checked against its output schema ({type(exc).__name__})"
        if error is None:
            return None
        where = "".join(f"[{p!r}]" for p in error.absolute_path)
        return f"the result does not fit its output schema: {where + ': ' if where else ''}{error.message}"
