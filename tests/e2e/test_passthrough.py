"""Nothing lost through the gateway (issue 22): prompts, completions, resource subscriptions, list
changes and instructions of the servers behind reach the host, end to end.

`mcp-compiler serve` runs as a real subprocess, over stdio and HTTP, with the Python SDK's client
as the host in both protocol eras, in front of two copies of tests/fixtures/library_server.py: `lib`
(a 2026-07-28 server) and `old` (handshake era only), so each feature crosses both upstream eras.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from procs import serving_http

from mcp_compiler.server.passthrough import MAX_INSTRUCTIONS_CHARS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).parents[1] / "fixtures"
LIBRARY = str(FIXTURES / "library_server.py")
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]
ERAS = ["legacy", "auto"]  # auto lands on 2026-07-28 against mcp-compiler (a pinned mode skips discovery)
B1 = {"lib": "mcp-compiler://servers/lib/book%3A%2F%2Fb1", "old": "mcp-compiler://servers/old/book%3A%2F%2Fb1"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("passthrough") / "config.json"
    path.write_text(json.dumps({"mcpServers": {
        "lib": {"command": sys.executable, "args": [LIBRARY, "--name", "lib"]},
        "old": {"command": sys.executable, "args": [LIBRARY, "--name", "old", "--legacy"]},
        "long": {"command": sys.executable, "args": [LIBRARY, "--name", "long", "--instructions", "6000"]},
    }}))
    return path


@pytest.fixture(scope="module")
def http_url(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving_http([*SERVE, "--config", str(config)], tmp_path_factory.mktemp("http"), show_log=True) as url:
        yield url


@asynccontextmanager
async def host(transport: str, mode: str, config: Path, http_url: str | None, messages: list[Any] | None = None
               ) -> AsyncIterator[Client]:
    """A host of either transport and era; the messages it is sent outside requests go to `messages`."""

    async def on_message(message: Any) -> None:
        if messages is not None:
            messages.append(message)

    target: Any = http_url if transport == "http" else StdioServerParameters(
        command=SERVE[0], args=[*SERVE[1:], "--config", str(config)])
    async with Client(target, mode=mode, message_handler=on_message) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(transport: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("http_url")) if transport == "http" else None


async def plan(client: Client, text: str) -> str:
    """The answer (the reply's text) of a plan that must succeed."""
    result = await client.call_tool("compile_and_run", {"plan": text})
    assert not result.is_error, result.content
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def subscribed_now(client: Client, server: str) -> list[str]:
    """The URIs the handshake-era server has resources/subscribe'd (its own `subscribed_now`)."""
    return list(json.loads(await plan(client, f"1. {server}.subscribed_now()\njoin($1)"))["result"])


@pytest.mark.parametrize("mode", ERAS)
async def test_prompts_are_listed_namespaced_paged_and_got(transport: str, mode: str, config: Path, url: str | None) -> None:
    async with host(transport, mode, config, url) as client:
        assert client.server_capabilities.prompts is not None
        names: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await client.list_prompts(cursor=cursor)
            names += [p.name for p in page.prompts]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        # One upstream page per page of ours: three servers, three pages.
        assert pages == 3
        assert {"lib.greet", "lib.cite", "old.greet", "old.cite", "long.greet"} <= set(names)
        listed = (await client.list_prompts()).prompts
        assert next(p for p in listed if p.name == "lib.greet").title == "lib: Greeting"

        got = await client.get_prompt("old.greet", {"name": "Ada"})
        assert got.messages[0].content == types.TextContent(type="text", text="Hello Ada, from old")
        cited = await client.get_prompt("lib.cite", {"book": "b1"})
        embedded = cited.messages[1].content
        assert isinstance(embedded, types.EmbeddedResource)
        assert embedded.resource.uri == B1["lib"]  # namespaced: resources/read takes it
        read = await client.read_resource(embedded.resource.uri)
        assert isinstance(read.contents[0], types.TextResourceContents)
        assert read.contents[0].text == "On Computable Numbers"

        with pytest.raises(Exception, match="unknown prompt 'nope.greet'.*server.prompt"):
            await client.get_prompt("nope.greet", {"name": "x"})
        with pytest.raises(Exception, match="unknown prompt 'greet'"):
            await client.get_prompt("greet", {"name": "x"})


@pytest.mark.parametrize("mode", ERAS)
async def test_completions_of_prompts_and_templates_are_proxied(
    transport: str, mode: str, config: Path, url: str | None
) -> None:
    async with host(transport, mode, config, url) as client:
        assert client.server_capabilities.completions is not None
        for server in ("lib", "old"):
            done = await client.complete(types.PromptReference(type="ref/prompt", name=f"{server}.greet"),
                                         {"name": "name", "value": "A"})
            assert done.completion.values == ["Ada", "Alan"]
        templates: list[str] = []
        cursor: str | None = None
        while True:  # one server's templates a page
            page = await client.list_resource_templates(cursor=cursor)
            templates += [t.uri_template for t in page.resource_templates]
            if (cursor := page.next_cursor) is None:
                break
        template = "mcp-compiler://servers/old/book%3A%2F%2F{id}"
        assert template in templates
        done = await client.complete(types.ResourceTemplateReference(type="ref/resource", uri=template),
                                     {"name": "id", "value": "b"})
        assert done.completion.values == ["b1", "b2"]
        with pytest.raises(Exception, match="no server behind this one completes the template"):
            await client.complete(types.ResourceTemplateReference(type="ref/resource", uri="book://{id}"),
                                  {"name": "id", "value": "b"})


@pytest.mark.parametrize("mode", ERAS)
async def test_instructions_are_merged_under_each_server_within_the_cap(config: Path, http_url: str, mode: str) -> None:
    # A host's first request waits a few seconds for servers still starting; on a loaded machine
    # three may take longer, so they are connected first (a plan on each), then a host connects.
    async with host("http", "legacy", config, http_url) as warming:
        await plan(warming, "1. lib.subscribed_now()\n2. old.subscribed_now()\n3. long.subscribed_now()\njoin()")
    async with host("http", mode, config, http_url) as client:
        text = client.instructions or ""
    assert text.startswith("One tool, compile_and_run")
    assert "## The server lib (its tools are lib.*)\n\nlib: search before you read" in text
    assert "## The server old (its tools are old.*)\n\nold: search before you read" in text
    # 6,000 characters from `long`: cut at the cap, and saying so.
    assert f"[... cut at {MAX_INSTRUCTIONS_CHARS:,} of 6,000 characters]" in text
    assert "x" * MAX_INSTRUCTIONS_CHARS in text and "x" * (MAX_INSTRUCTIONS_CHARS + 1) not in text


async def test_handshake_era_subscriptions_pass_updates_and_end(transport: str, config: Path, url: str | None) -> None:
    messages: list[Any] = []
    async with host(transport, "legacy", config, url, messages) as client:
        capabilities = client.server_capabilities.resources
        assert capabilities is not None and capabilities.subscribe
        for uri in B1.values():
            await client.session.send_request(
                types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri)), types.EmptyResult)
        assert await subscribed_now(client, "old") == ["book://b1"]  # one upstream subscription
        await plan(client, '1. lib.touch("book://b1")\n2. old.touch("book://b1")\n3. old.touch("book://b2")\njoin()')
        with anyio.fail_after(10):
            while len(updated(messages)) < 2:
                await anyio.sleep(0.1)
        await anyio.sleep(0.5)
        assert sorted(updated(messages)) == sorted(B1.values())  # b2 was not subscribed to

        await client.session.send_request(
            types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=B1["old"])), types.EmptyResult)
        assert await subscribed_now(client, "old") == []

        with pytest.raises(Exception, match="cannot subscribe to 'mcp-compiler://catalog'"):
            await client.session.send_request(
                types.SubscribeRequest(params=types.SubscribeRequestParams(uri="mcp-compiler://catalog")),
                types.EmptyResult)


