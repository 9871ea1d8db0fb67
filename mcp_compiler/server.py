"""The MCP server: one tool, `compile_and_run`, over stdio or Streamable HTTP.

This module is the thin edge between MCP and the compiler. The compiler knows nothing of MCP;
everything here is adapting:

    serve(config, transport="stdio"|"http")      open the UpstreamPool, serve until cancelled
      └─ CompilerServer(toolbox, config)         the MCP side: tools/list, tools/call, resources
           └─ make_run(compiler, request, ...)   the one place a call becomes a Run (a planner
                                                 for `query` plugs in here)

- Built on the SDK's lowlevel `Server` rather than `MCPServer`, because the tool's description
  is regenerated from the live catalog on every `tools/list`, the input/output schemas are
  written by hand (exactly one of two strings in, the Run out), and the result needs `isError`
  and `structuredContent` under our control.
- Progress: the compiler reports events through a sync callback; the callback pushes them into
  a bounded memory stream, and a task in the call's own task group forwards them as
  `notifications/progress`. Progress values count events (each task's start and end, each
  planner phase), so they strictly increase; the total is twice the number of tasks known.
- Cancellation: the run is awaited inside the handler, so cancelling the call (the client's
  `notifications/cancelled`, a dropped connection) cancels the run's scope and with it every
  downstream call in flight.
- Catalog changes: `CompilerServer.catalog_changed()` (hooked to `UpstreamPool.on_catalog_change`)
  tells hosts the tool list changed, in both protocol eras: a `notifications/tools/list_changed`
  on every handshake-era connection, and a `ToolsListChanged` event for 2026-07-28
  `subscriptions/listen` streams.
- HTTP: DNS-rebinding protection is always on; a bearer token (`MCP_COMPILER_TOKEN`) is required
  when bound to anything but loopback, and enforced whenever it is set. The SDK's request body
  cap (4 MiB) stays, and plans have their own limits (`ServerLimits`).
"""

from __future__ import annotations

import contextvars
import hmac
import ipaddress
import json
import logging
import os
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .catalog import tool_line
from .compiler import Compiler, Event, EventHandler, limits_for
from .llm.sampling import ERA_HINT as SAMPLING_ERA_HINT
from .llm.sampling import SamplingLLM
from .config import CompilerConfig, Config, ConfigError
from .parser import parse_plan
from .plan import Plan, PlanError
from .policy import NOBODY_TO_ASK, PolicyToolbox
from .run import Run
from .tools import ToolError, Toolbox, ToolSpec

__all__ = [
    "serve",
    "CompilerServer",
    "ServerLimits",
    "RunRequest",
    "RequestError",
    "make_run",
    "tool_description",
    "catalog_text",
    "http_app",
    "require_token",
    "run_result",
    "select_planner_llm",
    "tool_line",
    "BearerTokenMiddleware",
    "TOOL_NAME",
    "TOKEN_ENV",
    "ALLOWED_HOSTS_ENV",
    "CATALOG_URI",
    "CATALOG_JSON_URI",
    "INPUT_SCHEMA",
    "OUTPUT_SCHEMA",
    "RUN_SCHEMA",
]

logger = logging.getLogger(__name__)

TOOL_NAME = "compile_and_run"
TOKEN_ENV = "MCP_COMPILER_TOKEN"
ALLOWED_HOSTS_ENV = "MCP_COMPILER_ALLOWED_HOSTS"
CATALOG_URI = "mcp-compiler://catalog"
CATALOG_JSON_URI = "mcp-compiler://catalog.json"
VERSION = "0.1.0"

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_PROGRESS_BUFFER = 4096  # events waiting to be forwarded; beyond that, progress is dropped (advisory)


@dataclass(frozen=True)
class ServerLimits:
    """What one call may ask for. Over a limit, the call is a tool error and nothing runs."""

    max_plan_bytes: int = 1_000_000
    max_tasks: int = 1_000
    max_query_chars: int = 20_000
    # The tool description lists every tool up to these; beyond, a subset and the catalog resource.
    description_max_tools: int = 40
    description_max_chars: int = 6_000

    @classmethod
    def from_config(cls, compiler: CompilerConfig) -> ServerLimits:
        return cls(max_plan_bytes=compiler.max_plan_bytes, max_tasks=compiler.max_plan_tasks,
                   description_max_tools=compiler.description_max_tools)


