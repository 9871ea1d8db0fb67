"""The result contract in pieces: shaping a Run into a reply (`server/results.py`), the run store
(`server/store.py`) and the namespaced upstream URIs (`server/resources.py`). End to end, over
real subprocesses and hosts: test_native_content.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jsonschema
import mcp_types as types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from mcp_compiler.engine.run import Run, TaskRecord, plain_answer
from mcp_compiler.server import RUN_SCHEMA
from mcp_compiler.server.resources import Resources, namespaced, namespaced_template, upstream_of
from mcp_compiler.server.results import ReplyBudget, reply_for
from mcp_compiler.server.store import Item, RunStore, Unreadable
from mcp_compiler.state.memory import MemoryState
from mcp_compiler.tools.toolbox import Toolbox

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(100)).decode()

pytestmark = pytest.mark.anyio


def plan_run(*tasks: TaskRecord) -> Run:
    run = Run(tasks=list(tasks))
    run.answer = plain_answer(run)
    return run


def size(result: types.CallToolResult) -> int:
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))


def blocks(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return list(items)


# ---- the reply ---------------------------------------------------------------------------------


async def test_each_value_is_once_in_structured_content_and_the_answer_is_the_text() -> None:
    run = plan_run(
        TaskRecord(1, "a.get", args={"q": "x"}, status="ok", result={"value": 41}),
        TaskRecord(2, "a.add", args={"n": {"value": 41}}, status="ok", result=42, deps=[1]),
    )
    result = await reply_for(run)
    assert [b.type for b in result.content] == ["text"]
    assert result.content[0].text == "42"  # type: ignore[union-attr]
    data = result.structured_content
    assert data is not None and "answer" not in data
    jsonschema.validate(data, RUN_SCHEMA)
    assert [t["result"] for t in data["tasks"]] == [{"value": 41}, 42]


async def test_an_image_of_an_answer_task_is_a_native_block_and_a_link_in_the_run() -> None:
    store = RunStore()
    value = blocks({"type": "text", "text": "a chart"}, {"type": "image", "data": PNG, "mimeType": "image/png"})
    result = await reply_for(plan_run(TaskRecord(1, "m.chart", args={}, status="ok", result=value)), store=store)
    text, image = result.content
    assert isinstance(image, types.ImageContent) and image.data == PNG and image.mime_type == "image/png"
    assert isinstance(text, types.TextContent) and PNG not in text.text
    assert text.text == "a chart\n[image image/png: content[1]]"
    data = result.structured_content
    assert data is not None and PNG not in json.dumps(data)  # the bytes travel once, natively
    link = data["tasks"][0]["result"][1]
    assert link["type"] == "resource_link" and link["mimeType"] == "image/png"
    kept = (await store.read(link["uri"])).contents[0]
    assert isinstance(kept, types.BlobResourceContents) and kept.blob == PNG


async def test_only_the_answer_tasks_give_native_blocks() -> None:
    image = blocks({"type": "image", "data": PNG, "mimeType": "image/png"})
    run = plan_run(
        TaskRecord(1, "m.photo", args={}, status="ok", result=image),
        TaskRecord(2, "m.size", args={"image": image}, status="ok", result=108, deps=[1]),
    )
    result = await reply_for(run, store=RunStore())
    assert [b.type for b in result.content] == ["text"]
    assert result.structured_content is not None and result.structured_content["tasks"][0]["result"][0]["type"] == "resource_link"


async def test_upstream_resource_uris_are_namespaced_for_the_servers_it_serves() -> None:
    link = {"type": "resource_link", "uri": "demo://r/1", "name": "r1"}
    embedded = {"type": "resource", "resource": {"uri": "file:///a b", "text": "hi"}}
    run = plan_run(TaskRecord(1, "ev.links", args={}, status="ok", result=blocks(link, embedded)))
    result = await reply_for(run, servers={"ev.links": "ev"})
    assert [b.type for b in result.content] == ["text", "resource_link", "resource"]
    assert result.content[1].uri == namespaced("ev", "demo://r/1")  # type: ignore[union-attr]
    assert result.content[2].resource.uri == namespaced("ev", "file:///a b")  # type: ignore[union-attr]
    assert result.structured_content is not None
    assert result.structured_content["tasks"][0]["result"][0]["uri"] == namespaced("ev", "demo://r/1")


async def test_a_value_over_the_inline_budget_is_kept_and_linked_with_a_preview() -> None:
    store = RunStore(part_bytes=4096)
    big = "x" * 10_000
    run = plan_run(TaskRecord(1, "m.big", args={"n": 10_000}, status="ok", result=big))
    result = await reply_for(run, store=store, budget=ReplyBudget(max_inline_value_bytes=1000, max_reply_bytes=64 * 2**10))
    data = result.structured_content
    assert data is not None
    jsonschema.validate(data, RUN_SCHEMA)
    task = data["tasks"][0]
    assert "result" not in task and task["args"] == {"n": 10_000}
    stored = task["result_stored"]
    assert stored["bytes"] == 10_000 and stored["mime_type"] == "text/plain" and stored["parts"] == 3
    assert stored["preview"].startswith("xxx") and len(stored["preview"]) < 400
    text = result.content[0].text  # type: ignore[union-attr]
    assert stored["uri"] in text and "10.0 KB" in text and len(text) < 1000
    with pytest.raises(MCPError, match="read it in 3 parts"):
        await store.read(stored["uri"])
    joined = "".join([(await store.read(f"{stored['uri']}/parts/{i}")).contents[0].text for i in (1, 2, 3)])  # type: ignore[union-attr]
    assert joined == big


async def test_a_reply_over_its_budget_links_its_largest_values_until_it_fits() -> None:
    tasks = [TaskRecord(i, "m.get", args={"i": i}, status="ok", result="v" * 20_000) for i in range(1, 11)]
    budget = ReplyBudget(max_inline_value_bytes=64 * 2**10, max_reply_bytes=100_000)
    result = await reply_for(plan_run(*tasks), store=RunStore(), budget=budget)
    assert size(result) < 100_000
    data = result.structured_content
    assert data is not None
    linked = [t for t in data["tasks"] if "result_stored" in t]
    inline = [t for t in data["tasks"] if "result" in t]
    assert linked and inline and len(linked) + len(inline) == 10  # only as many as needed


async def test_without_a_store_a_value_over_budget_is_cut_to_its_preview() -> None:
    run = plan_run(TaskRecord(1, "m.big", args={}, status="ok", result="y" * 100_000))
    result = await reply_for(run, budget=ReplyBudget(max_inline_value_bytes=1000, max_reply_bytes=20_000))
    assert size(result) < 20_000
    assert result.structured_content is not None
    assert result.structured_content["tasks"][0]["result_stored"]["uri"] is None
    assert "not kept" in result.content[0].text  # type: ignore[union-attr]


async def test_a_joiners_answer_is_the_text_as_it_is() -> None:
    run = Run(tasks=[TaskRecord(1, "a.get", args={}, status="ok", result=1)], answer="One, said the model.")
    run.rounds = []
    result = await reply_for(run)
    assert result.content[0].text == "One, said the model."  # type: ignore[union-attr]


# ---- the store -----------------------------------------------------------------------------------


async def test_the_store_forgets_runs_after_their_time_to_live() -> None:
    now = [0.0]
    store = RunStore(ttl_s=10, state=MemoryState(clock=lambda: now[0]))
    uri = await store.put(store.new_run_id(), "tasks/1", Item.text("kept"))
    assert uri is not None and (await store.read(uri)).contents[0].text == "kept"  # type: ignore[union-attr]
    now[0] = 11
    with pytest.raises(Unreadable, match="expired"):
        await store.read(uri)
    assert (await store.size()) == 0


async def test_the_store_makes_room_oldest_run_first_and_never_holds_more_than_its_bounds() -> None:
    store = RunStore(max_bytes=3000, max_runs=2)
    uris = [await store.put(store.new_run_id(), "tasks/1", Item.text("z" * 1000)) for _ in range(3)]
    assert all(uris)
    with pytest.raises(Unreadable):
        await store.read(uris[0])  # type: ignore[arg-type]
    assert (await store.read(uris[2])).contents  # type: ignore[arg-type]
    assert await store.put(store.new_run_id(), "tasks/1", Item.text("w" * 3001)) is None  # larger than the store
    assert (await store.size()) <= 3000


def test_run_ids_are_unguessable_and_distinct() -> None:
    ids = {RunStore().new_run_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) >= 22 for i in ids)


async def test_parts_of_text_are_cut_at_character_boundaries() -> None:
    store = RunStore(part_bytes=1024)
    text = "é€😀" * 1000
    uri = await store.put(store.new_run_id(), "tasks/1", Item.text(text))
    assert uri is not None
    parts = store.parts(Item.text(text))
    assert len(parts) > 1 and all(end - start <= 1024 for start, end in parts)
    read = [(await store.read(f"{uri}/parts/{i}")).contents[0] for i in range(1, len(parts) + 1)]
    assert "".join(c.text for c in read) == text  # type: ignore[union-attr]
    with pytest.raises(Unreadable, match="part"):
        await store.read(f"{uri}/parts/{len(parts) + 1}")


# ---- namespaced URIs -----------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=200))
def test_namespaced_uris_are_reversible(prefix: str, uri: str) -> None:
    assert upstream_of(namespaced(prefix, uri)) == (prefix, uri)


def test_a_namespaced_template_filled_in_names_the_upstream_uri() -> None:
    template = namespaced_template("ev", "demo://resource/dynamic/text/{resourceId}")
    assert template == "mcp-compiler://servers/ev/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F{resourceId}"
    assert upstream_of(template.replace("{resourceId}", "7")) == ("ev", "demo://resource/dynamic/text/7")


async def test_a_plan_of_a_thousand_tasks_with_middling_values_still_fits_and_quickly() -> None:
    # Each value is under the inline budget, but together they are twice the reply budget.
    tasks = [
        TaskRecord(i, "m.get", args={"q": "a" * 400}, status="ok", result={"v": "b" * 600}, start_s=0.0, end_s=0.1)
        for i in range(1, 1001)
    ]
    run = plan_run(*tasks)
    started = time.perf_counter()
    result = await reply_for(run, store=RunStore())
    took = time.perf_counter() - started
    assert size(result) <= ReplyBudget().max_reply_bytes
    assert result.structured_content is not None
    assert len(result.structured_content["tasks"]) == 1000
    assert took < 10  # a few measurements of the reply, not one per value (about 0.3 s here)


# ---- resources/list in pieces ------------------------------------------------------------------


class ManyResources(Toolbox):
    """A toolbox whose one server lists a page far larger than a reply (a unit test's stand-in)."""

    offers_resources = True

    def specs(self) -> dict[str, Any]:
        return {}

    async def call(self, spec: Any, arguments: dict[str, Any]) -> Any:
        raise AssertionError("no tool is called here")

    def resource_servers(self) -> list[str]:
        return ["big"]

    async def list_resources(self, prefix: str, cursor: str | None = None) -> types.ListResourcesResult:
        page = [types.Resource(uri=f"x://{cursor or 'a'}/{i}", name=f"r{i}", description="d" * 500) for i in range(200)]
        return types.ListResourcesResult(resources=page, next_cursor=None if cursor else "second")

    async def read_resource(self, prefix: str, uri: str) -> types.ReadResourceResult:
        raise AssertionError("not read here")


@pytest.mark.anyio
async def test_an_upstream_page_larger_than_a_reply_is_listed_in_pieces_and_nothing_is_lost() -> None:
    resources = Resources(ManyResources(), RunStore(), max_reply_bytes=32 * 2**10)
    seen, cursor, pages = [], None, 0
    while True:
        page = await resources.list_resources(cursor)
        assert len(page.model_dump_json()) < 32 * 2**10
        seen += [r.uri for r in page.resources]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    upstream = [namespaced("big", f"x://{c}/{i}") for c in ("a", "second") for i in range(200)]
    assert seen == ["mcp-compiler://catalog", "mcp-compiler://catalog.json", *upstream]
    assert pages > 4
