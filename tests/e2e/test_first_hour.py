"""The smaller things a newcomer hits in the first hour (issue 21, item 8), over real processes:
`serve` is quiet without -v, a failed demo does not boast, an unknown server's name gets a
suggestion from a server named like it, and the tests' downloads stay out of the home folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIKI = {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.wiki"]}


def mcp_compiler(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    return subprocess.run([sys.executable, "-m", "mcp_compiler", *args], capture_output=True, text=True,
                          timeout=120, input=stdin if stdin is not None else "", env=env)


@pytest.mark.parametrize(("flags", "info"), [([], False), (["-v"], True)])
def test_serve_logs_info_only_with_v(flags: list[str], info: bool) -> None:
    # The host closes stdin at once: serve starts, connects its servers, and ends.
    done = mcp_compiler(*flags, "serve")
    assert done.returncode == 0, done.stderr
    assert ("INFO" in done.stderr) is info, done.stderr
    assert ("serving compile_and_run on stdio" in done.stderr) is info


def test_a_demo_with_failed_tasks_says_so_instead_of_a_speed_up(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    # math never starts: its tasks fail when they run, after wiki's succeeded.
    config.write_text(json.dumps({"mcpServers": {"wiki": WIKI, "math": {"command": "false"}},
                                  "compiler": {"startup_wait_s": 5}}))
    done = mcp_compiler("demo", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "faster" not in done.stdout
    assert "The demo failed (" in done.stdout and "math.eval: error" in done.stdout


def test_an_unknown_server_is_named_with_the_servers_there_are() -> None:
    done = mcp_compiler("run", "--plan", '1. weather.get("Paris")')
    assert done.returncode == 2
    assert "no server is called 'weather' (servers: compiler, math, wiki)" in done.stderr
    assert "math.eval" not in done.stderr
    done = mcp_compiler("run", "--plan", '1. wikis.fact("Nile", "length_km")')
    assert "no server is called 'wikis'; did you mean 'wiki.fact'?" in done.stderr


def test_the_test_downloads_go_to_the_cache_and_the_docs_say_how_much() -> None:
    # The Inspector runs under a HOME inside the cache (tests/e2e/test_inspector.py), so nothing
    # it writes (~/.mcp-inspector) lands in the user's home; the docs say the size and the place.
    inspector = (ROOT / "tests/e2e/test_inspector.py").read_text()
    assert '"HOME": str(' in inspector
    for page in ("README.md", "CONTRIBUTING.md", "docs/testing.md"):
        text = (ROOT / page).read_text()
        assert "800 MB" in text and ".cache/mcp-compiler" in text, page
