"""The tools a server lists, vetted before a plan, a prompt or a catalog line can carry them.

A tool is dropped, with a warning naming the server, the tool and why, when its name is not a
valid MCP tool name (letters, digits, `_`, `-`, `.`; 1 to 128), a parameter name holds control
characters, or its input or output schema cannot be used (`untrusted_schemas.schema_problem`:
invalid, a `$ref` that does not resolve, `$ref`s that loop). Descriptions and titles lose control
characters (ANSI escapes, bidi overrides, NUL ...) before they can reach a prompt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from ..tools.toolbox import ToolSpec
from ..tools.untrusted_schemas import schema_problem
from .task_client import legacy_task_only

__all__ = ["Listing", "clean_text", "tool_problem", "tool_spec", "vet_tools"]

logger = logging.getLogger(__name__)

# MCP tool names (SEP-986): what a plan, a prompt and a catalog line can carry as they are.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
# Characters that would let text a server wrote draw lines or hide text in a prompt: C0 and C1
# controls (tab and newline are kept in descriptions), bidi overrides and isolates, zero-width
# characters, the BOM. ANSI escape sequences go whole.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_text(text: str | None, *, one_line: bool = False) -> str:
    """Text from a server as a prompt may show it: no controls, `\n` the only line break."""
    if not text:
        return ""
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", _ANSI.sub("", text)))
    return " ".join(text.split()) if one_line else text


def tool_problem(tool: types.Tool, output_schema: dict[str, Any] | None) -> str | None:
    """Why a listed tool cannot be offered, or None (see the module docstring)."""
    if not _TOOL_NAME.fullmatch(tool.name):
        return "not a valid MCP tool name (letters, digits, '_', '-', '.'; 1 to 128 of them)"
    for which, schema in (("input", tool.input_schema), ("output", output_schema)):
        if schema is None:
            continue
        properties = schema.get("properties")
        for name in properties if isinstance(properties, Mapping) else ():
            if _NOT_IN_A_NAME.search(name):
                return f"its {which} schema has a property name with control characters: {name!r}"
        problem = schema_problem(schema)
        if problem is not None:
            return f"its {which} schema cannot be used: {problem}"
    return None


def tool_spec(prefix: str, tool: types.Tool, output_schema: dict[str, Any] | None) -> tuple[ToolSpec, str | None]:
    """The catalog's `prefix.tool`, and why it cannot be called when it cannot (else None)."""
    hints = tool.annotations or types.ToolAnnotations()
    read_only = bool(hints.read_only_hint)
    # The policy applies to tools *marked* destructive. MCP's default (an unannotated tool may
    # be destructive) would put every unannotated third-party tool behind a confirmation.
    destructive = not read_only and hints.destructive_hint is True
    description = clean_text(tool.description) or clean_text(tool.title, one_line=True)
    task_only = legacy_task_only(tool)
    if task_only is not None:  # listed, and every call fails with why
        description = f"(unavailable: {task_only}) {description}"
    spec = ToolSpec(
        name=f"{prefix}.{tool.name}",
        description=description,
        input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
        output_schema=output_schema or None,
        provider=prefix,
        read_only=read_only,
        idempotent=bool(hints.idempotent_hint),
        destructive=destructive,
    )
    return spec, task_only


@dataclass
class Listing:
    """One server's vetted tools: `specs` by the server's own tool name, and `task_only`, the
    tools listed that only 2025-11-25 task augmentation could call, with why they cannot be."""

    specs: dict[str, ToolSpec] = field(default_factory=dict)
    task_only: dict[str, str] = field(default_factory=dict)


def vet_tools(
    server: str,
    prefix: str,
    tools: Sequence[types.Tool],
    allows: Callable[[str], bool],
    output_schema: Callable[[types.Tool], dict[str, Any] | None],
) -> Listing:
    """The tools of `server` the config `allows` and this module lets through (warning of the rest)."""
    listing = Listing()
    for tool in tools:
        if not allows(tool.name):
            continue
        schema = output_schema(tool)
        problem = tool_problem(tool, schema)
        if problem is not None:
            logger.warning("upstream %r: dropping tool %r: %s", server, tool.name, problem)
            continue
        spec, task_only = tool_spec(prefix, tool, schema)
        listing.specs[tool.name] = spec
        if task_only is not None:
            listing.task_only[tool.name] = task_only
    return listing
