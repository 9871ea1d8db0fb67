"""The call-policy layer through the compiler, over real stdio servers: every per-call decision
(per-server timeouts and concurrency against the defaults, retries, confirmation) is made once,
above the I/O of the upstream pool."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_compiler.config import parse_config
from mcp_compiler.engine.policy import ServerLimits
from mcp_compiler.engine.run import Run
from mcp_compiler.gateway import Gateway, limits_from, open_gateway

pytestmark = pytest.mark.anyio

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_server.py")


def toy(name: str, *flags: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [TOY, "--name", name, *flags], **extra}


def gateway(servers: dict[str, Any], **compiler: Any):
    compiler.setdefault("connect_timeout_s", 20)
    return open_gateway(parse_config({"mcpServers": servers, "compiler": compiler}))


def sleeps(server: str, n: int, seconds: float) -> str:
    return "\n".join(f'{i}. {server}.sleep({seconds}, "{i}")' for i in range(1, n + 1)) + "\njoin()"


def peak_overlap(run: Run) -> int:
    """The most tasks running at one instant, from their recorded start and end times."""
    edges = sorted([(t.start_s, 1) for t in run.tasks] + [(t.end_s, -1) for t in run.tasks], key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_the_config_becomes_limits_with_each_servers_override() -> None:
    config = parse_config({
        "mcpServers": {"a.b": toy("a", timeout_s=3, max_concurrency=20), "c": toy("c")},
        "compiler": {"call_timeout_s": 1, "max_per_server": 2},
    })
    limits = limits_from(config)
    assert limits.servers == {"a_b": ServerLimits(max_concurrency=20, timeout_s=3, setting="mcpServers.a.b")}
    assert (limits.timeout_of("a_b"), limits.concurrency_of("a_b")) == (3, 20)
    assert (limits.timeout_of("c"), limits.concurrency_of("c")) == (1, 2)


async def test_a_servers_timeout_above_the_default_lets_a_longer_call_finish() -> None:
    async with gateway({"a": toy("a", timeout_s=3)}, call_timeout_s=1) as gw:
        run = await gw.compiler.run_plan("1. a.sleep(2)\njoin()")
    assert run.task(1).status == "ok", run.task(1).error


async def test_a_servers_timeout_below_the_default_ends_the_call_at_its_own_limit() -> None:
    async with gateway({"a": toy("a", timeout_s=0.5), "b": toy("b")}, call_timeout_s=60) as gw:
        started = anyio.current_time()
        run = await gw.compiler.run_plan("1. a.sleep(5)\n2. b.sleep(1)\njoin()")
        elapsed = anyio.current_time() - started
        assert run.task(1).status == "error" and run.task(1).error == "timed out after 0.5 s"
        assert run.task(2).status == "ok"  # the default applies to b
        assert elapsed < 4
        # The server is fine afterwards.
        again = await gw.compiler.run_plan('1. a.echo("still here")\njoin()')
    assert again.task(1).result == {"result": "a:still here"}


async def test_a_servers_concurrency_above_the_default_is_used_in_full() -> None:
    async with gateway({"a": toy("a", max_concurrency=4)}, max_per_server=1) as gw:
        run = await gw.compiler.run_plan(sleeps("a", 4, 0.6))
    assert run.ok
    assert peak_overlap(run) == 4


async def test_a_servers_concurrency_below_the_default_queues_its_calls() -> None:
    async with gateway({"a": toy("a", max_concurrency=1), "b": toy("b")}, max_per_server=8) as gw:
        run = await gw.compiler.run_plan(sleeps("a", 3, 0.3))
        other = await gw.compiler.run_plan(sleeps("b", 3, 0.3))
    assert run.ok and other.ok
    assert peak_overlap(run) == 1
    ordered = sorted(run.tasks, key=lambda t: t.start_s)
    assert all(later.start_s >= earlier.end_s - 0.01 for earlier, later in itertools.pairwise(ordered))
    assert peak_overlap(other) == 3


async def test_a_servers_limit_holds_across_concurrent_runs() -> None:
    async with gateway({"a": toy("a", max_concurrency=2)}) as gw:
        runs: list[Run] = []

        async def one() -> None:
            runs.append(await gw.compiler.run_plan(sleeps("a", 2, 0.5)))

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(one)
        elapsed = anyio.current_time() - started
    assert all(r.ok for r in runs)
    assert elapsed >= 0.95, f"four 0.5 s calls under a limit of 2 took {elapsed:.2f} s"


async def test_a_slow_confirmation_does_not_spend_the_calls_timeout() -> None:
    asked: list[str] = []

    async def slow_yes(spec: Any, arguments: dict[str, Any]) -> bool:
        asked.append(spec.name)
        await anyio.sleep(1.5)  # a person reading the question
        return True

    async with gateway({"a": toy("a")}, call_timeout_s=1, destructive="confirm") as gw:
        run = await gw.compiler.run_plan("1. a.delete_all()\njoin()", confirm=slow_yes)
    assert asked == ["a.delete_all"]
    assert run.task(1).status == "ok", run.task(1).error


async def test_a_confirmation_only_approves_with_a_real_true() -> None:
    async def truthy(spec: Any, arguments: dict[str, Any]) -> Any:
        return "yes"  # truthy, but not the boolean True

    async with gateway({"a": toy("a")}, destructive="confirm") as gw:
        run = await gw.compiler.run_plan("1. a.delete_all()\njoin()", confirm=truthy)
    assert run.task(1).status == "error"
    assert run.task(1).error == "a.delete_all was not confirmed, so it did not run"


async def test_a_read_only_call_is_retried_once_after_its_server_restarts(tmp_path: Path) -> None:
    async with gateway({"a": toy("a", "--marker", str(tmp_path / "crashed-once"))}) as gw:
        run = await gw.compiler.run_plan("1. a.flaky_read()\njoin()")
        restarts = gw.pool.status()[0].restarts
    assert run.task(1).status == "ok" and run.task(1).result == {"result": "a:survived"}
    assert restarts == 1


async def test_a_call_that_is_not_safe_to_repeat_is_not_retried() -> None:
    async with gateway({"a": toy("a")}) as gw:
        run = await gw.compiler.run_plan("1. a.crash()\njoin()")
        again = await gw.compiler.run_plan('1. a.echo("after")\njoin()')
    assert run.task(1).status == "error"
    assert "went away" in run.task(1).error and "not retried" in run.task(1).error
    assert again.task(1).result == {"result": "a:after"}


def test_gateway_is_the_one_place_the_engine_is_built() -> None:
    assert Gateway.__dataclass_fields__.keys() == {"config", "pool", "compiler", "toolbox"}
