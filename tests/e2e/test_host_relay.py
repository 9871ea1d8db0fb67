"""Relay of the upstreams' own requests (sampling, elicitation, roots) and log messages to the host
whose `compile_and_run` caused them (issue 13, items 1 and 4), end to end: a real SDK client as
the host, `mcp-compiler serve` as a subprocess over stdio, and behind it real servers as
subprocesses: `@modelcontextprotocol/server-everything` (handshake era) and an upstream of our own
(tests/fixtures/asking_server.py) in both protocol eras."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning
from procs import free_port, stop, wait_for_port

from mcp_compiler.upstreams.relay import HostRelay, HostUnavailable, serving

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
THIRD_PARTY = Path.home() / ".cache/mcp-compiler/third-party"
EVERYTHING = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
TS_SDK = THIRD_PARTY / "node/node_modules/@modelcontextprotocol/sdk/package.json"


def _third_party() -> None:
    """The reference servers and the TypeScript SDK, installed by install_third_party.sh (run here
    when missing); fails, naming the script, when that cannot work."""
    if EVERYTHING.exists() and TS_SDK.exists():
        return
    script = FIXTURES / "install_third_party.sh"
    done = subprocess.run(["bash", str(script), str(THIRD_PARTY)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not (EVERYTHING.exists() and TS_SDK.exists()):
        pytest.fail(f"run `bash {script}` (npm): the third-party servers are missing\n{done.stderr[-500:]}")


def _serve(tmp_path: Path, servers: dict[str, Any]) -> StdioServerParameters:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])


def _asking(*, legacy: bool = False) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(FIXTURES / "asking_server.py"), *(["--legacy"] if legacy else [])]}


class Host:
    """What a host answers, and what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []
        self.logs: list[types.LoggingMessageNotificationParams] = []

    async def sampling(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.asked.append(("sampling", params))
        text = params.messages[0].content
        return types.CreateMessageResult(
            role="assistant", model="host-model",
            content=types.TextContent(type="text", text=f"host saw [{getattr(text, 'text', text)}]"),
        )

    async def elicitation(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(("elicitation", params))
        return types.ElicitResult(action="accept", content={"colour": "teal"})

    async def roots(self, context: Any) -> types.ListRootsResult:
        self.asked.append(("roots", None))
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    def client(self, params: StdioServerParameters, *, mode: str = "legacy", offers: bool = True) -> Client:
        return Client(
            params, mode=mode, logging_callback=self.log,
            sampling_callback=self.sampling if offers else None,
            elicitation_callback=self.elicitation if offers else None,
            list_roots_callback=self.roots if offers else None,
        )


async def _run(client: Client, plan: str) -> tuple[types.CallToolResult, dict[str, Any]]:
    result = await client.call_tool("compile_and_run", {"plan": plan})
    return result, result.structured_content or {}


def _task(run: dict[str, Any], task_id: int) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["id"] == task_id)


@pytest.mark.parametrize("legacy_upstream", [False, True], ids=["upstream-2026", "upstream-handshake"])
async def test_an_upstreams_sampling_elicitation_and_roots_are_answered_by_the_host(
    tmp_path: Path, legacy_upstream: bool
) -> None:
    host = Host()
    plan = '1. ask.ask_model("otters")\n2. ask.ask_person("favourite colour?")\n3. ask.roots()\njoin()'
    async with host.client(_serve(tmp_path, {"ask": _asking(legacy=legacy_upstream)})) as client:
        with anyio.fail_after(90):
            result, run = await _run(client, plan)
    assert not result.is_error, result.content
    assert _task(run, 1)["result"] == {"result": "model host-model wrote: host saw [write about otters]"}
    assert _task(run, 2)["result"] == {"result": "the person said teal"}
    assert _task(run, 3)["result"] == {"result": ["file:///work/project"]}
    kinds = sorted(kind for kind, _ in host.asked)
    assert kinds == ["elicitation", "roots", "sampling"], host.asked
    sampling = next(p for kind, p in host.asked if kind == "sampling")
    assert sampling.system_prompt == "You are the asking test server." and sampling.max_tokens == 50
    elicitation = next(p for kind, p in host.asked if kind == "elicitation")
    assert elicitation.message == "asking: favourite colour?"


@pytest.mark.parametrize("legacy_upstream", [False, True], ids=["upstream-2026", "upstream-handshake"])
async def test_a_host_without_the_capabilities_leaves_the_upstream_a_clear_error(
    tmp_path: Path, legacy_upstream: bool
) -> None:
    host = Host()
    plan = '1. ask.ask_model("otters")\n2. ask.roots()\n3. ask.ask_person("colour?")\njoin()'
    async with host.client(_serve(tmp_path, {"ask": _asking(legacy=legacy_upstream)}), offers=False) as client:
        with anyio.fail_after(90):
            _result, run = await _run(client, plan)
    assert host.asked == []
    for task_id in (1, 2, 3):
        task = _task(run, task_id)
        assert task["status"] == "error", task
    # Handshake era: the upstream got our error as the answer to its request and failed the call with
    # it; 2026-07-28: the SDK drives input_required inside our call, and our error fails that call.
    assert _task(run, 1)["error"] == "ask.ask_model: the host of this call (client 'mcp') did not offer sampling"
    assert _task(run, 2)["error"] == "ask.roots: the host of this call (client 'mcp') did not offer roots"
    assert _task(run, 3)["error"] == "ask.ask_person: the host of this call (client 'mcp') did not offer elicitation"


@pytest.mark.parametrize("legacy_upstream", [False, True], ids=["upstream-2026", "upstream-handshake"])
async def test_a_2026_era_host_is_asked_the_upstreams_requests_through_input_required(
    tmp_path: Path, legacy_upstream: bool
) -> None:
    # A 2026-07-28 host has no back channel mid-call: the upstream's requests become questions of
    # the run held across round trips (server/round_trips.py), and the SDK client answers them with its
    # callbacks on each retry.
    host = Host()
    plan = '1. ask.ask_model("otters")\n2. ask.ask_person("favourite colour?")\n3. ask.roots()\njoin()'
    async with host.client(_serve(tmp_path, {"ask": _asking(legacy=legacy_upstream)}), mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        with anyio.fail_after(90):
            result, run = await _run(client, plan)
    assert not result.is_error, result.content
    assert _task(run, 1)["result"] == {"result": "model host-model wrote: host saw [write about otters]"}
    assert _task(run, 2)["result"] == {"result": "the person said teal"}
    assert _task(run, 3)["result"] == {"result": ["file:///work/project"]}
    assert sorted(kind for kind, _ in host.asked) == ["elicitation", "roots", "sampling"], host.asked


async def test_a_2026_era_host_that_offers_nothing_leaves_the_upstream_a_clear_error_at_once(tmp_path: Path) -> None:
    host = Host()
    async with host.client(_serve(tmp_path, {"ask": _asking()}), mode="auto", offers=False) as client:
        assert client.protocol_version == "2026-07-28"
        with anyio.fail_after(60):
            started = anyio.current_time()
            _result, run = await _run(client, '1. ask.ask_model("otters")\njoin()')
            elapsed = anyio.current_time() - started
    task = _task(run, 1)
    assert task["status"] == "error" and "did not offer sampling" in task["error"], task
    assert elapsed < 30  # an error, not a wait for a timeout
    assert host.asked == []


@pytest.mark.parametrize(
    ("legacy_upstream", "host_mode"),
    [(False, "legacy"), (True, "legacy"), (False, "2026-07-28"), (True, "2026-07-28")],
    ids=["upstream-2026-host-handshake", "upstream-handshake-host-handshake", "upstream-2026-host-2026",
         "upstream-handshake-host-2026"],
)
async def test_upstream_log_messages_reach_the_host_at_the_level_it_set(
    tmp_path: Path, legacy_upstream: bool, host_mode: str
) -> None:
    host = Host()
    params = _serve(tmp_path, {"ask": _asking(legacy=legacy_upstream)})
    if host_mode == "legacy":
        client = host.client(params)
    else:  # the 2026-07-28 era: the level is a per-request opt-in
        client = Client(params, mode="auto", logging_callback=host.log, log_level="warning")
    async with client:
        assert client.protocol_version == ("2025-11-25" if host_mode == "legacy" else "2026-07-28")
        if host_mode == "legacy":
            with pytest.warns(MCPDeprecationWarning):  # logging/setLevel is of the handshake era only
                await client.set_logging_level("warning")
        with anyio.fail_after(60):
            result, run = await _run(client, "1. ask.chatty()\njoin()")
        with anyio.fail_after(10):
            while len(host.logs) < 2:  # notifications may trail the result
                await anyio.sleep(0.05)
    assert not result.is_error, run
    relayed = [(p.level, p.logger, p.data) for p in host.logs if p.logger and p.logger.startswith("ask")]
    assert relayed == [
        ("warning", "ask.chat", "warning line from chatty"), ("error", "ask.chat", "error line from chatty"),
    ], host.logs


async def test_relayed_log_lines_carry_no_configured_secret(tmp_path: Path) -> None:
    host = Host()
    secret = "s3cr3t-token-4f9a1c"
    servers = {"ask": {**_asking(), "env": {"ASK_TOKEN": secret}}}
    async with host.client(_serve(tmp_path, servers)) as client:
        with anyio.fail_after(60):
            result, _run_data = await _run(client, "1. ask.leaky()\njoin()")
        with anyio.fail_after(10):
            while len(host.logs) < 2:
                await anyio.sleep(0.05)
    assert not result.is_error
    dumped = json.dumps([p.model_dump(mode="json") for p in host.logs])
    assert secret not in dumped, dumped
    data = [p.data for p in host.logs if p.logger == "ask"]
    assert data == ["token is ***", '{"auth": {"token": "***"}, "n": 1}'], data  # redacted, not dropped


@pytest.mark.network
async def test_everythings_capability_gated_tools_exist_and_are_answered_by_the_host(tmp_path: Path) -> None:
    _third_party()
    host = Host()
    servers = {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}
    plan = (
        '1. everything.trigger-sampling-request(prompt="otters", maxTokens=20)\n'
        "2. everything.get-roots-list()\n"
        "3. everything.trigger-elicitation-request()\n"
        "join()"
    )
    async with host.client(_serve(tmp_path, servers)) as client:
        with anyio.fail_after(90):
            result, run = await _run(client, plan)
    tasks = {t["id"]: t for t in run["tasks"]}
    assert all(t["status"] == "ok" for t in tasks.values()), tasks
    assert "host saw [Resource trigger-sampling-request context: otters]" in json.dumps(tasks[1]["result"])
    assert "file:///work/project" in json.dumps(tasks[2]["result"])
    assert {"sampling", "roots", "elicitation"} <= {kind for kind, _ in host.asked}
    assert not result.is_error


async def test_over_http_each_host_is_asked_for_its_own_call_and_two_hosts_at_once_fail_closed(tmp_path: Path) -> None:
    """Two handshake-era hosts on HTTP sessions of their own, one handshake-era upstream: host A's
    request reaches A; while A's call is in flight, B's call cannot be told from A's, so the
    upstream's request during it is refused, saying why, rather than sent to a guessed host."""
    serve = _serve(tmp_path, {"ask": _asking(legacy=True)})
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [serve.command, *serve.args, "--transport", "http", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
        )
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        a_asked, release_a = anyio.Event(), anyio.Event()

        class SlowHost(Host):
            async def sampling(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
                a_asked.set()
                with anyio.fail_after(30):
                    await release_a.wait()
                return await super().sampling(context, params)

        host_a, host_b = SlowHost(), Host()
        runs: dict[str, dict[str, Any]] = {}

        async def call(name: str, client: Client) -> None:
            runs[name] = (await _run(client, '1. ask.ask_model("otters")\njoin()'))[1]

        async with host_a.client(url) as a, host_b.client(url) as b:  # type: ignore[arg-type]
            with anyio.fail_after(90):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, "a", a)
                    await a_asked.wait()
                    await call("b", b)
                    release_a.set()
    finally:
        stop(proc)
    assert _task(runs["a"], 1)["status"] == "ok", runs["a"]
    assert _task(runs["a"], 1)["result"] == {"result": "model host-model wrote: host saw [write about otters]"}
    b_task = _task(runs["b"], 1)
    assert b_task["status"] == "error" and host_b.asked == [], b_task
    assert "calls of 2 different hosts are in flight on 'ask'" in b_task["error"]


# ---- which host: the calls in flight (a unit test of the relay's choice) ---------------------------


class _FakeHost:
    def __init__(self, key: str) -> None:
        self.key = key
        self.log_level = "debug"

    async def list_roots(self) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=f"file:///{self.key}")])


