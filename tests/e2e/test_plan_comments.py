"""Plans with comments, end to end: `mcp-compiler run --plan` and `compile_and_run` through
`mcp-compiler serve`, over the bundled servers (real processes). The plan is the docs' spread
example as written there, comments and all."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcp_compiler.server import TOOL_NAME

PLAN = """\
# rivers: rank six, then each one's length in miles
1. wiki.rank("river", "length_km", 6)
2. wiki.fact($1.items[*].name, "length_km")        # six calls, one per ranked river
3. math.eval("x / 1.609344", {"x": $2[*].value})   # six more, one per value of task 2
join("$2[*].name: $2[*].value km", $3[*].value)    # the answer: those values, one a line
"""


def test_a_commented_plan_runs_from_the_command_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run([sys.executable, "-m", "mcp_compiler", "run", "--json", "--plan", PLAN],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert [t["status"] for t in run["tasks"]] == ["ok", "ok", "ok"]
    assert run["answer"].splitlines()[0].startswith("Nile: 6650 km")


@pytest.mark.anyio
async def test_a_commented_plan_runs_through_the_server() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve"])
    with anyio.fail_after(120):
        async with Client(params, mode="legacy") as client:
            result = await client.call_tool(TOOL_NAME, {"plan": PLAN})
    assert not result.is_error, result
    assert [t["status"] for t in (result.structured_content or {})["tasks"]] == ["ok", "ok", "ok"]
