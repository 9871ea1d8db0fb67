"""The state seam (`mcp_compiler/state`) and both its backends, memory and Redis (a real
redis-server, tests/fixtures/services.py): expiry, caps, atomic take, owners; and the stores above
it keeping their behaviour (the run store refusing before evicting)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest
from fixtures.services import Redis, redis_server

from mcp_compiler.server.store import Item, RunStore, Unreadable
from mcp_compiler.state import Kind, StateStore, StateUnavailable, state_from_url
from mcp_compiler.state.memory import MemoryState

pytestmark = pytest.mark.anyio

KIND = Kind("things", ttl_s=10, max_bytes=100, max_entries=3)

Make = Callable[..., StateStore]


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """A factory of empty stores of one backend: `make(clock=...)` for a test's own clock."""
    if request.param == "memory":
        yield lambda clock=None: MemoryState(clock=clock) if clock else MemoryState()
        return
    from mcp_compiler.state.redis import RedisState

    server: Redis = request.getfixturevalue("redis")
    made: list[RedisState] = []

    def new(clock: Callable[[], float] | None = None) -> StateStore:
        made.append(RedisState(server.url, clock=clock))
        return made[-1]

    await new()._client.flushdb()  # type: ignore[attr-defined]
    yield new
    for state in made:
        await state.aclose()


def clocked(make: Make) -> tuple[list[float], StateStore]:
    now = [1000.0]
    return now, make(clock=lambda: now[0])


async def test_a_put_is_read_back_by_kind_key_and_part_until_it_expires(make: Make) -> None:
    now, state = clocked(make)
    assert await state.put(KIND, "a", b"one")
    assert await state.put(KIND, "a", b"two", part="p")
    assert await state.get(KIND, "a") == b"one" and await state.get(KIND, "a", part="p") == b"two"
    assert await state.get(Kind("other", 10, 100, 3), "a") is None  # kinds are namespaces
    now[0] = 1009.9
    assert await state.put(KIND, "a", b"three", part="q")  # a put keeps the entry's expiry
    now[0] = 1010
    assert await state.get(KIND, "a") is None and await state.size(KIND) == (0, 0)


async def test_an_owners_entry_does_not_exist_for_another_owner(make: Make) -> None:
    state = make()
    await state.put(KIND, "a", b"alice's", owner="alice")
    await state.put(KIND, "b", b"bob's", owner="bob")
    assert await state.get(KIND, "a", owner="alice") == b"alice's"
    assert await state.get(KIND, "a", owner="bob") is None
    assert await state.take(KIND, "a", owner="bob") is None and await state.get(KIND, "a") == b"alice's"
    assert await state.owned(KIND, "alice") == ["a"] and await state.owned(KIND, "mallory") == []


async def test_a_take_is_answered_once_however_many_ask_at_once(make: Make) -> None:
    state = make()
    await state.put(KIND, "held", b"the outcome", part="outcome")
    got: list[bytes | None] = []

    async def take() -> None:
        got.append(await state.take(KIND, "held", part="outcome"))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(take)
    assert got.count(b"the outcome") == 1 and got.count(None) == 9
    assert await state.size(KIND) == (0, 0)  # its last part taken, the entry is gone


async def test_the_oldest_other_entries_make_room_and_the_caps_always_hold(make: Make) -> None:
    state = make()
    for key in "abc":
        assert await state.put(KIND, key, b"x" * 30)
    assert await state.put(KIND, "d", b"x" * 30)  # a fourth entry: the oldest goes
    assert await state.get(KIND, "a") is None and await state.get(KIND, "b") is not None
    assert await state.put(KIND, "b", b"y" * 60, part="more")  # b grows to 90 bytes: c and d make room
    assert await state.get(KIND, "c") is None and await state.get(KIND, "d") is None
    entries, size = await state.size(KIND)
    assert entries <= KIND.max_entries and size <= KIND.max_bytes


async def test_a_put_that_can_never_fit_is_refused_before_anything_is_evicted(make: Make) -> None:
    state = make()
    await state.put(KIND, "other", b"x" * 50)
    await state.put(KIND, "mine", b"x" * 40)
    assert not await state.put(KIND, "mine", b"x" * 61, part="big")  # 40 + 61 > 100 with every other gone
    assert await state.get(KIND, "other") == b"x" * 50 and await state.size(KIND) == (2, 90)


async def test_pinned_entries_neither_expire_nor_make_room_until_they_are_given_a_time(make: Make) -> None:
    now, state = clocked(make)
    for key in "abc":
        assert await state.put(KIND, key, b"run", pinned=True)
    assert not await state.put(KIND, "d", b"run", pinned=True)  # every slot pinned: refused
    now[0] = 1100
    assert await state.get(KIND, "a") == b"run"
    await state.expire(KIND, "b", 5)  # b ended: it expires in 5 s and may make room now
    assert await state.put(KIND, "d", b"run", pinned=True)
    assert await state.get(KIND, "b") is None and await state.get(KIND, "a") == b"run"


async def test_the_memory_backend_is_a_state_store() -> None:
    assert isinstance(MemoryState(), StateStore)


# ---- the run store on the seam (issue 23, item 3) ----------------------------------------------------


