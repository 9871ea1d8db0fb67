"""Issue 11, the host side of the boundary: `mcp-compiler serve` as a real subprocess, over real
pipes and sockets, facing hosts that send odd text, signal it, cancel, drop connections, crawl,
pile up sessions, or answer a confirmation with a string.

Upstreams: tests/fixtures/host_faults.py (`sleepy`: concat, lone_surrogate, sleep with a note
file) and tests/fixtures/toy_server.py (`delete_all`, destructive); the bundled wiki and math
servers where no config is given.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from anyio.abc import ByteReceiveStream, Process
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from procs import alive, descendants, free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME
from mcp_compiler.text import scrub

pytestmark = pytest.mark.anyio

REPO = Path(__file__).parents[2]
FIXTURES = Path(__file__).parents[1] / "fixtures"
HOST_FAULTS = str(FIXTURES / "host_faults.py")
TOY = str(FIXTURES / "toy_server.py")
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]
HANDSHAKE = "2025-11-25"
JSON_AND_SSE = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


# ---- helpers -------------------------------------------------------------------------------------


def write_config(tmp: Path, compiler: dict[str, Any] | None = None, *, toy: bool = False) -> Path:
    servers: dict[str, Any] = {"sleepy": {"command": sys.executable, "args": [HOST_FAULTS]}}
    if toy:
        servers = {"toy": {"command": sys.executable, "args": [TOY]}}
    path = tmp / f"config-{len(list(tmp.iterdir()))}.json"
    path.write_text(json.dumps({"mcpServers": servers, "compiler": compiler or {}}))
    return path


def log_problems(log: Path) -> list[str]:
    """ERROR records and tracebacks the server wrote on stderr."""
    return [line for line in log.read_text(errors="replace").splitlines() if line.startswith("ERROR") or "Traceback" in line]


async def wait_for_note(note: Path, text: str, timeout: float) -> None:
    """Until the upstream's note file says `text` (the upstream is another process: polling it is the only way)."""
    with anyio.fail_after(timeout):
        while not (note.exists() and note.read_text() == text):
            await anyio.sleep(0.02)


class RawHost:
    """A host that writes JSON-RPC lines by hand on serve's stdin and reads its stdout."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self._buffer = b""
        self._next_id = 100

    async def send_line(self, line: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(line.rstrip(b"\n") + b"\n")

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_line(json.dumps(message).encode())

    async def message(self) -> dict[str, Any]:
        stdout: ByteReceiveStream | None = self.process.stdout
        assert stdout is not None
        while b"\n" not in self._buffer:
            self._buffer += await stdout.receive()
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))  # strict: what reaches the host is valid UTF-8

    async def reply(self, request_id: int) -> dict[str, Any]:
        while True:
            message = await self.message()
            if message.get("id") == request_id and "method" not in message:
                return message

    async def initialize(self) -> dict[str, Any]:
        await self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "raw-host", "version": "0"}}})
        reply = await self.reply(1)
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def call_line(self, plan_json: str, request_id: int | None = None) -> tuple[int, bytes]:
        """A tools/call line whose `plan` is `plan_json`, a JSON string literal written by hand."""
        if request_id is None:
            self._next_id += 1
            request_id = self._next_id
        line = (
            f'{{"jsonrpc": "2.0", "id": {request_id:d}, "method": "tools/call", '
            f'"params": {{"name": "{TOOL_NAME}", "arguments": {{"plan": {plan_json}}}}}}}'
        )
        return request_id, line.encode()

    async def call(self, plan: str) -> dict[str, Any]:
        request_id, line = self.call_line(json.dumps(plan))
        await self.send_line(line)
        return (await self.reply(request_id))["result"]


async def open_serve(*args: str, log: Path) -> Process:
    with open(log, "wb") as errlog:
        return await anyio.open_process([*SERVE, *args], stderr=errlog, cwd=REPO)


@pytest.fixture
async def serve_stdio(tmp_path: Path) -> AsyncIterator[tuple[RawHost, Path]]:
    log = tmp_path / "serve.log"
    process = await open_serve("--config", str(write_config(tmp_path)), log=log)
    try:
        host = RawHost(process)
        with anyio.fail_after(90):
            await host.initialize()
        yield host, log
    finally:
        if process.returncode is None:
            process.terminate()
            with anyio.move_on_after(20):
                await process.wait()
        if process.returncode is None:
            process.kill()
        await process.aclose()
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


def start_http(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Any, int, Path]:
    import subprocess

    port = free_port()
    log = tmp / f"http-{port}.log"
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [*SERVE, "--transport", "http", "--port", str(port), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog, cwd=REPO,
            env={**os.environ, **(env or {})},
        )
    wait_for_port(port, proc)
    return proc, port, log


@pytest.fixture(scope="module")
def sleepy_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`serve --transport http` over the sleepy upstream: (url, log)."""
    tmp = tmp_path_factory.mktemp("sleepy-http")
    proc, port, log = start_http(tmp, "--config", str(write_config(tmp)))
    try:
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


