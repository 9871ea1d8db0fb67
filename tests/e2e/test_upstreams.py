"""UpstreamPool over real subprocesses and a real Streamable HTTP server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from procs import alive, descendants, free_port, stop

from mcp_compiler.config import Config, parse_config
from mcp_compiler.tools.catalog import Catalog
from mcp_compiler.tools.toolbox import ToolError
from mcp_compiler.upstreams import UpstreamLost, UpstreamPool

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
TOY = str(FIXTURES / "toy_server.py")
HANG = str(FIXTURES / "hang_server.py")
THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))


# ---- helpers ----------------------------------------------------------------------------------


def toy(name: str, *flags: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [TOY, "--name", name, *flags], **extra}


def config(servers: dict[str, Any], **compiler: Any) -> Config:
    compiler.setdefault("connect_timeout_s", 20)
    return parse_config({"mcpServers": servers, "compiler": compiler})


def start_http_server(port: int, name: str = "web") -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, TOY, "--name", name, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the HTTP fixture server exited at start") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the HTTP fixture server did not start within 20s")


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    proc = start_http_server(port)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)


async def call(pool: UpstreamPool, name: str, **arguments: Any) -> Any:
    return await pool.call(pool.specs()[name], arguments)


# ---- connecting and calling ----------------------------------------------------------------------


async def test_three_stdio_servers_and_one_http_server_serve_at_once(http_server: str) -> None:
    servers = {"a": toy("a"), "b": toy("b"), "c": toy("c"), "web": {"url": http_server}}
    async with UpstreamPool(config(servers)) as pool:
        status = {s.name: s for s in pool.status()}
        assert all(s.connected for s in status.values()), status
        assert status["web"].transport == "http" and status["a"].transport == "stdio"
        async with anyio.create_task_group() as tg:
            results: dict[str, Any] = {}

            async def echo(server: str) -> None:
                results[server] = await call(pool, f"{server}.echo", text="hi")

            for server in servers:
                tg.start_soon(echo, server)
        assert results == {s: {"result": f"{s}:hi"} for s in servers}


async def test_fan_out_makespan_is_close_to_the_slowest_call_not_the_sum(http_server: str) -> None:
    servers = {"a": toy("a"), "b": toy("b"), "c": toy("c"), "web": {"url": http_server}}
    calls = [(server, 1.0) for server in servers for _ in range(2)]  # 8 calls, 8 s if run one by one
    async with UpstreamPool(config(servers)) as pool:
        spans: list[dict[str, Any]] = []

        async def sleep(server: str, seconds: float) -> None:
            spans.append(await call(pool, f"{server}.sleep", seconds=seconds))

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for server, seconds in calls:
                tg.start_soon(sleep, server, seconds)
        makespan = anyio.current_time() - started
    assert len(spans) == len(calls)
    assert makespan < 3.0, f"makespan {makespan:.2f}s for 8 one-second calls"
    # Every call started before any call ended: they really overlapped (one host, one monotonic clock).
    assert max(s["start"] for s in spans) < min(s["end"] for s in spans)


async def test_values_follow_the_structured_then_json_then_text_rule() -> None:
    async with UpstreamPool(config({"a": toy("a")})) as pool:
        assert await call(pool, "a.structured") == {"server": "a", "items": [1, 2, 3]}
        assert await call(pool, "a.json_text") == {"a": [1, 2]}
        assert await call(pool, "a.plain_text") == "just words"
        with pytest.raises(ToolError, match="city not found"):
            await call(pool, "a.fail", message="city not found")


async def test_specs_carry_names_schemas_provider_and_mcp_default_annotations() -> None:
    async with UpstreamPool(config({"a": toy("a")})) as pool:
        catalog = pool.specs()
        assert isinstance(catalog, Catalog)
        echo = catalog["a.echo"]
        assert echo.provider == "a" and echo.description.startswith("Return the text")
        assert echo.parameters == ["text"] and echo.output_schema is not None
        assert (echo.read_only, echo.destructive) == (True, False)
        assert catalog["a.add"].idempotent is True
        assert catalog["a.delete_all"].destructive is True
        # No annotations at all: not gated by the destructive policy, which covers tools marked so.
        assert catalog["a.crash"].destructive is False and catalog["a.crash"].read_only is False
        assert catalog.resolve("structured").name == "a.structured"


async def test_allow_and_deny_lists_filter_the_catalog() -> None:
    servers = {"a": toy("a", allow=["echo", "s*"]), "b": toy("b", deny=["delete_*", "crash", "add*"])}
    async with UpstreamPool(config(servers)) as pool:
        names = set(pool.specs())
    assert {n for n in names if n.startswith("a.")} == {"a.echo", "a.sleep", "a.structured"}
    b_tools = {n for n in names if n.startswith("b.")}
    assert "b.echo" in b_tools and not b_tools & {"b.delete_all", "b.crash", "b.add", "b.add_tool"}


async def test_cancelling_the_caller_cancels_the_downstream_request(tmp_path: Path) -> None:
    note = tmp_path / "note"
    async with UpstreamPool(config({"a": toy("a")})) as pool:
        with anyio.move_on_after(1.0) as scope:
            await call(pool, "a.sleep", seconds=30, note_path=str(note))
        assert scope.cancelled_caught
        with anyio.fail_after(10):
            while not note.exists():
                await anyio.sleep(0.05)
    assert note.read_text() == "cancelled"


# ---- faults ---------------------------------------------------------------------------------------


async def test_a_server_exiting_mid_call_fails_that_call_fast_and_restarts() -> None:
    async with UpstreamPool(config({"a": toy("a"), "b": toy("b")})) as pool:
        outcome: dict[str, Any] = {}

        async def crash() -> None:
            started = anyio.current_time()
            with pytest.raises(UpstreamLost, match="went away") as info:
                await call(pool, "a.crash")
            outcome["crash"] = (anyio.current_time() - started, str(info.value))

        async def slow() -> None:
            outcome["slow"] = await call(pool, "b.sleep", seconds=1.0)

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(crash)
        elapsed, message = outcome["crash"]
        assert elapsed < 2.0, f"the crashed call took {elapsed:.2f}s to fail"
        assert "not retried" not in message  # retrying is the call policy's (test_call_policy.py)
        assert outcome["slow"]["server"] == "b"
        # The next call waits for the restart and works.
        assert await call(pool, "a.echo", text="again") == {"result": "a:again"}
        status = {s.name: s for s in pool.status()}
        assert status["a"].connected and status["a"].restarts == 1
        assert status["b"].restarts == 0


async def test_a_server_that_never_answers_initialize_is_reported_and_others_work() -> None:
    servers = {"good": toy("good"), "mute": {"command": sys.executable, "args": [HANG]}}
    started = anyio.current_time()
    async with UpstreamPool(config(servers, connect_timeout_s=3)) as pool:
        assert anyio.current_time() - started < 3 + 3
        status = {s.name: s for s in pool.status()}
        assert status["good"].connected
        assert not status["mute"].connected and status["mute"].state == "failed"
        assert "no answer to the MCP handshake within 3s" in (status["mute"].last_error or "")
        assert "never going to answer" in (status["mute"].last_error or "")  # the stderr tail
        assert await call(pool, "good.echo", text="x") == {"result": "good:x"}
        assert not any(name.startswith("mute.") for name in pool.specs())


async def test_a_command_that_does_not_exist_gets_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    servers = {"good": toy("good"), "ghost": {"command": "no-such-mcp-server-xyz"}}
    async with UpstreamPool(config(servers)) as pool:
        status = {s.name: s for s in pool.status()}
        assert status["ghost"].last_error == "command not found: 'no-such-mcp-server-xyz'"
        assert status["good"].connected
    assert "upstream 'ghost' failed to start (retrying in 0.5s): command not found" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_server_that_crashes_at_start_is_reported_with_its_stderr() -> None:
    servers = {"bad": toy("bad", "--crash-at-start")}
    async with UpstreamPool(config(servers)) as pool:
        error = pool.status()[0].last_error or ""
    assert "exited or closed the connection during the handshake" in error
    assert "cannot open database /nonexistent/db.sqlite" in error


async def test_a_server_printing_garbage_on_stdout_still_works(caplog: pytest.LogCaptureFixture) -> None:
    async with UpstreamPool(config({"g": toy("g", "--garbage")})) as pool:
        assert pool.status()[0].connected
        # echo writes another garbage line mid-session, right before its answer.
        assert await call(pool, "g.echo", text="x") == {"result": "g:x"}
        assert await call(pool, "g.echo", text="y") == {"result": "g:y"}
    assert "sent a message that is not MCP" in caplog.text


async def test_calls_to_a_server_that_cannot_restart_fail_fast_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    servers = {"a": toy("a", "--crash-at-start-if", str(broken))}
    async with UpstreamPool(config(servers), backoff_initial_s=30) as pool:
        broken.touch()  # from now on every restart fails
        with pytest.raises(UpstreamLost):
            await call(pool, "a.crash")
        started = anyio.current_time()
        with pytest.raises(ToolError, match=r"(?s)server .a. is not available: .*cannot open database"):
            await call(pool, "a.echo", text="x")  # waits out the restart attempt, then fails
        with pytest.raises(ToolError, match="not available"):
            await call(pool, "a.echo", text="y")  # the server is down: no wait at all
        assert anyio.current_time() - started < 10
        status = pool.status()[0]
        assert status.state == "failed" and status.tools == 11  # last known tools stay listed
        with pytest.raises(ToolError, match="unknown tool"):
            from mcp_compiler.tools.toolbox import ToolSpec

            await pool.call(ToolSpec(name="a.nope", provider="a"), {})


@pytest.mark.slow  # waits out the reconnect back-off
async def test_a_dropped_http_server_is_reconnected_when_it_comes_back() -> None:
    port = free_port()
    proc = start_http_server(port)
    try:
        async with UpstreamPool(config({"web": {"url": f"http://127.0.0.1:{port}/mcp"}})) as pool:
            assert await call(pool, "web.echo", text="1") == {"result": "web:1"}
            stop(proc)
            started = anyio.current_time()
            with pytest.raises(ToolError):
                await call(pool, "web.echo", text="2")
            assert anyio.current_time() - started < 10
            proc = start_http_server(port)
            with anyio.fail_after(30):
                while True:
                    try:
                        assert await call(pool, "web.echo", text="3") == {"result": "web:3"}
                        break
                    except ToolError:
                        await anyio.sleep(0.3)
    finally:
        stop(proc)


# ---- catalog changes -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol_mode", ["auto", "legacy"])
async def test_tools_list_changed_refreshes_the_catalog(protocol_mode: str) -> None:
    seen: list[Catalog] = []

    async def on_change(catalog: Catalog) -> None:
        seen.append(catalog)

    async with UpstreamPool(config({"a": toy("a")}), protocol_mode=protocol_mode) as pool:
        expected_era = "2026-07-28" if protocol_mode == "auto" else "2025-11-25"
        assert pool.status()[0].protocol_version == expected_era
        pool.on_catalog_change.append(on_change)
        version = pool.catalog_version
        assert "a.fresh" not in pool.specs()
        async with anyio.create_task_group() as tg:
            changed: list[Catalog] = []

            async def wait_change() -> None:
                changed.append(await pool.catalog_changed(timeout=15))

            tg.start_soon(wait_change)
            await anyio.sleep(0)
            assert await call(pool, "a.add_tool", tool_name="fresh") == {"result": "ok"}
        assert "a.fresh" in changed[0]
        assert pool.catalog_version > version
        assert await call(pool, "a.fresh") == {"result": "fresh"}
        with anyio.fail_after(5):
            while not seen:
                await anyio.sleep(0.05)
        assert "a.fresh" in seen[-1]


# ---- shutdown ------------------------------------------------------------------------------------


async def test_leaving_the_pool_leaves_no_child_process() -> None:
    async with UpstreamPool(config({"a": toy("a"), "b": toy("b"), "c": toy("c")})) as pool:
        assert all(s.connected for s in pool.status())
        children = descendants(os.getpid())
        assert len(children) >= 3
    with anyio.fail_after(10):
        while any(alive(pid) for pid in children):
            await anyio.sleep(0.1)


async def test_cancelling_the_pool_mid_handshake_leaves_no_child_process() -> None:
    servers = {"a": toy("a"), "mute": {"command": sys.executable, "args": [HANG]}}
    children: set[int] = set()

    async def spy() -> None:
        await anyio.sleep(2.5)
        children.update(descendants(os.getpid()))

    started = anyio.current_time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(spy)
        with anyio.move_on_after(3):
            async with UpstreamPool(config(servers, connect_timeout_s=60)):
                pytest.fail("the pool cannot be ready: `mute` never answers")
    assert anyio.current_time() - started < 10
    assert len(children) >= 2
    with anyio.fail_after(10):
        while any(alive(pid) for pid in children):
            await anyio.sleep(0.1)


_SIGTERM_HOST = textwrap.dedent(
    """
    import os, sys, anyio
    from mcp_compiler.config import parse_config
    from mcp_compiler.upstreams import UpstreamPool, cancel_on_signals

    servers = {n: {"command": sys.executable, "args": [sys.argv[1], "--name", n]} for n in ("a", "b")}
    config = parse_config({"mcpServers": servers})

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_on_signals, tg.cancel_scope)
            async with UpstreamPool(config) as pool:
                assert all(s.connected for s in pool.status())
                print("ready", flush=True)
                await anyio.sleep_forever()

    anyio.run(main)
    print("clean exit", flush=True)
    """
)


async def test_sigterm_to_the_host_stops_every_child(tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(_SIGTERM_HOST)
    host = subprocess.Popen(
        [sys.executable, str(script), TOY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert host.stdout is not None
        with anyio.fail_after(30):
            line = await anyio.to_thread.run_sync(host.stdout.readline)
        assert line.strip() == "ready", host.stderr.read() if host.stderr else ""
        children = descendants(host.pid)
        assert len(children) >= 2
        host.send_signal(signal.SIGTERM)
        out, err = await anyio.to_thread.run_sync(lambda: host.communicate(timeout=20))
        assert "clean exit" in out, err
        assert "Traceback" not in err
        assert host.returncode == 0
        with anyio.fail_after(10):
            while any(alive(pid) for pid in children):
                await anyio.sleep(0.1)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


# ---- third-party servers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def third_party() -> Path:
    """The reference servers, installed by tests/fixtures/install_third_party.sh (CI runs it; a run
    without them runs it here). When that cannot work (offline), the test fails and says so: a
    skip would turn the suite green without the test. `-m "not network"` leaves it out."""
    time_server = THIRD_PARTY / "venv/bin/mcp-server-time"
    everything = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
    if not (time_server.exists() and everything.exists()):
        script = FIXTURES / "install_third_party.sh"
        done = subprocess.run(["bash", str(script), str(THIRD_PARTY)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not (time_server.exists() and everything.exists()):
            pytest.fail(
                f"the third-party MCP servers are not in {THIRD_PARTY} and installing them failed: run "
                "`bash tests/fixtures/install_third_party.sh` (it downloads mcp-server-time from PyPI and "
                "@modelcontextprotocol/server-everything from npm), or leave the network tests out with "
                f"-m \"not network\".\n{done.stderr[-500:]}"
            )
    return THIRD_PARTY


@pytest.mark.network
async def test_third_party_reference_servers_work_alongside_ours(third_party: Path) -> None:
    servers = {
        "time": {"command": str(third_party / "venv/bin/mcp-server-time"), "args": ["--local-timezone", "UTC"]},
        "everything": {
            "command": str(third_party / "node/node_modules/.bin/mcp-server-everything"),
            "args": ["stdio"],
        },
        "a": toy("a"),
    }
    async with UpstreamPool(config(servers)) as pool:
        assert all(s.connected for s in pool.status()), pool.status()
        catalog = pool.specs()
        assert catalog["time.get_current_time"].read_only
        now = await call(pool, "time.get_current_time", timezone="Europe/Paris")
        assert now["timezone"] == "Europe/Paris" and "datetime" in now
        assert await call(pool, "everything.echo", message="hello") == "Echo: hello"
        assert await call(pool, "everything.get-sum", a=2, b=3) is not None
        # The TypeScript reference server speaks the handshake era; ours the 2026 one.
        eras = {s.name: s.protocol_version for s in pool.status()}
        assert eras["everything"] == "2025-11-25" and eras["a"] == "2026-07-28"


# ---- the project's own default servers ------------------------------------------------------------


async def test_the_default_config_connects_the_projects_own_servers() -> None:
    # The project's own servers must exist: an import error here is a packaging bug, not a skip.
    import mcp_compiler.servers.math  # noqa: F401
    import mcp_compiler.servers.wiki  # noqa: F401

    from mcp_compiler.config import load_config

    async with UpstreamPool(load_config(None)) as pool:
        status = {s.name: s for s in pool.status()}
        assert status["wiki"].connected and status["math"].connected, status
        providers = {spec.provider for spec in pool.specs().values()}
    assert providers == {"wiki", "math"}


async def test_a_plan_fanning_out_across_three_stdio_servers_and_one_http_server_runs_concurrently(
    http_server: str,
) -> None:
    from mcp_compiler.compiler import Compiler

    servers = {"a": toy("a"), "b": toy("b"), "c": toy("c"), "web": {"url": http_server}}
    plan = "\n".join(f"{i + 1}. {server}.sleep(1.0)" for i, server in enumerate([*servers, *servers]))
    plan += "\n9. a.echo(text=\"$1 $8\")\njoin()"
    async with UpstreamPool(config(servers)) as pool:
        run = await Compiler(pool).run_plan(plan)
    assert run.ok, [(t.id, t.error) for t in run.tasks]
    sleeps = [t for t in run.tasks if t.tool.endswith(".sleep")]
    assert {t.tool.split(".")[0] for t in sleeps} == set(servers)
    assert max(t.start_s for t in sleeps) < min(t.end_s for t in sleeps)  # all eight overlapped
    assert run.timings["total_s"] < 3.0, f"{run.timings['total_s']:.2f} s for eight one-second calls"
    last = run.task(9)
    assert last.start_s >= max(t.end_s for t in sleeps if t.id in (1, 8))
