"""The description of the five reference servers at the default size (40 tools): every server
represented, writes kept beside reads, the cut told per server. Real servers, from the cache
tests/fixtures/install_third_party.sh fills: server-everything, server-memory, server-filesystem
(npm), mcp-server-time, mcp-server-git (PyPI).

Measured here (2026-12): the five list 50 tools; 40 are listed. Before the description alternated
reads and writes within a server, the 10 left out included filesystem's write_file, edit_file,
create_directory, move_file and git's git_reset, git_create_branch, git_checkout; now one write
(git_checkout) is, and the cut reads "everything: 3 more, search `everything`; filesystem: 4 more, ...".
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import anyio
import pytest

from mcp_compiler.config import parse_config
from mcp_compiler.gateway import open_gateway
from mcp_compiler.server.app import CompilerServer

pytestmark = [pytest.mark.anyio, pytest.mark.network]

THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NODE_BIN = THIRD_PARTY / "node/node_modules/.bin"
PY_BIN = THIRD_PARTY / "venv/bin"
NEEDED = {
    "everything": NODE_BIN / "mcp-server-everything", "memory": NODE_BIN / "mcp-server-memory",
    "filesystem": NODE_BIN / "mcp-server-filesystem", "time": PY_BIN / "mcp-server-time", "git": PY_BIN / "mcp-server-git",
}


@pytest.fixture(scope="module")
def servers() -> dict[str, Path]:
    if not all(p.exists() for p in NEEDED.values()):
        subprocess.run(["bash", str(FIXTURES / "install_third_party.sh"), str(THIRD_PARTY)],
                       capture_output=True, text=True, timeout=600)
    missing = [str(p) for p in NEEDED.values() if not p.exists()]
    if missing:
        pytest.fail(
            f"not installed: {', '.join(missing)}. tests/fixtures/install_third_party.sh installs the reference "
            "servers into that cache (server-filesystem from npm, mcp-server-git from PyPI among them), or "
            "leave the network tests out with -m \"not network\"."
        )
    return NEEDED


async def test_the_five_reference_servers_at_the_default_size_keep_every_server_and_their_writes(
    servers: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "files").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    config = parse_config({"mcpServers": {
        "everything": {"command": str(servers["everything"]), "args": ["stdio"]},
        "memory": {"command": str(servers["memory"]), "env": {"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}},
        "filesystem": {"command": str(servers["filesystem"]), "args": [str(tmp_path / "files")]},
        "time": {"command": str(servers["time"])},
        "git": {"command": str(servers["git"]), "args": ["--repository", str(tmp_path / "repo")]},
    }, "compiler": {"startup_wait_s": 60}})
    with anyio.fail_after(120):
        async with open_gateway(config) as gateway:
            assert not gateway.toolbox.unavailable()
            catalog = dict(gateway.toolbox.specs())
            description = CompilerServer(gateway.toolbox, config, compiler=gateway.compiler).description()
    shown = set(re.findall(r"^(\w+\.[\w-]+)\(", description, re.M)) - {"compiler.search_tools"}
    total = {s: [n for n in catalog if n.startswith(s + ".")] for s in NEEDED}
    assert all(total.values()), total
    assert len(shown) == 40 < sum(map(len, total.values()))  # the default size cuts
    for server, names in total.items():
        kept = [n for n in names if n in shown]
        assert kept, f"{server} is not represented"
        if len(kept) < len(names):
            assert f"{server}: {len(names) - len(kept)} more, search `{server}`" in description
    for write in ("filesystem.write_file", "filesystem.edit_file", "filesystem.move_file", "git.git_commit",
                  "git.git_add", "git.git_reset", "memory.create_entities"):
        assert write in shown, write