def task(result: dict[str, Any] | types.CallToolResult, index: int = 0) -> dict[str, Any]:
    run = result.structured_content if isinstance(result, types.CallToolResult) else result["structuredContent"]
    assert run is not None
    return run["tasks"][index]


# ---- 1. lone surrogates: one sanitising boundary ---------------------------------------------------


def test_scrub_replaces_surrogates_in_strings_and_keys_and_copies_nothing_when_clean() -> None:
    clean = {"answer": "Nile é 🌊", "tasks": [{"id": 1, "args": {"q": "x"}, "result": [1.5, None, True]}]}
    assert scrub(clean) is clean
    assert scrub("plain") == "plain"
    dirty = {"a": ["ok", "\ud800x", {"\udc00k": ("\udfff",)}], "n": 3}
    assert scrub(dirty) == {"a": ["ok", "\ufffdx", {"\ufffdk": ("\ufffd",)}], "n": 3}
    assert dirty["a"][1] == "\ud800x"  # the value passed in is not modified
    assert scrub(dirty)["a"][0] is dirty["a"][0]


async def test_stdio_lone_surrogates_reach_the_host_as_replacement_characters_and_serving_goes_on(
    serve_stdio: tuple[RawHost, Path],
) -> None:
    host, log = serve_stdio
    with anyio.fail_after(120):
        # An upstream whose text result is the JSON string "\ud800": the value is a lone surrogate.
        result = await host.call("1. sleepy.lone_surrogate()")
        assert result["isError"] is False
        assert result["content"] == [{"type": "text", "text": "\ufffd"}]
        assert task(result)["result"] == "\ufffd"

        # The escape in the JSON-RPC line itself (the SDK's parser refuses such a line, and the
        # request used to go unanswered): the plan arrives with U+FFFD in its place.
        request_id, line = host.call_line(r'"1. sleepy.concat(a=\"\ud800\", b=\"x\")"')
        await host.send_line(line)
        result = (await host.reply(request_id))["result"]
        assert task(result)["status"] == "ok", result
        assert task(result)["args"] == {"a": "\ufffd", "b": "x"}
        assert task(result)["result"] == {"result": "\ufffdx"}

        # The escape inside a plan string: the plan parser makes the surrogate, the reply carries U+FFFD.
        result = await host.call(r'1. sleepy.concat(a="\ud800", b="x")')
        assert task(result)["args"]["a"] == "\ufffd"

        ok = await host.call('1. sleepy.concat("a", "b")')  # and the next call is served
        assert task(ok)["result"] == {"result": "ab"}
    assert host.process.returncode is None
    assert log_problems(log) == []


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_lone_surrogates_reach_the_host_as_replacement_characters_and_serving_goes_on(
    sleepy_http: tuple[str, Path], mode: str
) -> None:
    url, log = sleepy_http
    with anyio.fail_after(120):
        async with Client(url, mode=mode) as client:
            result = await client.call_tool(TOOL_NAME, {"plan": "1. sleepy.lone_surrogate()"})
            assert not result.is_error
            assert result.content[0].text == "\ufffd"  # type: ignore[union-attr]
            assert task(result)["result"] == "\ufffd"
            result = await client.call_tool(TOOL_NAME, {"plan": r'1. sleepy.concat(a="\ud800", b="x")'})
            assert task(result)["args"]["a"] == "\ufffd"
            ok = await client.call_tool(TOOL_NAME, {"plan": '1. sleepy.concat("a", "b")'})
            assert task(ok)["result"] == {"result": "ab"}
        # The escape in the request body itself, in a handshake-era session: read as U+FFFD, as
        # the 2026-07-28 path and stdio read it (it was 400 / -32700 with id null).
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
        body = '{"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"_meta": {"x": "\\ud800"}}}'
        async with httpx2.AsyncClient(timeout=30) as http:
            opened = await http.post(url, json=init, headers=JSON_AND_SSE)
            session = {**JSON_AND_SSE, "mcp-session-id": opened.headers["mcp-session-id"],
                       "mcp-protocol-version": "2025-11-25"}
            await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
            response = await http.post(url, content=body.encode(), headers=session)
        assert response.status_code == 200, response.text
        assert '"id":2' in response.text.replace(" ", "") and "error" not in response.text
    assert log_problems(log) == []