# ---- schemas ------------------------------------------------------------------------------------

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
        "start_s": _nullable("number", description="number, seconds since the run started, null until started"),
        "end_s": _nullable("number", description="number, seconds since the run started, null until done"),
        "thought": {"type": "string", "description": "string, the planner's reason, when it gave one"},
        "round": {"type": "integer", "description": "integer, the plan round, 1 unless replanned"},
        "deps": {"type": "array", "items": {"type": "integer"}, "description": "integer array, the tasks it used"},
        "deduplicated_from": {"type": "integer", "description": "integer, the identical task whose result it shares"},
    },
}

RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The Run: every task with its arguments, status, result and timing, and the answer.",
    "required": ["answer", "tasks", "timings", "rounds", "usage"],
    "properties": {
        "answer": _nullable("string"),
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

_LANGUAGE = """\
Run many tool calls as one plan: independent calls run in parallel, each call starts the moment \
its inputs are ready, and you get one answer plus the whole Run (every task's arguments, status, \
result and timing) as structured output. Give exactly one of `plan` or `query`.

Plan language, one task per line:
  ID. server.tool(positional, key=value)   IDs 1, 2, 3, ... in order; values are JSON
  $N is task N's value (its structured result); $N.key, $N.items[0].name, $N["k"] go inside it
  "text ${N.key} text" puts a value into a string; $$ is a literal $
  join() ends the plan; "Thought: ..." lines are notes
Positional arguments follow each tool's parameters below (required first); `-> {fields}` names \
the fields of a tool's result, for $N.field. A plan that does not \
check (unknown tool, bad argument, a reference to a later task) fails before anything runs. \
The answer is the value of every task that nothing else uses."""

_EXAMPLE_WIKI_MATH = """\
Example:
  1. wiki.fact("Nile", "length_km")
  2. wiki.fact("Amazon", "length_km")
  3. math.eval("a * 0.9 > b * 1.05", {"a": $1.value, "b": $2.value})
  join()
(1 and 2 run at once; 3 starts when both are done.)"""

_EXAMPLE_GENERIC = """\
Example (tool names are placeholders):
  1. search.find(query="Nile")
  2. search.find(query="Amazon")
  3. calc.compare(a=$1.length_km, b=$2.length_km)
  join()
(1 and 2 run at once; 3 starts when both are done.)"""


def _useful_first(catalog: Mapping[str, ToolSpec]) -> list[ToolSpec]:
    """Every server represented early (round-robin), read-only tools before the others."""
    by_server: dict[str, list[ToolSpec]] = {}
    for spec in catalog.values():
        by_server.setdefault(spec.provider or spec.name.split(".", 1)[0], []).append(spec)
    queues = [sorted(specs, key=lambda s: (not s.read_only, s.destructive)) for specs in by_server.values()]
    ordered: list[ToolSpec] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def tool_description(
    catalog: Mapping[str, ToolSpec],
    *,
    limits: ServerLimits = ServerLimits(),
    unavailable: Sequence[str] = (),
) -> str:
    """The description of `compile_and_run` for this catalog: the language, an example, the tools."""
    example = _EXAMPLE_WIKI_MATH if {"wiki.fact", "math.eval"} <= set(catalog) else _EXAMPLE_GENERIC
    parts = [_LANGUAGE, example]
    if not catalog:
        parts.append("Tools: none available yet (servers are still connecting or failed to start).")
    else:
        lines = [tool_line(spec, with_output=True) for spec in catalog.values()]
        fits = sum(len(x) + 1 for x in lines) <= limits.description_max_chars
        if len(lines) <= limits.description_max_tools and fits:
            parts.append(f"Tools ({len(lines)}):\n" + "\n".join(lines))
        else:
            chosen: list[str] = []
            size = 0
            for spec in _useful_first(catalog):
                line = tool_line(spec, max_description=100, with_output=True)
                if len(chosen) >= limits.description_max_tools or size + len(line) + 1 > limits.description_max_chars:
                    break
                chosen.append(line)
                size += len(line) + 1
            servers = sorted({spec.provider or spec.name.split(".", 1)[0] for spec in catalog.values()})
            parts.append(
                f"Tools: {len(catalog)} exist on {len(servers)} servers ({', '.join(servers)}); "
                f"{len(chosen)} are listed here. Read the resource {CATALOG_URI} for all of them "
                f"({CATALOG_JSON_URI} has full schemas).\n" + "\n".join(chosen)
            )
    if unavailable:
        parts.append("Not connected right now: " + ", ".join(unavailable) + ".")
    return "\n\n".join(parts)


def catalog_text(catalog: Mapping[str, ToolSpec]) -> str:
    """Every tool with its signature and full description, for the catalog resource."""
    blocks = []
    for spec in catalog.values():
        description = (spec.description or "").strip()
        blocks.append(tool_line(spec, max_description=10_000, with_output=True) + ("\n" + description if "\n" in description else ""))
    return "\n\n".join(blocks) if blocks else "(no tools available)"


def _catalog_json(catalog: Mapping[str, ToolSpec]) -> str:
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


# ---- a call becomes a Run --------------------------------------------------------------------------


class RequestError(Exception):
    """The call cannot run as asked; the message is the tool error the caller sees."""


@dataclass(frozen=True)
class RunRequest:
    """One `compile_and_run` call, validated: exactly one of a parsed plan and a query."""

    plan: Plan | None = None
    query: str | None = None


_NO_LLM = (
    "`query` needs an LLM to plan with, and none is configured on this server. Configure one of: "
    "ANTHROPIC_API_KEY or OPENAI_API_KEY in the server's environment, `--model anthropic:NAME` / "
    "`--model openai:NAME` on `mcp-compiler serve`, `compiler.model` in the config file, or "
    "MCP_COMPILER_MODEL. `plan` works without any of these: write the plan yourself (the tool "
    "description shows how)."
)
_NO_SAMPLING = (
    "`query` with the model \"sampling\" plans with the host's own model through MCP sampling, and "
    "this client did not offer sampling. Use a client with a sampling handler, or configure "
    "ANTHROPIC_API_KEY or OPENAI_API_KEY, or `--model anthropic:NAME` / `openai:NAME`, or send a "
    "`plan` instead (it needs no model)."
)


def _declares(session: Any, capability: str) -> bool:
    """The calling client declared `capability` ("sampling", "elicitation")."""
    capabilities = getattr(session, "client_capabilities", None)
    return capabilities is not None and getattr(capabilities, capability, None) is not None


def _can_ask(session: Any, capability: str) -> bool:
    """Declared, and this connection can carry a request to the client now (not in the 2026 era)."""
    return _declares(session, capability) and bool(getattr(session, "can_send_request", False))


_CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"run": {"type": "boolean", "title": "Run it", "description": "Allow this call"}},
    "required": ["run"],
}


