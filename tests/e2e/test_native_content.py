"""Rich content and large results, end to end (issue 13, items 2 and 3): `mcp-compiler serve` as a
real subprocess over stdio and HTTP, in front of `@modelcontextprotocol/server-everything` and an
upstream of our own (tests/fixtures/media_server.py), with real hosts: the Python SDK's client and
one written with the TypeScript SDK (tests/fixtures/ts_content_host.mjs). The MCP Inspector CLI's cases
are in test_inspector.py.

- an image and resource links arrive as native content blocks, never as base64 in the text, and
  every link is readable through mcp-compiler (`resources/read` proxied to its server);
- `resources/list` and `resources/templates/list` gather the upstreams' resources, with cursors;
- a 20 MB result gives a reply an SDK HTTP client reads (its SSE reader refuses events over
  1 MiB), and the value itself is read back, whole, in parts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from procs import serving_http

pytestmark = [pytest.mark.network, pytest.mark.anyio]  # server-everything and the TypeScript SDK from npm

FIXTURES = Path(__file__).parents[1] / "fixtures"
THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))
EVERYTHING = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
TS_SDK = THIRD_PARTY / "node/node_modules/@modelcontextprotocol/sdk"
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]
SSE_LIMIT = 2**20  # what the SDKs' HTTP clients take in one server-sent event

RICH_PLAN = """\
1. media.chart("q1")
2. everything.get-tiny-image()
3. everything.get-resource-links(2)
join()"""
BIG = 20_000_000


def big_text(size: int) -> str:
    """What media.big(size) returns (tests/fixtures/media_server.py)."""
    line = "0123456789abcdef" * 4 + "\n"
    return (line * (size // len(line) + 1))[:size]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (EVERYTHING.exists() and (TS_SDK / "package.json").exists()):
        done = subprocess.run(["bash", str(FIXTURES / "install_third_party.sh"), str(THIRD_PARTY)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not EVERYTHING.exists():
            pytest.fail(
                f"server-everything and the TypeScript SDK are not in {THIRD_PARTY} and installing them failed: "
                "run `bash tests/fixtures/install_third_party.sh`, or leave the network tests out with "
                f'-m "not network".\n{done.stderr[-500:]}'
            )
    path = tmp_path_factory.mktemp("content") / "config.json"
    path.write_text(json.dumps({
        "mcpServers": {
            "media": {"command": sys.executable, "args": [str(FIXTURES / "media_server.py")]},
            "everything": {"command": str(EVERYTHING), "args": ["stdio"]},
        },
        # A 20 MB result is within the run's own limits; the reply's budget is the default.
        "compiler": {"max_value_bytes": 32 * 2**20, "call_timeout_s": 120},
    }))
    return path


@pytest.fixture(scope="module")
def http_url(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving_http([*SERVE, "--config", str(config)], tmp_path_factory.mktemp("http"), show_log=True) as url:
        yield url


def target(transport: str, config: Path, http_url: str | None) -> Any:
    if transport == "http":
        assert http_url is not None
        return http_url
    return StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], "--config", str(config)])


@pytest.fixture(params=["stdio", "http"])
def host(request: pytest.FixtureRequest, config: Path) -> Any:
    """What a Python SDK client connects to: the server over stdio, or the HTTP server's URL."""
    return target(request.param, config, request.getfixturevalue("http_url") if request.param == "http" else None)


def reply_size(result: types.CallToolResult) -> int:
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))


async def call(client: Client, plan: str) -> types.CallToolResult:
    with anyio.fail_after(240):
        return await client.call_tool("compile_and_run", {"plan": plan})


# ---- native content ------------------------------------------------------------------------------


