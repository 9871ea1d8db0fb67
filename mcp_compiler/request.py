"""One request, parsed and checked once: the plan (text or JSON) or the question, within its limits.

Every door a request comes in by (the MCP server in both protocol eras, the CLI's `run`) hands
what it was given to `parse_request` and passes the `Request` it returns on; nothing after it
parses the plan again or checks a request limit. The request limits live here, in one type
(`RequestLimits`); the limits of a run once it runs (concurrency, timeouts, value sizes) are the
engine's (`engine.policy.Limits`).

`parse_request` is a pure function: no I/O, no event loop, so a caller may run it in a worker
thread (`parse_request_async` does for a big plan) and a test can count its calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from .config import CompilerConfig
from .errors import RequestError
from .language.parser import parse_plan
from .language.plan import Plan
from .text import scrub

__all__ = [
    "Request", "RequestLimits", "parse_request", "parse_request_async",
]

_BIG_PLAN = 32_768  # characters; a plan over this parses in a worker thread (it could stall other calls)


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask for. Over a limit, the request is refused and nothing runs.

    Each field has the name of its config key in `compiler` (the query's has none).
    """

    max_plan_bytes: int = 1_000_000
    max_plan_tasks: int = 1_000
    max_query_chars: int = 20_000
    # The tool description lists every tool up to these; beyond, a subset and the catalog resource.
    description_max_tools: int = 40
    description_max_chars: int = 6_000

    @classmethod
    def from_config(cls, compiler: CompilerConfig) -> RequestLimits:
        return cls(max_plan_bytes=compiler.max_plan_bytes, max_plan_tasks=compiler.max_plan_tasks,
                   description_max_tools=compiler.description_max_tools)


@dataclass(frozen=True)
class Request:
    """A request, checked: exactly one of a parsed plan and a question (`query`)."""

    plan: Plan | None = None
    query: str | None = None


def _check_plan_size(text: str, max_bytes: int) -> None:
    """A plan text over `compiler.max_plan_bytes` is refused before it is parsed."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise RequestError(
            f"the plan is too large ({size:,} bytes; the limit is {max_bytes:,}, compiler.max_plan_bytes "
            "in the config). Split the work into several calls."
        )


def _check_plan_tasks(plan: Plan, max_tasks: int) -> None:
    """A parsed plan over `compiler.max_plan_tasks` runs nothing."""
    if len(plan.tasks) > max_tasks:
        raise RequestError(
            f"the plan has {len(plan.tasks):,} tasks; the limit is {max_tasks:,} per call "
            "(compiler.max_plan_tasks in the config). Split the work into several calls."
        )


def _given(arguments: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The `plan` and `query` of a request's arguments, checked for shape (not yet for content)."""
    unknown = sorted(set(arguments) - {"plan", "query"})
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise RequestError(f"unknown argument(s) {names}: give exactly one of `plan` or `query`")
    plan, query = arguments.get("plan"), arguments.get("query")
    for name, value in (("plan", plan), ("query", query)):
        if value is not None and not isinstance(value, str):
            raise RequestError(f"`{name}` must be a string, not {type(value).__name__}")
    plan, query = scrub(plan), scrub(query)  # a lone surrogate becomes U+FFFD here, not a crash later
    given = [name for name, value in (("plan", plan), ("query", query)) if value is not None]
    if len(given) != 1:
        raise RequestError(
            "give exactly one of `plan` (a plan in the plan language) or `query` (a request in words); "
            + ("got both" if given else "got neither")
        )
    return plan, query


def parse_request(arguments: Mapping[str, Any], limits: RequestLimits = RequestLimits()) -> Request:
    """The request `arguments` (`{"plan": text}`, the text or JSON form, or `{"query": words}`) make.

    Raises RequestError for a request that breaks a rule or a limit, PlanError for a plan that does
    not parse. The size is checked before parsing, the task count after.
    """
    plan, query = _given(arguments)
    if query is not None:
        if not query.strip():
            raise RequestError("`query` is empty: say what you want done, or send a `plan`")
        if len(query) > limits.max_query_chars:
            raise RequestError(
                f"`query` is too long ({len(query):,} characters; the limit is {limits.max_query_chars:,})"
            )
        return Request(query=query)
    assert plan is not None
    if not plan.strip():
        raise RequestError("`plan` is empty: write one task per line, e.g. `1. server.tool(arg)`, then `join()`")
    _check_plan_size(plan, limits.max_plan_bytes)
    parsed = parse_plan(plan)
    _check_plan_tasks(parsed, limits.max_plan_tasks)
    return Request(plan=parsed)


async def parse_request_async(arguments: Mapping[str, Any], limits: RequestLimits = RequestLimits()) -> Request:
    """`parse_request` on the event loop: a big plan parses in a worker thread so it cannot stall other
    calls; a small one is quicker parsed here than handed to a thread."""
    plan = arguments.get("plan")
    if isinstance(plan, str) and len(plan) > _BIG_PLAN:
        return await anyio.to_thread.run_sync(parse_request, arguments, limits)
    return parse_request(arguments, limits)