# The session of the `compile_and_run` call being served; tool calls run in tasks it spawned,
# which inherit it, so the policy can ask the right host.
_CALLER: contextvars.ContextVar[Any] = contextvars.ContextVar("mcp_compiler_caller", default=None)


async def _confirm_with_caller(spec: ToolSpec, arguments: dict[str, Any]) -> bool:
    """`compiler.destructive: confirm`: ask the person at the calling host, through MCP elicitation."""
    session = _CALLER.get()
    if not _can_ask(session, "elicitation"):
        raise ToolError(f"{spec.name} is marked destructive and needs confirmation, but {NOBODY_TO_ASK}")
    message = f"mcp-compiler wants to run {spec.name}, which is marked destructive, with {json.dumps(arguments)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in the 2026-07-28 era; the way before it
        result = await session.elicit_form(message, _CONFIRM_SCHEMA)
    return result.action == "accept" and bool((result.content or {}).get("run"))


def _wants_sampling(model: str | None) -> bool:
    spec = model if model is not None else os.environ.get("MCP_COMPILER_MODEL")
    return bool(spec) and spec.strip().lower() == "sampling"


def select_planner_llm(model: str | None) -> Any:
    """The planner's LLM for `model` (else the environment's API keys); RequestError when there is none."""
    from .llm import parse_model, select_llm

    try:
        llm = select_llm(model)
    except ValueError as exc:
        raise RequestError(f"cannot plan a `query`: {exc}. `plan` works without a model.") from None
    if llm is None:
        spec = model if model is not None else os.environ.get("MCP_COMPILER_MODEL")
        if spec and spec.strip() and parse_model(spec)[0] == "sampling":
            raise RequestError(_NO_SAMPLING)
        raise RequestError(_NO_LLM)
    return llm