# ---- 2. SIGTERM / SIGINT end stdio serve at once, whatever the host does with stdin -----------------


@pytest.mark.parametrize(
    ("signum", "busy"), [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM-idle", "SIGINT-idle", "SIGTERM-mid-call"],
)
async def test_a_signal_ends_stdio_serve_within_a_second_while_the_host_keeps_stdin_open(
    tmp_path: Path, signum: signal.Signals, busy: bool
) -> None:
    log = tmp_path / "serve.log"
    note = tmp_path / "note"
    # Idle: the bundled default servers (no --config). Busy: a downstream call in flight.
    args = ("--config", str(write_config(tmp_path))) if busy else ()
    process = await open_serve(*args, log=log)
    try:
        host = RawHost(process)
        with anyio.fail_after(90):
            await host.initialize()
            # Idle means serving: the servers behind it are connected (tools/list waits for them),
            # not still starting, which is their own time to exit, not serve's.
            expected = ["sleepy.sleep("] if busy else ["wiki.fact(", "math.eval("]
            for request_id in range(10_000, 11_000):
                await host.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"})
                description = (await host.reply(request_id))["result"]["tools"][0]["description"]
                if all(name in description for name in expected):
                    break
            if busy:
                request_id, line = host.call_line(json.dumps(f'1. sleepy.sleep(60, "{note}")'))
                await host.send_line(line)
                await wait_for_note(note, "started", 30)
        children = descendants(process.pid)
        assert len(children) >= (1 if busy else 2), children
        started = anyio.current_time()
        process.send_signal(signum)
        with anyio.fail_after(10):  # generous for the test; the bound is asserted below
            await process.wait()
        elapsed = anyio.current_time() - started
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()  # stdin stayed open until here
    text = log.read_text(errors="replace")
    assert elapsed < 1.5, f"exited {elapsed:.2f} s after {signum.name}\n{text[-2000:]}"
    assert process.returncode == 0, text[-2000:]  # a server asked to stop has done its job
    assert [pid for pid in children if alive(pid)] == []
    if busy:
        assert note.read_text() == "cancelled"  # the downstream call was cancelled, not abandoned
    assert log_problems(log) == [], text[-2000:]


# ---- 3. a cancelled call is quiet: no ERROR, no traceback, downstream calls cancelled ----------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_host_cancelling_a_call_cancels_the_downstream_call_and_logs_no_error(tmp_path: Path, mode: str) -> None:
    log = tmp_path / "serve.log"
    notes = [tmp_path / "note1", tmp_path / "note2"]
    plan = f'1. sleepy.sleep(60, "{notes[0]}")\n2. sleepy.sleep(60, "{notes[1]}")'
    started = anyio.Event()
    messages: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        if sum("started" in m for m in messages) == 2:
            started.set()

    params = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(write_config(tmp_path))])
    with open(log, "w") as errlog, anyio.fail_after(120):
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:

                    async def call() -> None:
                        await client.call_tool(TOOL_NAME, {"plan": plan}, progress_callback=on_progress)
                        pytest.fail("the call was to be cancelled")

                    tg.start_soon(call)
                    await started.wait()
                    for note in notes:
                        await wait_for_note(note, "started", 30)
                    scope.cancel()  # the client sends notifications/cancelled
            for note in notes:
                await wait_for_note(note, "cancelled", 10)
            ok = await client.call_tool(TOOL_NAME, {"plan": '1. sleepy.concat("a", "b")'})
            assert task(ok)["result"] == {"result": "ab"}
    assert log_problems(log) == []
    assert "failed unexpectedly" not in log.read_text()


