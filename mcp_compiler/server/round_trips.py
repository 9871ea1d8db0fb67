"""Asking the host in the 2026-07-28 era: a run that waits across `input_required` round trips.

The 2026-07-28 revision has no server-to-client request during a call (SEP-2322). A tool that
needs the host answers `resultType: "input_required"` with `inputRequests` (elicitation,
sampling), and the host retries the same `tools/call` with `inputResponses` and the
`requestState` it was given. The compiler, though, runs a run in one await: tasks in flight,
the scheduler's state, results so far. So the run stays here, in memory, between round trips:

- The first call starts the run in a background task owned by `Rounds` (a task group entered by
  the MCP server's lifespan) and answers with the run's first questions, or its result.
- The run asks through `Asker`, which stands in for the handshake era's session: the same
  confirmation (`confirm_with`) and host-model planner (`SamplingLLM`) code asks it, and its
  `send_request` posts the question and waits. Tasks that need no answer go on meanwhile.
- A retry is matched to its run by `requestState`: `<run id>.<round>`, the id 24 random bytes,
  sealed by the SDK's `RequestStateBoundary` (AES-GCM under a key of this process, bound to the
  tool's name and arguments, with a TTL), so a client can neither forge nor replay one. The
  retry hands the answers to the waiting questions and waits for the next questions or the end.
  A question the retry does not answer is asked again in the next round (SEP-2322).
- Nothing is repeated: the run never restarts, so a tool call made before a question is not
  made again by the retry, and each LLM call is one sampling request, asked once.
- Bounds: at most `max_pending` runs held at once; a run whose questions get no retry within
  `ttl_s` is cancelled (its calls in flight with it), and a finished run's result is kept for
  the retry at most `ttl_s`. A host that cancels the call it is waiting on cancels the run.

What that means for replicas: a run that asks lives in the replica that started it, so behind a
load balancer the retries of such a call must reach that replica. Another replica cannot unseal
the state (its key differs) and answers with an error; nothing runs twice. Calls that ask nothing
(a plan with no destructive task to confirm, a query planned by a configured model) do not use
any of this and stay stateless.

The destructive-tool confirmation of a plan asks before anything runs: one elicitation per
destructive task, its arguments as far as they are known (references to earlier results are
shown as `$N...`). Tasks that become known only while planning (a query) ask when they are
about to run, in a later round, in the same form.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from pydantic import ValidationError

from ..engine.scheduler import current_task_id
from ..errors import RequestError
from ..language.plan import Plan, format_value, refs_in
from ..text import scrub
from ..tools.toolbox import settle
from .host import SessionHost

__all__ = ["Asker", "PendingRun", "Rounds", "STATE_TTL_S"]

logger = logging.getLogger(__name__)

STATE_TTL_S = 600.0  # how long a run waits for its retry, and how long the sealed state is valid
_SETTLE_S = 0.01  # after a first question, how long other questions of the moment may join its round
_CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"run": {"type": "boolean", "title": "Run it", "description": "Allow this call"}},
    "required": ["run"],
}

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
Reply = types.CallToolResult | types.InputRequiredResult


class NoAnswer(Exception):
    """The host did not retry within the TTL: the question has no answer, and the run is cancelled."""


class _Question:
    def __init__(self, request: Any) -> None:
        self.request = request
        self.answer: Any = None
        self.answered = anyio.Event()


class PendingRun:
    """One call's run between round trips: its open questions, and its result once it has one."""

    def __init__(self, ttl_s: float) -> None:
        self.id = secrets.token_urlsafe(24)
        self.round = 0
        self.ttl_s = ttl_s
        self.scope = anyio.CancelScope()
        self.outcome: types.CallToolResult | None = None
        self.collected = anyio.Event()
        self._open: dict[str, _Question] = {}
        self._answers: dict[str, Any] = {}  # by key, so a question asked again gets the same answer
        self._wake = anyio.Event()
        self._sink: ProgressFn | None = None
        self._asked = 0
        self.serving = False  # a request is waiting on this run now

    # ---- the run's side ---------------------------------------------------------------------------

    async def ask(self, key: str, request: Any) -> Any:
        """Post a question and wait for its answer (the raw input response)."""
        if key in self._answers:
            return self._answers[key]
        question = self._open.get(key) or self._open.setdefault(key, _Question(request))
        self._wake.set()
        with anyio.move_on_after(self.ttl_s) as waited:
            await question.answered.wait()
        if waited.cancelled_caught:
            self._open.pop(key, None)
            logger.info("no retry within %g s for a call waiting for the host; cancelling its run", self.ttl_s)
            self.scope.cancel()
            raise NoAnswer(f"the host did not answer within {self.ttl_s:g} s")
        return question.answer

    async def ask_all(self, requests: Mapping[str, Any]) -> dict[str, Any]:
        """Post several questions at once (one round) and wait for every answer."""
        for key, request in requests.items():  # all posted before any is waited for: one round
            if key not in self._answers:
                self._open.setdefault(key, _Question(request))
        return {key: await self.ask(key, request) for key, request in requests.items()}

    def next_key(self, kind: str) -> str:
        self._asked += 1
        return f"{kind}-{self._asked}"

    def finish(self, outcome: types.CallToolResult | None) -> None:
        self.outcome = outcome
        self._open.clear()  # a run that ended asks nothing more
        self._wake.set()

    async def progress(self, value: float, total: float | None, message: str | None) -> None:
        """Progress goes to the request being served now; between round trips it is dropped."""
        if self._sink is not None:
            await self._sink(value, total, message)

    # ---- the host's side ----------------------------------------------------------------------------

    def state(self) -> str:
        return f"{self.id}.{self.round}"

    def deliver(self, responses: Mapping[str, Any] | None) -> None:
        """Answer the open questions the retry answers; the rest stay open and are asked again."""
        for key, answer in (responses or {}).items():
            question = self._open.pop(key, None)
            if question is None:
                continue  # not ours (or already answered): ignored
            question.answer = answer
            self._answers[key] = answer
            question.answered.set()

    async def reply(self, progress: ProgressFn | None) -> Reply:
        """Wait for the run's next questions or its end, forwarding its progress meanwhile."""
        self._sink, self.serving = progress, True
        try:
            while True:
                wake = self._wake = anyio.Event()
                if self.outcome is not None:
                    self.collected.set()
                    return self.outcome
                if self._open:
                    await anyio.sleep(_SETTLE_S)  # questions asked side by side go in one round
                    if not self._open:
                        continue  # the run ended meanwhile
                    self.round += 1
                    requests = {key: q.request for key, q in self._open.items()}
                    return types.InputRequiredResult(input_requests=requests, request_state=self.state())
                if self.collected.is_set():  # ended without a result: cancelled
                    return _error("the run was cancelled before it finished")
                await wake.wait()
        except anyio.get_cancelled_exc_class():
            # The host cancelled the call it was waiting on (or went away): the run goes too.
            self.scope.cancel()
            raise
        finally:
            self._sink, self.serving = None, False


