"""Asking the host in the 2026-07-28 era: a run that waits across `input_required` round trips.

The 2026-07-28 revision has no server-to-client request during a call (SEP-2322). A tool that
needs the host answers `resultType: "input_required"` with `inputRequests` (elicitation,
sampling), and the host retries the same `tools/call` with `inputResponses` and the
`requestState` it was given. The compiler, though, runs a run in one await: tasks in flight,
the scheduler's state, results so far. So the run stays here, in memory, between round trips:

- The first call starts the run in a background task owned by `HeldRuns` (a task group entered by
  the MCP server's lifespan) and answers with the run's first questions, or its result.
- The run asks through `Asker`, which stands in for the handshake era's session: the same
  confirmation (`confirm_with`) and host-model planner (`SamplingLLM`) code asks it, and its
  `send_request` posts the question and waits. Tasks that need no answer go on meanwhile.
- A retry is matched to its run by `requestState`: `<run id>.<round trip>`, the id 24 random bytes,
  sealed by the SDK's `RequestStateBoundary` (AES-GCM under a key of this process, bound to the
  tool's name and arguments, with a TTL), so a client can neither forge nor replay one. The
  retry hands the answers to the waiting questions and waits for the next questions or the end.
  A question the retry does not answer is asked again in the next round trip (SEP-2322).
- Nothing is repeated: the run never restarts, so a tool call made before a question is not
  made again by the retry, and each LLM call is one sampling request, asked once.
- Bounds: a run takes a slot only when it asks (a call that may ask but never does, such as a
  read-only plan whose upstreams could relay a request, holds none); at most `max_pending` runs
  held at once, and at most `max_per_caller` of one caller (the digest of its credentials, as
  the Tasks extension's owner), so one caller's abandoned calls cannot lock out another. A run
  whose first questions get no retry within `first_round_s` is cancelled (its calls in flight
  with it), and after its first retry one that waits `ttl_s`; a finished run's result is kept
  for the retry at most `ttl_s`. One round trip carries at most `MAX_QUESTIONS` questions; the
  others are asked in the next. A host that cancels the call it is waiting on cancels the run.
- State: each held run is an entry of the state seam (`mcp_compiler/state`, kind `held`): its
  current round trip while it runs (pinned: the seam's `max_entries` is `max_pending`), and a
  result nobody was waiting for, kept `ttl_s` for the retry that takes it (atomically: answered
  once). The run itself (its task, its cancel scope, the events its questions wait on) cannot
  leave the process and stays in `HeldRuns`' registry of the runs held here.

What that means for replicas: a run that asks lives in the replica that started it, so behind a
load balancer the retries of such a call must reach that replica. Another replica cannot unseal
the state (its key differs) and answers with an error; nothing runs twice. Calls that ask nothing
(a plan with no destructive task to confirm, a query planned by a configured model) do not use
any of this and stay stateless.

The destructive-tool confirmation of a plan asks before anything runs: one elicitation per
destructive task, its arguments as far as they are known (references to earlier results are
shown as `$N...`). Tasks that become known only while planning (a query) ask when they are
about to run, in a later round trip, in the same form.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from pydantic import ValidationError

from ..engine.scheduler import current_task_id
from ..errors import RequestError
from ..language.plan import Plan, format_value, refs_in
from ..state import Kind, StateStore, StateUnavailable, default_state
from ..state.lease import Lease
from ..text import scrub
from ._common import CONFIRM_SCHEMA, ProgressFn, Question, declares, error_result
from .host import SessionHost

__all__ = ["Asker", "HeldRun", "HeldRuns", "STATE_TTL_S", "confirmation_requests", "hold_run"]

logger = logging.getLogger(__name__)

STATE_TTL_S = 600.0  # how long a run waits for its retry, and how long the sealed state is valid
_SETTLE_S = 0.01  # after a first question, how long other questions of the moment may join its round trip
_SAVE_S = 5.0  # how long writing a held run's state may take (the seam's backend may be remote)
_MAX_OUTCOME_BYTES = 64 * 2**20  # a result kept for its retry (a reply is far smaller: its budget)
FIRST_ROUND_S = 120.0  # how long a run's first questions wait for the retry (a person may be asked)
MAX_QUESTIONS = 64  # inputRequests in one round trip; the others wait for the next

Reply = types.CallToolResult | types.InputRequiredResult
# The call itself, given whom to ask (the session), whom the upstreams' requests go to, and
# where its progress goes: the caller (app.py) binds the parsed request.
RunFn = Callable[[Any, SessionHost | None, ProgressFn], Awaitable[types.CallToolResult]]


class NoAnswer(Exception):
    """The host did not retry within the TTL: the question has no answer, and the run is cancelled."""


class HeldRun:
    """One call's run between round trips: its open questions, and its result once it has one."""

    def __init__(self, ttl_s: float, owner: str = "", first_round_s: float = FIRST_ROUND_S) -> None:
        self.id = secrets.token_urlsafe(24)
        self.round_trip = 0
        self.ttl_s = ttl_s
        self.owner = owner
        self.first_round_s = min(first_round_s, ttl_s)
        self.retried = False  # a retry came: the host is there
        self.claimed = False  # holds one of HeldRuns' slots (it asked)
        self.scope = anyio.CancelScope()
        self.outcome: types.CallToolResult | None = None
        self.ended = anyio.Event()
        self._open: dict[str, Question] = {}
        self._answers: dict[str, Any] = {}  # by key, so a question asked again gets the same answer
        self._wake = anyio.Event()
        self._sink: ProgressFn | None = None
        self._asked = 0
        self.serving = False  # a request is waiting on this run now
        self.prerun = False  # waiting for the confirmations asked before anything runs

    # ---- the run's side ---------------------------------------------------------------------------

    async def ask(self, key: str, request: Any) -> Any:
        """Post a question and wait for its answer (the raw input response)."""
        if key in self._answers:
            return self._answers[key]
        question = self._open.get(key) or self._open.setdefault(key, Question(request))
        self._wake.set()
        # Until a first retry shows the host is there, the wait is short: an abandoned first round
        # trip frees its slot in `first_round_s`, not `ttl_s`.
        first = not self.retried
        with anyio.move_on_after(self.first_round_s if first else self.ttl_s) as waited:
            await question.answered.wait()
        if waited.cancelled_caught and first and self.retried:  # the host came back meanwhile
            with anyio.move_on_after(self.ttl_s - self.first_round_s) as waited:
                await question.answered.wait()
        if waited.cancelled_caught:
            self._open.pop(key, None)
            waited_s = self.first_round_s if not self.retried else self.ttl_s
            logger.info("no retry within %g s for a call waiting for the host; cancelling its run", waited_s)
            self.scope.cancel()
            raise NoAnswer(f"the host did not answer within {waited_s:g} s")
        return question.answer

    async def ask_all(self, requests: Mapping[str, Any]) -> dict[str, Any]:
        """Post several questions at once (one round trip) and wait for every answer."""
        for key, request in requests.items():  # all posted before any is waited for: one round trip
            if key not in self._answers:
                self._open.setdefault(key, Question(request))
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
        return f"{self.id}.{self.round_trip}"

    def preanswer(self, answers: Mapping[str, Any]) -> None:
        """Answers brought before their questions are asked (a retry continued here): asked, they
        are answered at once."""
        self._answers.update(answers)

    def deliver(self, responses: Mapping[str, Any] | None) -> None:
        """Answer the open questions the retry answers; the rest stay open and are asked again."""
        self.retried = True
        for key, answer in (responses or {}).items():
            question = self._open.pop(key, None)
            if question is None:
                continue  # not ours (or already answered): ignored
            self._answers[key] = answer
            question.deliver(answer)

    async def reply(self, progress: ProgressFn | None) -> Reply:
        """Wait for the run's next questions or its end, forwarding its progress meanwhile."""
        self._sink, self.serving = progress, True
        try:
            while True:
                wake = self._wake = anyio.Event()
                if self.outcome is not None:
                    return self.outcome
                if self._open:
                    await anyio.sleep(_SETTLE_S)  # questions asked side by side go in one round trip
                    if not self._open:
                        continue  # the run ended meanwhile
                    self.round_trip += 1
                    requests = {key: q.request for key, q in islice(self._open.items(), MAX_QUESTIONS)}
                    return types.InputRequiredResult(input_requests=requests, request_state=self.state())
                if self.ended.is_set():  # ended without a result: cancelled
                    return error_result("the run was cancelled before it finished")
                await wake.wait()
        except anyio.get_cancelled_exc_class():
            # The host cancelled the call it was waiting on (or went away): the run goes too.
            self.scope.cancel()
            raise
        finally:
            self._sink, self.serving = None, False


