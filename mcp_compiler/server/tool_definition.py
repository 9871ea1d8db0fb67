"""What `compile_and_run` looks like to a host: its name, input and output schemas, its description.

Pure functions of the live catalog, with no MCP session in sight, so the description a host
model reads can be tested (and read) on its own.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..language.prompt import CHECK_FAILS_WHOLE, RULES, example_for
from ..request import RequestLimits  # described to hosts here; defined and checked in request.py
from ..tools.builtins import BUILTIN_SERVER, SEARCH_TOOL, is_builtin
from ..tools.catalog import tool_line
from ..tools.toolbox import ToolSpec

__all__ = [
    "TOOL_NAME", "CATALOG_URI", "CATALOG_JSON_URI", "INPUT_SCHEMA", "RUN_SCHEMA", "OUTPUT_SCHEMA",
    "RequestLimits", "tool_description", "catalog_text", "catalog_json",
]

TOOL_NAME = "compile_and_run"
CATALOG_URI = "mcp-compiler://catalog"
CATALOG_JSON_URI = "mcp-compiler://catalog.json"


INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "plan": {
            "type": "string",
            "description": "A plan in the plan language (see the tool description). Needs no LLM on the server.",
        },
        "query": {
            "type": "string",
            "description": (
                "A request in natural language, planned by the server's LLM, or by your own model through "
                "MCP sampling when the server has none and your client offers sampling."
            ),
        },
    },
    "additionalProperties": False,
}

def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    # anyOf rather than `"type": [kind, "null"]`: hosts that map schemas onto a single-type
    # dialect (e.g. Gemini's OpenAPI subset) handle it better (the Inspector's --strict says so).
    return {"anyOf": [{"type": kind}, {"type": "null"}], **extra}


_STORED_TEXT = (
    "uri (read it with resources/read; null when it could not be kept), bytes, mime_type, parts (a value "
    "larger than one reply is read as <uri>/parts/1 ... /parts/N), preview (its first characters)"
)
_STORED: dict[str, Any] = {
    "type": "object",
    "required": ["uri", "bytes", "mime_type", "parts", "preview"],
    "properties": {
        "uri": _nullable("string"), "bytes": {"type": "integer"}, "mime_type": {"type": "string"},
        "parts": {"type": "integer"}, "preview": {"type": "string"},
    },
}

_TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "tool", "status"],
    "properties": {
        "id": {"type": "integer"},
        "tool": {"type": "string", "description": "server.tool"},
        "args": _nullable("object", description="object, the arguments as resolved, null until started"),
        "status": {"enum": ["pending", "running", "ok", "error", "skipped", "cancelled"]},
        "result": {"description": "the tool's value: its structured content, else its text parsed as JSON"},
        "error": _nullable("string", description="string, why the task did not succeed, else null"),
        "exception": {
            "type": "string",
            "description": (
                "string, present only when what failed the task was an exception that is not a tool error (a bug "
                "in a function tool or in mcp-compiler): its type's name"
            ),
        },
        "start_s": _nullable("number", description="number, seconds since the run started, null until started"),
        "end_s": _nullable("number", description="number, seconds since the run started, null until done"),
        "thought": {"type": "string", "description": "string, the planner's reason, when it gave one"},
        "round": {"type": "integer", "description": "integer, the plan round, 1 unless replanned"},
        "deps": {
            "type": "array", "items": {"type": "integer"}, "description": "integer array, the tasks whose values it used",
        },
        "after": {
            "type": "array", "items": {"type": "integer"},
            "description": "integer array, the tasks the plan said it runs after (`after $N`); it ran only if they succeeded",
        },
        "ordered_after": {
            "type": "array", "items": {"type": "integer"},
            "description": (
                "integer array, earlier calls to the same server it waited for because it or they have side "
                "effects (plan order); it ran whatever their outcome"
            ),
        },
        "deduplicated_from": {"type": "integer", "description": "integer, the identical task whose result it shares"},
        "calls": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "args", "status", "error", "start_s", "end_s"],
                "properties": {
                    "index": {"type": "integer"},
                    "args": _nullable("object"),
                    "status": {"enum": ["pending", "running", "ok", "error", "skipped", "cancelled"]},
                    "error": _nullable("string"),
                    "exception": {"type": "string"},
                    "start_s": _nullable("number"),
                    "end_s": _nullable("number"),
                    "deduplicated_from": {"type": "integer"},
                },
            },
            "description": (
                "array, a spread task's calls ($N.path[*]), one per element in order: index, args, status, "
                "error, start_s, end_s (each value is in the task's result list at its index)"
            ),
        },
        "args_stored": {
            **_STORED, "description": "object, in place of `args` when they were too large to inline: " + _STORED_TEXT,
        },
        "result_stored": {
            **_STORED, "description": "object, in place of `result` when it was too large to inline: " + _STORED_TEXT,
        },
        "calls_stored": {
            **_STORED, "description": "object, in place of `calls` when they were too large to inline: " + _STORED_TEXT,
        },
    },
}

RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "The Run: every task with its arguments, status, result and timing. The answer is the text content "
        "(the Run of `mcp-compiler run --json` also carries it as `answer`)."
    ),
    "required": ["tasks", "timings", "rounds", "usage"],
    "properties": {
        "answer": _nullable("string", description="the answer (only in the Run of the CLI and the Python API)"),
        "tasks": {"type": "array", "items": _TASK_SCHEMA},
        "timings": {"type": "object", "additionalProperties": {"type": "number"}},
        "rounds": {"type": "array", "items": {"type": "object"}},
        "usage": {
            "type": "object",
            "required": ["calls", "input_tokens", "output_tokens"],
            "properties": {
                "calls": {"type": "array", "items": {"type": "object"}},
                "input_tokens": {"type": "integer"},
                "output_tokens": {"type": "integer"},
            },
        },
        "error": {"type": "string", "description": "why the run produced no answer"},
        "run_id": {"type": "string", "description": "the run's id, as logs, metrics and traces name it"},
        "trace_id": {"type": "string", "description": "the OpenTelemetry trace the run ran in, when traces are on"},
    },
}


def _lightly_typed(run_schema: dict[str, Any]) -> dict[str, Any]:
    """The Run schema with each task typed only on the fields every task has; the rest described.

    Python clients check every result against the output schema with `jsonschema`: with every task
    field typed that is about 70 µs per task (a 1,000-task run: 70 ms, and 40% of compile_and_run's
    cost over direct calls at N = 32); typed on `id`, `tool` and `status` it is about 20 µs.
    """
    task = run_schema["properties"]["tasks"]["items"]
    typed = {k: task["properties"][k] for k in task["required"]}
    described = "; ".join(
        f"{k} ({p['description']})" for k, p in task["properties"].items() if k not in typed
    )
    items = {**task, "properties": typed, "description": f"A task. Its other fields: {described}."}
    tasks = {**run_schema["properties"]["tasks"], "items": items}
    return {**run_schema, "properties": {**run_schema["properties"], "tasks": tasks}}


# What compile_and_run declares. RUN_SCHEMA is the precise shape (the tests hold runs to it).
OUTPUT_SCHEMA: dict[str, Any] = _lightly_typed(RUN_SCHEMA)


# ---- the tool description -----------------------------------------------------------------------

_INTRO = """\
Run many tool calls as one plan: independent calls run in parallel, each call starts the moment \
its inputs are ready, and you get one answer plus the whole Run (every task's arguments, status, \
result and timing) as structured output. Give exactly one of `plan` or `query`. \
The answer is the value of every task that nothing else uses, or, when the plan ends in \
`join(VALUE, ...)`, exactly those values."""


def _language(tool_names: Iterable[str]) -> list[str]:
    example = example_for(tool_names)
    return [
        _INTRO,
        f"Plan language:\n{RULES}\n{CHECK_FAILS_WHOLE}",
        f"Example:\n{textwrap.indent(example.plan.strip(), '  ')}\n({example.note})",
    ]


def _server_of(spec: ToolSpec) -> str:
    return spec.provider or spec.name.split(".", 1)[0]


def _alternating(specs: list[ToolSpec]) -> list[ToolSpec]:
    """A server's tools in its own order, reads and writes taking turns, so a cut drops neither
    kind first (a host model must not have to search before it can plan a write)."""
    reads = [s for s in specs if s.read_only]
    writes = [s for s in specs if not s.read_only]
    turns = [reads, writes] if specs and specs[0].read_only else [writes, reads]
    out: list[ToolSpec] = []
    while any(turns):
        for queue in turns:
            if queue:
                out.append(queue.pop(0))
    return out


def _useful_first(catalog: Mapping[str, ToolSpec]) -> list[ToolSpec]:
    """Every server represented early (round-robin over the servers), and within each server its
    reads and writes taking turns."""
    by_server: dict[str, list[ToolSpec]] = {}
    for spec in catalog.values():
        by_server.setdefault(_server_of(spec), []).append(spec)
    queues = [_alternating(specs) for specs in by_server.values()]
    ordered: list[ToolSpec] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def tool_description(
    catalog: Mapping[str, ToolSpec],
    *,
    limits: RequestLimits = RequestLimits(),
    unavailable: Mapping[str, str] | Sequence[str] = (),
) -> str:
    """The description of `compile_and_run` for this catalog: the language, an example, the tools.

    Past `limits`, a subset of the tools is listed, and the description says how a plan finds the
    others (`compiler.search_tools`, when the catalog has it) and where the full catalog is.
    """
    parts = _language(catalog)
    builtins = {name: spec for name, spec in catalog.items() if is_builtin(spec)}
    servers_tools = {name: spec for name, spec in catalog.items() if name not in builtins}
    if not servers_tools:
        parts.append("Tools: none available yet (servers are still connecting or failed to start).")
    else:
        parts.append(_tools_part(servers_tools, limits, search=SEARCH_TOOL in builtins))
    if builtins:
        parts.append(f"mcp-compiler's own tools (server `{BUILTIN_SERVER}`, read-only):\n"
                     + "\n".join(tool_line(spec, with_output=True) for spec in builtins.values()))
    if unavailable:
        causes = unavailable if isinstance(unavailable, Mapping) else dict.fromkeys(unavailable, "")
        lines = [f"- {name}: {_one_line(cause)}" if cause else f"- {name}" for name, cause in causes.items()]
        parts.append(
            "Not connected right now (retried in the background; a task calling one of their tools "
            "fails with the reason, the rest of the plan runs):\n" + "\n".join(lines)
        )
    return "\n\n".join(parts)


def _tools_part(catalog: Mapping[str, ToolSpec], limits: RequestLimits, *, search: bool) -> str:
    """Every tool, or those that fit the limits and how to reach the rest."""
    lines = [tool_line(spec, with_output=True) for spec in catalog.values()]
    fits = sum(len(x) + 1 for x in lines) <= limits.description_max_chars
    if len(lines) <= limits.description_max_tools and fits:
        return f"Tools ({len(lines)}):\n" + "\n".join(lines)
    chosen: dict[str, str] = {}  # name -> line
    size = 0
    for spec in _useful_first(catalog):
        line = tool_line(spec, max_description=100, with_output=True)
        if len(chosen) >= limits.description_max_tools or size + len(line) + 1 > limits.description_max_chars:
            break
        chosen[spec.name] = line
        size += len(line) + 1
    servers = sorted({_server_of(spec) for spec in catalog.values()})
    how = (
        f"To find the others, call {SEARCH_TOOL} in a plan of its own, e.g. `1. {SEARCH_TOOL}(\"create "
        f"calendar event\")` then `join()`: the answer lists the best matches, each with its signature and "
        f"input schema, and your next plan can call them. " if search else ""
    )
    # Listed server by server, each in its own order; then what each server has beyond them.
    order = {name: i for i, name in enumerate(catalog)}
    listed = sorted(chosen, key=lambda name: (servers.index(_server_of(catalog[name])), order[name]))
    more: dict[str, int] = {}
    for spec in catalog.values():
        if spec.name not in chosen:
            more[_server_of(spec)] = more.get(_server_of(spec), 0) + 1
    cut = "; ".join(
        f"{server}: {n} more" + (f", search `{server}`" if search else "") for server, n in sorted(more.items())
    )
    return (
        f"Tools: {len(catalog)} exist on {len(servers)} servers ({', '.join(servers)}); "
        f"{len(chosen)} are listed here. {how}The resource {CATALOG_URI} lists all of them "
        f"({CATALOG_JSON_URI} has full schemas).\n" + "\n".join(chosen[name] for name in listed)
        + f"\nNot listed above: {cut}."
    )


def _one_line(text: str, limit: int = 200) -> str:
    """A cause as one line (a stderr tail has several), cut to `limit` characters."""
    flat = " / ".join(part.strip() for part in text.splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def catalog_text(catalog: Mapping[str, ToolSpec], unavailable: Mapping[str, str] = {}) -> str:  # noqa: B006 (read only)
    """Every tool with its signature and full description, for the catalog resource; then the
    servers not connected, as the description names them."""
    blocks = []
    for spec in catalog.values():
        description = (spec.description or "").strip()
        blocks.append(tool_line(spec, max_description=10_000, with_output=True) + ("\n" + description if "\n" in description else ""))
    if unavailable:
        blocks.append("Not connected right now:\n" + "\n".join(f"- {name}: {_one_line(cause)}" for name, cause in unavailable.items()))
    return "\n\n".join(blocks) if blocks else "(no tools available)"


def catalog_json(catalog: Mapping[str, ToolSpec]) -> str:
    return json.dumps(
        [
            {
                "name": spec.name, "description": spec.description, "input_schema": spec.input_schema,
                "output_schema": spec.output_schema, "read_only": spec.read_only,
                "idempotent": spec.idempotent, "destructive": spec.destructive,
            }
            for spec in catalog.values()
        ],
        indent=1,
    )