class Rounds:
    """The runs waiting for their hosts, each in a task of a task group the server's lifespan owns."""

    def __init__(self, *, ttl_s: float = STATE_TTL_S, max_pending: int = 64) -> None:
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self._runs: dict[str, PendingRun] = {}
        self._groups: list[anyio.abc.TaskGroup] = []

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        """Hold runs while this is entered; leaving cancels the runs started under it."""
        async with anyio.create_task_group() as tg:
            self._groups.append(tg)
            try:
                yield
            finally:
                self._groups.remove(tg)
                tg.cancel_scope.cancel()

    @property
    def available(self) -> bool:
        return bool(self._groups)

    def __len__(self) -> int:
        return len(self._runs)

    def start(self, work: Callable[[PendingRun], Awaitable[types.CallToolResult]]) -> PendingRun:
        if not self._groups:
            raise RequestError("this server cannot hold a run across round trips here (no server lifespan)")
        if len(self._runs) >= self.max_pending:
            raise RequestError(
                f"{len(self._runs)} calls are already waiting for their hosts' answers (the limit); "
                "answer or abandon one, then call again"
            )
        pending = PendingRun(self.ttl_s)
        self._runs[pending.id] = pending
        self._groups[-1].start_soon(self._drive, pending, work)
        return pending

    async def _drive(self, pending: PendingRun, work: Callable[[PendingRun], Awaitable[types.CallToolResult]]) -> None:
        outcome: types.CallToolResult | None = None
        try:
            with pending.scope:
                try:
                    outcome = await work(pending)
                except NoAnswer:
                    pass  # cancelled: the host never came back
                except Exception:  # noqa: BLE001 - a bug must not take the server's task group down
                    logger.exception("a run held across round trips failed unexpectedly")
                    outcome = _error("internal error in mcp-compiler; the server logs have details")
            if outcome is not None:
                pending.finish(outcome)
                with anyio.move_on_after(self.ttl_s):  # kept for the retry that collects it
                    await pending.collected.wait()
        finally:
            self._runs.pop(pending.id, None)
            pending.collected.set()
            pending.finish(outcome)

    def find(self, state: str) -> PendingRun | None:
        """The run a retry's (unsealed) `requestState` names, if this is its current round."""
        run_id, _, number = state.rpartition(".")
        pending = self._runs.get(run_id)
        if pending is None or number != str(pending.round):
            return None
        return pending


