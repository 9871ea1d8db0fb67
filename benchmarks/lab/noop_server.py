"""A no-op MCP server for measuring the bridge's own cost: `python -m benchmarks.lab.noop_server`.

One read-only tool, `noop(n)`, that returns `n` at once. Calls differ by `n`, so the compiler's
deduplication of identical read-only calls does not fold them into one.
"""

from __future__ import annotations

import logging
import sys

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("noop")


@server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, destructive_hint=False))
async def noop(n: int) -> int:
    """Return n, doing nothing else."""
    return n


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server.run()


if __name__ == "__main__":
    main()