async def test_the_relay_picks_the_host_of_the_calls_in_flight_and_fails_closed_when_there_are_several() -> None:
    relay = HostRelay("srv", timeout_s=5)
    with pytest.raises(HostUnavailable, match="none is"):
        relay.host_for("roots/list")
    a, a_again, b = _FakeHost("a"), _FakeHost("a"), _FakeHost("b")
    with relay.calling(a), relay.calling(a_again):
        assert relay.host_for("roots/list").key == "a"  # two calls of one host: that host
        answer = await relay.list_roots(None)
        assert str(answer.roots[0].uri) == "file:///a"
        with relay.calling(b):
            refused = await relay.list_roots(None)
            assert isinstance(refused, types.ErrorData)
            assert "calls of 2 different hosts are in flight" in refused.message
            with serving(b):  # the calling task's own host (the 2026 era's input_required) is exact
                assert relay.host_for("roots/list") is b
    with relay.calling(None):
        with pytest.raises(HostUnavailable, match="no host to ask"):
            relay.host_for("roots/list")


# ---- a TypeScript SDK host ------------------------------------------------------------------------


def _ts_host(tmp_path: Path, servers: dict[str, Any], plan: str, **spec: Any) -> dict[str, Any]:
    """Run tests/fixtures/ts_relay_host.mjs (a host on the TypeScript SDK's client) against `mcp-compiler
    serve` with `servers` behind it; what it saw, as JSON."""
    _third_party()
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (install_third_party.sh needs npm, which brings it)")
    serve = _serve(tmp_path, servers)
    spec = {"command": serve.command, "args": serve.args, "plan": plan, **spec}
    done = subprocess.run(
        [node, str(FIXTURES / "ts_relay_host.mjs"), str(TS_SDK.parent), json.dumps(spec)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.network
@pytest.mark.slow
def test_a_6_s_everything_operation_succeeds_under_a_3_s_host_timeout_that_resets_on_progress(
    tmp_path: Path,
) -> None:
    servers = {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}
    plan = "1. everything.trigger-long-running-operation(duration=6, steps=6)\njoin()"
    # No warm-up: the call starts while everything is still starting (a plan waiting for its
    # servers reports progress each second too), and the 3 s timeout covers that wait as well.
    seen = _ts_host(tmp_path, servers, plan, timeoutMs=3000)
    assert "error" not in seen, seen
    assert not seen["result"].get("isError"), seen["result"]
    assert "Long running operation completed. Duration: 6 seconds" in json.dumps(seen["result"])
    assert seen["elapsedMs"] > 6000  # longer than the host's timeout: only progress kept it waiting
    relayed = [p for p in seen["progress"] if "everything.trigger-long-running-operation: " in p.get("message", "")]
    # Each of the server's steps is relayed, the last possibly excepted: the SDK's client runs every
    # progress callback in a task of its own (jsonrpc_dispatcher spawns it), so a progress sent just
    # before the result can lose that race and arrive after the call has ended (dropped, as the spec
    # wants for progress after a response). The first five always precede the result by a second.
    assert [p["message"].rsplit(": ", 1)[1] for p in relayed][:5] == ["1/6", "2/6", "3/6", "4/6", "5/6"], relayed
    assert len(relayed) in (5, 6), seen["progress"]
    times = [0] + [p["atMs"] for p in seen["progress"]]
    assert max(b - a for a, b in itertools.pairwise(times)) < 3000, times  # never a gap the timeout could hit


@pytest.mark.network
@pytest.mark.parametrize("server", ["everything", "asking"])
def test_a_typescript_sdk_host_answers_the_upstreams_sampling_elicitation_and_roots(
    tmp_path: Path, server: str
) -> None:
    if server == "everything":
        servers = {"up": {"command": str(EVERYTHING), "args": ["stdio"]}}
        plan = ('1. up.trigger-sampling-request(prompt="otters", maxTokens=20)\n2. up.get-roots-list()\n'
                "3. up.trigger-elicitation-request()\njoin()")
    else:
        servers = {"up": _asking()}  # the 2026-07-28 era behind, a handshake-era host in front
        plan = '1. up.ask_model("otters")\n2. up.roots()\n3. up.ask_person("colour?")\n4. up.chatty()\njoin()'
    seen = _ts_host(tmp_path, servers, plan, logLevel="error")
    assert "error" not in seen, seen
    run = seen["result"]["structuredContent"]
    assert all(t["status"] == "ok" for t in run["tasks"]), run["tasks"]
    text = json.dumps(run["tasks"])
    assert "ts host saw [" in text and "file:///ts/project" in text
    assert {a["kind"] for a in seen["asked"]} >= {"sampling", "roots", "elicitation"}
    if server == "asking":
        assert "the person said amber" in text
        relayed = [(log["level"], log.get("logger"), log["data"]) for log in seen["logs"]]
        assert ("error", "up.chat", "error line from chatty") in relayed
        assert all(level == "error" for level, _, _ in relayed), relayed  # the level the host set


class _SilentHost(_FakeHost):
    async def create_message(self, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_request_put_to_a_host_is_withdrawn_when_the_call_it_belongs_to_ends() -> None:
    relay = HostRelay("srv", timeout_s=60)
    answers: list[Any] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            with relay.calling(_SilentHost("a")):
                async def ask() -> None:
                    # Sampling: a roots/list is the host's, not the call's, and is not withdrawn (relay.py)
                    answers.append(await relay.sampling(None, types.CreateMessageRequestParams(messages=[], max_tokens=1)))

                tg.start_soon(ask)
                await anyio.sleep(0.1)  # the request is with the host, which never answers
            # the call ended: nobody waits for that answer any more
    [refused] = answers
    assert isinstance(refused, types.ErrorData) and "ended before the host answered" in refused.message


async def test_a_host_offering_form_elicitation_only_is_not_sent_a_url_request() -> None:
    from mcp_compiler.server.host import SessionHost

    class FormOnlySession:
        client_capabilities = types.ClientCapabilities(
            elicitation=types.ElicitationCapability(form=types.FormElicitationCapability())
        )
        client_params = None
        can_send_request = True

        async def send_request(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a URL-mode request reached a host that offers form mode only")

    host = SessionHost(FormOnlySession(), 7)
    url = types.ElicitRequestURLParams(message="sign in", url="https://example.com/login", elicitation_id="e1")
    with pytest.raises(HostUnavailable, match="form mode only"):
        await host.elicit(url)


async def test_a_plan_waiting_for_its_servers_to_connect_reports_progress_each_second() -> None:
    """So a host that resets its request timeout on progress keeps waiting through a slow start."""
    from mcp_compiler.compiler import Compiler
    from mcp_compiler.tools.toolbox import FunctionToolbox

    class SlowToStart(FunctionToolbox):
        async def settle(self, tools: Any) -> None:
            await anyio.sleep(2.5)

    async def echo(text: str) -> str:
        return text

    events: list[str] = []
    with anyio.fail_after(30):
        run = await Compiler(SlowToStart({"echo": echo})).run_plan(
            '1. echo("hi")\njoin()', on_event=lambda event: events.append(event.message)
        )
    assert run.answer == "hi"
    waiting = [m for m in events if m.startswith("waiting for servers to connect")]
    assert waiting == ["waiting for servers to connect (1 s)", "waiting for servers to connect (2 s)"], events
    assert events.index(waiting[-1]) < next(i for i, m in enumerate(events) if m.startswith("task 1"))