# ---- the call, in the 2026-07-28 era -------------------------------------------------------------


class Asker:
    """A stand-in for the caller's session that turns each request to the host into a question.

    `confirm_with` and `SamplingLLM` take it as the session they ask: it declares what the host
    declared, and `send_request` posts the request as an `inputRequest` of the pending run.
    """

    can_send_request = True

    def __init__(self, pending: PendingRun, client_capabilities: Any) -> None:
        self.pending = pending
        self.client_capabilities = client_capabilities

    async def send_request(self, request: Any, result_type: type[Any], metadata: Any = None) -> Any:
        if isinstance(request, types.ElicitRequest):
            task = current_task_id()
            key = f"confirm-{task}" if task is not None else self.pending.next_key("elicit")
        elif isinstance(request, types.CreateMessageRequest):
            key = self.pending.next_key("sample")
        else:
            key = self.pending.next_key("ask")
        answer = await self.pending.ask(key, request)
        return _as(result_type, answer)

    async def send_relayed_request(self, request: Any, result_type: type[Any]) -> Any:
        """An upstream's own request (`server/host.py`): a question of its own, never taken for a
        task's confirmation."""
        return _as(result_type, await self.pending.ask(self.pending.next_key("upstream"), request))


def _as(result_type: type[Any], answer: Any) -> Any:
    """An input response as the result type the asker expects; a wrong shape is a clear error."""
    if isinstance(answer, result_type):
        return answer
    data = answer.model_dump(by_alias=True, exclude_none=True) if hasattr(answer, "model_dump") else answer
    try:
        return result_type.model_validate(data)
    except ValidationError:
        raise RequestError(f"the host's answer is not a {result_type.__name__}") from None


def confirmation_requests(plan: Plan, specs: Mapping[str, Any]) -> dict[str, types.ElicitRequest]:
    """One elicitation per destructive task of a plan, keyed as `Asker` keys a task's confirmation."""
    requests: dict[str, types.ElicitRequest] = {}
    for task in plan.tasks:
        spec = specs.get(task.tool)
        if spec is None or not spec.destructive:
            continue
        values = [*task.args, *task.kwargs.values()]
        parts = [format_value(v) for v in task.args] + [f"{k}={format_value(v)}" for k, v in task.kwargs.items()]
        later = sorted(set().union(*(refs_in(v) for v in values))) if values else []
        sources = ", ".join(f"${n}" for n in later)
        known = f" {sources}: the result of an earlier task, filled in when this one runs." if later else ""
        message = (
            f"mcp-compiler wants to run task {task.id}, {task.tool}({', '.join(parts)}). {task.tool} is marked "
            "destructive, and this server asks before running such tools (compiler.destructive: confirm). "
            f"Nothing in this plan has run yet.{known}"
        )
        requests[f"confirm-{task.id}"] = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=scrub(message), requested_schema=_CONFIRM_SCHEMA)
        )
    return requests


