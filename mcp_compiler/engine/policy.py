"""The one call-policy layer: every decision about a tool call, between the scheduler and a toolbox.

    Scheduler ──► RunCalls (one run) ──► CallPolicy (the process) ──► Toolbox.call (I/O only)

A toolbox (an MCP upstream pool, Python functions, a test double) only does I/O: it calls a tool
once and returns its value or raises. Everything else about a call is decided here, once, the
way httpx's client owns timeouts, limits and retries and its transports only move bytes:

1. **Confirmation**: `allow` runs a call, `deny` refuses it, `confirm` asks the run's `Confirm`
   first. What applies to a tool (`CallPolicy.decide`): the first of its server's `tools` globs
   that matches its name, else `allow` when its server's `auto_approve` (Cline's `autoApprove`)
   matches it; then, only for a tool marked `destructiveHint: true`, its server's `destructive`,
   else the process-wide one. Any other tool runs unasked. The question is asked before the call
   takes a slot or starts its timeout, so a person reading it holds up no other call and spends
   no call time. Only a real `True` approves; anything else, or nobody to ask, refuses (fail
   closed), and the refusal names the setting that would let the call run.
2. **Concurrency**: a slot of the tool's server (that server's `max_concurrency`, else
   `max_per_server`; shared by every run in the process, because it protects the server), then a
   slot of the run (`max_concurrency`; it bounds one plan's fan-out).
3. **Timeout**: the call runs under the server's `timeout_s`, else `call_timeout_s`. A server's
   value overrides the default in both directions. Calls are made on a `Lane` (a caller's cancel
   scope, kept for many calls one after another), and one watcher task per round cancels the lane
   whose call passes its deadline: no cancel scope or timer handle per call, which were most of a
   zero-latency call's cost (README, "Scheduler overhead").
4. **Retry**: a call whose server went away mid-call (`ConnectionLost`) is made once more, after
   the toolbox reconnects, for tools marked read-only or idempotent; within the same timeout.
5. **Size budget**: a task's arguments, as its references would resolve, may take at most
   `max_value_bytes` (counted before they are built, so references cannot multiply data without
   bound), and so may each result; a run's results together at most `max_run_bytes`.
6. **Call budget**: a run makes at most `max_run_calls` calls, every spread's included; a spread
   is checked whole against what is left before its first call.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

import anyio

from ..errors import CallRefused, CallTimeout, ConnectionLost, OverBudget
from ..language.plan import NO_ELEMENT, Value, measure, resolved_size
from ..observability.hooks import current as current_observer
from ..text import cut
from ..tools.toolbox import Toolbox, ToolProgress, ToolSpec, as_toolbox

__all__ = [
    "CallPolicy", "RunCalls", "Lane", "Limits", "ServerLimits", "Confirm", "Destructive", "Ordering", "NOBODY_TO_ASK",
    "NobodyToAsk",
    "cut_text",
]

log = logging.getLogger(__name__)

NOBODY_TO_ASK = "nobody can be asked here"


class NobodyToAsk(CallRefused):
    """Raised by a `Confirm` that cannot ask anyone (a host without elicitation); the policy turns
    it into a refusal naming the setting that would let the call run unasked."""

Destructive = Literal["allow", "confirm", "deny"]
Ordering = Literal["plan", "free"]
"""Calls to one server: "plan" keeps plan order around calls not marked read-only; "free" does not."""
Confirm = Callable[[ToolSpec, dict[str, Any]], Awaitable[bool]]
"""Asks whether a destructive call may run. Only `True` approves; it may raise CallRefused."""


@dataclass(frozen=True)
class ServerLimits:
    """One server's own limits; `None` takes the default from `Limits`.

    The confirmation policy of its tools: `tools` pairs a glob over the tool's name (as the server
    names it) with what to do, the first match deciding; `auto_approve` are globs of tools approved
    ahead of time (allow); `destructive` replaces the process-wide policy for its tools marked
    destructive. `setting` is how the config names this server (`mcpServers.fs`), for messages.
    """

    max_concurrency: int | None = None
    timeout_s: float | None = None
    ordering: Ordering | None = None
    destructive: Destructive | None = None
    tools: tuple[tuple[str, Destructive], ...] = ()
    auto_approve: tuple[str, ...] = ()
    setting: str = ""

    @property
    def has_rules(self) -> bool:
        """Whether a tool not marked destructive may still be asked about or refused."""
        return bool(self.tools)


@dataclass(frozen=True)
class Limits:
    """Every limit has a default; `None` for a timeout means no limit.

    `servers` holds per-server overrides, keyed by `ToolSpec.provider` (the server's name).
    """

    max_concurrency: int = 16  # tool calls in flight in one run
    max_per_server: int = 8  # tool calls in flight to one server, across every run of the process
    call_timeout_s: float | None = 60.0
    run_timeout_s: float | None = 300.0
    max_value_bytes: int = 16 * 2**20  # one task's resolved arguments, or one result
    max_run_bytes: int = 128 * 2**20  # every result of one run together
    max_spread: int = 1_000  # the calls of one spread task (`$N.path[*]`): elements of its list
    max_run_calls: int = 10_000  # tool calls of one run together, every spread's included
    max_error_bytes: int = 8 * 2**10  # one error text as a run keeps it; longer ones are cut with a marker
    ordering: Ordering = "plan"  # side effects on one server keep plan order (the scheduler's edges)
    servers: Mapping[str, ServerLimits] = field(default_factory=dict)

    def concurrency_of(self, server: str) -> int:
        own = self.servers.get(server)
        return own.max_concurrency if own is not None and own.max_concurrency is not None else self.max_per_server

    def timeout_of(self, server: str) -> float | None:
        own = self.servers.get(server)
        return own.timeout_s if own is not None and own.timeout_s is not None else self.call_timeout_s


def _nothing() -> None:
    return None


def _tool_name(spec: ToolSpec) -> str:
    """The tool's name as its server names it (the catalog's `server.tool` without `server.`)."""
    prefix = spec.provider + "."
    return spec.name[len(prefix):] if spec.provider and spec.name.startswith(prefix) else spec.name


class CallPolicy:
    """The process-wide side of the policy over one toolbox: per-server slots, timeouts, retries."""

    def __init__(self, toolbox: Toolbox | Any, limits: Limits = Limits(), destructive: Destructive = "allow") -> None:
        self.toolbox = as_toolbox(toolbox)
        self.limits = limits
        self.destructive: Destructive = destructive
        # Semaphores, not CapacityLimiters: a call's slot is not tied to the task holding it (a
        # worker makes many calls), and a free slot is taken without looking up the task.
        self._server_slots: dict[str, anyio.Semaphore] = {}
        self._decided: dict[str, tuple[anyio.Semaphore, float | None]] = {}  # limits_of, per server

    def specs(self) -> Mapping[str, ToolSpec]:
        return self.toolbox.specs()

    def for_run(self, confirm: Confirm | None = None) -> RunCalls:
        """One run's calls: its own concurrency limit, and whom to ask about destructive tools."""
        return RunCalls(self, anyio.Semaphore(self.limits.max_concurrency), confirm)

    def decide(self, spec: ToolSpec) -> tuple[Destructive, str] | None:
        """What to do with a call of this tool, and the setting that says so; None: it runs unasked."""
        own = self.limits.servers.get(spec.provider)
        if own is not None:
            where = own.setting or f"mcpServers.{spec.provider}"
            name = _tool_name(spec)
            for pattern, decision in own.tools:
                if fnmatchcase(name, pattern):
                    return decision, f'{where}.tools["{pattern}"]'
            for pattern in own.auto_approve:
                if fnmatchcase(name, pattern):
                    return "allow", f"{where}.autoApprove"
            if spec.destructive and own.destructive is not None:
                return own.destructive, f"{where}.destructive"
        if spec.destructive:
            return self.destructive, "compiler.destructive"
        return None

    def asks(self, spec: ToolSpec) -> bool:
        """Whether a call of this tool is confirmed before it runs."""
        decided = self.decide(spec)
        return decided is not None and decided[0] == "confirm"

    def may_confirm(self) -> bool:
        """Whether some call may be confirmed: then a host that can be asked is worth asking."""
        if self.destructive == "confirm":
            return True
        return any(
            own.destructive == "confirm" or any(d == "confirm" for _, d in own.tools)
            for own in self.limits.servers.values()
        )

    def may_refuse(self, spec: ToolSpec) -> bool:
        """Whether `permit` has anything to decide for this tool (most tools: no, and no await)."""
        if spec.destructive:
            return True
        own = self.limits.servers.get(spec.provider)
        return own is not None and own.has_rules

    def _slots_of(self, server: str) -> anyio.Semaphore:
        slots = self._server_slots.get(server)
        if slots is None:
            slots = self._server_slots[server] = anyio.Semaphore(self.limits.concurrency_of(server))
        return slots

    async def permit(self, spec: ToolSpec, arguments: dict[str, Any], confirm: Confirm | None) -> None:
        """Raise CallRefused unless the confirmation policy lets this call run."""
        decided = self.decide(spec)
        if decided is None or decided[0] == "allow":
            return
        decision, setting = decided
        marked = " is marked destructive and" if spec.destructive else ""
        if decision == "deny":
            raise CallRefused(f"{spec.name}{marked} is refused by {setting} ('deny')")
        nobody = CallRefused(
            f"{spec.name}{marked} needs confirmation ({setting}: 'confirm'), but {NOBODY_TO_ASK}; "
            f"to run it without asking, {self.allow_hint(spec, setting)}"
        )
        if confirm is None:
            raise nobody
        try:
            approved = await confirm(spec, arguments)
        except NobodyToAsk:
            raise nobody from None
        if approved is not True:
            raise CallRefused(f"{spec.name} was not confirmed, so it did not run")

    def allow_hint(self, spec: ToolSpec, setting: str) -> str:
        """The one setting that would let this call run unasked, said as an edit of the config."""
        own = self.limits.servers.get(spec.provider)
        where = (own.setting if own is not None and own.setting else "") or f"mcpServers.{spec.provider}"
        name = _tool_name(spec)
        if setting.startswith(f"{where}.tools["):
            return f"set {setting} to \"allow\""
        per_tool = f'add "tools": {{"{name}": "allow"}} to {where}'
        if setting == f"{where}.destructive":
            return f'{per_tool} (this tool), or set {setting} to "allow" (every destructive tool of the server)'
        return f'{per_tool} (this tool), or "destructive": "allow" to {where} (every destructive tool of the server)'

    def limits_of(self, server: str) -> tuple[anyio.Semaphore, float | None]:
        """The server's slots and call timeout, decided once per server rather than per call."""
        decided = self._decided.get(server)
        if decided is None:
            decided = self._decided[server] = (self._slots_of(server), self.limits.timeout_of(server))
        return decided

    def call_once(self, spec: ToolSpec, arguments: dict[str, Any], progress: ToolProgress | None) -> Awaitable[Any]:
        """The toolbox's call, with its progress reports when someone listens."""
        if progress is not None:
            return self.toolbox.call_with_progress(spec, arguments, progress)
        return self.toolbox.call(spec, arguments)

    async def retry(self, spec: ToolSpec, arguments: dict[str, Any], progress: ToolProgress | None, lost: ConnectionLost) -> Any:
        """A call whose server went away mid-call, made once more (after the toolbox reconnects)
        if the tool may be repeated: read-only or idempotent."""
        if not spec.dedupable:
            raise ConnectionLost(f"{lost}; not retried because {spec.name} is not marked read-only or idempotent")
        log.info("retrying %s after its server reconnects: %s", spec.name, lost)
        return await self.call_once(spec, arguments, progress)


