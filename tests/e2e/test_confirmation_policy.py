"""The confirmation policy per server and per tool, over real processes: `mcp-compiler run` (nobody
to ask: stdin is not a terminal) and `mcp-compiler serve` for hosts with and without elicitation.

The ledger server (tests/fixtures/ledger_server.py) has `add` (read-only), `note` (a write, no
annotation) and `erase` (destructive); every call it gets is a line of its ledger file, so what
ran is read from there, not from our own report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from mcp_compiler.server import TOOL_NAME

LEDGER_SERVER = str(Path(__file__).resolve().parents[1] / "fixtures" / "ledger_server.py")
PLAN = '1. ledger.add(1, 2)\n2. ledger.note("n")\n3. ledger.erase("old")'


def configure(tmp_path: Path, ledger: dict[str, Any] | None = None, **compiler: Any) -> Path:
    entry = {"command": sys.executable, "args": [LEDGER_SERVER, str(tmp_path / "ledger.jsonl")], **(ledger or {})}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mcpServers": {"ledger": entry}, "compiler": compiler}))
    return path


def calls(tmp_path: Path) -> list[str]:
    ledger = tmp_path / "ledger.jsonl"
    return [json.loads(line)["tool"] for line in ledger.read_text().splitlines()] if ledger.exists() else []


def run(config: Path, plan: str = PLAN) -> dict[str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "run", "--json", "--config", str(config), "--plan", plan],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env,
    )
    assert done.returncode in (0, 1), done.stderr
    return {t["tool"].split(".")[-1]: t for t in json.loads(done.stdout)["tasks"]}


def test_by_default_a_destructive_tool_is_refused_naming_the_setting_that_would_allow_it(tmp_path: Path) -> None:
    tasks = run(configure(tmp_path))
    assert tasks["add"]["status"] == tasks["note"]["status"] == "ok"
    assert tasks["erase"]["status"] == "error"
    assert tasks["erase"]["error"] == (
        "ledger.erase is marked destructive and needs confirmation (compiler.destructive: 'confirm'), but nobody "
        'can be asked here; to run it without asking, add "tools": {"erase": "allow"} to mcpServers.ledger '
        '(this tool), or "destructive": "allow" to mcpServers.ledger (every destructive tool of the server)'
    )
    assert calls(tmp_path) == ["add", "note"]  # fail closed: erase never reached the server


@pytest.mark.parametrize("ledger", [
    {"tools": {"erase": "allow"}},  # the setting the refusal names
    {"tools": {"er*": "allow"}},  # a glob
    {"destructive": "allow"},  # the server's destructive tools
    {"autoApprove": ["erase"]},  # Cline's list
    {"alwaysAllow": ["era*"]},  # Roo Code's
])
def test_a_per_server_or_per_tool_allow_runs_the_destructive_tool(tmp_path: Path, ledger: dict[str, Any]) -> None:
    tasks = run(configure(tmp_path, ledger))
    assert [t["status"] for t in tasks.values()] == ["ok", "ok", "ok"], tasks
    assert sorted(calls(tmp_path)) == ["add", "erase", "note"]


def test_autoapprove_of_another_tool_leaves_the_destructive_one_refused(tmp_path: Path) -> None:
    tasks = run(configure(tmp_path, {"autoApprove": ["add", "note"]}))
    assert tasks["erase"]["status"] == "error" and "needs confirmation" in tasks["erase"]["error"]
    assert "erase" not in calls(tmp_path)


def test_the_servers_own_setting_wins_over_the_process_wide_one(tmp_path: Path) -> None:
    tasks = run(configure(tmp_path, {"destructive": "deny"}, destructive="allow"))
    assert tasks["erase"]["error"] == "ledger.erase is marked destructive and is refused by mcpServers.ledger.destructive ('deny')"
    assert calls(tmp_path) == ["add", "note"]


def test_a_tool_glob_gates_tools_not_marked_destructive_and_the_first_match_decides(tmp_path: Path) -> None:
    tasks = run(configure(tmp_path, {"tools": {"add": "allow", "no*": "confirm", "*": "deny"}}, destructive="allow"))
    assert tasks["add"]["status"] == "ok"
    assert tasks["note"]["error"] == (
        "ledger.note needs confirmation (mcpServers.ledger.tools[\"no*\"]: 'confirm'), but nobody can be asked "
        'here; to run it without asking, set mcpServers.ledger.tools["no*"] to "allow"'
    )
    assert tasks["erase"]["error"] == "ledger.erase is marked destructive and is refused by mcpServers.ledger.tools[\"*\"] ('deny')"
    assert calls(tmp_path) == ["add"]


# ---- through the MCP server: a host with elicitation is asked, one without is told the setting -------


def _serve(config: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the 2026-07-28 era asks in round trips, 2025-11-25 mid-call
async def test_a_host_with_elicitation_is_asked_about_the_tools_its_config_confirms(tmp_path: Path, mode: str) -> None:
    asked: list[str] = []

    async def person(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"run": True})

    config = configure(tmp_path, {"tools": {"note": "confirm"}, "autoApprove": ["erase"]})
    with anyio.fail_after(120):
        async with Client(_serve(config), mode=mode, elicitation_callback=person) as client:
            result = await client.call_tool(TOOL_NAME, {"plan": PLAN})
    statuses = [t["status"] for t in (result.structured_content or {})["tasks"]]
    assert statuses == ["ok", "ok", "ok"], result
    assert len(asked) == 1 and "ledger.note" in asked[0]  # note asked about; erase auto-approved; add never
    assert sorted(calls(tmp_path)) == ["add", "erase", "note"]


@pytest.mark.anyio
async def test_a_host_without_elicitation_gets_the_setting_to_change(tmp_path: Path) -> None:
    with anyio.fail_after(120):
        async with Client(_serve(configure(tmp_path)), mode="legacy") as client:
            result = await client.call_tool(TOOL_NAME, {"plan": PLAN})
    erase = (result.structured_content or {})["tasks"][2]
    assert erase["status"] == "error"
    assert 'add "tools": {"erase": "allow"} to mcpServers.ledger' in erase["error"]
    assert calls(tmp_path) == ["add", "note"]
