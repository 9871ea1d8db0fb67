"""The upstreams: MCP client sessions to the servers behind mcp-compiler, as one toolbox.

`UpstreamPool` is the toolbox the engine calls (one session per configured server, stdio or
Streamable HTTP); the rest of this package is how a session is kept honest and alive.
"""

from .pool import ServerStatus, UpstreamLost, UpstreamPool, cancel_on_signals, server_prefix, tool_value

__all__ = ["ServerStatus", "UpstreamLost", "UpstreamPool", "cancel_on_signals", "server_prefix", "tool_value"]