# ---- 4. a handshake-era HTTP host that drops its connection cancels its downstream calls -------------


async def test_a_handshake_era_http_host_dropping_its_connection_cancels_the_downstream_call(
    sleepy_http: tuple[str, Path], tmp_path: Path
) -> None:
    url, log = sleepy_http
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    note = tmp_path / "note"
    async with httpx2.AsyncClient(timeout=30) as http:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "dropper", "version": "0"}}}
        response = await http.post(url, json=initialize, headers=JSON_AND_SSE)
        session = response.headers["mcp-session-id"]
        headers = {**JSON_AND_SSE, "mcp-session-id": session, "mcp-protocol-version": HANDSHAKE}
        await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)

        call = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": TOOL_NAME, "arguments": {"plan": f'1. sleepy.sleep(60, "{note}")'}}}).encode()
        request = (
            f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"accept: application/json, text/event-stream\r\nmcp-session-id: {session}\r\n"
            f"mcp-protocol-version: {HANDSHAKE}\r\ncontent-length: {len(call)}\r\n\r\n"
        ).encode() + call
        with anyio.fail_after(60):
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.send(request)
            assert (await stream.receive()).startswith(b"HTTP/1.1 200")  # the SSE stream is open
            await wait_for_note(note, "started", 30)
        dropped = anyio.current_time()
        await stream.aclose()  # the host goes away without a word
        await wait_for_note(note, "cancelled", 5)
        assert anyio.current_time() - dropped < 5

        # The session itself lives on and serves the next call.
        again = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": TOOL_NAME, "arguments": {"plan": '1. sleepy.concat("a", "b")'}}}
        with anyio.fail_after(60):
            response = await http.post(url, json=again, headers=headers)
        events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:") and line[5:].strip()]
        assert events[-1]["id"] == 3 and task(events[-1]["result"])["result"] == {"result": "ab"}
    assert log_problems(log) == []


# ---- 5. HTTP limits: sessions, idle sessions, slow headers, slow bodies ------------------------------

TOKEN = "hardening-token-3c1d"
LIMITS = {"http_max_sessions": 3, "http_session_idle_s": 2, "http_header_timeout_s": 1, "http_body_timeout_s": 1}


@pytest.fixture(scope="module")
def limited_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """`serve --transport http` with small limits and a bearer token set: (url, port, log)."""
    tmp = tmp_path_factory.mktemp("limited-http")
    proc, port, log = start_http(tmp, "--config", str(write_config(tmp, LIMITS)), env={"MCP_COMPILER_TOKEN": TOKEN})
    try:
        yield f"http://127.0.0.1:{port}/mcp", port, log
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)


AUTHORIZED = {**JSON_AND_SSE, "authorization": f"Bearer {TOKEN}"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "many", "version": "0"}}}


async def slowly(port: int, data: bytes, interval: float, limit: float) -> tuple[bytes, float, int]:
    """Send `data` one byte per `interval` until the server closes: (what it answered, when, bytes sent)."""
    answered = b""
    sent = 0
    started = anyio.current_time()
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:

        async def read() -> None:
            nonlocal answered
            try:
                while True:
                    answered += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                tg.cancel_scope.cancel()

        with anyio.move_on_after(limit):
            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                for byte in data:
                    try:
                        await stream.send(bytes([byte]))
                    except (anyio.BrokenResourceError, ConnectionError):
                        break
                    sent += 1
                    await anyio.sleep(interval)
                await anyio.sleep_forever()
    return answered, anyio.current_time() - started, sent


async def test_a_client_sending_headers_too_slowly_is_answered_408_and_disconnected(
    limited_http: tuple[str, int, Path],
) -> None:
    _, port, _ = limited_http
    headers = (
        f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer {TOKEN}\r\n"
        "content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
    ).encode()
    # One byte every 0.1 s: the headers would take 13 s; http_header_timeout_s is 1.
    answered, elapsed, sent = await slowly(port, headers, 0.1, limit=10)
    assert answered.startswith(b"HTTP/1.1 408 "), answered
    assert b"request headers not received within 1 s" in answered
    assert 0.9 < elapsed < 3, elapsed
    assert sent < len(headers) // 2
    # A connection that never sends a byte is closed too, without a word.
    answered, elapsed, _ = await slowly(port, b"", 0.1, limit=10)
    assert answered == b"" and 0.9 < elapsed < 3, elapsed