class RunCalls:
    """What the scheduler calls tools through for one run.

    Calls are made inside `timing()` (one per scheduler round), each on a `Lane` from `lane()`.
    """

    def __init__(self, policy: CallPolicy, slots: anyio.Semaphore, confirm: Confirm | None) -> None:
        self.policy = policy
        self._slots = slots
        self._confirm = confirm
        self._run_bytes = 0
        self._calls_made = 0  # calls started or about to start, against Limits.max_run_calls
        self._timer: _CallTimer | None = None

    def specs(self) -> Mapping[str, ToolSpec]:
        return self.policy.specs()

    def has_free_slot(self) -> bool:
        """Whether a call of this run could start now as far as the run's own limit goes."""
        return self._slots.value > 0

    @asynccontextmanager
    async def timing(self) -> AsyncIterator[None]:
        """Watch the deadlines of the calls made inside, with one task for all of them."""
        timer = self._timer = _CallTimer()
        async with anyio.create_task_group() as tg:
            tg.start_soon(timer.watch, name="mcp_compiler.engine.policy.timer")
            try:
                yield
            finally:
                timer.stop()

    @contextmanager
    def lane(self) -> Iterator[Lane]:
        """A cancel scope for calls made one after another by the current task (inside `timing()`)."""
        timer = self._timer
        if timer is None:
            raise RuntimeError("RunCalls.lane() must be used inside RunCalls.timing()")
        with anyio.CancelScope() as scope:
            lane = Lane(scope)
            timer.lanes.add(lane)
            try:
                yield lane
            finally:
                timer.lanes.discard(lane)

    def calls_left(self) -> int:
        """How many more calls the run may make (`max_run_calls`)."""
        return self.policy.limits.max_run_calls - self._calls_made

    def reserve_calls(self, count: int, what: str) -> None:
        """Count `count` calls against the run's `max_run_calls` now, or raise OverBudget when
        they would pass it; `what` names them in the error. A spread reserves its calls whole
        before the first one, and makes them with `reserved=True`."""
        limit = self.policy.limits.max_run_calls
        if self._calls_made + count > limit:
            raise OverBudget(
                f"{what} would pass the run's {limit:,} calls (the limit per run, compiler.max_run_calls; "
                f"{self._calls_made:,} counted so far); nothing was called"
            )
        self._calls_made += count

    def check_arguments(
        self, arguments: Mapping[str, Value], results: Mapping[int, Any], element: Any = NO_ELEMENT
    ) -> None:
        """Raise OverBudget when `arguments` would resolve to more than `max_value_bytes` (for a
        spread task's call, with `element` in place of the spread reference)."""
        limit = self.policy.limits.max_value_bytes
        size = resolved_size(arguments, results, limit, element)
        if size > limit:
            raise OverBudget(
                f"arguments too large: over {_mib(limit)} once their references are resolved (the limit per "
                "value, compiler.max_value_bytes); nothing was called"
            )

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], lane: Lane, on_start: Callable[[], None] = _nothing,
        progress: ToolProgress | None = None, reserved: bool = False,
    ) -> Any:
        """Count the call (unless `reserved` already); permit; take the server's slot, then the run's; call on `lane` under the timeout; account
        the result.

        `on_start` runs once the call holds its slots and is about to start; `progress` hears the
        server's progress reports during the call. One frame for every step, because this runs
        once per task: the steps as layered calls and context managers were most of a zero-latency
        task's cost (README, "Scheduler overhead"). A lane whose call timed out is spent
        (`lane.timed_out`): its owner leaves it before making another call.
        """
        policy = self.policy
        if not reserved:
            self.reserve_calls(1, "this call")
        if policy.may_refuse(spec):  # most calls cannot be: skip the await
            with current_observer().wait("confirmation", spec.provider):  # the observers see the waits that matter
                await policy.permit(spec, arguments, self._confirm)
        server_slots, timeout = policy.limits_of(spec.provider)
        run_slots = self._slots
        # The server's slot first: a call waiting for its busy server must not sit on a run slot
        # that a call to another server could use. A free slot is taken without a trip through
        # the event loop.
        try:
            server_slots.acquire_nowait()
        except anyio.WouldBlock:
            with current_observer().wait("server_slot", spec.provider):
                await server_slots.acquire()
        try:
            try:
                run_slots.acquire_nowait()
            except anyio.WouldBlock:
                with current_observer().wait("run_slot", spec.provider):
                    await run_slots.acquire()
            try:
                on_start()
                if timeout is not None:  # the timer reads lane.deadline; woken only for a nearer one
                    deadline = lane.deadline = time.monotonic() + timeout
                    if deadline < self._timer.wake_at:  # type: ignore[union-attr]  # lane() checked it
                        self._timer.wake(deadline)  # type: ignore[union-attr]  # as above; no check on the hot path
                # The lane, not the exception type, says whether our timeout fired: a tool may
                # raise its own TimeoutError, or turn our cancellation into some other error.
                try:
                    try:
                        if progress is None:  # policy.call_once, without its frame: most calls have no listener
                            result = await policy.toolbox.call(spec, arguments)
                        else:
                            result = await policy.call_once(spec, arguments, progress)
                    except ConnectionLost as lost:  # within the same timeout
                        if spec.dedupable:  # it is made again (policy.retry): the observers count it
                            current_observer().retry(spec.provider, str(lost))
                        result = await policy.retry(spec, arguments, progress, lost)
                except BaseException:
                    if lane.timed_out:
                        raise CallTimeout(f"timed out after {timeout:g} s") from None
                    raise
                finally:
                    lane.deadline = math.inf
            finally:
                run_slots.release()
        finally:
            server_slots.release()
        self._account(result)
        return result

    def _account(self, result: Any) -> None:
        limits = self.policy.limits
        size = measure(result, limits.max_value_bytes)
        if size > limits.max_value_bytes:
            raise OverBudget(
                f"result too large: over {_mib(limits.max_value_bytes)} (the limit per value, "
                "compiler.max_value_bytes); the result was dropped"
            )
        if self._run_bytes + size > limits.max_run_bytes:
            raise OverBudget(
                f"the run's results passed {_mib(limits.max_run_bytes)} together (the limit per run, "
                "compiler.max_run_bytes); this result was dropped"
            )
        self._run_bytes += size


