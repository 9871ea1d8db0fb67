"""A newcomer's first commands, from the clone's root (issue 21, item 1): the default servers start
whatever the working directory holds, for `pip install .` as for `pip install -e .`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PLAN = '1. math.eval("2+3")\njoin()'


def _cli() -> str:
    found = shutil.which("mcp-compiler", path=str(Path(sys.executable).parent)) or shutil.which("mcp-compiler")
    assert found, "the mcp-compiler console script is not installed (pip install -e .)"
    return found


def test_a_source_folder_named_mcp_compiler_in_the_working_directory_does_not_shadow_the_servers(
    tmp_path: Path,
) -> None:
    # What a clone's root holds: a folder `mcp_compiler/` that is not the installed package (here a
    # decoy that fails on import, so a server that imported it could not start).
    (tmp_path / "mcp_compiler").mkdir()
    (tmp_path / "mcp_compiler" / "__init__.py").write_text('raise ImportError("shadowed by the working directory")\n')
    done = subprocess.run([_cli(), "run", "--json", "--plan", PLAN], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(done.stdout)
    assert [t["status"] for t in run["tasks"]] == ["ok"], run


@pytest.mark.slow
def test_pip_install_dot_then_demo_from_the_clone_root(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    venv = tmp_path / "venv"
    # System site-packages give the venv the dependencies without a download; the project itself is
    # installed into the venv from the clone, as the README's first command does.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "."], cwd=clone,
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    done = subprocess.run([str(venv / "bin" / "mcp-compiler"), "demo"], cwd=clone, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    assert "No module named" not in done.stderr
