"""The composition root: from a config to a compiler over its servers.

The MCP server, the CLI and the demo all build the engine here, so the limits, the per-server
overrides and the destructive-tool policy are the same whichever door a call comes in by. The
engine (compiler, policy, scheduler) never sees the config file; this module is where the
config's names turn into the engine's:

    compiler.max_concurrency      -> Limits.max_concurrency      (per run)
    compiler.max_per_server       -> Limits.max_per_server       (per server, across runs)
    compiler.call_timeout_s       -> Limits.call_timeout_s
    compiler.run_timeout_s        -> Limits.run_timeout_s
    compiler.max_value_bytes      -> Limits.max_value_bytes      (one task's resolved arguments, one result)
    compiler.max_run_bytes        -> Limits.max_run_bytes        (a run's results together)
    mcpServers.X.max_concurrency  -> Limits.servers[X].max_concurrency   (overrides max_per_server)
    mcpServers.X.timeout_s        -> Limits.servers[X].timeout_s         (overrides call_timeout_s)
    mcpServers.X.ordering         -> Limits.servers[X].ordering          ("plan" or "free"; default Limits.ordering)
    compiler.destructive          -> Compiler(destructive=...)
    compiler.max_replans          -> Compiler(max_replans=...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .compiler import Compiler
from .config import Config
from .llm import LLM
from .policy import Limits, ServerLimits
from .tools import Toolbox
from .upstreams import UpstreamPool, server_prefix

__all__ = ["Gateway", "build_compiler", "limits_from", "open_gateway"]


def limits_from(config: Config) -> Limits:
    """The engine's limits for a config, with each server's own overrides."""
    c = config.compiler
    servers = {
        server_prefix(name): ServerLimits(
            max_concurrency=server.max_concurrency, timeout_s=server.timeout_s, ordering=server.ordering
        )
        for name, server in config.servers.items()
        if server.max_concurrency is not None or server.timeout_s is not None or server.ordering is not None
    }
    return Limits(
        max_concurrency=c.max_concurrency, max_per_server=c.max_per_server,
        call_timeout_s=c.call_timeout_s, run_timeout_s=c.run_timeout_s, max_value_bytes=c.max_value_bytes,
        max_run_bytes=c.max_run_bytes, servers=servers,
    )


def build_compiler(toolbox: Toolbox, config: Config, *, llm: LLM | None = None) -> Compiler:
    """A compiler over `toolbox` with the config's limits and policies."""
    c = config.compiler
    return Compiler(toolbox, limits_from(config), destructive=c.destructive, llm=llm, max_replans=c.max_replans)


@dataclass(frozen=True)
class Gateway:
    """The configured servers' pool and the compiler over it, for as long as `open_gateway` runs."""

    config: Config
    pool: UpstreamPool
    compiler: Compiler


@asynccontextmanager
async def open_gateway(
    config: Config, *, llm: LLM | None = None, protocol_mode: str = "auto", wait_for_servers: bool = True,
    relay_to_hosts: bool = False,
) -> AsyncIterator[Gateway]:
    """Connect every configured server and yield the compiler over them; close them on exit.

    `wait_for_servers=False` yields at once (the MCP server: a host's `initialize` must not wait
    for the slowest upstream); a plan then waits only for the servers it names. `relay_to_hosts=True`
    (the MCP server) passes the servers' sampling, elicitation, roots and log messages on to the
    host of the call (`relay.py`).
    """
    pool = UpstreamPool(config, protocol_mode=protocol_mode, wait_for_servers=wait_for_servers, relay_to_hosts=relay_to_hosts)
    async with pool:
        yield Gateway(config, pool, build_compiler(pool, config, llm=llm))
