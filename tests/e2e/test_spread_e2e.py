"""Spread tasks and answer projection over real MCP servers on real stdio pipes.

- `mcp-compiler serve` as a subprocess, driven by the SDK's `Client`, with the bundled wiki server
  behind it (300 ms per call): "rank the rivers, then look each one up" in one plan, the element
  calls side by side, the answer exactly the plan's `join(...)` values, the full Run in
  structuredContent; a spread path the wiki's output schema rules out is a tool error before any call.
- The plan-order fixture server (tests/fixtures/ordered_server.py, whose calls report when they
  ran on the host's clock): a spread over a tool with side effects runs its calls one after another
  in element order; over a read-only tool, at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from mcp_compiler.config import parse_config
from mcp_compiler.gateway import open_gateway
from mcp_compiler.server import RUN_SCHEMA, TOOL_NAME

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]
ORDERED = str(Path(__file__).parents[1] / "fixtures" / "ordered_server.py")

RIVERS = """\
1. wiki.rank("river", "length_km", 6)
2. wiki.fact($1.items[*].name, "length_km")
join("$2[*].name: $2[*].value km", $1.items[0].name)
"""


def _servers() -> dict[str, Any]:
    return {
        "wiki": {"command": sys.executable, "args": ["-m", "mcp_compiler.servers.wiki"],
                 "env": {"MCP_COMPILER_SIM_LATENCY_MS": "300"}},
        "store": {"command": sys.executable, "args": [ORDERED, "--name", "store"]},
    }


async def test_serve_runs_a_spread_plan_and_answers_with_the_join_values(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": _servers()}))
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)],
                                   cwd=str(ROOT))
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    with anyio.fail_after(150):
        async with Client(params, mode="legacy") as client:
            result = await client.call_tool(TOOL_NAME, {"plan": RIVERS}, progress_callback=on_progress)
            bad = await client.call_tool(TOOL_NAME, {"plan": RIVERS.replace("[*].name,", "[*].nam,")})
    assert not result.is_error, result.content
    run = result.structured_content
    assert run is not None
    jsonschema.validate(run, RUN_SCHEMA)
    ranked, looked_up = run["tasks"][0], run["tasks"][1]
    items = ranked["result"]["items"]
    assert len(items) == 6 and looked_up["status"] == "ok"
    # One call per ranked river, in rank order, each value the river's own fact.
    assert [c["args"] for c in looked_up["calls"]] == [{"name": i["name"], "key": "length_km"} for i in items]
    assert [(r["name"], r["value"]) for r in looked_up["result"]] == [(i["name"], i["value"]) for i in items]
    assert looked_up["args"] == {"name": "$1.items[*].name", "key": "length_km"}
    # The six calls of 300 ms each were in flight together (sequential would take 1.8 s).
    calls = looked_up["calls"]
    assert max(c["start_s"] for c in calls) < min(c["end_s"] for c in calls)
    # The answer is exactly the join(...) values, one a line; the Run holds everything else.
    text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
    expected = [f"{i['name']}: {i['value']} km" for i in items] + [items[0]["name"]]
    assert text.splitlines() == expected and "answer" not in run  # the answer is sent once: as the text
    with anyio.fail_after(15):  # progress may trail the result
        while sum("element" in m for m in progress) < 6:
            await anyio.sleep(0.05)
    assert sum(m.startswith("task 2 wiki.fact: ") and " element " in m for m in progress) == 6
    # A spread path the wiki's output schema rules out: a tool error, with where and why.
    assert bad.is_error
    message = bad.content[0].text  # type: ignore[union-attr]
    assert "line 2, column 1" in message and "$1.items[*].nam" in message and "did you mean name?" in message


async def test_a_spread_over_a_tool_with_side_effects_keeps_element_order_on_a_real_server() -> None:
    cfg = parse_config({"mcpServers": {"store": _servers()["store"]}, "compiler": {"connect_timeout_s": 30}})
    plan = """\
1. store.read(1, 0)
2. store.read(2, 0)
3. store.read(3, 0)
4. store.log() after $1, $2, $3
5. store.write($4.calls[*].n, 0.2)
6. store.read($4.calls[*].n, 0.4)
join($5[*].n, $6[*].n)
"""
    with anyio.fail_after(90):
        async with open_gateway(cfg) as gateway:
            run = await gateway.compiler.run_plan(plan)
    assert run.ok, [(t.id, t.status, t.error) for t in run.tasks]
    writes, reads = run.task(5).result, run.task(6).result
    logged = [c["n"] for c in run.task(4).result["calls"]]  # the three reads, in the order they started
    assert sorted(logged) == [1, 2, 3]
    assert [w["n"] for w in writes] == logged and [r["n"] for r in reads] == logged
    # By the server's own clock: each write started after the one before it ended ...
    assert all(writes[i]["end"] <= writes[i + 1]["start"] for i in range(2))
    # ... the reads waited for the last write (plan order) and ran side by side.
    assert writes[-1]["end"] <= min(r["start"] for r in reads)
    assert max(r["start"] for r in reads) < min(r["end"] for r in reads)
    assert run.answer == "\n".join(map(str, logged + logged))
    jsonschema.validate(run.to_dict(), RUN_SCHEMA)
