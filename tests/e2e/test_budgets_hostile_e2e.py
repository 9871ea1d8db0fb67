"""Budgets everywhere (issue 23), end to end: `mcp-compiler serve --transport http` as a real
subprocess over a hostile stdio upstream (tests/fixtures/budget_upstream.py), called by the MCP
SDK's client in both protocol eras. Each shape of the issue: the reply stays within its budget
(`max_reply_bytes`, 512 KiB by default), a refusal names its setting, and the server's peak RSS
(its VmHWM, the process's high-water mark) stays under the bound docs/config.md#memory states."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME

FIXTURES = Path(__file__).parents[1] / "fixtures"
REPLY_BUDGET = 512 * 2**10
PEAK_RSS_MIB = 400  # docs/config.md#memory: the server's bound for the shapes of one message at a time
ERAS = ["legacy", "auto"]  # auto lands on 2026-07-28 against mcp-compiler

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def hostile_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`serve --transport http` over the hostile upstream: (url, the server's pid)."""
    tmp = tmp_path_factory.mktemp("budgets")
    config = tmp / "config.json"
    config.write_text(json.dumps({
        "mcpServers": {
            "hostile": {"command": sys.executable, "args": [str(FIXTURES / "budget_upstream.py")]},
            # Closed by its config: no tool, and so none of its resources either.
            "closed": {"command": sys.executable, "args": [str(FIXTURES / "budget_upstream.py"), "--name", "closed"],
                       "allow": []},
        },
        "compiler": {"max_run_calls": 3000, "destructive": "allow"},
    }))
    port = free_port()
    log = tmp / "serve.log"
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_compiler", "serve", "--config", str(config), "--transport", "http",
             "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
        )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp", proc.pid
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def reply_size(result: types.CallToolResult) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


async def call(url: str, mode: str, plan: str, **kwargs: Any) -> types.CallToolResult:
    async with Client(url, mode=mode, **kwargs.pop("client", {})) as client:  # type: ignore[arg-type]
        return await client.call_tool(TOOL_NAME, {"plan": plan}, **kwargs)


def within_budget(result: types.CallToolResult, pid: int) -> None:
    print(f"\nreply {reply_size(result):,} bytes; server peak RSS so far {peak_rss_mib(pid):.0f} MiB")
    assert reply_size(result) <= REPLY_BUDGET, f"reply of {reply_size(result):,} bytes"
    assert peak_rss_mib(pid) < PEAK_RSS_MIB, f"peak RSS {peak_rss_mib(pid):.0f} MiB"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_1_mb_error_with_200_dependents_keeps_to_the_reply_budget(hostile_http: tuple[str, int], mode: str) -> None:
    url, pid = hostile_http
    plan = "1. hostile.fail_big(1000000)\n" + "\n".join(f"{i}. hostile.echo($1)" for i in range(2, 202)) + "\njoin()"
    with anyio.fail_after(120):
        result = await call(url, mode, plan)
    within_budget(result, pid)
    tasks = (result.structured_content or {})["tasks"]
    assert tasks[0]["status"] == "error" and "compiler.max_error_bytes" in tasks[0]["error"]
    assert all(t["status"] == "skipped" and t["error"] == "task 1 (hostile.fail_big) error; see its error" for t in tasks[1:])


@pytest.mark.parametrize("mode", ERAS)
async def test_a_spread_of_1000_calls_with_2_kb_arguments_keeps_to_the_reply_budget(
    hostile_http: tuple[str, int], mode: str
) -> None:
    url, pid = hostile_http
    with anyio.fail_after(180):
        result = await call(url, mode, "1. hostile.items(1000, 2048)\n2. hostile.echo($1.items[*])\njoin()")
    within_budget(result, pid)
    spread = (result.structured_content or {})["tasks"][1]
    assert spread["status"] == "ok" and "calls" not in spread
    assert spread["calls_stored"]["uri"].startswith("mcp-compiler://runs/")


