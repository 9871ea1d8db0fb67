"""The MCP server: `compile_and_run` over the compiler, on the SDK's lowlevel `Server`.

Everything here is adapting MCP to the compiler, which knows nothing of MCP:

- Built on the lowlevel `Server` rather than `MCPServer`, because the tool's description is
  regenerated from the live catalog on every `tools/list`, the input/output schemas are written
  by hand (exactly one of two strings in, the Run out), and the result needs `isError` and
  `structuredContent` under our control.
- Progress: the compiler reports events through a sync callback; the callback pushes them into
  a bounded memory stream, and a task in the call's own task group forwards them as
  `notifications/progress`. Progress values count events (each task's start and end, each
  planner phase), so they strictly increase; the total is twice the number of tasks known.
- Asking the host: the destructive-tool confirmation (elicitation) and planning with the host's
  model (sampling) go to the session of the call being served, handed to the run explicitly. In
  the 2026-07-28 era there is no such request mid-call: `round_trips.py` holds the run across
  `input_required` round trips and hands the run a session that turns each request into one.
- One request path: the arguments are parsed and checked once (`request.parse_request`), in
  both eras; what follows (a run here, a run held across round trips, a run as a task) gets the
  parsed `Request`.
- State: what the server keeps between requests (kept values, held runs, tasks) goes through one
  state seam (`mcp_compiler/state`), built here and handed to each store.
- Relay: an upstream's sampling, elicitation, roots and log messages during a call go to the host
  of the `compile_and_run` that made it (`relay.serving` around the run, `host.SessionHost`).
- Cancellation: the run is awaited inside the handler, so cancelling the call (the client's
  `notifications/cancelled`, a dropped connection, SIGTERM) cancels the run's scope and with it
  every downstream call in flight. It is quiet: a cancelled call is not an error of ours, so it
  logs no ERROR and no traceback (progress events raised while the run unwinds are dropped).
- Text: everything this server returns (results, error texts, resources, the tool description,
  progress messages) and the `plan`/`query` it is given pass through `text.scrub`, so a lone
  surrogate (from a JSON escape in a plan, or an upstream's result) becomes U+FFFD instead of
  failing the reply's serialisation.
- Catalog changes: `CompilerServer.catalog_changed()` (hooked to `UpstreamPool.on_catalog_change`)
  tells hosts the tool list changed, in both protocol eras: a `notifications/tools/list_changed`
  to every handshake-era connection, and a `ToolsListChanged` event for 2026-07-28
  `subscriptions/listen` streams.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .._version import __version__
from ..auth import ToolAccess
from ..compiler import Compiler, Event, EventHandler
from ..config import Config
from ..engine.policy import Confirm, NobodyToAsk
from ..engine.run import Run
from ..engine.scheduler import current_task_id
from ..errors import CallRefused, NoPlanner, RequestError
from ..gateway import build_compiler
from ..language.plan import PlanError
from ..llm import LLM, choose_model
from ..llm.sampling import ERA_HINT as SAMPLING_ERA_HINT
from ..llm.sampling import SamplingLLM
from ..observability.propagation import headers_trace_context
from ..request import Request, RequestLimits, parse_request_async
from ..state import StateStore, StateUnavailable, default_state
from ..text import scrub
from ..tools.builtins import visible
from ..tools.toolbox import Toolbox, ToolSpec, as_toolbox
from ..upstreams.pool import UpstreamPool
from ..upstreams.relay import HostChannel, serving
from ._common import CONFIRM_SCHEMA, ProgressFn, declares, error_result
from .callers import Callers, audit
from .host import Hosts, SessionHost
from .passthrough import Passthrough
from .resources import Resources
from .results import ReplyBudget, reply_for, reply_inline
from .round_trips import STATE_TTL_S, Continue, HeldRuns, confirmation_requests, hold_run
from .store import RunStore
from .task_server import TaskSession, TasksExtension, TaskStore, install_tasks, owner_of
from .tool_definition import INPUT_SCHEMA, OUTPUT_SCHEMA, TOOL_NAME, tool_description

__all__ = ["CompilerServer", "RunRequest", "make_run", "run_result"]

logger = logging.getLogger(__name__)

_PROGRESS_BUFFER = 4096  # events waiting to be forwarded; beyond that, progress is dropped (advisory)
_LIST_WAIT_S = 5.0  # how long tools/list waits for servers still starting
_MAX_LISTENERS = 1024  # handshake-era connections remembered for tools/list_changed

# ---- a call becomes a Run --------------------------------------------------------------------------


RunRequest = Request  # the name this module exported before the request path was one (`request.py`)


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


def _can_ask(session: Any, capability: str) -> bool:
    """Declared, and this connection can carry a request to the client now (not in the 2026 era)."""
    capabilities = getattr(session, "client_capabilities", None)
    return declares(capabilities, capability) and bool(getattr(session, "can_send_request", False))


def confirm_with(session: Any, related_request_id: types.RequestId | None = None) -> Confirm:
    """`compiler.destructive: confirm` for one call: ask the person at that call's host (elicitation).

    Only an accepted form whose `run` is the boolean `true` approves; a declined or cancelled
    form, a string such as "true", or no answer at all refuses.
    """

    async def confirm(spec: ToolSpec, arguments: dict[str, Any]) -> bool:
        if not _can_ask(session, "elicitation"):
            raise NobodyToAsk(spec.name)  # the policy says which setting would let it run
        task = current_task_id()
        which = f"task {task}, {spec.name}" if task is not None else spec.name
        message = scrub(
            f"mcp-compiler wants to run {which}{', which is marked destructive,' if spec.destructive else ''} "
            f"with {json.dumps(arguments)}; mcp-compiler's config asks before running it"
        )
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=message, requested_schema=CONFIRM_SCHEMA)
        )
        try:
            result = await session.send_request(
                request, types.ElicitResult, metadata=ServerMessageMetadata(related_request_id=related_request_id)
            )
        except NoBackChannelError:
            raise NobodyToAsk(spec.name) from None
        except MCPError as exc:
            raise CallRefused(f"{spec.name} was not confirmed: the host's elicitation failed ({exc.message})") from None
        return result.action == "accept" and (result.content or {}).get("run") is True

    return confirm


async def make_run(
    compiler: Compiler, request: Request, *, llm: Any = None, on_event: EventHandler | None = None,
    confirm: Confirm | None = None,
) -> Run:
    """The Run for one call: a plan runs as written; a query is planned with `llm` (`run_query`).

    Raises PlanError for a plan that does not check, RequestError when a query cannot be planned.
    """
    if request.plan is not None:
        return await compiler.run_plan(request.plan, on_event=on_event, confirm=confirm)
    assert request.query is not None
    if llm is None:
        raise NoPlanner(_NO_LLM)
    return await compiler.run_query(request.query, llm=llm, on_event=on_event, confirm=confirm)


# ---- the MCP server ---------------------------------------------------------------------------------


class _Server(Server[Any]):
    """The lowlevel server, advertising `listChanged` to handshake-era clients on every transport."""

    passes_through = False  # the upstreams' prompts and resources changes are announced too (`Passthrough`)

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        changes = NotificationOptions(
            tools_changed=True, prompts_changed=self.passes_through, resources_changed=self.passes_through
        )
        return super().create_initialization_options(notification_options or changes, experimental_capabilities, extensions)


class CompilerServer:
    """`compile_and_run` over a toolbox, as an MCP server (`.server`, the SDK's lowlevel `Server`).

    In process: `async with mcp.Client(CompilerServer(toolbox, config).server) as client: ...`.
    """

    def __init__(
        self,
        toolbox: Toolbox | Any,
        config: Config | None = None,
        *,
        model: str | None = None,
        limits: RequestLimits | None = None,
        compiler: Compiler | None = None,
        state: StateStore | None = None,
        request_state_key: bytes | None = None,
        upstreams: UpstreamPool | None = None,
    ) -> None:
        """`upstreams`: the pool behind `toolbox`, whose prompts, completions, resource
        subscriptions, list changes and instructions pass through to hosts (`passthrough.py`)."""
        config = config or Config()
        self.toolbox = as_toolbox(toolbox)  # a plain object with specs() and call() is one too
        self.compiler = compiler or build_compiler(self.toolbox, config)
        # The confirmation policy the compiler was built with (a stand-in compiler may have none).
        policy = getattr(self.compiler, "policy", None)
        self.confirms = policy.may_confirm() if policy is not None else config.compiler.destructive == "confirm"
        self.asks: Callable[[ToolSpec], bool] = policy.asks if policy is not None else lambda spec: spec.destructive
        self.model = model or config.compiler.model
        # Who each request's caller is, and which tools it may call (server/callers.py, docs/auth.md).
        self.callers = Callers(ToolAccess(config.compiler.auth.allow if config.compiler.auth is not None else None))
        self._llm: LLM | None = self.compiler.llm  # chosen at the first query, then kept
        self.limits = limits or RequestLimits.from_config(config.compiler)
        self.budget = ReplyBudget.from_config(config.compiler)
        # Everything kept between requests goes through this one seam (`mcp_compiler/state`).
        self.state = state if state is not None else default_state()
        self.store = RunStore.from_config(config.compiler, self.state)
        self.resources = Resources(self.toolbox, self.store, max_reply_bytes=self.budget.max_reply_bytes)
        self._bus = InMemorySubscriptionBus()
        self.passthrough = Passthrough(upstreams, self._bus)
        self._listeners = _Listeners()
        self.held_runs = HeldRuns(state=self.state)  # 2026-07-28 runs waiting for their hosts' answers
        self.server = _Server(
            "mcp-compiler",
            version=__version__,
            title="mcp-compiler",
            instructions=(
                f"One tool, {TOOL_NAME}: write a plan of tool calls over the servers behind this one; "
                "independent calls run in parallel and you get one answer with the full trace."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_read_resource=self._read_resource,
            on_list_resource_templates=self._list_resource_templates,
            on_subscriptions_listen=self.passthrough.listen(ListenHandler(self._bus)),
            lifespan=self._lifespan,
        )
        self.server.middleware.append(self._remember_listener)
        self.server.middleware.append(self.callers.serve_as)
        # Before the SDK's own span opens: a host's traceparent from HTTP headers (observability/propagation.py).
        self.server.middleware.insert(0, headers_trace_context)
        if upstreams is not None:  # prompts, completions, subscriptions, roots, instructions
            self.server.passes_through = True
            self.passthrough.install(self.server)
        # Hosts set the level of the upstreams' log messages they get (handshake era). Registered
        # here rather than as `on_set_logging_level`, which warns that logging is deprecated.
        self._hosts = Hosts()
        self.server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, self._hosts.set_level)
        # Seals the requestState of input_required results and verifies it on the retry.
        # Replicas share the key (`request_state_key`, kept by the state backend: serve.py), so a
        # retry may reach any of them; one process alone seals under a key of its own.
        security = (RequestStateSecurity(keys=[request_state_key], ttl=STATE_TTL_S) if request_state_key
                    else RequestStateSecurity.ephemeral(ttl=STATE_TTL_S))
        self.server.middleware.append(RequestStateBoundary(security, default_audience="mcp-compiler"))
        # compile_and_run may run as a task (SEP-2663) for a client declaring the extension.
        self.tasks = TaskStore(state=self.state)
        install_tasks(self.server, TasksExtension(self.tasks, lambda params: params.name == TOOL_NAME))

    @asynccontextmanager
    async def _lifespan(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        # The runs held across round trips, and the tasks, belong to the server while it serves.
        async with self.held_runs.open(), self.tasks.running():
            yield {}

    # ---- tools/list ---------------------------------------------------------------------------

    def description(self) -> str:
        # The pool's causes are redacted already (`UpstreamPool.unavailable`).
        causes = self.toolbox.unavailable()
        specs = visible(self.toolbox.specs())  # what this caller may call (docs/auth.md)
        return scrub(tool_description(specs, limits=self.limits, unavailable=causes))

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
        # Servers still making their first connection get a few seconds, so a host that lists
        # tools right after `initialize` reads a whole description; one that takes longer joins
        # later with tools/list_changed, and the description names it as not connected meanwhile.
        with anyio.move_on_after(_LIST_WAIT_S):
            await self.toolbox.settle(None)
        pool = self.passthrough.pool
        if pool is None:  # builtins only: no server's hint to pass on, so none (0 ms, private)
            return types.ListToolsResult(tools=[self.tool()])
        hint = pool.tools_cache_hint()  # never more than the most restrictive server allows
        return types.ListToolsResult(tools=[self.tool()], ttl_ms=hint.ttl_ms, cache_scope=hint.scope)

    # ---- tools/call ---------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        if params.name != TOOL_NAME:
            return error_result(f"unknown tool {params.name!r}: this server has one tool, {TOOL_NAME}")
        progress, host = ctx.session.report_progress, self._hosts.channel(ctx)
        # A call running as a task asks through the task's input_required (tasks/update), not in round trips.
        in_task = isinstance(ctx.session, TaskSession)
        round_trips = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and self.held_runs.available and not in_task
        answered: dict[str, Any] | None = None
        if round_trips and params.request_state is not None:
            retried = await self.held_runs.retry(params.request_state, params.input_responses, progress)
            if not isinstance(retried, Continue):
                return retried
            answered = retried.answers  # asked on another replica before anything ran: it starts here
        try:
            request = await parse_request_async(params.arguments or {}, self.limits)
        except (RequestError, PlanError) as exc:
            return error_result(str(exc))
        if (refusal := await self.callers.refusal(request, self.toolbox)) is not None:
            return error_result(refusal)
        capabilities = getattr(ctx.session, "client_capabilities", None)
        if round_trips and await self._may_ask(request, capabilities):
            confirmations = (
                confirmation_requests(request.plan, self.toolbox.specs(), asks=self.asks)
                if request.plan is not None else {}
            )

            async def run(session: Any, relayed: SessionHost | None, progress: ProgressFn) -> types.CallToolResult:
                return await self.run_request(request, progress=progress, session=session, host=relayed)

            return await hold_run(
                self.held_runs, run, capabilities=capabilities, confirmations=confirmations, host=host,
                progress=progress, owner=owner_of(ctx), answered=answered,
            )
        return await self.run_request(
            request, progress=progress, session=ctx.session, request_id=ctx.request_id,
            watch=getattr(ctx.session, "on_run_event", None), host=host,  # a TaskSession's
        )

    async def call(
        self, arguments: Mapping[str, Any], *, progress: ProgressFn | None = None, session: Any = None,
        request_id: types.RequestId | None = None, watch: EventHandler | None = None,
        host: HostChannel | None = None,
    ) -> types.CallToolResult:
        """One `compile_and_run` from its arguments: parse the request, then `run_request`."""
        try:
            request = await parse_request_async(arguments, self.limits)
        except (RequestError, PlanError) as exc:
            return error_result(str(exc))
        return await self.run_request(
            request, progress=progress, session=session, request_id=request_id, watch=watch, host=host
        )

    async def run_request(
        self, request: Request, *, progress: ProgressFn | None = None, session: Any = None,
        request_id: types.RequestId | None = None, watch: EventHandler | None = None,
        host: HostChannel | None = None,
    ) -> types.CallToolResult:
        """One parsed request: run it (forwarding progress), and shape the result.

        `session` is the caller's: the destructive-tool confirmation asks it, and with no model of
        our own a query is planned with the host's model through MCP sampling when it offers it.
        `host` (default: over `session`) is whom the upstreams' own requests go to (`relay.py`).
        """
        if host is None and session is not None:
            host = SessionHost(session, request_id)
        started = time.monotonic()
        try:
            llm = await self._planner_llm(session, request_id) if request.query is not None else None
            with serving(host):
                run = await self._run_with_progress(request, llm, progress, confirm_with(session, request_id), watch)
        except (RequestError, PlanError) as exc:
            audit(request, None, "error", time.monotonic() - started)
            return error_result(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not take the server down
            # A call being cancelled (the host's notifications/cancelled, a dropped connection,
            # SIGTERM) may unwind through code that raises on its way out: that is the
            # cancellation, not a bug, so it propagates as one, without a log record.
            await anyio.lowlevel.checkpoint_if_cancelled()
            logger.exception("%s failed unexpectedly", TOOL_NAME)
            audit(request, None, "error", time.monotonic() - started)
            return error_result(f"internal error in mcp-compiler ({type(exc).__name__}); the server logs have details")
        audit(request, run, "ok" if all(t.status == "ok" for t in run.tasks) else "failed", time.monotonic() - started)
        try:
            return await reply_for(run, store=self.store, budget=self.budget, servers=self.resources.prefixes())
        except StateUnavailable as exc:  # a value over the reply budget needs the state backend for its link
            return error_result(f"{exc}: the run finished, but values too big for the reply could not be kept "
                                "for their links; call again once the state backend is back")

    def relays_to_hosts(self) -> bool:
        """The servers behind may send requests for the host mid-call (`relay.py`)."""
        return self.toolbox.relay_to_hosts

    async def _may_ask(self, request: Request, capabilities: Any) -> bool:
        """Whether this call may need the host: a destructive task to confirm, the host's model, or
        the servers behind, which may ask the host for sampling, elicitation or roots mid-call."""
        relayed = self.relays_to_hosts() and any(declares(capabilities, c) for c in ("sampling", "elicitation", "roots"))
        confirms = self.confirms and declares(capabilities, "elicitation")
        if request.plan is None:
            if relayed or confirms:
                return True
            return declares(capabilities, "sampling") and await self.plans_with_host_model()
        # Settled first, so that the plan's destructive tasks are known and asked about before anything runs.
        await self.toolbox.settle([task.tool for task in request.plan.tasks])
        if relayed:
            return True
        specs = self.toolbox.specs()
        asks = self.asks
        return confirms and any(asks(spec) for task in request.plan.tasks if (spec := specs.get(task.tool)))

    async def _own_llm(self) -> tuple[LLM | None, bool]:
        """Our configured model (chosen at the first query, then kept), and whether the config
        asks for the host's ("sampling"). Raises ValueError for a model that cannot be built."""
        if self._llm is not None:
            return self._llm, False
        # Building a backend imports its SDK (seconds): off the event loop.
        chosen = await anyio.to_thread.run_sync(choose_model, self.model)
        self._llm = None if chosen == "sampling" else chosen
        return self._llm, chosen == "sampling"

    async def plans_with_host_model(self) -> bool:
        """A query is planned with the host's model (sampling): this server has no model of its own."""
        try:
            llm, _ = await self._own_llm()
        except ValueError:
            return False  # the call itself reports the configuration error
        return llm is None

    async def _planner_llm(self, session: Any, request_id: types.RequestId | None) -> LLM:
        """Our configured model if there is one; else the host's, through sampling on this session."""
        try:
            llm, wants_sampling = await self._own_llm()
        except ValueError as exc:
            raise RequestError(f"cannot plan a `query`: {exc}. `plan` works without a model.") from None
        if llm is not None:
            return llm
        if not declares(getattr(session, "client_capabilities", None), "sampling"):
            raise NoPlanner(_NO_SAMPLING if wants_sampling else _NO_LLM)
        if not _can_ask(session, "sampling"):
            raise RequestError(f"cannot plan the `query` with the host's model: {SAMPLING_ERA_HINT}")
        return SamplingLLM(session, related_request_id=request_id)  # per call: the session is the caller's

    async def _run_with_progress(
        self, request: Request, llm: LLM | None, progress: ProgressFn | None, confirm: Confirm,
        watch: EventHandler | None = None,
    ) -> Run:
        if progress is None and watch is None:
            return await make_run(self.compiler, request, llm=llm, confirm=confirm)
        send, receive = anyio.create_memory_object_stream[Event](_PROGRESS_BUFFER)

        def on_event(event: Event) -> None:
            if watch is not None:
                watch(event)
            if progress is None:
                return
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                logger.debug("progress backlog full; dropped: %s", event.message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the call is over or being cancelled: the forwarder is gone, progress is advisory

        runs: list[Run] = []
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            if progress is not None:
                tg.start_soon(_forward_progress, receive, progress)
            try:
                runs.append(await make_run(self.compiler, request, llm=llm, on_event=on_event, confirm=confirm))
            except Exception as exc:  # noqa: BLE001 - re-raised below, unwrapped from the task group's group
                failure = exc
            finally:
                send.close()  # the forwarder drains what is left, then ends
                if progress is None:
                    receive.close()
        if failure is not None:
            raise failure
        return runs[0]

    # ---- resources: the catalog, kept values, the upstreams' (server/resources.py) ----------------

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await self.resources.list_resources(params.cursor if params is not None else None)

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await self.resources.list_templates(params.cursor if params is not None else None)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await self.resources.read(str(params.uri))

    # ---- catalog changes ------------------------------------------------------------------------

    async def catalog_changed(self, catalog: Any = None) -> None:
        """Tell every host the tool list changed (the description is rebuilt on the next tools/list).

        Fits `UpstreamPool.on_catalog_change`. Notifications are advisory: one that cannot be sent
        is skipped.
        """
        logger.info("catalog changed (%d tools); telling connected hosts", len(self.toolbox.specs()))
        await self._bus.publish(ToolsListChanged())
        await self._listeners.tell_tools_changed()

    async def _remember_listener(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        # 2026-07-28 connections are per request and hear of changes through subscriptions/listen.
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._listeners.remember(ctx)
        return await call_next(ctx)


class _Listeners:
    """Handshake-era connections that hear `notifications/tools/list_changed`.

    The SDK hands a handler a per-request `ServerSession`, whose notifications without a related
    request go out on the connection's standalone channel (stdio, or the HTTP GET stream). So the
    latest session of each connection stands for it: one per HTTP session id (`Mcp-Session-Id`),
    one for stdio. Connections are forgotten when a notification to them fails, and beyond the
    `_MAX_LISTENERS` most recent, so abandoned HTTP sessions cannot pile up here.
    """

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, Any] = OrderedDict()

    def remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        request = ctx.request
        headers = getattr(request, "headers", None)
        key = "stdio" if request is None else (headers.get("mcp-session-id") if headers is not None else None)
        if key is None:
            return  # stateless HTTP: no standalone stream to notify on
        self._sessions[key] = ctx.session
        self._sessions.move_to_end(key)
        while len(self._sessions) > _MAX_LISTENERS:
            self._sessions.popitem(last=False)

    async def tell_tools_changed(self) -> None:
        """Notifications are advisory: one that cannot be sent drops that connection, not the rest."""
        for key, session in list(self._sessions.items()):
            try:
                with anyio.fail_after(5):
                    await session.send_tool_list_changed()
            except Exception as exc:  # noqa: BLE001 - a gone client must not stop the others
                logger.debug("could not send tools/list_changed to %s: %s", key, exc)
                self._sessions.pop(key, None)


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
                await progress(steps, total, scrub(event.message))
            except Exception as exc:  # noqa: BLE001 - progress is advisory
                logger.debug("progress notification failed: %s", exc)


def run_result(run: Run) -> types.CallToolResult:
    """The reply for a Run with the default budget and nowhere to keep values (`results.reply_inline`)."""
    return reply_inline(run)