class HeldRuns:
    """The runs waiting for their hosts: each one's state through the state seam, the runs
    themselves in tasks of a task group the server's lifespan owns."""

    def __init__(
        self, *, ttl_s: float = STATE_TTL_S, max_pending: int = 64, max_per_caller: int = 8,
        first_round_s: float = FIRST_ROUND_S, state: StateStore | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self.max_per_caller = max_per_caller
        self.first_round_s = first_round_s
        self.kind = Kind("held", ttl_s=ttl_s, max_bytes=max_pending * _MAX_OUTCOME_BYTES, max_entries=max_pending)
        self.state = state if state is not None else default_state()
        self._runs: dict[str, HeldRun] = {}  # held here: their tasks and questions
        self._groups: list[anyio.abc.TaskGroup] = []
        self.lease = Lease(self.state)  # the held entries name this replica (docs/deployment.md)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        """Hold runs while this is entered; leaving cancels the runs started under it."""
        async with anyio.create_task_group() as tg:
            self._groups.append(tg)
            if len(self._groups) == 1:
                tg.start_soon(self.lease.keep)
                tg.start_soon(self._read_moves)
            try:
                yield
            finally:
                self._groups.remove(tg)
                tg.cancel_scope.cancel()

    @property
    def available(self) -> bool:
        return bool(self._groups)

    def __len__(self) -> int:
        """Runs held in this process."""
        return len(self._runs)

    async def start(self, work: Callable[[HeldRun], Awaitable[types.CallToolResult]], owner: str = "") -> HeldRun:
        """Start a call that may ask; it takes a slot only once it asks (`serve`)."""
        if not self._groups:
            raise RequestError("this server cannot hold a run across round trips here (no server lifespan)")
        held = HeldRun(self.ttl_s, owner, self.first_round_s)
        self._runs[held.id] = held
        self._groups[-1].start_soon(self._drive, held, work)
        return held

    def _trip(self, held: HeldRun) -> bytes:
        return json.dumps({"round_trip": held.round_trip, "replica": self.lease.id}).encode()

    async def _mark_prerun(self, held: HeldRun) -> None:
        """Nothing has run yet: the retry may continue the call on any replica (`retry`)."""
        if held.prerun:
            await self.state.put(self.kind, held.id, b"1", part="prerun")

    async def _read_moves(self) -> None:
        """Runs held here that another replica continued (their first retry went there) stop."""
        while True:
            await anyio.sleep(0.25)
            for held in [h for h in self._runs.values() if h.prerun and h.claimed]:
                try:
                    if await self.state.get(self.kind, held.id, part="moved"):
                        held.scope.cancel()
                except StateUnavailable:
                    break

    async def serve(self, held: HeldRun, progress: ProgressFn | None) -> Reply:
        """`_serve`, and a state backend that does not answer cancels the run with a clear error."""
        try:
            return await self._serve(held, progress)
        except StateUnavailable as exc:
            held.scope.cancel()
            return error_result(f"{exc}: this call asks its host, and holding it between round trips needs the "
                                "state backend; it was cancelled")

    async def _serve(self, held: HeldRun, progress: ProgressFn | None) -> Reply:
        """The held run's reply to the request being served; a round trip it starts is saved first.

        Its first question takes its slot: refused (and the run cancelled) when its caller holds
        `max_per_caller` already, or every one of the `max_pending` is taken.
        """
        reply = await held.reply(progress)
        if not isinstance(reply, types.InputRequiredResult):
            return reply
        if held.claimed:
            await self.state.put(self.kind, held.id, self._trip(held))
            await self._mark_prerun(held)
            return reply
        mine = sum(1 for other in self._runs.values() if other.claimed and other.owner == held.owner)
        if mine >= self.max_per_caller:
            refusal = (
                f"{mine} calls of this caller are already waiting for answers (the limit per caller, "
                f"{self.max_per_caller}); answer or abandon one, then call again"
            )
        elif not await self.state.put(self.kind, held.id, self._trip(held), owner=held.owner, pinned=True):
            refusal = (
                f"{self.max_pending} calls are already waiting for their hosts' answers (the limit); "
                "answer or abandon one, then call again"
            )
        else:
            held.claimed = True
            await self._mark_prerun(held)
            return reply
        held.scope.cancel()  # it asked and cannot be held: nothing of it runs on
        return error_result(refusal + "; this call was cancelled at its first question")

    async def _drive(self, held: HeldRun, work: Callable[[HeldRun], Awaitable[types.CallToolResult]]) -> None:
        outcome: types.CallToolResult | None = None
        try:
            with held.scope:
                try:
                    outcome = await work(held)
                except NoAnswer:
                    pass  # cancelled: the host never came back
                except Exception:  # noqa: BLE001 - a bug must not take the server's task group down
                    logger.exception("a run held across round trips failed unexpectedly")
                    outcome = error_result("internal error in mcp-compiler; the server logs have details")
        finally:
            held.finish(outcome)  # a request waiting on the run returns it
            held.ended.set()
            with anyio.CancelScope(shield=True), anyio.move_on_after(_SAVE_S):
                await self._settle(held, outcome)
            self._runs.pop(held.id, None)

    async def _settle(self, held: HeldRun, outcome: types.CallToolResult | None) -> None:
        """A result nobody is waiting for is kept `ttl_s` for the retry; otherwise the state goes."""
        if outcome is not None and not held.serving:
            kept = outcome.model_dump_json(by_alias=True, exclude_none=True).encode()
            if await self.state.put(self.kind, held.id, kept, part="outcome"):
                await self.state.expire(self.kind, held.id, self.ttl_s)
                return
        await self.state.delete(self.kind, held.id)

    async def retry(
        self, state: str, responses: Mapping[str, Any] | None, progress: ProgressFn | None
    ) -> Reply | Continue:
        """A retry of a call that asked, matched by its (unsealed) `requestState`; `Continue` when
        the call is to start here with the retry's answers (it asked before anything ran, on a
        replica the retry did not reach)."""
        run_id, _, number = state.rpartition(".")
        try:
            kept = await self.state.get(self.kind, run_id)
        except StateUnavailable as exc:
            return error_result(f"{exc}; retry later")
        record = json.loads(kept) if kept is not None else {}
        if kept is None or str(record.get("round_trip")) != number:
            return error_result(_NOT_HELD.format(ttl_s=self.ttl_s))
        held = self._runs.get(run_id)
        replica = record.get("replica", self.lease.id)
        if held is None and replica != self.lease.id:
            # Asked before anything ran: the one retry that takes the mark continues it here.
            if await self.state.take(self.kind, run_id, part="prerun"):
                await self.state.put(self.kind, run_id, b"1", part="moved")  # its replica lets it go
                return Continue(dict(responses or {}))
            if await self.state.get(self.kind, run_id, part="outcome") is None:
                alive = await self.lease.alive(replica)
                return error_result(_ELSEWHERE if alive else _STOPPED)
        if held is not None and held.prerun and not await self.state.take(self.kind, run_id, part="prerun"):
            return error_result("this call was continued by another retry already; nothing runs twice")
        if held is None:  # it ended with nobody waiting: its result was kept for this retry
            outcome = await self.state.take(self.kind, run_id, part="outcome")
            await self.state.delete(self.kind, run_id)
            if outcome is None:
                return error_result(_NOT_HELD.format(ttl_s=self.ttl_s))
            return types.CallToolResult.model_validate_json(outcome)
        if held.serving:  # the same round trip retried twice at once: one of them is served
            return error_result("another request is already waiting on this call's run; wait for it")
        held.deliver(responses)
        return await self.serve(held, progress)


@dataclass
class Continue:
    """A retry that starts its call here: the confirmations it answers, asked on another replica
    before anything ran there."""

    answers: dict[str, Any]


_ELSEWHERE = (
    "this call's run is running on another replica, which holds it in memory: the retries of its later "
    "round trips must reach that replica (route 2026-07-28 retries of one call to one replica, or run the "
    "call as a Tasks task, which any replica serves). Nothing was run again."
)
_STOPPED = (
    "the replica running this call's run stopped; its calls in flight were lost. Nothing was run again "
    "here: call again without requestState to start over."
)
_NOT_HELD = (
    "this call's run is no longer held here: it finished and was collected, it waited longer than {ttl_s:g} s "
    "for an answer, the server restarted, or the retry reached another replica. Nothing was run again; call "
    "again without requestState to start over."
)


# ---- the call, in the 2026-07-28 era -------------------------------------------------------------


class Asker:
    """A stand-in for the caller's session that turns each request to the host into a question.

    `confirm_with` and `SamplingLLM` take it as the session they ask: it declares what the host
    declared, and `send_request` posts the request as an `inputRequest` of the held run.
    """

    can_send_request = True

    def __init__(self, held: HeldRun, client_capabilities: Any) -> None:
        self.held = held
        self.client_capabilities = client_capabilities

    async def send_request(self, request: Any, result_type: type[Any], metadata: Any = None) -> Any:
        if isinstance(request, types.ElicitRequest):
            task = current_task_id()
            key = f"confirm-{task}" if task is not None else self.held.next_key("elicit")
        elif isinstance(request, types.CreateMessageRequest):
            key = self.held.next_key("sample")
        else:
            key = self.held.next_key("ask")
        answer = await self.held.ask(key, request)
        return _as(result_type, answer)

    async def send_relayed_request(self, request: Any, result_type: type[Any]) -> Any:
        """An upstream's own request (`server/host.py`): a question of its own, never taken for a
        task's confirmation."""
        return _as(result_type, await self.held.ask(self.held.next_key("upstream"), request))


def _as(result_type: type[Any], answer: Any) -> Any:
    """An input response as the result type the asker expects; a wrong shape is a clear error."""
    if isinstance(answer, result_type):
        return answer
    data = answer.model_dump(by_alias=True, exclude_none=True) if hasattr(answer, "model_dump") else answer
    try:
        return result_type.model_validate(data)
    except ValidationError:
        raise RequestError(f"the host's answer is not a {result_type.__name__}") from None


def confirmation_requests(
    plan: Plan, specs: Mapping[str, Any], *, asks: Callable[[Any], bool] | None = None
) -> dict[str, types.ElicitRequest]:
    """One elicitation per task of a plan the policy confirms (`asks`, by default: the tasks marked
    destructive), keyed as `Asker` keys a task's confirmation."""
    requests: dict[str, types.ElicitRequest] = {}
    for task in plan.tasks:
        spec = specs.get(task.tool)
        if spec is None or not (asks(spec) if asks is not None else spec.destructive):
            continue
        values = [*task.args, *task.kwargs.values()]
        parts = [format_value(v) for v in task.args] + [f"{k}={format_value(v)}" for k, v in task.kwargs.items()]
        later = sorted(set().union(*(refs_in(v) for v in values))) if values else []
        sources = ", ".join(f"${n}" for n in later)
        known = f" {sources}: the result of an earlier task, filled in when this one runs." if later else ""
        message = (
            f"mcp-compiler wants to run task {task.id}, {task.tool}({', '.join(parts)}). "
            f"{task.tool + ' is marked destructive, and ' if spec.destructive else ''}mcp-compiler's config asks before running "
            "it. "
            f"Nothing in this plan has run yet.{known}"
        )
        requests[f"confirm-{task.id}"] = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=scrub(message), requested_schema=CONFIRM_SCHEMA)
        )
    return requests


