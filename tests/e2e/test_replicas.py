"""Replicas on shared state (issue 25), end to end: a real redis-server (tests/fixtures/services.py),
two or three real `mcp-compiler serve --transport http --state redis://...` processes, real
upstreams (the ledger server, whose file shows every call each replica's upstream made, and the
Tasks server), and the SDK's `Client` in the 2026-07-28 era, whose requests stand alone, so each
may go to any replica: a link made on A is read on B, a task made on A is polled and cancelled
through B, a confirmation asked by A is answered through B, and a replica killed with SIGKILL
loses only its own calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from fixtures.services import Redis, haproxy_in_front, nginx_in_front, redis_server
from mcp import Client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME
from mcp_compiler.task_protocol import (
    Ack,
    CancelTaskParams,
    CancelTaskRequest,
    CreateTaskResult,
    GetTaskParams,
    GetTaskRequest,
    TaskState,
    UpdateTaskParams,
    UpdateTaskRequest,
)
from mcp_compiler.upstreams.task_client import UpstreamTasks

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
LEAVE_OUT = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL", "MCP_COMPILER_STATE", "MCP_COMPILER_TOKEN")


class Replica:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.name, self.proc, self.port, self.log = name, proc, port, log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


class Replicas:
    """Replicas of one config on one Redis; the ledger and Tasks-server logs they share."""

    def __init__(self, tmp: Path, redis: Redis, extra_env: dict[str, str] | None = None) -> None:
        self.tmp, self.redis = tmp, redis
        self.ledger, self.tasks_log = tmp / "ledger.jsonl", tmp / "tasks.log"
        self.config = tmp / "config.json"
        self.config.write_text(json.dumps({
            "mcpServers": {
                "ledger": {"command": sys.executable, "args": [str(FIXTURES / "ledger_server.py"), str(self.ledger)]},
                "up": {"command": sys.executable, "args": [str(FIXTURES / "tasks_server.py")],
                       "env": {"TASKS_SERVER_LOG": str(self.tasks_log)}},
                "ask": {"command": sys.executable, "args": [str(FIXTURES / "asking_server.py")]},
            },
            "compiler": {"max_inline_value_bytes": 1024},
        }))
        self.env = {k: v for k, v in os.environ.items() if k not in LEAVE_OUT} | (extra_env or {})
        self.running: list[Replica] = []

    def start(self, name: str) -> Replica:
        port, log = free_port(), self.tmp / f"{name}.log"
        with open(log, "wb") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_compiler", "serve", "--config", str(self.config), "--transport", "http",
                 "--port", str(port), "--state", self.redis.url],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog, env=self.env,
            )
        replica = Replica(name, proc, port, log)
        self.running.append(replica)
        wait_for_port(port, proc)
        return replica

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines()] if self.ledger.exists() else []

    def stop_all(self) -> None:
        for replica in self.running:
            stop(replica.proc)


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, redis: Redis) -> Iterator[tuple[Replica, Replica, Replicas]]:
    replicas = Replicas(tmp_path_factory.mktemp("replicas"), redis)
    try:
        a, b = replicas.start("a"), replicas.start("b")
        yield a, b, replicas
    finally:
        replicas.stop_all()
    for replica in replicas.running:
        text = replica.log.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


async def _no_elicitation(*_: Any) -> types.ElicitResult:
    raise AssertionError("2026-07-28: questions come as input_required, not as requests")


def client(replica: Replica, **kwargs: Any) -> Client:
    """A 2026-07-28 host talking to one replica: Tasks declared, elicitation declared."""
    return Client(replica.url, extensions=[UpstreamTasks()], elicitation_callback=_no_elicitation, **kwargs)


def asker(replica: Replica) -> Client:
    """A 2026-07-28 host without the Tasks extension: questions come as input_required rounds."""
    return Client(replica.url, elicitation_callback=_no_elicitation)


def run_of(result: types.CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return result.structured_content


# ---- links ---------------------------------------------------------------------------------------


async def test_a_link_made_on_one_replica_is_read_on_the_other(two: tuple[Replica, Replica, Replicas]) -> None:
    a, b, _ = two
    text = "replicated " * 500
    with anyio.fail_after(90):
        async with Client(a.url) as on_a:
            result = await on_a.call_tool(TOOL_NAME, {"plan": f'1. ledger.note({json.dumps(text)})\njoin()'})
        stored = run_of(result)["tasks"][0]["result_stored"]
        async with Client(b.url) as on_b:
            read = await on_b.read_resource(stored["uri"])
    assert read.contents[0].text == json.dumps(f"noted {text}") or f"noted {text}" in read.contents[0].text  # type: ignore[union-attr]


# ---- Tasks -----------------------------------------------------------------------------------------


async def get(on: Client, task_id: str) -> TaskState:
    return await on.session.send_request(GetTaskRequest(params=GetTaskParams(task_id=task_id)), TaskState)


async def poll(on: Client, task_id: str, done: Any, timeout: float = 60) -> TaskState:
    with anyio.fail_after(timeout):
        while True:
            state = await get(on, task_id)
            if done(state):
                return state
            await anyio.sleep(0.1)


async def test_a_task_made_on_one_replica_is_polled_and_finished_through_the_other(
    two: tuple[Replica, Replica, Replicas],
) -> None:
    a, b, _ = two
    with anyio.fail_after(90):
        async with client(a) as on_a, client(b) as on_b:
            created = await on_a.session.call_tool(TOOL_NAME, {"plan": '1. up.slow(0.5, "ab")\njoin()'},
                                                   allow_claimed=True)
            assert isinstance(created, CreateTaskResult), created
            final = await poll(on_b, created.task_id, lambda s: s.status not in ("working", "input_required"))
    assert final.status == "completed", final
    run = types.CallToolResult.model_validate(final.result).structured_content
    assert run is not None and run["tasks"][0]["status"] == "ok"


async def test_a_task_made_on_one_replica_is_cancelled_through_the_other(
    two: tuple[Replica, Replica, Replicas],
) -> None:
    a, b, replicas = two
    with anyio.fail_after(90):
        async with client(a) as on_a, client(b) as on_b:
            created = await on_a.session.call_tool(TOOL_NAME, {"plan": '1. up.slow(60, "to-cancel")\njoin()'},
                                                   allow_claimed=True)
            assert isinstance(created, CreateTaskResult), created
            while "start to-cancel" not in (replicas.tasks_log.read_text() if replicas.tasks_log.exists() else ""):
                await anyio.sleep(0.1)
            ack = await on_b.session.send_request(CancelTaskRequest(params=CancelTaskParams(task_id=created.task_id)), Ack)
            assert ack.result_type == "complete"
            final = await poll(on_b, created.task_id, lambda s: s.status != "working", timeout=30)
            assert final.status == "cancelled", final
            while "cancelled to-cancel" not in replicas.tasks_log.read_text():  # seen inside A's upstream
                await anyio.sleep(0.1)


async def test_a_tasks_question_asked_on_one_replica_is_answered_through_the_other(
    two: tuple[Replica, Replica, Replicas],
) -> None:
    a, b, _ = two
    with anyio.fail_after(90):
        async with client(a) as on_a, client(b) as on_b:
            created = await on_a.session.call_tool(TOOL_NAME, {"plan": '1. up.wipe("disk")\njoin()'}, allow_claimed=True)
            assert isinstance(created, CreateTaskResult), created
            asking = await poll(on_b, created.task_id, lambda s: s.status != "working")
            assert asking.status == "input_required" and asking.input_requests, asking
            answers = {key: {"action": "accept", "content": {"run": True}} for key in asking.input_requests}
            await on_b.session.send_request(
                UpdateTaskRequest(params=UpdateTaskParams(task_id=created.task_id, input_responses=answers)), Ack
            )
            final = await poll(on_b, created.task_id, lambda s: s.status not in ("working", "input_required"))
    assert final.status == "completed", final
    run = types.CallToolResult.model_validate(final.result).structured_content
    assert run is not None and run["tasks"][0]["status"] == "ok"


# ---- input_required round trips -------------------------------------------------------------------


async def first_round(on: Client, plan: str) -> types.InputRequiredResult:
    asked = await on.session.call_tool(TOOL_NAME, {"plan": plan}, allow_input_required=True)
    assert isinstance(asked, types.InputRequiredResult), asked
    return asked


async def retry(on: Client, plan: str, asked: types.InputRequiredResult, answers: dict[str, Any]) -> Any:
    return await on.session.call_tool(TOOL_NAME, {"plan": plan}, input_responses=answers,
                                      request_state=asked.request_state, allow_input_required=True)


def accept_all(asked: types.InputRequiredResult) -> dict[str, Any]:
    return {key: types.ElicitResult(action="accept", content={"run": True}) for key in asked.input_requests or {}}


async def test_a_confirmation_asked_on_one_replica_is_answered_on_the_other_and_each_call_runs_once(
    two: tuple[Replica, Replica, Replicas],
) -> None:
    a, b, replicas = two
    plan = '1. ledger.note("before-erase")\n2. ledger.erase("ab-record")\njoin()'
    with anyio.fail_after(90):
        async with asker(a) as on_a, asker(b) as on_b:
            asked = await first_round(on_a, plan)
            assert [c for c in replicas.calls() if c.get("name") == "ab-record"] == []  # nothing ran yet
            done = await retry(on_b, plan, asked, accept_all(asked))
            again_a = await retry(on_a, plan, asked, accept_all(asked))  # the same retry twice: refused
            again_b = await retry(on_b, plan, asked, accept_all(asked))
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert [t["status"] for t in run_of(done)["tasks"]] == ["ok", "ok"]
    for again in (again_a, again_b):
        assert isinstance(again, types.CallToolResult) and again.is_error, again
    calls = replicas.calls()
    assert calls.count({"tool": "erase", "name": "ab-record"}) == 1
    assert calls.count({"tool": "note", "text": "before-erase"}) == 1


async def test_a_round_trip_of_a_run_executing_on_one_replica_is_refused_clearly_on_the_other(
    two: tuple[Replica, Replica, Replicas],
) -> None:
    a, b, replicas = two
    plan = '1. ledger.note("mid-run")\n2. ask.ask_person($1.result)\njoin()'
    with anyio.fail_after(90):
        async with asker(a) as on_a, asker(b) as on_b:
            asked = await first_round(on_a, plan)  # asked by the upstream mid-run: the run lives on A
            answer = {key: types.ElicitResult(action="accept", content={"colour": "blue"})
                      for key in asked.input_requests or {}}
            elsewhere = await retry(on_b, plan, asked, answer)
            assert isinstance(elsewhere, types.CallToolResult) and elsewhere.is_error
            assert "running on another replica" in elsewhere.content[0].text  # type: ignore[union-attr]
            done = await retry(on_a, plan, asked, answer)  # its replica still serves it
    assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert replicas.calls().count({"tool": "note", "text": "mid-run"}) == 1


# ---- a replica dies --------------------------------------------------------------------------------


async def test_a_task_on_a_killed_replica_is_reported_failed_by_the_other_within_the_lease(
    tmp_path: Path, redis: Redis,
) -> None:
    from mcp_compiler.state.lease import LEASE_S

    replicas = Replicas(tmp_path, redis)
    try:
        a, b = replicas.start("a"), replicas.start("b")
        with anyio.fail_after(120):
            async with client(a) as on_a:
                created = await on_a.session.call_tool(TOOL_NAME, {"plan": '1. up.slow(60, "doomed")\njoin()'},
                                                       allow_claimed=True)
            assert isinstance(created, CreateTaskResult), created
            while "start doomed" not in (replicas.tasks_log.read_text() if replicas.tasks_log.exists() else ""):
                await anyio.sleep(0.1)
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            killed = anyio.current_time()
            async with client(b) as on_b:
                assert (await get(on_b, created.task_id)).status == "working"  # its lease has not run out yet
                final = await poll(on_b, created.task_id, lambda s: s.status != "working", timeout=LEASE_S * 3)
            took = anyio.current_time() - killed
    finally:
        replicas.stop_all()
    assert final.status == "failed", final
    assert "replica running this task stopped" in (final.status_message or ""), final
    assert final.error is not None and "lease" in final.error["message"]
    print(f"reported failed {took:.1f} s after the SIGKILL")
    assert took <= LEASE_S + 5, took  # within the lease (and a poll or two)


# ---- Redis in trouble ------------------------------------------------------------------------------


async def test_with_redis_down_or_stalled_calls_needing_state_fail_in_bounded_time_and_the_rest_run(
    tmp_path: Path,
) -> None:
    big = "outage " * 400  # over max_inline_value_bytes: its reply needs a link, so the state backend
    with redis_server() as redis:
        replicas = Replicas(tmp_path, redis)
        try:
            a = replicas.start("a")
            async with Client(a.url) as on_a:
                with anyio.fail_after(60):
                    linked = await on_a.call_tool(TOOL_NAME, {"plan": f"1. ledger.note({json.dumps(big)})\njoin()"})
                uri = run_of(linked)["tasks"][0]["result_stored"]["uri"]
                for trouble in ("down", "stalled"):
                    if trouble == "down":
                        redis.stop()
                    else:
                        assert redis.proc is not None
                        redis.proc.send_signal(signal.SIGSTOP)  # connected, never answers: a slow Redis
                    with anyio.fail_after(30):
                        plain = await on_a.call_tool(TOOL_NAME, {"plan": "1. ledger.add(2, 3)\njoin()"})
                    assert not plain.is_error and run_of(plain)["tasks"][0]["result"] == {"result": 5}, plain
                    started = anyio.current_time()
                    with anyio.fail_after(30):
                        needs = await on_a.call_tool(TOOL_NAME, {"plan": f"1. ledger.note({json.dumps(big)})\njoin()"})
                    took = anyio.current_time() - started
                    assert needs.is_error and redis.url.rsplit("/", 1)[0] in needs.content[0].text, needs  # type: ignore[union-attr]
                    assert took < 2 * 2.0 + 5, (trouble, took)  # state_timeout_s (2 s) a call, and slack
                    with anyio.fail_after(30), pytest.raises(Exception, match="redis://127.0.0.1"):
                        await on_a.read_resource(uri)
                    if trouble == "down":
                        redis.start()  # empty (no persistence): the old link is gone, new ones work
                    else:
                        redis.proc.send_signal(signal.SIGCONT)
                    with anyio.fail_after(30):
                        again = await on_a.call_tool(TOOL_NAME, {"plan": f"1. ledger.note({json.dumps(big)})\njoin()"})
                    assert not again.is_error, again  # reconnected by itself
                    uri = run_of(again)["tasks"][0]["result_stored"]["uri"]
                    assert (await on_a.read_resource(uri)).contents
        finally:
            replicas.stop_all()


# ---- behind nginx (deploy/nginx.conf) ----------------------------------------------------------------


async def test_behind_nginx_any_replica_serves_and_a_handshake_session_stays_on_its_replica_even_past_a_kill(
    tmp_path: Path, redis: Redis,
) -> None:
    replicas = Replicas(tmp_path, redis)
    try:
        three = [replicas.start(name) for name in ("r1", "r2", "r3")]
        with nginx_in_front([f"127.0.0.1:{r.port}" for r in three]) as nginx:
            front_url = nginx.url
            with anyio.fail_after(120):
                # 2026-07-28: each request stands alone; nginx spreads them, and state is shared.
                for n in range(6):
                    async with Client(front_url) as host:
                        made = await host.call_tool(TOOL_NAME, {"plan": f'1. ledger.note({json.dumps("n" * 2000 + str(n))})\njoin()'})
                    async with Client(front_url) as host:
                        read = await host.read_resource(run_of(made)["tasks"][0]["result_stored"]["uri"])
                    assert str(n) in read.contents[0].text  # type: ignore[union-attr]
                # The handshake era: a session of several requests, routed by Mcp-Session-Id.
                async with Client(front_url, mode="legacy") as legacy:
                    assert legacy.protocol_version != "2026-07-28"
                    for n in range(5):
                        done = await legacy.call_tool(TOOL_NAME, {"plan": f"1. ledger.add({n}, 1)\njoin()"})
                        assert run_of(done)["tasks"][0]["result"] == {"result": n + 1}
                # One replica killed: new requests go to the others.
                three[0].proc.send_signal(signal.SIGKILL)
                three[0].proc.wait(timeout=10)
                before_kill = len(nginx.upstreams())
                for n in range(6):
                    async with Client(front_url) as host:
                        done = await host.call_tool(TOOL_NAME, {"plan": f"1. ledger.add({n}, 2)\njoin()"})
                    assert run_of(done)["tasks"][0]["result"] == {"result": n + 2}
                routes = nginx.upstreams()
    finally:
        replicas.stop_all()
    addresses = {f"127.0.0.1:{r.port}" for r in three}
    assert len({a for a in routes[:before_kill] if a in addresses}) >= 2, routes  # requests spread over replicas
    killed = f"127.0.0.1:{three[0].port}"
    assert all(route.split(", ")[-1] != killed for route in routes[before_kill:]), routes  # none answered by the dead


def test_compose_runs_three_replicas_on_redis_behind_the_tested_nginx_config() -> None:
    import yaml

    root = Path(__file__).parents[2]
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name, s in services.items() if "serve" in (s.get("command") or [])]
    assert len(replicas) == 3
    for name in replicas:
        service = services[name]
        assert service["environment"]["MCP_COMPILER_STATE"] == "redis://redis:6379/0"
        assert "--transport" in service["command"] and "0.0.0.0" in service["command"]
        assert "'.[redis]'" in service["build"]["dockerfile_inline"]  # the extra the shared state needs
    nginx_conf = (root / "deploy/nginx.conf").read_text()
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    assert [f"server {name}:8765" in nginx_conf for name in replicas] == [True] * 3


def test_the_deployment_page_shows_the_tested_nginx_config_and_a_config_that_loads() -> None:
    import re

    from mcp_compiler.config import Config
    from mcp_compiler.state import state_from_url
    from mcp_compiler.state.redis import RedisState

    root = Path(__file__).parents[2]
    page = (root / "docs/deployment.md").read_text()
    nginx_block = re.search(r"```nginx\n(.*?)```", page, re.S)
    assert nginx_block is not None and nginx_block[1] == (root / "deploy/nginx.conf").read_text()
    haproxy_block = re.search(r"```haproxy\n(.*?)```", page, re.S)
    assert haproxy_block is not None and haproxy_block[1] == (root / "deploy/haproxy.cfg").read_text()
    json_block = re.search(r"```json\n(.*?)```", page, re.S)
    assert json_block is not None
    config = Config.model_validate(json.loads(json_block[1]))
    assert config.compiler.state is not None and "redis.internal" not in repr(config)  # a secret
    assert isinstance(state_from_url(config.compiler.state.get_secret_value()), RedisState)


async def test_behind_haproxy_a_handshake_session_is_routed_by_its_session_id(tmp_path: Path, redis: Redis) -> None:
    replicas = Replicas(tmp_path, redis)
    try:
        three = [replicas.start(name) for name in ("h1", "h2", "h3")]
        with haproxy_in_front([f"127.0.0.1:{r.port}" for r in three]) as url, anyio.fail_after(120):
            for n in range(3):  # three sessions, each spread at its initialize, each kept by its id
                async with Client(url, mode="legacy") as legacy:
                    assert legacy.protocol_version != "2026-07-28"
                    for m in range(4):
                        done = await legacy.call_tool(TOOL_NAME, {"plan": f"1. ledger.add({n}, {m})\njoin()"})
                        assert run_of(done)["tasks"][0]["result"] == {"result": n + m}
            for n in range(4):  # 2026-07-28: any replica, state shared
                async with Client(url) as host:
                    made = await host.call_tool(TOOL_NAME, {"plan": f'1. ledger.note({json.dumps("h" * 2000 + str(n))})\njoin()'})
                async with Client(url) as host:
                    read = await host.read_resource(run_of(made)["tasks"][0]["result_stored"]["uri"])
                assert str(n) in read.contents[0].text  # type: ignore[union-attr]
    finally:
        replicas.stop_all()