class Lane:
    """Where one task makes calls one after another: a cancel scope it entered, and the deadline
    of the call under way (infinite between calls), which the run's timer watches."""

    __slots__ = ("scope", "deadline", "timed_out")

    def __init__(self, scope: anyio.CancelScope) -> None:
        self.scope = scope
        self.deadline = math.inf
        # The timer cancelled the scope (the only one to): the call under way timed out, and
        # nothing more can be awaited on the lane.
        self.timed_out = False


class _CallTimer:
    """The deadlines of one round's calls, watched by one task.

    A call sets its lane's deadline (a float: no timer handle, no scope); the watcher sleeps until
    the nearest deadline it knows of, and is woken early only by a call whose deadline is nearer
    still. With no call under way it keeps its last wake time, so with one timeout for every call
    it is woken about once per timeout, not once per call. On waking it cancels the scope of every
    lane whose call has passed its deadline.
    """

    def __init__(self) -> None:
        self.lanes: set[Lane] = set()
        self._wake_at = math.inf  # when the watcher looks next
        self._woken = anyio.Event()
        self._stopped = False

    @property
    def wake_at(self) -> float:
        """When the watcher looks next (monotonic time): a call whose deadline is nearer wakes it."""
        return self._wake_at

    def wake(self, deadline: float) -> None:
        """A call's deadline is nearer than the watcher's next look: look then instead."""
        self._wake_at = deadline
        self._woken.set()

    def stop(self) -> None:
        self._stopped = True
        self._woken.set()

    async def watch(self) -> None:
        while not self._stopped:
            now = time.monotonic()
            nearest = self._wake_at if self._wake_at > now else math.inf
            for lane in self.lanes:
                if lane.deadline <= now:
                    lane.deadline, lane.timed_out = math.inf, True
                    lane.scope.cancel()
                elif lane.deadline < nearest:
                    nearest = lane.deadline
            self._wake_at = nearest
            self._woken = anyio.Event()
            with anyio.move_on_after(nearest - now if nearest < math.inf else None):
                await self._woken.wait()


def cut_text(text: str, limit: int, setting: str = "compiler.max_error_bytes") -> str:
    """An error text as a run keeps it: at most `limit` bytes and a marker (`text.cut`)."""
    return cut(text, limit, setting)


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size:,} bytes"