async def hold_run(
    held_runs: HeldRuns, run: RunFn, *, capabilities: Any, confirmations: Mapping[str, types.ElicitRequest],
    host: SessionHost | None, progress: ProgressFn | None, owner: str = "",
    answered: Mapping[str, Any] | None = None,
) -> Reply:
    """A first call that may need its host, held across round trips: the plan's `confirmations`
    asked before anything runs, then `run` with an `Asker` for the session.

    `host` is the caller as the upstreams' own requests see it (`server/host.py`); in a held run
    those requests become questions of the run too, so an upstream's sampling, elicitation or
    roots request reaches a 2026-07-28 host as our `input_required`. `answered`: the answers a
    retry brought for confirmations asked by another replica (`Continue`), so they are not asked again.
    """

    async def work(held: HeldRun) -> types.CallToolResult:
        if confirmations and declares(capabilities, "elicitation"):
            held.prerun = True
            held.preanswer({key: answer for key, answer in (answered or {}).items() if key in confirmations})
            await held.ask_all(confirmations)  # before anything runs
            held.prerun = False
        asker = Asker(held, capabilities)
        relayed = None if host is None else SessionHost(asker, None, key=host.key, log_level=host.log_level)
        return await run(asker, relayed, held.progress)

    try:
        held = await held_runs.start(work, owner)
    except RequestError as exc:
        return error_result(str(exc))
    return await held_runs.serve(held, progress)