@pytest.mark.parametrize("mode", ERAS)
async def test_a_1_2_mb_progress_message_reaches_the_host_cut(hostile_http: tuple[str, int], mode: str) -> None:
    url, pid = hostile_http
    messages: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    with anyio.fail_after(120):
        result = await call(url, mode, "1. hostile.progress_big(1200000)\njoin()", progress_callback=on_progress)
    within_budget(result, pid)
    assert not result.is_error
    relayed = [m for m in messages if "ppp" in m]
    assert relayed and max(len(m.encode()) for m in relayed) < 8 * 2**10
    assert relayed[0].endswith("[cut: 1,200,000 bytes in all; an upstream's progress message]")


async def test_a_1_2_mb_log_line_reaches_the_host_cut(hostile_http: tuple[str, int]) -> None:
    url, pid = hostile_http
    lines: list[Any] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        lines.append(params.data)

    with anyio.fail_after(120):
        result = await call(url, "legacy", "1. hostile.log_big(1200000)\njoin()", client={"logging_callback": on_log})
    within_budget(result, pid)
    assert not result.is_error
    relayed = [d for d in lines if "lll" in str(d)]
    assert len(relayed) == 1 and len(str(relayed[0]).encode()) < 8 * 2**10
    assert str(relayed[0]).endswith("an upstream's log line]")


@pytest.mark.parametrize("depth", [150, 200, 1000, 5000])
async def test_a_deep_but_valid_result_fails_at_once_never_at_the_timeout(hostile_http: tuple[str, int], depth: int) -> None:
    url, pid = hostile_http
    started = time.monotonic()
    with anyio.fail_after(60):
        result = await call(url, "auto", f"1. hostile.deep({depth})\n2. hostile.echo(1)\njoin()")
    took = time.monotonic() - started
    tasks = (result.structured_content or {})["tasks"]
    assert tasks[0]["status"] == "error" and "nests deeper" in tasks[0]["error"], tasks[0]["error"]
    assert tasks[1]["status"] == "ok"  # the session goes on
    assert took < 20, f"{took:.1f} s: waited for the call timeout (60 s)"
    within_budget(result, pid)


@pytest.mark.parametrize("mode", ERAS)
async def test_join_of_100_references_to_a_2_mb_value_is_refused_naming_the_setting(
    hostile_http: tuple[str, int], mode: str
) -> None:
    url, pid = hostile_http
    plan = "1. hostile.big(2000000)\njoin(" + ", ".join(["$1"] * 100) + ")"
    with anyio.fail_after(120):
        result = await call(url, mode, plan)
    within_budget(result, pid)
    assert "compiler.max_value_bytes" in result.content[0].text  # type: ignore[union-attr]


async def test_30_spreads_of_1000_stop_at_max_run_calls(hostile_http: tuple[str, int]) -> None:
    url, pid = hostile_http
    plan = "1. hostile.items(1000, 1)\n" + "\n".join(f"{i}. hostile.echo($1.items[*])" for i in range(2, 32)) + "\njoin()"
    with anyio.fail_after(240):
        result = await call(url, "auto", plan)
    within_budget(result, pid)
    spreads = (result.structured_content or {})["tasks"][1:]
    ran = [t for t in spreads if t["status"] == "ok"]
    refused = [t for t in spreads if t["status"] == "error"]
    assert len(ran) == 2 and len(refused) == 28  # 1 + 2 x 1,000 calls of the 3,000 configured
    assert all("compiler.max_run_calls" in t["error"] for t in refused)


@pytest.mark.parametrize("mode", ERAS)
async def test_an_18_mb_result_is_refused_while_it_is_read(hostile_http: tuple[str, int], mode: str) -> None:
    url, pid = hostile_http
    started = time.monotonic()
    with anyio.fail_after(120):
        result = await call(url, mode, "1. hostile.huge_line(18000000)\n2. hostile.echo(2)\njoin()")
    tasks = (result.structured_content or {})["tasks"]
    assert tasks[0]["status"] == "error" and "compiler.max_value_bytes" in tasks[0]["error"], tasks[0]["error"]
    assert "dropped as it was read" in tasks[0]["error"]
    assert tasks[1]["status"] == "ok"  # the session goes on
    assert time.monotonic() - started < 60
    within_budget(result, pid)