async def make_run(
    compiler: Compiler, request: RunRequest, *, llm: Any = None, on_event: EventHandler | None = None
) -> Run:
    """The Run for one call: a plan runs as written; a query is planned with `llm` (`run_query`).

    Raises PlanError for a plan that does not check, RequestError when a query cannot be planned.
    """
    if request.plan is not None:
        return await compiler.run_plan(request.plan, on_event=on_event)
    assert request.query is not None
    run_query = getattr(compiler, "run_query", None)
    if run_query is None:
        raise RequestError(
            "`query` needs the planner, which this build of mcp-compiler does not have. "
            "Send a `plan` instead: write it yourself in the plan language (the tool description shows how)."
        )
    if llm is None:
        raise RequestError(_NO_LLM)
    try:
        result: Run = await run_query(request.query, llm=llm, on_event=on_event)
    except LookupError as exc:  # the compiler's NoPlanner
        raise RequestError(str(exc)) from None
    return result


# ---- the MCP server ---------------------------------------------------------------------------------

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


class _Server(Server[Any]):
    """The lowlevel server, advertising `tools.listChanged` to handshake-era clients on every transport."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), experimental_capabilities, extensions
        )


class CompilerServer:
    """`compile_and_run` over a toolbox, as an MCP server (`.server`, the SDK's lowlevel `Server`).

    In process: `async with mcp.Client(CompilerServer(toolbox, config).server) as client: ...`.
    """

    def __init__(
        self,
        toolbox: Toolbox,
        config: Config | None = None,
        *,
        model: str | None = None,
        limits: ServerLimits | None = None,
        compiler: Compiler | None = None,
    ) -> None:
        config = config or Config()
        self.toolbox = toolbox
        # Destructive tools go through the policy; `confirm` asks whoever made the current call.
        guarded = PolicyToolbox(toolbox, config.compiler.destructive, _confirm_with_caller)
        self.compiler = compiler or Compiler(guarded, limits_for(config), max_replans=config.compiler.max_replans)
        self.model = model or config.compiler.model
        self._llm: Any = getattr(self.compiler, "llm", None)  # chosen at the first query, then kept
        self.limits = limits or ServerLimits.from_config(config.compiler)
        self._bus = InMemorySubscriptionBus()
        # Handshake-era connections to tell about tool changes; they go when their client does.
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.server = _Server(
            "mcp-compiler",
            version=VERSION,
            title="mcp-compiler",
            instructions=(
                f"One tool, {TOOL_NAME}: write a plan of tool calls over the servers behind this one; "
                "independent calls run in parallel and you get one answer with the full trace."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_read_resource=self._read_resource,
            on_subscriptions_listen=ListenHandler(self._bus),
        )
        self.server.middleware.append(self._track_connections)

    # ---- tools/list ---------------------------------------------------------------------------

    def description(self) -> str:
        unavailable: list[str] = []
        status = getattr(self.toolbox, "status", None)
        if callable(status):
            unavailable = [s.name for s in status() if not s.connected]
        return tool_description(self.toolbox.specs(), limits=self.limits, unavailable=unavailable)

    def tool(self) -> types.Tool:
        return types.Tool(
            name=TOOL_NAME,
            title="Compile and run a plan of tool calls",
            description=self.description(),
            input_schema=INPUT_SCHEMA,
            output_schema=OUTPUT_SCHEMA,
            # The plan may call any downstream tool, so no read-only or idempotent promise.
            annotations=types.ToolAnnotations(read_only_hint=False, open_world_hint=True),
        )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[self.tool()])

    # ---- tools/call ---------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name != TOOL_NAME:
            return _error(f"unknown tool {params.name!r}: this server has one tool, {TOOL_NAME}")
        return await self.call(params.arguments or {}, progress=ctx.session.report_progress, session=ctx.session)

    async def call(
        self, arguments: Mapping[str, Any], *, progress: ProgressFn | None = None, session: Any = None
    ) -> types.CallToolResult:
        """One `compile_and_run`: validate, run (forwarding progress), and shape the result.

        `session` is the caller's: with no model of our own, a query is planned with the host's
        model through MCP sampling when the host offers it.
        """
        try:
            request = await self.request_from(arguments)
            llm = await self._planner_llm(session) if request.query is not None else None
            token = _CALLER.set(session)
            try:
                run = await self._run_with_progress(request, llm, progress)
            finally:
                _CALLER.reset(token)
        except (RequestError, PlanError) as exc:
            return _error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not take the server down
            logger.exception("%s failed unexpectedly", TOOL_NAME)
            return _error(f"internal error in mcp-compiler ({type(exc).__name__}); the server logs have details")
        return run_result(run)

    async def request_from(self, arguments: Mapping[str, Any]) -> RunRequest:
        """Check the arguments and parse the plan (in a worker thread: a big plan must not stall others)."""
        unknown = sorted(set(arguments) - {"plan", "query"})
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise RequestError(f"unknown argument(s) {names}: give exactly one of `plan` or `query`")
        plan, query = arguments.get("plan"), arguments.get("query")
        for name, value in (("plan", plan), ("query", query)):
            if value is not None and not isinstance(value, str):
                raise RequestError(f"`{name}` must be a string, not {type(value).__name__}")
        given = [name for name, value in (("plan", plan), ("query", query)) if value is not None]
        if len(given) != 1:
            raise RequestError(
                "give exactly one of `plan` (a plan in the plan language) or `query` (a request in words); "
                + ("got both" if given else "got neither")
            )
        if query is not None:
            if not query.strip():
                raise RequestError("`query` is empty: say what you want done, or send a `plan`")
            if len(query) > self.limits.max_query_chars:
                raise RequestError(
                    f"`query` is too long ({len(query):,} characters; the limit is {self.limits.max_query_chars:,})"
                )
            return RunRequest(query=query)
        assert plan is not None
        if not plan.strip():
            raise RequestError("`plan` is empty: write one task per line, e.g. `1. server.tool(arg)`, then `join()`")
        size = len(plan.encode("utf-8", errors="replace"))
        if size > self.limits.max_plan_bytes:
            raise RequestError(
                f"`plan` is too large ({size:,} bytes; the limit is {self.limits.max_plan_bytes:,}, "
                "compiler.max_plan_bytes in the server's config). Split the work into several calls."
            )
        # A big plan parses in a worker thread so it cannot stall other calls; a small one is
        # quicker parsed here than handed to a thread.
        parsed = await anyio.to_thread.run_sync(parse_plan, plan) if size > 32_768 else parse_plan(plan)
        if len(parsed.tasks) > self.limits.max_tasks:
            raise RequestError(
                f"the plan has {len(parsed.tasks):,} tasks; the limit is {self.limits.max_tasks:,} per call "
                "(compiler.max_plan_tasks in the server's config). Split the work into several calls."
            )
        if not parsed.tasks:
            raise RequestError("the plan has no tasks: write one task per line, e.g. `1. server.tool(arg)`")
        return RunRequest(plan=parsed)

    async def _planner_llm(self, session: Any) -> Any:
        """Our configured model if there is one; else the host's, through sampling on this session."""
        if self._llm is None and not _wants_sampling(self.model):
            try:
                # Building a backend imports its SDK (seconds): off the event loop.
                self._llm = await anyio.to_thread.run_sync(select_planner_llm, self.model)
            except RequestError:
                if not _declares(session, "sampling"):
                    raise
        if self._llm is not None:
            return self._llm
        if not _declares(session, "sampling"):
            raise RequestError(_NO_SAMPLING)
        if not _can_ask(session, "sampling"):
            raise RequestError(f"cannot plan the `query` with the host's model: {SAMPLING_ERA_HINT}")
        return SamplingLLM(session)  # per call: the session is the caller's

    async def _run_with_progress(self, request: RunRequest, llm: Any, progress: ProgressFn | None) -> Run:
        if progress is None:
            return await make_run(self.compiler, request, llm=llm)
        send, receive = anyio.create_memory_object_stream[Event](_PROGRESS_BUFFER)

        def on_event(event: Event) -> None:
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                logger.debug("progress backlog full; dropped: %s", event.message)
            except anyio.ClosedResourceError:
                pass

        runs: list[Run] = []
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(_forward_progress, receive, progress)
            try:
                runs.append(await make_run(self.compiler, request, llm=llm, on_event=on_event))
            except Exception as exc:  # noqa: BLE001 - re-raised below, unwrapped from the task group's group
                failure = exc
            finally:
                send.close()  # the forwarder drains what is left, then ends
        if failure is not None:
            raise failure
        return runs[0]

    # ---- resources: the full catalog ------------------------------------------------------------

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        count = len(self.toolbox.specs())
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=CATALOG_URI, name="catalog", title="Every tool a plan can call",
                    description=f"The {count} tools behind {TOOL_NAME}: signature and description",
                    mime_type="text/plain",
                ),
                types.Resource(
                    uri=CATALOG_JSON_URI, name="catalog.json", title="Every tool, with full JSON schemas",
                    description=f"The {count} tools behind {TOOL_NAME}, as JSON", mime_type="application/json",
                ),
            ]
        )

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        catalog = self.toolbox.specs()
        if uri == CATALOG_URI:
            text, mime = catalog_text(catalog), "text/plain"
        elif uri == CATALOG_JSON_URI:
            text, mime = _catalog_json(catalog), "application/json"
        else:
            raise MCPError(code=types.INVALID_PARAMS, message=f"unknown resource {uri!r}", data={"uri": uri})
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=text, mime_type=mime)])

    # ---- catalog changes ------------------------------------------------------------------------

    async def catalog_changed(self, catalog: Any = None) -> None:
        """Tell every host the tool list changed (the description is rebuilt on the next tools/list).

        Fits `UpstreamPool.on_catalog_change`. Notifications are advisory: one that cannot be sent
        is skipped.
        """
        logger.info("catalog changed (%d tools); telling connected hosts", len(self.toolbox.specs()))
        await self._bus.publish(ToolsListChanged())
        for connection in list(self._connections):
            with anyio.move_on_after(5):
                try:
                    await connection.send_tool_list_changed()
                except Exception as exc:  # noqa: BLE001 - a gone client must not stop the others
                    logger.debug("could not send tools/list_changed: %s", exc)

    async def _track_connections(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        # 2026-07-28 connections are per request and hear of changes through subscriptions/listen.
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            # The SDK exposes the connection only on the session; it is what carries standalone
            # notifications on stdio and on the HTTP GET stream.
            connection = getattr(ctx.session, "_connection", None)
            if connection is not None and hasattr(connection, "send_tool_list_changed"):
                self._connections.add(connection)
        return await call_next(ctx)


async def _forward_progress(receive: Any, progress: ProgressFn) -> None:
    """Forward compiler events as progress: one step per event, total = 2 × the tasks known.

    Phases ("planning", "joining") count as steps too: during a long LLM call they are what keeps
    a host's request timeout from firing.
    """
    steps = 0
    async with receive:
        async for event in receive:
            steps += 1
            total = max(2 * event.total, steps)
            try:
                await progress(steps, total, event.message)
            except Exception as exc:  # noqa: BLE001 - progress is advisory
                logger.debug("progress notification failed: %s", exc)


def run_result(run: Run) -> types.CallToolResult:
    """The answer as text and the Run as structuredContent; isError only when there is no answer."""
    data = run.to_dict()
    answered = bool(run.answer and run.answer.strip()) and (not run.tasks or any(t.status == "ok" for t in run.tasks))
    if answered:
        text = run.answer or ""
    elif run.error:
        text = f"The run produced no answer: {run.error}"
    else:
        failed = [t for t in run.tasks if t.status != "ok"]
        text = "The run produced no answer; every task failed.\n" + "\n".join(
            f"task {t.id} {t.tool}: {t.status}" + (f": {t.error}" if t.error else "") for t in failed[:20]
        )
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=data, is_error=not answered
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


# ---- HTTP ----------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(host: str, environ: Mapping[str, str] = os.environ) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names always, the bind host, and `MCP_COMPILER_ALLOWED_HOSTS`.

    `MCP_COMPILER_ALLOWED_HOSTS` is a comma-separated list of host names (a port is optional) that
    clients may use to reach this server, e.g. `mcp.example.com,10.0.0.5:8765`; `*` turns the Host
    check off (behind a proxy that checks it).
    """
    extra = [h.strip() for h in environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    if "*" in extra:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = ["127.0.0.1", "localhost", "[::1]"]
    unspecified = host in ("0.0.0.0", "::", "")
    if not unspecified and not is_loopback(host):
        names.append(f"[{host}]" if ":" in host else host)
    hosts: list[str] = []
    origins: list[str] = []
    for name in names + extra:
        bare = name.rsplit(":", 1)[0] if name.count(":") == 1 or "]:" in name else name
        with_port = name != bare
        hosts += [name] if with_port else [name, f"{name}:*"]
        for scheme in ("http", "https"):
            origins += [f"{scheme}://{name}"] if with_port else [f"{scheme}://{name}", f"{scheme}://{name}:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenMiddleware:
    """ASGI: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str) -> None:
        if not token:
            raise ValueError("an empty bearer token protects nothing")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = b'{"error": "unauthorized: send Authorization: Bearer <token>"}'
            await send({
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="mcp-compiler"'),
                ],
            })
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Any) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, credential = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self._token)
        return False


