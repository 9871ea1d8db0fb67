"""Size budgets, in process: references cannot multiply data without bound, and results are
bounded too (the same attack over a real stdio upstream, with its peak memory measured, is in
tests/e2e/test_budgets_e2e.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import jsonschema
import pytest

from mcp_compiler import execute
from mcp_compiler.language.plan import PlanError, measure
from mcp_compiler.server import RUN_SCHEMA
from mcp_compiler.server.results import ReplyBudget, reply_for
from mcp_compiler.server.store import RunStore
from mcp_compiler.text import MESSAGE_BYTES
from mcp_compiler.tools.toolbox import Toolbox, ToolError, ToolSpec
from mcp_compiler.upstreams.relay import HostRelay


async def concat(a: str, b: str) -> str:
    return a + b


async def big(n: int) -> str:
    return "x" * n


def doubling_plan(tasks: int, seed: str = "ab" * 512) -> str:
    lines = [f'1. concat("{seed}", "")']
    lines += [f"{i}. concat(a=${i - 1}, b=${i - 1})" for i in range(2, tasks + 1)]
    return "\n".join(lines) + "\njoin()"


@pytest.mark.anyio
async def test_doubling_through_references_stops_at_the_value_limit() -> None:
    run = await execute(doubling_plan(17), tools={"concat": concat}, max_value_bytes=2**20)
    statuses = [t.status for t in run.tasks]
    # 1 KiB doubles each step: task 11 would take 1 MiB + 2 KiB, over the 1 MiB limit.
    assert statuses[:10] == ["ok"] * 10
    assert run.task(11).status == "error"
    assert run.task(11).error == (
        "arguments too large: over 1 MiB once their references are resolved (the limit per value, "
        "compiler.max_value_bytes); nothing was called"
    )
    assert all(t.status == "skipped" for t in run.tasks[11:])


@pytest.mark.anyio
async def test_a_string_splicing_a_result_many_times_is_refused_before_it_is_built() -> None:
    splices = "$1" * 5000
    plan = f'1. big(100000)\n2. concat("{splices}", "")\njoin()'
    run = await execute(plan, tools={"big": big, "concat": concat}, max_value_bytes=2**20)
    assert run.task(1).status == "ok"
    assert run.task(2).status == "error" and "arguments too large" in run.task(2).error


@pytest.mark.anyio
async def test_a_result_over_the_value_limit_is_dropped_and_the_run_limit_holds() -> None:
    run = await execute('1. big(2000000)\n2. big(10)\njoin()', tools={"big": big}, max_value_bytes=2**20)
    assert run.task(1).status == "error" and run.task(1).result is None
    assert run.task(1).error == (
        "result too large: over 1 MiB (the limit per value, compiler.max_value_bytes); the result was dropped"
    )
    assert run.task(2).status == "ok"
    plan = "\n".join(f"{i}. big({600_000 + i})" for i in range(1, 6)) + "\njoin()"
    run = await execute(plan, tools={"big": big}, max_value_bytes=2**20, max_run_bytes=2 * 2**20)
    # Three results fit in 2 MiB; a dropped one does not count against the rest.
    assert sorted(t.status for t in run.tasks) == ["error", "error", "ok", "ok", "ok"]
    assert all("compiler.max_run_bytes" in t.error for t in run.tasks if t.status == "error")


def test_measuring_a_huge_value_stops_just_past_the_limit() -> None:
    huge = ["x" * 1000] * 1_000_000  # about 1 GB as JSON
    assert 10_000 < measure(huge, 10_000) < 12_000
    assert measure({"a": [1, "bc", None]}, 10**9) == json_size_bound({"a": [1, "bc", None]})


def json_size_bound(value: object) -> int:
    # The estimate is close to the compact JSON size for small values (within a few bytes per item).
    exact = len(json.dumps(value, separators=(",", ":")))
    estimate = measure(value, 10**9)
    assert abs(estimate - exact) <= 12
    return estimate


# ---- one budget for everything that reaches a reply (issue 23, items 1 and 2) --------------------


async def fail_big(n: int) -> str:
    raise ToolError("E" * n)


async def echo(x: object) -> object:
    return x


def reply_size(result: object) -> int:
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_long_error_is_cut_once_and_its_200_dependents_only_name_it() -> None:
    plan = "1. fail_big(1000000)\n" + "\n".join(f"{i}. echo($1)" for i in range(2, 202)) + "\njoin()"
    run = await execute(plan, tools={"fail_big": fail_big, "echo": echo})
    first = run.task(1).error
    assert first is not None and first.endswith("… [cut: 1,000,000 bytes in all; compiler.max_error_bytes]")
    assert len(first.encode()) < 8 * 2**10 + 100
    for t in run.tasks[1:]:
        # Named, not copied: the dependents' errors are short whatever the first one's length.
        assert t.status == "skipped" and t.error == "task 1 (fail_big) error; see its error"
    budget = ReplyBudget()
    result = await reply_for(run, store=RunStore(), budget=budget)
    assert reply_size(result) <= budget.max_reply_bytes
    summary = result.content[0].text  # type: ignore[union-attr]
    assert len(summary) < 10_000 and "see its error" in summary


@pytest.mark.anyio
async def test_many_long_errors_are_linked_to_fit_the_reply() -> None:
    plan = "\n".join(f"{i}. fail_big({100_000 + i})" for i in range(1, 201)) + "\njoin()"
    run = await execute(plan, tools={"fail_big": fail_big}, max_error_bytes=64 * 2**10)
    assert all(len(t.error or "") > 60_000 for t in run.tasks)  # 200 errors of 64 KiB: 12.8 MB in the Run
    store = RunStore()
    budget = ReplyBudget()
    result = await reply_for(run, store=store, budget=budget)
    assert reply_size(result) <= budget.max_reply_bytes
    data = result.structured_content
    assert data is not None
    jsonschema.validate(data, RUN_SCHEMA)
    linked = [t["error"] for t in data["tasks"] if "the whole error: mcp-compiler://runs/" in t["error"]]
    assert linked  # each linked error is still a string: its start and where the rest is
    uri = linked[0].rsplit("the whole error: ", 1)[1].rstrip("]")
    read = await store.read(uri)
    assert read.contents[0].text.startswith("E" * 1000)  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_spread_of_1000_calls_with_2_kb_arguments_keeps_to_the_reply_budget() -> None:
    async def items() -> list[str]:
        return [f"{i:04d}" + "a" * 2048 for i in range(1000)]

    run = await execute("1. items()\n2. echo($1[*])\njoin()", tools={"items": items, "echo": echo})
    assert run.task(2).status == "ok" and len(run.task(2).calls or []) == 1000
    budget, store = ReplyBudget(), RunStore()
    result = await reply_for(run, store=store, budget=budget)
    assert reply_size(result) <= budget.max_reply_bytes
    data = result.structured_content
    assert data is not None
    jsonschema.validate(data, RUN_SCHEMA)
    spread = data["tasks"][1]
    assert "calls" not in spread and spread["calls_stored"]["uri"].endswith("/tasks/2/calls")
    whole = ""
    for k in range(1, spread["calls_stored"]["parts"] + 1):
        whole += (await store.read(f"{spread['calls_stored']['uri']}/parts/{k}")).contents[0].text  # type: ignore[union-attr]
    assert len(json.loads(whole)) == 1000


@pytest.mark.anyio
async def test_join_repeating_a_large_value_is_refused_before_it_is_built() -> None:
    plan = "1. big(2000000)\njoin(" + ", ".join(["$1"] * 100) + ")"
    run = await execute(plan, tools={"big": big})
    assert run.task(1).status == "ok"
    assert run.answer == (
        "(refused: the answer join(...) builds would be over 16 MiB (the limit per value, "
        "compiler.max_value_bytes); it was not built)"
    )
    run = await execute("1. big(2000000)\njoin($1, $1, $1)", tools={"big": big})
    assert run.answer is not None and len(run.answer) == 3 * 2_000_000 + 2  # within the limit: built


@pytest.mark.anyio
async def test_join_spreading_over_a_list_counts_each_line_against_the_limit() -> None:
    async def many() -> list[str]:
        return ["x" * 1000] * 2000

    run = await execute('1. many()\njoin("$1[*] and $1[*]")', tools={"many": many}, max_value_bytes=2**20)
    assert run.answer is not None and "compiler.max_value_bytes" in run.answer and len(run.answer) < 300


class _Reporting(Toolbox):
    """One tool that reports a 1.2 MB progress message, then answers."""

    def specs(self) -> dict[str, ToolSpec]:
        return {"s.slow": ToolSpec(name="s.slow", provider="s", read_only=True)}

    async def call(self, spec: ToolSpec, arguments: dict[str, object]) -> object:
        return "done"

    async def call_with_progress(self, spec: ToolSpec, arguments: dict[str, object], progress: object) -> object:
        progress(1, 2, "p" * 1_200_000)  # type: ignore[operator]
        return "done"


@pytest.mark.anyio
async def test_an_upstream_progress_message_of_1_2_mb_reaches_the_host_cut() -> None:
    messages: list[str] = []

    def on_event(event: object) -> None:
        messages.append(event.message)  # type: ignore[attr-defined]

    run = await execute("1. s.slow()\njoin()", toolbox=_Reporting(), on_event=on_event)
    assert run.task(1).status == "ok"
    relayed = [m for m in messages if "pppp" in m]
    assert len(relayed) == 1 and len(relayed[0].encode()) < MESSAGE_BYTES + 200
    assert relayed[0].endswith("[cut: 1,200,000 bytes in all; an upstream's progress message]")


def test_an_upstream_log_line_of_1_2_mb_is_cut_for_the_host() -> None:
    relay = HostRelay("s", timeout_s=5)
    line = relay._redacted("l" * 1_200_000)
    assert len(line.encode()) < MESSAGE_BYTES + 200 and line.endswith("an upstream's log line]")
    structured = relay._redacted({"rows": ["r" * 1000] * 1200})
    assert isinstance(structured, str) and len(structured.encode()) < MESSAGE_BYTES + 200
    assert relay._redacted({"small": 1}) == {"small": 1}  # within the limit: as it was sent


@pytest.mark.anyio
async def test_30_spreads_of_1000_stop_at_the_runs_call_limit() -> None:
    made = 0

    async def items() -> list[int]:
        return list(range(1000))

    async def one(x: int) -> int:
        nonlocal made
        made += 1
        return x

    plan = "1. items()\n" + "\n".join(f"{i}. one($1[*])" for i in range(2, 32)) + "\njoin()"
    run = await execute(plan, tools={"items": items, "one": one}, max_run_calls=10_000)
    spreads = run.tasks[1:]
    assert made <= 10_000 - 1  # task 1 is a call too
    assert sum(t.status == "ok" for t in spreads) == 9
    refused = [t for t in spreads if t.status == "error"]
    assert len(refused) == 21
    assert all("compiler.max_run_calls" in (t.error or "") and "nothing was called" in (t.error or "") for t in refused)
    assert all(t.calls is None or all(c.status == "pending" or c.status == "cancelled" for c in t.calls) for t in refused)


@pytest.mark.anyio
async def test_a_plan_whose_plain_calls_pass_the_runs_call_limit_is_refused_before_any_call() -> None:
    made = 0

    async def counted(x: int) -> int:
        nonlocal made
        made += 1
        return x

    plan = "\n".join(f"{i}. counted({i})" for i in range(1, 8)) + "\njoin()"
    with pytest.raises(PlanError) as refused:
        await execute(plan, tools={"counted": counted}, max_run_calls=5)
    assert made == 0
    assert str(refused.value) == (
        "the plan makes 7 calls: more than the run's 5 (the limit per run, compiler.max_run_calls); nothing was called"
    )
    # with a spread after them: the plain calls alone already pass it, and the message says the spread is not counted
    spread = "\n".join(f"{i}. counted({i})" for i in range(1, 7)) + "\n7. items()\n8. counted($7[*])\njoin()"
    with pytest.raises(PlanError, match=r"makes 7 calls, before the calls of its 1 spread task: .*compiler\.max_run_calls"):
        await execute(spread, tools={"counted": counted, "items": three_items}, max_run_calls=6)
    assert made == 0


@pytest.mark.anyio
async def test_a_plan_exactly_at_the_runs_call_limit_runs_and_a_spread_past_it_is_refused_as_it_expands() -> None:
    made = 0

    async def counted(x: int) -> int:
        nonlocal made
        made += 1
        return x

    plan = "\n".join(f"{i}. counted({i})" for i in range(1, 6)) + "\njoin()"
    run = await execute(plan, tools={"counted": counted}, max_run_calls=5)
    assert made == 5 and [t.status for t in run.tasks] == ["ok"] * 5
    # 4 plain calls pass the check; the spread's 3 elements are counted once its list is known
    made = 0
    run = await execute(
        "1. items()\n2. counted(1)\n3. counted(2)\n4. counted($1[*])\njoin()",
        tools={"counted": counted, "items": three_items}, max_run_calls=5,
    )
    assert made == 2 and run.task(4).status == "error"
    assert run.task(4).error == (
        "$1[*]'s 3 calls would pass the run's 5 calls (the limit per run, compiler.max_run_calls; 3 counted so far); "
        "nothing was called"
    )


async def three_items() -> list[int]:
    return [1, 2, 3]


def test_a_stdio_line_over_the_bound_is_dropped_while_read_and_its_call_fails() -> None:
    import codecs

    from mcp_compiler.upstreams.stdout_codec import reporting_utf8

    decoder = codecs.getincrementaldecoder(reporting_utf8(1000))("replace")
    out = decoder.decode(b'{"jsonrpc":"2.0","id":3,"result":"' + b"x" * 600)
    assert out == ""  # a line is handed on whole, at its newline
    for _ in range(100):  # 1 MB more of the same line: held no longer than the bound
        out += decoder.decode(b"y" * 10_000)
        assert len(decoder._line) <= 1001  # type: ignore[attr-defined]
    out += decoder.decode(b'"}\n{"jsonrpc":"2.0","method":"n","params":"' + b"z" * 2000 + b'"}\n{"a":\xff1}\n')
    lines = out.splitlines()
    assert len(lines) == 2  # the server's own oversized notification is dropped: nobody waits on it
    error = json.loads(lines[0])
    assert error["id"] == 3 and "compiler.max_value_bytes" in error["error"]["message"]
    assert "1,000,637 bytes" in error["error"]["message"]  # its newline included
    assert lines[1] == '{"a":\ufffd1}'  # undecodable bytes still become U+FFFD


@pytest.mark.anyio
async def test_an_http_json_body_over_the_bound_fails_while_read_by_length_or_by_chunks() -> None:
    import httpx2

    from mcp_compiler.upstreams.wire import BoundedBodies

    served: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):  # 6.4 MB, with no Content-Length
            served.append(1)
            yield b"x" * 65536

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/length":
            return httpx2.Response(200, headers={"content-type": "application/json"}, content=b"1" * 2_000_000)
        if request.url.path == "/small":
            return httpx2.Response(200, headers={"content-type": "application/json"}, content=b'{"ok": 1}')
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=chunks())

    async with httpx2.AsyncClient(transport=BoundedBodies(httpx2.MockTransport(handler), 1_000_000)) as client:
        assert (await client.get("http://upstream/small")).json() == {"ok": 1}
        for path in ("/length", "/chunked"):
            with pytest.raises(httpx2.StreamError, match=r"compiler\.max_value_bytes"):
                await client.get(f"http://upstream{path}")
    assert len(served) <= 17  # read until the chunk that passed 1 MB, not the 6.4 MB served


@pytest.mark.anyio
async def test_a_replan_counts_the_calls_of_earlier_rounds() -> None:
    from mcp_compiler import Compiler
    from mcp_compiler.engine.policy import Limits
    from mcp_compiler.testing import ScriptedLLM
    from mcp_compiler.tools.toolbox import FunctionToolbox

    made = 0

    async def counted(x: int) -> int:
        nonlocal made
        made += 1
        return x

    llm = ScriptedLLM([
        "1. counted(1)\n2. counted(2)\n3. counted(3)\njoin()\n<END_OF_PLAN>", "Action: Replan(more)",
        "4. counted(4)\n5. counted(5)\njoin()\n<END_OF_PLAN>", "Action: Finish(done)",
    ])
    run = await Compiler(FunctionToolbox({"counted": counted}), Limits(max_run_calls=4), llm=llm).run_query("q")
    assert made == 4  # 3 in round 1, 1 in round 2: the budget is the run's, not the round's
    assert [t.status for t in run.tasks] == ["ok"] * 4 + ["error"]
    assert run.task(5).error == (
        "this call would pass the run's 4 calls (the limit per run, compiler.max_run_calls; 4 counted so far); "
        "nothing was called"
    )