async def test_an_oversized_run_leaves_another_callers_links_readable(make: Make) -> None:
    store = RunStore(max_bytes=10_000, max_runs=16, state=make())
    theirs = [await store.put(store.new_run_id(), "tasks/1", Item.text("v" * 500)) for _ in range(5)]
    assert all(theirs)
    mine = store.new_run_id()
    assert await store.put(mine, "tasks/1", Item.text("m" * 6000)) is not None  # room for it, once
    assert await store.put(mine, "tasks/2", Item.text("m" * 6000)) is None  # this run alone is over the store
    readable = 0
    for uri in theirs:
        try:
            await store.read(uri)  # type: ignore[arg-type]
            readable += 1
        except Unreadable:
            pass
    assert readable == 5  # nothing of theirs was evicted for a value that was refused anyway
    assert await store.size() <= 10_000


# ---- held runs on the seam --------------------------------------------------------------------------


async def test_a_held_runs_result_nobody_waited_for_is_taken_once_by_its_retry(make: Make) -> None:
    import mcp_types as types

    from mcp_compiler.server.round_trips import HeldRun, HeldRuns

    async def ask_then_finish(held: HeldRun) -> types.CallToolResult:
        await held.ask("confirm-1", types.ElicitRequest(params=types.ElicitRequestFormParams(
            message="go?", requested_schema={"type": "object", "properties": {}})))
        return types.CallToolResult(content=[types.TextContent(type="text", text="done")])

    state = make()
    held_runs = HeldRuns(ttl_s=5, state=state)
    with anyio.fail_after(10):
        async with held_runs.open():
            held = await held_runs.start(ask_then_finish)
            asked = await held_runs.serve(held, None)  # its question takes its slot in the seam
            assert isinstance(asked, types.InputRequiredResult)
            held.deliver({"confirm-1": {"action": "accept"}})  # answered, and no request waits on it
            while len(held_runs):  # it ended with no request waiting on it: kept in the seam
                await anyio.sleep(0.01)
            assert await state.size(held_runs.kind) != (0, 0)
            first, second = [await held_runs.retry(held.state(), None, None) for _ in range(2)]
    assert isinstance(first, types.CallToolResult) and not first.is_error
    assert first.content[0].text == "done"  # type: ignore[union-attr]
    assert second.is_error and "no longer held" in second.content[0].text  # type: ignore[union-attr]
    assert await state.size(held_runs.kind) == (0, 0)


# ---- choosing a backend, and Redis in trouble (issue 25) ---------------------------------------------


def test_a_state_url_names_its_backend_and_a_bad_one_is_a_clear_error() -> None:
    from mcp_compiler.errors import ConfigError
    from mcp_compiler.state.redis import RedisState

    assert isinstance(state_from_url(None), MemoryState) and isinstance(state_from_url("memory://"), MemoryState)
    assert isinstance(state_from_url("redis://127.0.0.1:1/0"), RedisState)
    with pytest.raises(ConfigError, match=r"memory:// or redis://"):
        state_from_url("postgres://me:secret@db/1")
    try:
        state_from_url("postgres://me:secret@db/1")
    except ConfigError as exc:
        assert "secret" not in str(exc)


async def test_a_redis_that_is_down_fails_within_the_timeout_naming_the_backend_without_its_password() -> None:
    from mcp_compiler.state.redis import RedisState

    state = RedisState("redis://me:hunter2@127.0.0.1:1/0", timeout_s=1)
    try:
        with anyio.fail_after(10):
            with pytest.raises(StateUnavailable) as caught:
                await state.get(KIND, "a")
        assert "redis://me:***@127.0.0.1:1/0" in str(caught.value) and "hunter2" not in str(caught.value)
        # A value over the kind's bytes is refused before anything is sent: no error, though Redis is down.
        assert await state.put(KIND, "a", b"x" * (KIND.max_bytes + 1)) is False
    finally:
        await state.aclose()


async def test_redis_keys_are_namespaced_by_kind_and_the_owner_is_kept_with_the_entry(redis: Redis) -> None:
    import redis.asyncio as aioredis

    from mcp_compiler.state.redis import RedisState

    state = RedisState(redis.url)
    raw = aioredis.Redis.from_url(redis.url)
    try:
        await raw.flushdb()
        await state.put(KIND, "k1", b"v", part="tasks/1", owner="alice")
        keys = sorted(k.decode() for k in await raw.keys("*"))
        assert "mcp-compiler:{things}:e:k1" in keys and all(k.startswith("mcp-compiler:{things}:") for k in keys)
        assert await raw.hget("mcp-compiler:{things}:e:k1", "o") == b"alice"
        assert await raw.hget("mcp-compiler:{things}:e:k1", "p:tasks/1") == b"v"
    finally:
        await state.aclose()
        await raw.aclose()


async def test_redis_comes_back_and_the_same_store_reconnects_by_itself(redis: Redis) -> None:
    from mcp_compiler.state.redis import RedisState

    state = RedisState(redis.url, timeout_s=1)
    try:
        assert await state.put(KIND, "before", b"1")
        redis.stop()
        with anyio.fail_after(10):
            with pytest.raises(StateUnavailable, match="redis://127.0.0.1"):
                await state.get(KIND, "before")
        redis.start()
        with anyio.fail_after(10):
            assert await state.put(KIND, "after", b"2") and await state.get(KIND, "after") == b"2"
    finally:
        if redis.proc is None:
            redis.start()
        await state.aclose()
