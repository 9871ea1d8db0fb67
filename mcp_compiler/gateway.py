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
    compiler.max_spread           -> Limits.max_spread           (one spread task's calls)
    mcpServers.X.max_concurrency  -> Limits.servers[X].max_concurrency   (overrides max_per_server)
    mcpServers.X.timeout_s        -> Limits.servers[X].timeout_s         (overrides call_timeout_s)
    mcpServers.X.ordering         -> Limits.servers[X].ordering          ("plan" or "free"; default Limits.ordering)
    mcpServers.X.destructive      -> Limits.servers[X].destructive       (overrides compiler.destructive)
    mcpServers.X.tools            -> Limits.servers[X].tools             (glob -> allow/confirm/deny, first match)
    mcpServers.X.autoApprove      -> Limits.servers[X].auto_approve      (Cline's: allow)
    compiler.destructive          -> Compiler(destructive=...)
    compiler.max_replans          -> Compiler(max_replans=...)
    compiler.planner_prompt_tokens -> Compiler(planner_prompt_tokens=...)

A request's own limits (plan size, task count, query length) are not here: they are checked
where every request is parsed, `request.parse_request` (`request.RequestLimits`).

The toolbox the compiler and the MCP server get is the pool's tools and mcp-compiler's own
(`compiler.search_tools`, builtins.py) as one: `GatewayToolbox(pool)`, whose `unavailable()` adds
when each server that is down is tried next.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .compiler import Compiler
from .config import Config
from .engine.policy import Limits, ServerLimits
from .llm import LLM
from .tools.builtins import WithBuiltins
from .tools.toolbox import Toolbox
from .upstreams import UpstreamPool, server_prefix

__all__ = [
    "Gateway", "GatewayToolbox", "build_compiler", "down_servers", "limits_from", "open_gateway", "retry_text",
]


def limits_from(config: Config) -> Limits:
    """The engine's limits for a config, with each server's own overrides."""
    c = config.compiler
    servers = {
        server_prefix(name): ServerLimits(
            max_concurrency=server.max_concurrency, timeout_s=server.timeout_s, ordering=server.ordering,
            destructive=server.destructive, tools=tuple(server.tools.items()), auto_approve=server.auto_approve,
            setting=f"mcpServers.{name}",
        )
        for name, server in config.servers.items()
        if server.max_concurrency is not None or server.timeout_s is not None or server.ordering is not None
        or server.destructive is not None or server.tools or server.auto_approve or server_prefix(name) != name
    }
    return Limits(
        max_concurrency=c.max_concurrency, max_per_server=c.max_per_server,
        call_timeout_s=c.call_timeout_s, run_timeout_s=c.run_timeout_s, max_value_bytes=c.max_value_bytes,
        max_run_bytes=c.max_run_bytes, max_spread=c.max_spread, max_run_calls=c.max_run_calls,
        max_error_bytes=c.max_error_bytes, servers=servers,
    )


def build_compiler(toolbox: Toolbox, config: Config, *, llm: LLM | None = None) -> Compiler:
    """A compiler over `toolbox` with the config's limits and policies."""
    c = config.compiler
    return Compiler(toolbox, limits_from(config), destructive=c.destructive, llm=llm, max_replans=c.max_replans,
                    planner_prompt_tokens=c.planner_prompt_tokens)


def down_servers(pool: UpstreamPool) -> dict[str, str]:
    """Each configured server that is not connected, by the name plans call it: why (redacted),
    and when it is tried next while it backs off."""
    causes = pool.unavailable()
    retries = {server_prefix(s.name): s.retry_at for s in pool.status() if s.retry_at is not None}
    return {prefix: cause + retry_text(retries.get(prefix)) for prefix, cause in causes.items()}


def retry_text(retry_at: float | None) -> str:
    """` (next attempt at 20:14:05 UTC)`, or nothing when no attempt is scheduled (connecting now)."""
    if retry_at is None:
        return ""
    return f" (next attempt at {time.strftime('%H:%M:%S', time.gmtime(retry_at))} UTC)"


class GatewayToolbox(WithBuiltins):
    """The pool's tools with the built-ins; `unavailable()` tells when each server down is retried."""

    inner: UpstreamPool

    def unavailable(self) -> dict[str, str]:
        return down_servers(self.inner)


@dataclass(frozen=True)
class Gateway:
    """The configured servers' pool, the toolbox over it with the built-ins, and the compiler over
    that, for as long as `open_gateway` runs."""

    config: Config
    pool: UpstreamPool
    compiler: Compiler
    toolbox: GatewayToolbox


@asynccontextmanager
async def open_gateway(
    config: Config, *, llm: LLM | None = None, protocol_mode: str = "auto", wait_for_servers: bool = True,
    relay_to_hosts: bool = False, startup_wait_s: float | None = None,
) -> AsyncIterator[Gateway]:
    """Connect every configured server and yield the compiler over them; close them on exit.

    `wait_for_servers=False` yields at once (the MCP server: a host's `initialize` must not wait
    for the slowest upstream); a plan then waits only for the servers it names. `relay_to_hosts=True`
    (the MCP server) passes the servers' sampling, elicitation, roots and log messages on to the
    host of the call (`relay.py`). `startup_wait_s` bounds every wait for servers still starting
    (the CLI's `compiler.startup_wait_s`; None: as long as a first connection attempt may take).
    """
    pool = UpstreamPool(config, protocol_mode=protocol_mode, wait_for_servers=wait_for_servers,
                        relay_to_hosts=relay_to_hosts, startup_wait_s=startup_wait_s)
    async with pool:
        toolbox = GatewayToolbox(pool)
        yield Gateway(config, pool, build_compiler(toolbox, config, llm=llm), toolbox)
