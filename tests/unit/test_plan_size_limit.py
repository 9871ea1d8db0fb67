"""A plan over `compiler.max_plan_bytes` is refused before it is parsed (README, config).

A plan over the limit that parses fine cannot tell "checked before parsing" from "checked after":
both end in "too large". These plans would each fail to parse, in their own way, so the error a
host gets says which check ran first; and a count of the parser's calls says the parser never saw
them.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from mcp_compiler.config import Config
from mcp_compiler.language.parser import PlanParser, parse_plan
from mcp_compiler.language.plan import PlanError
from mcp_compiler.server import TOOL_NAME, CompilerServer
from mcp_compiler.tools.toolbox import FunctionToolbox

pytestmark = pytest.mark.anyio

LIMIT = 1_000  # bytes, compiler.max_plan_bytes

OVER_THE_LIMIT_AND_UNPARSABLE = {
    # An unclosed call: parsed, "line 1, column ...".
    "syntax error": '1. add(1, "' + "x" * 2 * LIMIT,
    # 3,000 nested lists: parsed, refused for its depth.
    "deep nesting": "1. add(" + "[" * 3 * LIMIT,
    # A JSON plan that is not JSON.
    "broken JSON plan": '{"tasks": [{"tool": "add", "args": [1, ' + '"x' * LIMIT,
}


async def add(a: float, b: float) -> float:
    return a + b


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time any door hands plan text to the parser (every parse goes through `feed`), its length."""
    seen: list[int] = []
    feed = PlanParser.feed

    def counting_feed(self: PlanParser, chunk: str) -> Any:
        seen.append(len(chunk))
        return feed(self, chunk)

    monkeypatch.setattr(PlanParser, "feed", counting_feed)
    return seen


def text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("kind", list(OVER_THE_LIMIT_AND_UNPARSABLE))
async def test_the_size_error_comes_first_and_the_parser_never_sees_the_plan(
    parses: list[int], kind: str, mode: str
) -> None:
    plan = OVER_THE_LIMIT_AND_UNPARSABLE[kind]
    assert len(plan.encode()) > LIMIT
    with pytest.raises(PlanError) as parsed:  # what a host would get if the parser ran first
        parse_plan(plan)
    parse_error = str(parsed.value)
    parses.clear()
    config = Config.model_validate({"compiler": {"max_plan_bytes": LIMIT}})
    app = CompilerServer(FunctionToolbox({"add": add}), config)
    with anyio.fail_after(60):
        async with Client(app.server, mode=mode) as client:
            refused = await client.call_tool(TOOL_NAME, {"plan": plan})
            assert refused.is_error
            assert "the plan is too large" in text(refused) and f"the limit is {LIMIT:,}" in text(refused)
            assert parse_error not in text(refused) and "line 1" not in text(refused)
            assert parses == []
            # The same door parses a plan within the limit (the count would see it), and serves on.
            ok = await client.call_tool(TOOL_NAME, {"plan": "1. add(2, 2)"})
            assert not ok.is_error and text(ok) == "4"
            assert parses != []