def updated(messages: list[Any]) -> list[str]:
    return [m.params.uri for m in messages if isinstance(m, types.ResourceUpdatedNotification)]


async def test_listen_streams_merge_the_upstreams_events(transport: str, config: Path, url: str | None) -> None:
    async with host(transport, "auto", config, url) as client:
        assert client.protocol_version == "2026-07-28"
        events: list[Any] = []
        async with client.listen(resource_subscriptions=list(B1.values()), prompts_list_changed=True) as stream:
            assert await subscribed_now(client, "old") == ["book://b1"]
            await plan(client, '1. lib.touch("book://b1")\n2. old.touch("book://b1")\n3. old.add_prompt("fresh")\njoin()')
            with anyio.move_on_after(10):
                async for event in stream:
                    events.append(event)
                    if len(events) == 3:
                        break
        assert sorted(str(e) for e in events) == sorted([
            f"ResourceUpdated(uri='{B1['lib']}')", f"ResourceUpdated(uri='{B1['old']}')", "PromptsListChanged()",
        ])
        assert "old.fresh" in await all_prompts(client)
        # The stream is closed: its upstream subscription ended with it.
        with anyio.fail_after(10):
            while await subscribed_now(client, "old"):
                await anyio.sleep(0.2)


async def all_prompts(client: Client) -> list[str]:
    names: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.list_prompts(cursor=cursor)
        names += [p.name for p in page.prompts]
        if (cursor := page.next_cursor) is None:
            return names