async def test_a_client_sending_its_body_too_slowly_is_answered_408_and_disconnected(
    limited_http: tuple[str, int, Path],
) -> None:
    url, port, _ = limited_http
    body = json.dumps(INITIALIZE).encode()
    head = (
        f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer {TOKEN}\r\n"
        f"content-type: application/json\r\naccept: application/json, text/event-stream\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    with anyio.fail_after(20):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(head + body[:5])
            started = anyio.current_time()
            answer = b""
            try:
                while True:
                    answer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                pass
            elapsed = anyio.current_time() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["message"] == "request body not received within 1 s (compiler.http_body_timeout_s)"
    assert 0.9 < elapsed < 3, elapsed
    # A body that arrives in time, in slow pieces, is served.
    with anyio.fail_after(20):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(head)
            for start in range(0, len(body), len(body) // 4 + 1):
                await anyio.sleep(0.1)
                await stream.send(body[start:start + len(body) // 4 + 1])
            answer = await stream.receive()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    session = next(line.split(b":", 1)[1].strip() for line in answer.split(b"\r\n") if line.lower().startswith(b"mcp-session-id:"))
    async with httpx2.AsyncClient(timeout=30) as http:  # leave the session slots as they were
        headers = {**AUTHORIZED, "mcp-session-id": session.decode(), "mcp-protocol-version": HANDSHAKE}
        assert (await http.delete(url, headers=headers)).status_code == 200


async def test_sessions_are_capped_and_idle_ones_expire(limited_http: tuple[str, int, Path]) -> None:
    url, _, _ = limited_http
    with anyio.fail_after(60):
        async with httpx2.AsyncClient(timeout=30) as http:
            sessions = []
            for _ in range(3):
                response = await http.post(url, json=INITIALIZE, headers=AUTHORIZED)
                assert response.status_code == 200
                sessions.append(response.headers["mcp-session-id"])
            refused = await http.post(url, json=INITIALIZE, headers=AUTHORIZED)
            assert refused.status_code == 503
            assert refused.json()["error"]["message"] == "Too many open sessions"
            assert "mcp-session-id" not in refused.headers

            def of(session: str) -> dict[str, str]:
                return {**AUTHORIZED, "mcp-session-id": session, "mcp-protocol-version": HANDSHAKE}

            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            assert (await http.post(url, json=ping, headers=of(sessions[0]))).status_code == 200  # the open ones serve
            assert (await http.delete(url, headers=of(sessions[0]))).status_code == 200  # a host that leaves makes room
            admitted = await http.post(url, json=INITIALIZE, headers=AUTHORIZED)
            assert admitted.status_code == 200
            sessions.append(admitted.headers["mcp-session-id"])

            # Idle for http_session_idle_s (2 s), they are closed and there is room again (a refused
            # initialize touches no session); their ids then answer 404.
            idle_since = anyio.current_time()
            while (await http.post(url, json=INITIALIZE, headers=AUTHORIZED)).status_code == 503:
                await anyio.sleep(0.25)
            assert 1.5 < anyio.current_time() - idle_since < 6
            assert (await http.post(url, json=ping, headers=of(sessions[1]))).status_code == 404


# ---- 6. the destructive-tool confirmation fails closed, end to end ----------------------------------


async def test_a_host_answering_the_confirmation_with_a_string_refuses_the_destructive_call(tmp_path: Path) -> None:
    asked: list[str] = []
    answers = iter(["false", "no", "0"])

    async def host_answers(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"run": next(answers)})

    params = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(write_config(tmp_path, toy=True))])
    with anyio.fail_after(120):
        async with Client(params, mode="legacy", elicitation_callback=host_answers) as client:
            for _ in range(3):
                result = await client.call_tool(TOOL_NAME, {"plan": "1. toy.delete_all()"})
                assert result.is_error
                refused = task(result)
                assert refused["status"] == "error"
                assert refused["error"] == "toy.delete_all was not confirmed, so it did not run"
    assert len(asked) == 3 and all("toy.delete_all" in m and "destructive" in m for m in asked)
