"""A server that never starts holds nothing that does not need it, and the catalog agrees with the
description from the first moment: real `mcp-compiler` processes, a `sleep 100` "server", the
bundled servers behind a start-up delay.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcp_compiler.server import TOOL_NAME

WIKI = {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.wiki"]}
MATH = {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.math"]}
HUNG = {"command": "sleep", "args": ["100"]}


def configure(tmp_path: Path, servers: dict[str, Any], **compiler: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mcpServers": servers, "compiler": compiler}))
    return path


def cli(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mcp_compiler", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=env)
    return done, time.monotonic() - started


def test_a_plan_on_a_ready_server_does_not_wait_for_a_hung_one(tmp_path: Path) -> None:
    # The hung server's own connect timeout is the default 30 s: before, run waited that out (33 s).
    done, took = cli("run", "--config", str(configure(tmp_path, {"wiki": WIKI, "hung": HUNG})),
                     "--plan", '1. wiki.fact("Nile", "length_km")')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"] == 6650
    assert "hung" not in done.stderr  # never waited for, never mentioned
    assert took < 15, f"{took:.1f} s"  # start the interpreter and wiki, run, stop: a few seconds here


def test_a_plan_naming_a_server_still_starting_waits_the_start_up_wait_and_says_why(tmp_path: Path) -> None:
    config = configure(tmp_path, {"wiki": WIKI, "hung": HUNG}, startup_wait_s=6)
    done, took = cli("run", "--json", "--config", str(config), "--plan",
                     '1. wiki.fact("Nile", "length_km")\n2. hung.anything("x")')
    assert done.returncode == 1, done.stderr
    assert re.search(r"waiting up to 6 s for .*hung.* to start \(compiler.startup_wait_s\)", done.stderr)
    assert re.search(r"going on without (\w+, )?hung: still starting after 6 s", done.stderr), done.stderr
    tasks = {t["id"]: t for t in json.loads(done.stdout)["tasks"]}
    assert tasks[1]["status"] == "ok"
    assert tasks[2]["status"] == "error"
    assert tasks[2]["error"] == "server 'hung' is not available: still starting after 6 s (compiler.startup_wait_s)"
    assert took < 30, f"{took:.1f} s"


def test_tools_waits_the_start_up_wait_then_lists_the_rest_and_fails_when_nothing_connected(tmp_path: Path) -> None:
    done, took = cli("tools", "--config", str(configure(tmp_path, {"wiki": WIKI, "hung": HUNG}, startup_wait_s=6)))
    assert done.returncode == 0, done.stderr
    assert "wiki.fact(" in done.stdout and re.search(r"hung: connecting", done.stdout)
    assert "going on without hung" in done.stderr
    assert took < 30, f"{took:.1f} s"
    done, _ = cli("tools", "--config", str(configure(tmp_path, {"hung": HUNG}, startup_wait_s=1)))
    assert done.returncode == 1
    assert "no server connected" in done.stderr


# ---- the catalog resource and the description agree on a cold start ---------------------------------


def _slow(server: dict[str, Any], delay_s: float) -> dict[str, Any]:
    """The server, started `delay_s` seconds late (a slow `npx`/`uvx` start)."""
    command = " ".join([server["command"], *server["args"]])
    return {"command": "sh", "args": ["-c", f"sleep {delay_s}; exec {command}"]}


@pytest.mark.anyio
async def test_the_catalog_and_the_description_agree_from_the_first_request(tmp_path: Path) -> None:
    config = configure(tmp_path, {"wiki": _slow(WIKI, 1.5), "math": _slow(MATH, 1.5)})
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])
    with anyio.fail_after(120):
        async with Client(params, mode="legacy") as client:
            # The resources first, the moment the session is up: the servers are still starting.
            listed = await client.list_resources()
            catalog = await client.read_resource("mcp-compiler://catalog")
            tools = await client.list_tools()
    described = {d.uri: d.description for d in listed.resources}
    text = catalog.contents[0].text  # type: ignore[union-attr]
    description = tools.tools[0].description or ""
    listed_tools = set(re.findall(r"^(\w+\.\w+)\(", text, re.M))
    described_tools = set(re.findall(r"^(\w+\.\w+)\(", description, re.M))
    assert {"wiki.fact", "math.eval"} <= listed_tools, text
    assert listed_tools == described_tools | {"compiler.search_tools"} or listed_tools == described_tools
    assert described["mcp-compiler://catalog"].startswith(f"The {len(listed_tools)} tools behind {TOOL_NAME}")
