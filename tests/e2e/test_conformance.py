"""The MCP conformance suite's 2026-07-28 requirements run (npm @modelcontextprotocol/conformance,
pinned in tests/fixtures/install_conformance.sh) against `mcp-compiler serve --transport http` over
the bundled servers, held to tests/conformance/baseline-2026-07-28.yml: every failure must be in
the baseline (scenarios, or single checks, that need the suite's own fixture tools, prompts or
resources, each with the fixture it needs), and no baselined entry may pass. About 20 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from procs import free_port, stop, wait_for_port

pytestmark = pytest.mark.network  # the suite and Node 22 come from npm

HERE = Path(__file__).parents[1]
DIR = Path(os.environ.get("MCP_COMPILER_CONFORMANCE", Path.home() / ".cache/mcp-compiler/conformance"))
SUITE = DIR / "node_modules/@modelcontextprotocol/conformance/dist/index.js"


@pytest.fixture(scope="module", autouse=True)
def installed_suite() -> None:
    if SUITE.exists():
        return
    script = HERE / "fixtures/install_conformance.sh"
    done = subprocess.run(["bash", str(script), str(DIR)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not SUITE.exists():
        pytest.fail(
            f"the conformance suite is not in {DIR} and installing it failed: run `bash {script.relative_to(HERE.parent)}`, "
            f"or leave the network tests out with -m \"not network\".\n{done.stderr[-500:]}"
        )


def test_the_2026_07_28_requirements_pass_but_for_the_baseline(tmp_path: Path) -> None:
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
        )
    try:
        wait_for_port(port, proc)
        done = subprocess.run(
            ["bash", str(HERE / "conformance/run.sh"), f"http://127.0.0.1:{port}/mcp", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
            env={**os.environ, "MCP_COMPILER_CONFORMANCE": str(DIR), "NO_COLOR": "1"},
        )
    finally:
        stop(proc)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    assert "Baseline check passed" in report
    total = re.search(r"Total: (\d+) passed, (\d+) failed", report)
    assert total is not None and int(total.group(1)) >= 100, report[-2000:]
