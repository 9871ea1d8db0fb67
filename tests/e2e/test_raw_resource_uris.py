"""A raw upstream URI, as a result's text quotes it (`media://notes/readme`), read through
mcp-compiler: served under its namespaced name when exactly one server has it, refused naming the
name to use when several do, and refused saying how names look when none does. Real processes:
`mcp-compiler serve` over stdio with the media and library fixture servers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MEDIA = {"command": sys.executable, "args": [str(FIXTURES / "media_server.py")]}
LIBRARY = {"command": sys.executable, "args": [str(FIXTURES / "library_server.py")]}


def serve(tmp_path: Path, servers: dict[str, object]) -> StdioServerParameters:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])


async def test_a_raw_uri_one_server_has_is_served_under_its_namespaced_name(tmp_path: Path) -> None:
    with anyio.fail_after(120):
        async with Client(serve(tmp_path, {"media": MEDIA, "library": LIBRARY}), mode="legacy") as client:
            await client.list_tools()  # the servers are up
            readme = await client.read_resource("media://notes/readme")
            chart = await client.read_resource("media://charts/q9")  # from a template: listed nowhere
            with pytest.raises(Exception) as unknown:
                await client.read_resource("nope://x")
    assert readme.contents[0].text == "read me"  # type: ignore[union-attr]
    assert readme.contents[0].uri == "mcp-compiler://servers/media/media%3A%2F%2Fnotes%2Freadme"
    assert chart.contents[0].text == "label,value\nq9,42\n"  # type: ignore[union-attr]
    assert "unknown resource 'nope://x': no server behind mcp-compiler has it" in str(unknown.value)
    assert "mcp-compiler://servers/<server>/<its URI, percent-encoded>" in str(unknown.value)


async def test_a_raw_uri_several_servers_have_is_refused_naming_each_ones_name(tmp_path: Path) -> None:
    with anyio.fail_after(120):
        async with Client(serve(tmp_path, {"media": MEDIA, "twin": MEDIA}), mode="legacy") as client:
            await client.list_tools()
            with pytest.raises(Exception) as several:
                await client.read_resource("media://notes/readme")
            served = await client.read_resource("mcp-compiler://servers/twin/media%3A%2F%2Fnotes%2Freadme")
    assert "'media://notes/readme' is a resource of 2 servers behind mcp-compiler; read one of: " in str(several.value)
    assert "mcp-compiler://servers/media/media%3A%2F%2Fnotes%2Freadme (media)" in str(several.value)
    assert "mcp-compiler://servers/twin/media%3A%2F%2Fnotes%2Freadme (twin)" in str(several.value)
    assert served.contents[0].text == "read me"  # type: ignore[union-attr]


THIRD_PARTY = Path.home() / ".cache/mcp-compiler/third-party"
EVERYTHING = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"


@pytest.mark.network
async def test_server_everythings_dynamic_uri_quoted_in_a_result_reads_as_it_is(tmp_path: Path) -> None:
    # The case: demo://resource/dynamic/text/2 quoted in a result's text, read as written.
    if not EVERYTHING.exists():
        pytest.fail(f"{EVERYTHING} is missing: run `bash tests/fixtures/install_third_party.sh`, or leave the "
                    "network tests out with -m \"not network\"")
    servers = {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}, "media": MEDIA}
    with anyio.fail_after(120):
        async with Client(serve(tmp_path, servers), mode="legacy") as client:
            await client.list_tools()
            read = await client.read_resource("demo://resource/dynamic/text/2")
    assert read.contents[0].uri == "mcp-compiler://servers/everything/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F2"
    assert "2" in read.contents[0].text  # type: ignore[union-attr]