async def test_prompt_list_changes_reach_handshake_era_hosts(transport: str, config: Path, url: str | None) -> None:
    messages: list[Any] = []
    async with host(transport, "legacy", config, url, messages) as client:
        await plan(client, '1. old.add_prompt("later")\njoin()')
        with anyio.fail_after(10):
            while not any(isinstance(m, types.PromptListChangedNotification) for m in messages):
                await anyio.sleep(0.1)
        assert "old.later" in await all_prompts(client)


async def test_a_hosts_subscription_ends_when_it_goes(config: Path, http_url: str) -> None:
    async with host("http", "legacy", config, http_url) as leaving:
        await leaving.session.send_request(
            types.SubscribeRequest(params=types.SubscribeRequestParams(uri=B1["old"])), types.EmptyResult)
        assert await subscribed_now(leaving, "old") == ["book://b1"]
    # The host closed its HTTP session (DELETE): mcp-compiler let go of the upstream subscription.
    async with host("http", "legacy", config, http_url) as staying:
        with anyio.fail_after(15):
            while await subscribed_now(staying, "old"):
                await anyio.sleep(0.2)


async def test_a_subscription_without_a_session_is_refused_with_why(config: Path, tmp_path: Path) -> None:
    with serving_http([*SERVE, "--config", str(config), "--stateless"], tmp_path) as url:
        async with host("http", "legacy", config, url) as client:
            with pytest.raises(Exception, match=r"needs a session to send updates on.*stateless HTTP"):
                await client.session.send_request(
                    types.SubscribeRequest(params=types.SubscribeRequestParams(uri=B1["old"])), types.EmptyResult)


async def test_lists_carry_the_most_restrictive_upstreams_caching_hints(config: Path, tmp_path: Path) -> None:
    """A 2026-07-28 host reads on our tools list the smallest ttl and the narrower scope of the
    servers' (`a` allows 5 s public, `b` 60 s private: 5 s private); a prompt or template page
    carries the hints of the server it came from; with a server that sends no hints (the
    handshake-era `old` of the module's config) the tools list promises none (0 ms, private)."""
    hinted = tmp_path / "hinted.json"
    hinted.write_text(json.dumps({"mcpServers": {
        "a": {"command": sys.executable, "args": [LIBRARY, "--name", "a", "--cache", "5000:public"]},
        "b": {"command": sys.executable, "args": [LIBRARY, "--name", "b", "--cache", "60000:private"]},
    }}))
    async with host("stdio", "auto", hinted, None) as client:
        tools = await client.list_tools()
        assert (tools.ttl_ms, tools.cache_scope) == (5000, "private")
        first = await client.list_prompts()
        assert {p.name.split(".")[0] for p in first.prompts} == {"a"}
        assert (first.ttl_ms, first.cache_scope) == (5000, "public")
        assert first.next_cursor is not None
        second = await client.list_prompts(cursor=first.next_cursor)
        assert {p.name.split(".")[0] for p in second.prompts} == {"b"}
        assert (second.ttl_ms, second.cache_scope) == (60000, "private")
        templates = await client.list_resource_templates()
        assert (templates.ttl_ms, templates.cache_scope) == (5000, "public")
        resources = await client.list_resources()  # its first page holds our catalog, which follows every tool
        assert (resources.ttl_ms, resources.cache_scope) == (0, "private")
    async with host("stdio", "auto", config, None) as client:
        tools = await client.list_tools()
        assert (tools.ttl_ms, tools.cache_scope) == (0, "private")