def require_token(host: str, token: str | None) -> None:
    """Raise ConfigError when serving HTTP on a non-loopback `host` without a bearer token."""
    if not token and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve HTTP on {host} without a bearer token: set {TOKEN_ENV} "
            "(clients then send `Authorization: Bearer <token>`), or bind to 127.0.0.1"
        )


def http_app(app: CompilerServer, *, host: str = "127.0.0.1", token: str | None = None, stateless: bool = False) -> Any:
    """The Streamable HTTP ASGI app at `/mcp`: rebinding protection on, the token if given.

    Raises ConfigError when `host` is not loopback and there is no token.
    """
    require_token(host, token)
    starlette_app = app.server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=transport_security(host),
        host=host,
        stateless_http=stateless,
    )
    return BearerTokenMiddleware(starlette_app, token) if token else starlette_app


# ---- serve -----------------------------------------------------------------------------------------


async def serve(
    config: Config,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    model: str | None = None,
    token: str | None = None,
    stateless: bool = False,
    limits: ServerLimits | None = None,
) -> None:
    """Connect the upstream pool and serve `compile_and_run` until stdin closes or the scope is cancelled.

    HTTP serves at `http://HOST:PORT/mcp`. The token defaults to `$MCP_COMPILER_TOKEN`; bound to
    anything but loopback, serving refuses to start (ConfigError) without one.
    """
    from .upstreams import UpstreamPool

    if transport not in ("stdio", "http"):
        raise ValueError(f"unknown transport {transport!r}: use 'stdio' or 'http'")
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if transport == "http":
        require_token(host, token)  # before any server is spawned

    async with UpstreamPool(config) as pool:
        app = CompilerServer(pool, config, model=model, limits=limits)
        pool.on_catalog_change.append(app.catalog_changed)
        for status in pool.status():
            if not status.connected:
                logger.warning("server %r is not connected yet; retrying in the background", status.name)
        logger.info("%d tools from %d servers", len(pool.specs()), len(pool.status()))
        if transport == "stdio":
            await _serve_stdio(app)
        else:
            await _serve_http(http_app(app, host=host, token=token, stateless=stateless), host, port)


async def _serve_stdio(app: CompilerServer) -> None:
    from mcp.server.stdio import stdio_server

    logger.info("serving %s on stdio", TOOL_NAME)
    async with stdio_server() as (read_stream, write_stream):
        await app.server.run(read_stream, write_stream, app.server.create_initialization_options())


async def _serve_http(asgi_app: Any, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        asgi_app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    logger.info("serving %s at http://%s:%d/mcp", TOOL_NAME, shown, port)
    # Cancelling uvicorn mid-flight breaks its lifespan task (the SDK's session manager) with a
    # traceback. So uvicorn runs shielded, and our cancellation (SIGTERM via cancel_on_signals,
    # a parent scope) becomes its graceful shutdown, bounded by a deadline.
    stopped = anyio.Event()
    shield = anyio.CancelScope(shield=True)

    async def run_uvicorn() -> None:
        with shield:
            try:
                await server.serve()
            finally:
                stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_uvicorn)
        try:
            await stopped.wait()
        finally:
            server.should_exit = True
            shield.deadline = anyio.current_time() + config.timeout_graceful_shutdown + 10
    if not server.started:
        raise OSError(f"could not serve HTTP on {host}:{port} (see the log above)")
