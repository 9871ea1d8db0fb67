"""A generated MCP server of BFCL stub tools: `python -m benchmarks.lab.bfcl_server --data FILE`.

FILE is a JSON list of MCP tools (`name`, `description`, `inputSchema`). Every tool is read-only
and returns `stub_result(name, arguments)` after the simulated latency of the bundled servers
(`MCP_COMPILER_SIM_LATENCY_MS`, `MCP_COMPILER_SIM_SEED`). stdio only; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp_compiler.servers._common import SimulatedLatency, call_key

from .bfcl import stub_result

READ_ONLY = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)


def build_server(tools: list[dict[str, Any]]) -> Server[Any]:
    listed = [types.Tool(name=t["name"], description=t.get("description") or None,
                         input_schema=t["inputSchema"], annotations=READ_ONLY) for t in tools]
    names = {t.name for t in listed}
    latency = SimulatedLatency("bfcl")

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        delay = latency.delay_seconds(call_key(params.name, params.arguments))
        if delay > 0:
            await anyio.sleep(delay)
        if params.name not in names:
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"unknown tool {params.name}")],
                                        is_error=True)
        value = stub_result(params.name, params.arguments or {})
        return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(value))],
                                    structured_content=value)

    return Server("bfcl-stubs", on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lab.bfcl_server")
    p.add_argument("--data", required=True, help="JSON list of MCP tools to serve as stubs")
    args = p.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    tools = json.loads(Path(args.data).read_text(encoding="utf-8"))
    anyio.run(_serve, build_server(tools))


if __name__ == "__main__":
    main()
