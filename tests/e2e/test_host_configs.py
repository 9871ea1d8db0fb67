"""Configs as other hosts write them, run for real: `mcp-compiler run --config FILE` over the bundled
servers, in Cursor's, Cline's and VS Code's shapes, and the math server served over HTTP+SSE.

The shapes match tests/fixtures/host_configs (what each host's docs write); here the commands are
the bundled servers, so the plan actually runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from procs import free_port, stop, wait_for_port

# `-P`: the bundled servers are imported from the installed package, never a source folder that
# happens to be the working directory.
MATH = {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.math"]}
WIKI = {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.wiki"]}
PLAN = '1. wiki.fact("Nile", "length_km")\n2. math.eval("$1.value / 2")'
ANSWER = {"expression": "6650 / 2", "value": 3325.0}


def run(config: Path, plan: str = PLAN, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    dropped = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL", "MATH_LATENCY")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "run", "--config", str(config), "--plan", plan],
        capture_output=True, text=True, timeout=120, cwd=config.parent, env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_a_cursor_config_runs_a_plan(tmp_path: Path) -> None:
    config = write(tmp_path / ".cursor" / "mcp.json", {"mcpServers": {
        "wiki": {"type": "stdio", **WIKI},
        "math": {"type": "stdio", **MATH, "env": {"MCP_COMPILER_SIM_LATENCY_MS": "${env:MATH_LATENCY}"}},
    }})
    done = run(config, env={"MATH_LATENCY": "0"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ANSWER


def test_a_cline_config_runs_a_plan(tmp_path: Path) -> None:
    (tmp_path / "math.env").write_text("MCP_COMPILER_SIM_LATENCY_MS_MATH=0\n")
    config = write(tmp_path / "cline_mcp_settings.json", {"mcpServers": {
        "wiki": {**WIKI, "autoApprove": ["fact"], "disabled": False, "timeout": 60},
        "math": {**MATH, "envFile": "math.env", "alwaysAllow": [], "transportType": "stdio", "timeout": 30},
        # Disabled: never started, so the plan does not wait for it.
        "hung": {"command": "sleep", "args": ["100"], "disabled": True, "autoApprove": []},
    }})
    done = run(config)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ANSWER


def vscode_config(root: Path) -> Path:
    (root / ".env").write_text("MCP_COMPILER_SIM_LATENCY_MS_WIKI=0\n")
    return write(root / ".vscode" / "mcp.json", {
        "inputs": [{"type": "promptString", "id": "math-latency", "description": "Math latency (ms)", "password": False}],
        "servers": {
            "wiki": {"type": "stdio", **WIKI, "envFile": "${workspaceFolder}/.env",
                     "dev": {"watch": "servers/**/*.py", "debug": {"type": "debugpy"}}},
            "math": {"type": "stdio", **MATH, "env": {"MCP_COMPILER_SIM_LATENCY_MS_MATH": "${input:math-latency}"}},
        },
    })


def test_a_vs_code_config_runs_a_plan_with_its_input_from_the_environment(tmp_path: Path) -> None:
    done = run(vscode_config(tmp_path), env={"MATH_LATENCY": "0"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ANSWER
    # VS Code's `dev` means nothing here: said once, on stderr, naming the key and the host.
    assert done.stderr.count("servers.wiki.dev: ignored; a setting of VS Code") == 1


def test_a_vs_code_input_that_is_not_set_is_refused_naming_it_and_the_file_once(tmp_path: Path) -> None:
    config = vscode_config(tmp_path)
    done = run(config)
    assert done.returncode == 2
    assert "${input:math-latency} (Math latency (ms)) is asked for by VS Code" in done.stderr
    assert "environment variable MATH_LATENCY: set it" in done.stderr
    assert done.stderr.count(str(config)) == 1 and "Traceback" not in done.stderr


def test_a_server_over_sse_runs_a_plan(tmp_path: Path) -> None:
    """The bundled math server served by the SDK's HTTP+SSE transport, reached with `type: "sse"`."""
    port = free_port()
    serve = f"from mcp_compiler.servers.math import server; server.run('sse', host='127.0.0.1', port={port})"
    with open(tmp_path / "sse.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-P", "-c", serve], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        config = write(tmp_path / "cline_mcp_settings.json", {"mcpServers": {
            "wiki": WIKI,
            "math": {"type": "sse", "url": f"http://127.0.0.1:{port}/sse", "autoApprove": [], "timeout": 30},
        }})
        done = run(config)
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr + (tmp_path / "sse.log").read_text()
    assert json.loads(done.stdout) == ANSWER
    assert "GET /sse" in (tmp_path / "sse.log").read_text()  # it went over SSE, not Streamable HTTP