async def call_tool(
    app: Any, rounds: Rounds, ctx: Any, params: types.CallToolRequestParams, host: SessionHost | None = None
) -> Reply:
    """`compile_and_run` for a 2026-07-28 caller: a first call, or a retry of one that asked.

    `app` is the `CompilerServer` (not imported: app.py imports this module). `host` is the
    caller as the upstreams' own requests see it (`server/host.py`); in a run held across round
    trips those requests become questions of the run too, so an upstream's sampling, elicitation
    or roots request reaches a 2026-07-28 host as our `input_required`.
    """
    progress = ctx.session.report_progress
    if params.request_state is not None:
        pending = rounds.find(params.request_state)
        if pending is None:
            return _error(
                "this call's run is no longer held here: it finished and was collected, it waited longer "
                f"than {rounds.ttl_s:g} s for an answer, the server restarted, or the retry reached another "
                "replica. Nothing was run again; call again without requestState to start over."
            )
        if pending.serving:  # the same round retried twice at once: one of them is served
            return _error("another request is already waiting on this call's run; wait for it")
        pending.deliver(params.input_responses)
        return await pending.reply(progress)
    arguments = params.arguments or {}
    capabilities = ctx.session.client_capabilities
    try:
        request = await app.request_from(arguments)
    except Exception:  # noqa: BLE001 - the usual path shapes every error of the request
        return await app.call(arguments, progress=progress, session=ctx.session, request_id=ctx.request_id, host=host)
    asks = await _may_ask(app, request, capabilities)
    if not asks:
        return await app.call(arguments, progress=progress, session=ctx.session, request_id=ctx.request_id, host=host)

    async def work(pending: PendingRun) -> types.CallToolResult:
        if request.plan is not None and _declares(capabilities, "elicitation"):
            questions = confirmation_requests(request.plan, app.toolbox.specs())
            if questions:
                await pending.ask_all(questions)  # before anything runs
        asker = Asker(pending, capabilities)
        relayed = None if host is None else SessionHost(asker, None, key=host.key, log_level=host.log_level)
        return await app.call(arguments, progress=pending.progress, session=asker, host=relayed)

    try:
        pending = rounds.start(work)
    except RequestError as exc:
        return _error(str(exc))
    return await pending.reply(progress)


async def _may_ask(app: Any, request: Any, capabilities: Any) -> bool:
    """Whether this call may need the host: a destructive task to confirm, the host's model, or
    the servers behind, which may ask the host for sampling, elicitation or roots mid-call."""
    relayed = app.relays_to_hosts() and any(_declares(capabilities, c) for c in ("sampling", "elicitation", "roots"))
    # A compiler without a call policy (a test double) confirms nothing.
    confirms = getattr(getattr(app.compiler, "policy", None), "destructive", "allow") == "confirm"
    if request.query is not None:
        if relayed or (confirms and _declares(capabilities, "elicitation")):
            return True
        return _declares(capabilities, "sampling") and await app.plans_with_host_model()
    # Settled first, so that the plan's destructive tasks are known and asked about before anything runs.
    await settle(app.toolbox, [task.tool for task in request.plan.tasks])
    if relayed:
        return True
    if not confirms or not _declares(capabilities, "elicitation"):
        return False
    specs = app.toolbox.specs()
    return any(getattr(specs.get(task.tool), "destructive", False) for task in request.plan.tasks)


def _declares(capabilities: Any, capability: str) -> bool:
    return capabilities is not None and getattr(capabilities, capability, None) is not None


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=scrub(message))], is_error=True)