async def test_six_parallel_results_just_under_the_limit_stay_under_the_memory_bound(hostile_http: tuple[str, int]) -> None:
    url, pid = hostile_http
    plan = "\n".join(f"{i}. hostile.big({14_000_000 + i})" for i in range(1, 7)) + "\njoin()"
    with anyio.fail_after(180):
        result = await call(url, "auto", plan)
    tasks = (result.structured_content or {})["tasks"]
    assert all(t["status"] == "ok" for t in tasks), [t.get("error") for t in tasks]
    assert reply_size(result) <= REPLY_BUDGET
    # docs/config.md#memory: about 7 times each message in flight, over a base of about 80 MiB
    # (measured 640 MiB; the bound leaves room for a slower allocator, and is half the 1.3 GB the
    # issue measured before messages were bounded).
    peak = peak_rss_mib(pid)
    print(f"\nsix results of 14 MB at once: server peak RSS {peak:.0f} MiB")
    assert peak < 100 + 8 * 6 * 14.1, f"peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_server_closed_by_allow_serves_no_resources(hostile_http: tuple[str, int], mode: str) -> None:
    from mcp.shared.exceptions import MCPError

    url, _ = hostile_http
    passwd = "file%3A%2F%2F%2Fetc%2Fpasswd"
    with anyio.fail_after(60):
        async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
            listed = [str(r.uri) for r in (await client.list_resources()).resources]
            assert f"mcp-compiler://servers/hostile/{passwd}" in listed
            assert not any("/servers/closed/" in uri for uri in listed)
            with pytest.raises(MCPError, match=r"'closed' is closed: by its config .* resources/read"):
                await client.read_resource(f"mcp-compiler://servers/closed/{passwd}")
            opened = await client.read_resource(f"mcp-compiler://servers/hostile/{passwd}")
            assert "(served)" in opened.contents[0].text  # type: ignore[union-attr]
            tools = (await client.list_tools()).tools[0].description or ""
            assert "closed." not in tools  # and no tool of it in the catalog


async def test_a_host_or_origin_whose_port_is_not_a_number_is_refused(hostile_http: tuple[str, int]) -> None:
    import httpx2

    url, _ = hostile_http
    port = url.split(":")[2].split("/")[0]
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}'
    accept = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with httpx2.AsyncClient(timeout=30) as http:
        evil = await http.post(url, content=body, headers={**accept, "host": f"localhost:{port}.evil.com"})
        assert evil.status_code == 421
        evil_origin = await http.post(url, content=body, headers={**accept, "origin": f"http://localhost:{port}.evil.com"})
        assert evil_origin.status_code == 421
        fine = await http.post(url, content=body, headers={**accept, "host": f"localhost:{port}",
                                                          "origin": f"http://localhost:{port}"})
        assert fine.status_code != 421


def test_an_18_mb_result_from_an_http_upstream_is_refused_while_it_is_read(tmp_path: Path) -> None:
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(FIXTURES / "budget_upstream.py"), "--http", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, upstream)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"mcpServers": {"web": {"url": f"http://127.0.0.1:{port}/mcp"}}}))
        plan = "1. web.huge_line(18000000)\n2. web.big(1000)\njoin()"
        script = (
            "import resource, subprocess, sys, time\n"
            "t = time.monotonic()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
            "print(round(time.monotonic() - t, 2), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.stderr.write(p.stderr[-2000:])\n"
            "print(p.stdout)\n"
        )
        measured = subprocess.run(
            [sys.executable, "-c", script, sys.executable, "-m", "mcp_compiler", "run", "--config", str(config),
             "--json", "--plan", plan],
            capture_output=True, text=True, timeout=180,
        )
    finally:
        stop(upstream)
    first, _, rest = measured.stdout.partition("\n")
    took, peak_kib = float(first.split()[0]), int(first.split()[1])
    tasks = {t["id"]: t for t in json.loads(rest)["tasks"]}
    assert tasks[1]["status"] == "error" and "compiler.max_value_bytes" in tasks[1]["error"], measured.stderr
    assert "dropped as it was read" in tasks[1]["error"]
    assert tasks[2]["status"] == "ok"  # the session goes on
    assert took < 60
    print(f"\nan 18 MB result over HTTP refused in {took:.1f} s; mcp-compiler run peak RSS {peak_kib / 1024:.0f} MiB")
    assert peak_kib < PEAK_RSS_MIB * 1024