def check_rich_reply(content: list[dict[str, Any]], structured: dict[str, Any], tiny_image: str) -> list[str]:
    """The image/resource-link reply, as JSON from any host; returns the resource links' URIs."""
    kinds = [block["type"] for block in content]
    assert kinds == ["text", "image", "resource_link", "image", "resource_link", "resource_link"], kinds
    text = content[0]["text"]
    assert "chart q1" in text and "The image above is the MCP logo." in text
    assert "[image image/png: content[3]]" in text
    assert tiny_image[:40] not in text  # no base64 in the text
    assert tiny_image[:40] not in json.dumps(structured)  # nor in the Run: the bytes travel once
    assert "answer" not in structured
    links = [block["uri"] for block in content if block["type"] == "resource_link"]
    assert links == [
        "mcp-compiler://servers/media/media%3A%2F%2Fcharts%2Fq1",
        "mcp-compiler://servers/everything/demo%3A%2F%2Fresource%2Fdynamic%2Fblob%2F1",
        "mcp-compiler://servers/everything/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F2",
    ]
    return links


async def test_images_and_resource_links_arrive_as_native_blocks_readable_through_mcp_compiler(host: Any) -> None:
    async with Client(host) as client:
        result = await call(client, RICH_PLAN)
        assert not result.is_error, result.content
        content = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
        structured = result.structured_content
        assert structured is not None
        tiny = content[3]["data"]
        assert base64.b64decode(tiny).startswith(b"\x89PNG")
        links = check_rich_reply(content, structured, tiny)
        reads = [(await client.read_resource(uri)).contents[0] for uri in links]
        # The image in the Run is a link to the kept bytes, which read back as the same image.
        kept = structured["tasks"][1]["result"][1]
        assert kept["type"] == "resource_link" and kept["uri"].startswith("mcp-compiler://runs/")
        image = (await client.read_resource(kept["uri"])).contents[0]
    chart, blob, text = reads
    assert isinstance(chart, types.TextResourceContents) and chart.text == "label,value\nq1,42\n"
    assert chart.uri == links[0]
    assert isinstance(blob, types.BlobResourceContents) and base64.b64decode(blob.blob).startswith(b"Resource 1: ")
    assert isinstance(text, types.TextResourceContents) and text.text.startswith("Resource 2: This is a plaintext")
    assert isinstance(image, types.BlobResourceContents) and image.blob == tiny and image.mime_type == "image/png"


async def test_an_embedded_resource_arrives_as_a_native_block_with_a_namespaced_uri(config: Path) -> None:
    async with Client(target("stdio", config, None)) as client:
        result = await call(client, '1. media.note("todo")')
    assert [block.type for block in result.content] == ["text", "resource"]
    embedded = result.content[1]
    assert isinstance(embedded, types.EmbeddedResource)
    assert embedded.resource.uri == "mcp-compiler://servers/media/media%3A%2F%2Fnotes%2Ftodo"
    assert isinstance(embedded.resource, types.TextResourceContents) and embedded.resource.text == "note todo"


async def test_resources_and_templates_of_every_upstream_are_listed_page_by_page_and_read(config: Path) -> None:
    async with Client(target("stdio", config, None)) as client:
        with anyio.fail_after(120):
            await call(client, '1. media.note("x")\n2. everything.echo("x")')  # both servers are up
            resources, cursor, pages = [], None, 0
            while True:
                page = await client.list_resources(cursor=cursor)
                resources += page.resources
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
            templates, cursor = [], None
            while True:
                listed = await client.list_resource_templates(cursor=cursor)
                templates += listed.resource_templates
                cursor = listed.next_cursor
                if cursor is None:
                    break
            uris = [r.uri for r in resources]
            readme = await client.read_resource("mcp-compiler://servers/media/media%3A%2F%2Fnotes%2Freadme")
            filled = [t.uri_template.replace("{label}", "q9") for t in templates if t.uri_template.endswith("{label}")]
            chart = await client.read_resource(filled[0])
            with pytest.raises(Exception, match="unknown server 'nobody'"):
                await client.read_resource("mcp-compiler://servers/nobody/x%3A%2F%2Fy")
    assert pages >= 2  # one upstream's page per page
    assert uris[:2] == ["mcp-compiler://catalog", "mcp-compiler://catalog.json"]
    assert "mcp-compiler://servers/media/media%3A%2F%2Fnotes%2Freadme" in uris
    assert any(u.startswith("mcp-compiler://servers/everything/") for u in uris)
    assert readme.contents[0].text == "read me"  # type: ignore[union-attr]
    assert chart.contents[0].text == "label,value\nq9,42\n"  # type: ignore[union-attr]
    assert any(t.uri_template.startswith("mcp-compiler://servers/everything/") for t in templates)
    assert all(t.title and ": " in t.title for t in templates)  # which server each is from