async def test_a_server_closed_by_its_config_offers_no_prompts_completions_or_subscriptions(tmp_path: Path) -> None:
    """`allow: []` lets none of `shut`'s tools through, and so none of its prompts, completions or
    subscriptions either (issue 23): the open `lib` beside it keeps all of them."""
    from mcp.shared.exceptions import MCPError

    shut = tmp_path / "shut.json"
    shut.write_text(json.dumps({"mcpServers": {
        "lib": {"command": sys.executable, "args": [LIBRARY, "--name", "lib"]},
        "shut": {"command": sys.executable, "args": [LIBRARY, "--name", "shut", "--legacy"], "allow": []},
    }}))
    async with host("stdio", "legacy", shut, None) as client:
        prompts = await all_prompts(client)
        assert "lib.greet" in prompts
        assert not any(name.startswith("shut.") for name in prompts)
        with pytest.raises(MCPError, match=r"prompt|shut"):
            await client.get_prompt("shut.greet", {"name": "Ada"})
        with pytest.raises(MCPError):
            await client.complete(types.PromptReference(type="ref/prompt", name="shut.greet"),
                                  {"name": "name", "value": "A"})
        lib_done = await client.complete(types.PromptReference(type="ref/prompt", name="lib.greet"),
                                         {"name": "name", "value": "A"})
        assert lib_done.completion.values == ["Ada", "Alan"]
        with pytest.raises(MCPError, match=r"cannot subscribe.*servers that do: lib\)"):
            await client.session.send_request(types.SubscribeRequest(params=types.SubscribeRequestParams(
                uri="mcp-compiler://servers/shut/book%3A%2F%2Fb1")), types.EmptyResult)


async def test_a_caller_sees_only_the_prompts_resources_and_completions_of_servers_it_may_call(
    tmp_path: Path,
) -> None:
    """`compiler.auth.allow` closes to a caller every server of whose tools it grants none: its
    prompts, resources, completions and subscriptions too (issue 23, item 6), not only its tools."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError

    tokens = {"LIB_TOKEN": "lib-user-token-0123456789abcdef", "SHELF_TOKEN": "shelf-user-token-0123456789abcdef"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "mcpServers": {
            "lib": {"command": sys.executable, "args": [LIBRARY, "--name", "lib"]},
            "shelf": {"command": sys.executable, "args": [LIBRARY, "--name", "shelf"]},
        },
        "compiler": {
            "tokens": {"lib-user": "${LIB_TOKEN}", "shelf-user": "${SHELF_TOKEN}"},
            "auth": {"allow": {"caller=lib-user": ["lib.*"], "caller=shelf-user": ["shelf.*"]}},
        },
    }))

    @asynccontextmanager
    async def as_caller(url: str, token: str) -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                yield client

    env = {**os.environ, **tokens}
    with serving_http([*SERVE, "--config", str(path)], tmp_path, show_log=True, env=env) as url:
        with anyio.fail_after(120):
            async with as_caller(url, tokens["LIB_TOKEN"]) as lib_user:
                prompts = await all_prompts(lib_user)
                assert "lib.greet" in prompts and not any(n.startswith("shelf.") for n in prompts)
                uris = [r.uri for r in (await lib_user.list_resources()).resources]
                assert any("/servers/lib/" in str(u) for u in uris)
                assert not any("/servers/shelf/" in str(u) for u in uris)
                with pytest.raises(MCPError, match=r"'shelf' is closed.*compiler.auth.allow"):
                    await lib_user.read_resource("mcp-compiler://servers/shelf/book%3A%2F%2Fb1")
                with pytest.raises(MCPError):
                    await lib_user.complete(types.PromptReference(type="ref/prompt", name="shelf.greet"),
                                            {"name": "name", "value": "A"})
                done = await lib_user.complete(types.PromptReference(type="ref/prompt", name="lib.greet"),
                                               {"name": "name", "value": "A"})
                assert done.completion.values == ["Ada", "Alan"]
            async with as_caller(url, tokens["SHELF_TOKEN"]) as shelf_user:
                prompts = await all_prompts(shelf_user)
                assert "shelf.greet" in prompts and not any(n.startswith("lib.") for n in prompts)
                read = await shelf_user.read_resource("mcp-compiler://servers/shelf/book%3A%2F%2Fb1")
                assert read.contents
