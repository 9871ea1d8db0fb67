"""Answer projection: `join(VALUE, ...)` makes the answer exactly those values, one a line.

A value is anything an argument may be: a reference (`$3.items[0].title`), a string with
references inside (`"$3.value km is longer"`), a literal. Each becomes one line: a string as it
is, anything else as compact JSON (`plan.value_text`, as a reference spliced into a string reads).
A value holding a spread reference (`$2[*].name`) becomes one line per element of its list.

A value that cannot be had (its task did not succeed, or its path is not in the result) becomes a
line saying why, and the projection is not `complete`: a query then asks the joiner, as it does
without a projection (`round_answer`: a planner's round is answered by its projection only when
every task of the round succeeded, and the joiner's LLM call is skipped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..language.checks import PlanChecker
from ..language.parser import parse_plan
from ..language.plan import (
    NO_ELEMENT,
    PlanError,
    ResolveError,
    Value,
    refs_in,
    resolve,
    resolve_element,
    resolved_size,
    spreads_in,
    value_text,
)
from ..tools.toolbox import ToolSpec
from .policy import cut_text
from .run import Run, TaskRecord

__all__ = ["Projection", "project", "round_answer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Projection:
    text: str
    complete: bool  # every value was had


_DEFAULT_LIMIT = 16 * 2**20  # Limits.max_value_bytes's default


def project(values: Iterable[Value], run: Run, limit: int = _DEFAULT_LIMIT) -> Projection:
    """The answer `join(*values)` gives over the tasks of `run`.

    The answer is one value: it may take at most `limit` bytes (`compiler.max_value_bytes`),
    counted before each line is built, so `join($1, $1, ...)` over a large value is refused
    before it exists rather than after (a 428-byte plan could otherwise build 200 MB).
    """
    records = {t.id: t for t in run.tasks}
    lines: list[str] = []
    complete = True
    budget = _Budget(limit)
    for value in values:
        failed = [records[i] for i in sorted(refs_in(value)) if i not in records or records[i].status != "ok"]
        if failed:
            first = failed[0]
            why = cut_text(first.error or "", 200, "the task's own error has the rest")
            lines.append(f"(unavailable: task {first.id} {first.tool} {first.status}: {why})")
            complete = False
            continue
        try:
            lines += _lines(value, {i: records[i].result for i in refs_in(value)}, budget)
        except ResolveError as e:
            lines.append(f"(unavailable: {e})")
            complete = False
        except _OverBudget:
            return Projection(
                f"(refused: the answer join(...) builds would be over {_size_text(limit)} (the limit per value, "
                "compiler.max_value_bytes); it was not built)",
                False,
            )
    return Projection("\n".join(lines), complete)


class _OverBudget(Exception):
    pass


class _Budget:
    """What the projection's lines may still take, each measured before it is built."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, value: Value, results: dict[int, Any], element: Any = NO_ELEMENT) -> None:
        size = resolved_size(value, results, self.left, element) + 1  # and its newline
        if size > self.left:
            raise _OverBudget
        self.left -= size


def _size_text(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size:,} bytes"


def _lines(value: Value, results: dict[int, Any], budget: _Budget) -> list[str]:
    spreads = spreads_in(value)
    if not spreads:
        budget.take(value, results)
        return [value_text(resolve(value, results))]
    elements = resolve(spreads[0].list_ref, results)
    if not isinstance(elements, list):
        raise ResolveError(f"{spreads[0].list_ref}[*] spreads over a list, but {spreads[0].list_ref} is not one")
    lines = []
    for element in elements:
        budget.take(value, results, element)
        lines.append(value_text(resolve_element(value, results, element)))
    return lines


def round_answer(
    text: str, run: Run, catalog: Mapping[str, ToolSpec], records: list[TaskRecord], limit: int = _DEFAULT_LIMIT
) -> str | None:
    """The answer of a planner's round whose plan (`text`) ends in `join(VALUE, ...)`, when every
    task of the round succeeded and every value checks and resolves; else None (ask the joiner)."""
    if not records or any(t.status != "ok" for t in records):
        return None
    try:
        answer = parse_plan(text).answer
        if answer is None:
            return None
        checker = PlanChecker(catalog, known_tools={t.id: t.tool for t in run.tasks},
                              spread_ids=[t.id for t in run.tasks if t.calls is not None])
        checker.check_answer(answer)
    except PlanError as e:
        log.info("the plan's join(...) is not the answer, the joiner is asked: %s", e)
        return None
    projection = project(answer, run, limit)
    return projection.text if projection.complete else None