# ---- one copy of each value, within a budget ------------------------------------------------------


@pytest.mark.slow  # 20 MB through two SDKs: 10-40 s on the build machine
async def test_a_20_mb_result_gives_a_reply_an_sdk_http_client_reads_and_the_value_reads_back_in_parts(
    http_url: str,
) -> None:
    async with Client(http_url) as client:
        started = time.perf_counter()
        result = await call(client, f"1. media.big({BIG})\n2. media.photo(3000000)")
        elapsed = time.perf_counter() - started
        assert not result.is_error, result.content
        size = reply_size(result)
        assert size < 512 * 2**10 < SSE_LIMIT, size
        structured = result.structured_content
        assert structured is not None
        stored = structured["tasks"][0]["result_stored"]
        assert stored["bytes"] == BIG and stored["parts"] > 1 and "result" not in structured["tasks"][0]
        text = result.content[0].text  # type: ignore[union-attr]
        assert stored["uri"] in text and "20.0 MB" in text
        # The 3 MB image is over the inline budget: a native link to it, not its bytes.
        assert [block.type for block in result.content] == ["text", "resource_link"]
        photo = result.content[1]
        assert isinstance(photo, types.ResourceLink) and photo.size == 3_000_000 and photo.mime_type == "image/png"
        digest, length = hashlib.sha256(), 0
        for part in range(1, stored["parts"] + 1):
            read = await client.read_resource(f"{stored['uri']}/parts/{part}")
            chunk = read.contents[0].text.encode()  # type: ignore[union-attr]
            digest.update(chunk)
            length += len(chunk)
        with pytest.raises(Exception, match=r"read it in \d+ parts"):
            await client.read_resource(stored["uri"])
    assert length == BIG
    assert digest.hexdigest() == hashlib.sha256(big_text(BIG).encode()).hexdigest()
    print(f"20 MB result over HTTP: reply {size:,} bytes in {elapsed:.1f} s; {stored['parts']} parts")


# ---- the TypeScript SDK as the host --------------------------------------------------------------


def ts_host(plan: str, *target_args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(FIXTURES / "ts_content_host.mjs"), "--sdk", str(TS_SDK), "--plan", plan, *target_args],
        capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_typescript_sdk_host_gets_native_blocks_and_reads_the_links(transport: str, config: Path,
                                                                      request: pytest.FixtureRequest) -> None:
    if transport == "http":
        got = ts_host(RICH_PLAN, "--http", request.getfixturevalue("http_url"))
    else:
        got = ts_host(RICH_PLAN, "--stdio", *SERVE, "--config", str(config))
    assert got["isError"] is False
    links = check_rich_reply(got["content"], got["structured"], "iVBORw0KGgoAAAANSUhEUgAAABQAAAAUCAYAAACNiR0N")
    assert got["reads"][links[0]][0]["text"] == "label,value\nq1,42\n"
    assert got["reads"][links[2]][0]["text"].startswith("Resource 2: This is a plaintext")


@pytest.mark.slow
def test_a_typescript_sdk_host_reads_a_20_mb_reply_over_http(http_url: str) -> None:
    got = ts_host(f"1. media.big({BIG})", "--http", http_url)
    assert got["isError"] is False and got["reply"] < SSE_LIMIT
    [stored] = got["stored"]
    assert stored["bytes"] == BIG and stored["sha256"] == hashlib.sha256(big_text(BIG).encode()).hexdigest()
