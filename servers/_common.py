"""Plumbing shared by the bundled servers: simulated latency and the command line.

Simulated latency (for demos and benchmarks) is read from the environment on every
tool call, so it can be changed without restarting anything:

- ``MCP_COMPILER_SIM_LATENCY_MS``: delay before every ``tools/call`` of every bundled
  server, as a fixed number (``"250"``) or a uniform random range (``"100-400"``).
- ``MCP_COMPILER_SIM_LATENCY_MS_<SERVER>`` (e.g. ``..._WIKI``, ``..._MATH``): the same for
  one server; it wins over the global variable. ``"0"`` switches the delay off.
- ``MCP_COMPILER_SIM_SEED``: an integer seed, read at start-up. With it, a call's delay is
  a function of the seed, the tool and its arguments: the same call waits the same in every
  run, whatever else was called before it (benchmarks compare strategies call for call).

A value that does not parse is logged (once) on stderr and treated as no delay: a typo
in a benchmark's environment should not make every tool call fail.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import os
import random
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

LATENCY_ENV = "MCP_COMPILER_SIM_LATENCY_MS"
SEED_ENV = "MCP_COMPILER_SIM_SEED"

logger = logging.getLogger(__name__)


def parse_latency_ms(text: str) -> tuple[float, float]:
    """``"250"`` -> (250, 250); ``"100-400"`` -> (100, 400). Raises ValueError."""
    low_text, sep, high_text = text.strip().partition("-")
    low = float(low_text)
    high = float(high_text) if sep else low
    if low < 0 or high < low:
        raise ValueError(f"expected N or MIN-MAX with 0 <= MIN <= MAX, got {text!r}")
    return low, high


class SimulatedLatency(ServerMiddleware[Any]):
    """Sleeps before each tool call, as configured by the environment (see module doc).

    A middleware rather than a line in every tool, so no tool can forget it and the
    delay also covers argument validation errors, like a slow network would.
    """

    def __init__(self, server_name: str) -> None:
        self.server_env = f"{LATENCY_ENV}_{server_name.upper()}"
        seed = (os.environ.get(SEED_ENV) or "").strip()
        self._seed = int(seed) if seed.lstrip("-").isdigit() else None
        self._warned: set[str] = set()

    def _uniform(self, low: float, high: float, call: str) -> float:
        if self._seed is None:
            return random.uniform(low, high)
        digest = hashlib.blake2b(f"{self._seed}\0{call}".encode(), digest_size=8).digest()
        return low + (high - low) * int.from_bytes(digest, "big") / 2**64

    def delay_seconds(self, call: str = "") -> float:
        """The delay for one call; `call` identifies it (tool and arguments) for seeded runs."""
        for name in (self.server_env, LATENCY_ENV):
            text = os.environ.get(name, "").strip()
            if not text:
                continue
            try:
                low, high = parse_latency_ms(text)
            except ValueError:
                if text not in self._warned:
                    self._warned.add(text)
                    logger.warning("ignoring %s=%r: expected milliseconds as N or MIN-MAX", name, text)
                return 0.0
            return self._uniform(low, high, call) / 1000.0
        return 0.0

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            params: Mapping[str, Any] = ctx.params or {}
            delay = self.delay_seconds(call_key(params.get("name"), params.get("arguments")))
            if delay > 0:
                await anyio.sleep(delay)
        return await call_next(ctx)


def call_key(name: Any, arguments: Any) -> str:
    """What identifies a call for its seeded delay: the tool and its arguments."""
    return json.dumps([name, arguments], sort_keys=True, default=str)


def run_server(server: MCPServer, argv: Sequence[str] | None = None) -> None:
    """Parse ``--transport/--host/--port`` and serve; stdio unless told otherwise."""
    parser = argparse.ArgumentParser(
        prog=f"python -m mcp_compiler.servers.{server.name}",
        description=f"The bundled '{server.name}' MCP server.",
    )
    parser.add_argument(
        "--transport",
        choices=["stdio", "http", "streamable-http"],
        default="stdio",
        help="stdio (default) or Streamable HTTP served at /mcp",
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    args = parser.parse_args(argv)

    # stdout is the protocol on stdio: anything we log must go to stderr. The SDK has
    # usually configured the root logger already; then this is a no-op.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    logging.getLogger(__package__).setLevel(logging.INFO)
    if args.transport == "stdio":
        server.run()
    else:
        logger.info("serving %s at http://%s:%d/mcp", server.name, args.host, args.port)
        server.run("streamable-http", host=args.host, port=args.port, streamable_http_path="/mcp")
    # Served and done: the interpreter's exit need not collect cycles (0.3-1 s with mcp loaded),
    # which is most of the time a parent waits for us to exit on shutdown.
    gc.freeze()
