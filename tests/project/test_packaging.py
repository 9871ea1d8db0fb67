"""What the wheel holds: the product (the engine, the MCP server, the default servers and their
data, the in-process `ScriptedLLM`), and none of the repository's lab: no benchmark, no HTTP LLM
simulator, no data generator, nothing that runs `pip download`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"mcp_compiler.servers": ROOT / "servers"}  # package-dir in pyproject.toml


def source_packages() -> set[str]:
    """Every package the source tree has: directories with an __init__.py under mcp_compiler/,
    and under each folder pyproject.toml maps into it."""
    roots = {"mcp_compiler": ROOT / "mcp_compiler", **MAPPED}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            if "__pycache__" not in rel:
                found.add(".".join((name, *rel)))
    return found


def test_pyproject_lists_every_package_and_maps_the_servers_folder() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"mcp_compiler.servers": "servers"}
    missing = source_packages() - set(setuptools["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml, or the wheel lacks them"
    assert set(setuptools["packages"]) <= source_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the working tree (so no stale build/ folder leaks into it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "bench-out", ".pytest_cache", ".hypothesis"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp / "out"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    # The build says nothing to correct: no setuptools warning (a package left out of `packages`, a
    # deprecated configuration key) in what the backend prints.
    warnings = re.findall(r".*(?:Setuptools\w*Warning|Package would be ignored|absent from the `packages`).*",
                          done.stdout + done.stderr)
    assert not warnings, warnings
    (built,) = (tmp / "out").glob("mcp_compiler-*.whl")
    return zipfile.ZipFile(built)


def py_files(wheel: zipfile.ZipFile) -> dict[str, str]:
    return {n: wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".py")}


@pytest.mark.slow
def test_the_wheel_holds_no_benchmark_simulator_generator_or_pip_download(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"mcp_compiler"}
    assert not [n for n in names if re.search(r"bench|_pin\b|simllm|(^|/)_wire\.py|build_wiki", n)]
    assert not [n for n in names if n.startswith("scripts/")]
    code = py_files(wheel)
    assert not [n for n, text in code.items() if re.search(r"""pip["',\s]+download""", text)]
    assert not [n for n, text in code.items() if re.search(r"SimulatedLLM|OpenAIWire|AnthropicWire|SIMLLM READY", text)]


@pytest.mark.slow
def test_the_wheel_holds_the_default_servers_their_data_and_scripted_llm(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert {"mcp_compiler/servers/wiki.py", "mcp_compiler/servers/math.py", "mcp_compiler/servers/_common.py",
            "mcp_compiler/servers/wiki.json"} <= names
    assert wheel.read("mcp_compiler/servers/wiki.json") == (ROOT / "servers/wiki.json").read_bytes()
    assert "class ScriptedLLM" in wheel.read("mcp_compiler/testing.py").decode()
    # Every module of the product is there: mcp_compiler/ as it is, servers/ as mcp_compiler/servers/.
    expected = {f"mcp_compiler/{p.relative_to(ROOT / 'mcp_compiler').as_posix()}"
                for p in (ROOT / "mcp_compiler").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {f"mcp_compiler/servers/{p.relative_to(ROOT / 'servers').as_posix()}"
                 for p in (ROOT / "servers").glob("*.py")}
    assert expected == {n for n in names if n.endswith(".py")}
