"""The record of one request: every task's arguments, status, result and timing, and the answer.

The scheduler fills `TaskRecord`s in as tasks run, so an observer holding the `Run` sees progress.
`Run.to_dict()` is the JSON shape the CLI prints and the MCP tool returns as structuredContent.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Run", "TaskRecord", "ElementCall", "NO_EDGES", "Round", "LLMUsage", "Status", "plain_answer"]

Status = Literal["pending", "running", "ok", "error", "skipped", "cancelled"]
FINAL_STATUSES = ("ok", "error", "skipped", "cancelled")


@dataclass
class ElementCall:
    """One call of a spread task (`$N.path[*]`), for one element of its list.

    Its value is not kept here but once, in the task's `result` list at `index`.
    """

    index: int
    args: dict[str, Any] | None = None  # as resolved for this element; None if it never resolved
    status: Status = "pending"
    error: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    deduplicated_from: int | None = None  # the element whose identical call this one shared
    exception: str | None = None  # as TaskRecord.exception: the type of an exception not a ToolError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "args": self.args, "status": self.status, "error": self.error}
        for k in ("start_s", "end_s"):
            value = getattr(self, k)
            d[k] = round(value, 6) if value is not None else None
        if self.deduplicated_from is not None:
            d["deduplicated_from"] = self.deduplicated_from
        if self.exception is not None:
            d["exception"] = self.exception
        return d


class _NoEdges(list[int]):
    """The edge list of a task that has none of that kind: one empty list shared by every record
    and refusing changes (assign a new list instead). Most tasks have no `after` or `ordered_after`
    edge, and most none at all: three new lists per task were three of the five objects each task of
    a wide plan left for the garbage collector to trace (docs/benchmarks.md#scheduler-overhead)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a record's empty edge list is shared by every record: assign a new list instead")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


NO_EDGES: list[int] = _NoEdges()


def _no_edges() -> list[int]:
    return NO_EDGES


@dataclass(slots=True)  # one per task: no __dict__ to allocate and for the GC to trace
class TaskRecord:
    """One task of a run as it stands: arguments as resolved, status, result or error, timing, edges.

    `exception` marks an error that is not a `ToolError`: the tool (a Python function, a toolbox)
    or the engine raised something no one raised on purpose, such as a `KeyError`. The task still
    fails alone, with `error` saying `KeyError: ...` as for any failure, and `exception` names the
    type (`"KeyError"`), so a bug is told apart from a tool's ordinary failure (a fuzz test flags
    it). A task that shared the failed call (`deduplicated_from`), and a spread task whose first
    failed element raised one, carry it too. It is None otherwise, and `to_dict()` then leaves it
    out, so the shape of a run without such errors is unchanged.
    """

    id: int
    tool: str
    args: dict[str, Any] | None = None  # as resolved; None until the task starts
    status: Status = "pending"
    result: Any = None
    error: str | None = None
    start_s: float | None = None  # seconds since the run started
    end_s: float | None = None
    thought: str | None = None
    round: int = 1
    deduplicated_from: int | None = None  # the task whose identical call this one shared
    deps: list[int] = field(default_factory=_no_edges)  # data edges: the tasks whose values it used
    # Order edges, which pass no value. `after`: the tasks the plan said it runs after (`after $N`,
    # or the JSON form's "deps"); it runs only if they succeeded. `ordered_after`: earlier calls to
    # the same server it waited for, because it or they have side effects (plan order); it runs
    # whatever their outcome. Neither repeats an edge already in `deps`. An empty one is NO_EDGES.
    after: list[int] = field(default_factory=_no_edges)
    ordered_after: list[int] = field(default_factory=_no_edges)
    # A spread task's calls, one per element of its list, in element order; None for a plain task.
    calls: list[ElementCall] | None = None
    exception: str | None = None  # the type of an exception that was not a ToolError (see above)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("id", "tool", "args", "status", "result", "error", "start_s", "end_s")}
        for k in ("thought", "deduplicated_from"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        d["round"] = self.round
        d["deps"] = list(self.deps)  # copies: the caller may change them, and NO_EDGES refuses
        d["after"] = list(self.after)
        d["ordered_after"] = list(self.ordered_after)
        if self.calls is not None:
            d["calls"] = [c.to_dict() for c in self.calls]
        if self.exception is not None:
            d["exception"] = self.exception
        for k in ("start_s", "end_s"):
            if d[k] is not None:
                d[k] = round(d[k], 6)
        return d


@dataclass
class LLMUsage:
    """One LLM call: what it was for, its tokens and its time."""

    purpose: str  # "plan", "join", "replan"
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass
class Round:
    """One plan-execute-join round; replans add rounds."""

    number: int
    plan: str = ""
    task_ids: list[int] = field(default_factory=list)
    decision: str | None = None  # "finish" or "replan"
    reason: str | None = None
    planner_error: str | None = None  # what stopped the planner early, if anything did
    projected: bool = False  # the plan's join(VALUE, ...) gave the answer, and no joiner was asked


@dataclass
class Run:
    tasks: list[TaskRecord] = field(default_factory=list)
    answer: str | None = None
    error: str | None = None  # why the run produced no answer, if it did not
    rounds: list[Round] = field(default_factory=list)
    usage: list[LLMUsage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # names the run in logs, metrics and traces
    trace_id: str | None = None  # the OpenTelemetry trace it ran in, when traces are on

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def task(self, task_id: int) -> TaskRecord:
        for record in self.tasks:
            if record.id == task_id:
                return record
        raise KeyError(task_id)

    @property
    def ok(self) -> bool:
        return all(t.status == "ok" for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        tokens_in = sum(u.input_tokens for u in self.usage)
        tokens_out = sum(u.output_tokens for u in self.usage)
        data: dict[str, Any] = {
            "answer": self.answer,
            "tasks": [t.to_dict() for t in self.tasks],
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "rounds": [vars(r) for r in self.rounds],
            "usage": {
                "calls": [vars(u) for u in self.usage],
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
            },
        }
        if self.error:
            data["error"] = self.error
        data["run_id"] = self.id
        if self.trace_id is not None:
            data["trace_id"] = self.trace_id
        # Tool results are whatever the tools returned; make sure the whole thing is JSON.
        return json.loads(json.dumps(data, default=str))


def plain_answer(run: Run) -> str:
    """Without an LLM joiner: the results of the tasks whose values nothing else uses, one per line.

    Order edges pass no value, so a task that others only ran after is in the answer. Values that
    are not text read as JSON with the usual spacing (this is for people; a reference spliced into
    a string gets compact JSON, plan.value_text).
    """
    used = {dep for t in run.tasks for dep in t.deps}
    leaves = [t for t in run.tasks if t.id not in used]
    lines = []
    for t in leaves:
        body = _readable(t.result) if t.status == "ok" else f"{t.status}: {t.error}"
        lines.append(f"${t.id} {t.tool}: {body}" if len(leaves) > 1 else body)
    return "\n".join(lines)


def _readable(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
