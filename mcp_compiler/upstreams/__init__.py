"""The upstreams: MCP client sessions to the servers behind mcp-compiler, as one toolbox.

`UpstreamPool` is the `Toolbox` MCP tools are called through. It does I/O only, like an httpx
transport: every decision about a call (concurrency, timeouts, retries, confirmation) is the call
policy's (`engine/policy.py`), above this seam.

    async with UpstreamPool(config) as pool:
        catalog = pool.specs()                       # Catalog of `server.tool` ToolSpecs
        value = await pool.call(catalog["wiki.search"], {"query": "x"})

The modules, one idea each:

    pool.py          UpstreamPool: the sessions as one toolbox; the catalog, its changes, routing
    session.py       UpstreamSession: one server's session task: connect, serve, call, reconnect
    connect.py       opening one connection (stdio child or HTTP, the wire, the SDK client); why it failed
    discovery.py     every page of tools/list; the 2026-07-28 change subscription
    wire.py          Wire: JSON-RPC policing on the transport's streams (ids, malformed responses)
    vetting.py       the tools a server lists, vetted; its text cleaned before a prompt shows it
    values.py        a tool result as a value; the check against its output schema
    failures.py      what can go wrong, by type: lost, the upstream's fault, or a bug of ours
    stdout_codec.py  a stdio server's stdout as UTF-8 whose bad bytes are replaced and reported
    signals.py       cancel_on_signals: SIGTERM/SIGINT as cancellation of the pool's scope
    relay.py         an upstream's sampling, elicitation, roots and log messages, to the host of the call
    task_client.py   a tool answered with a task (the Tasks extension, SEP-2663), polled to its end

- One `mcp.Client` per server serves every concurrent call. Cancelling the caller (the policy's
  timeout, a cancelled run) cancels the downstream request.
- A server that fails to start is logged (with the tail of its stderr) and retried in the
  background with exponential backoff; calls to it fail fast with the reason meanwhile. A stdio
  server that dies is restarted; an HTTP session that drops is re-established. A call in flight
  when its server goes away fails at once with `UpstreamLost` (a `ConnectionLost`); a call made
  while a server reconnects waits for it, up to `compiler.connect_timeout_s`.
- With `relay_to_hosts=True` (the MCP server) each session offers the server sampling,
  elicitation and roots, and its requests and log messages during a call go to the host of that
  call (`relay.HostRelay`, one per server; the host is `relay.current_host()` in the calling task).
- Values follow the "value of a task" rule (docs/plan-language.md#the-value-of-a-task) (`values.py`). `is_error` results raise
  `ToolError(text)`; so does what a server can make the SDK raise (an error response, a result
  that does not parse); any other exception is a bug and propagates as it is (`failures.py`).

What a server sends is not trusted (issue 11, "hardening the boundary"):
- Bytes on a stdio server's stdout that are not UTF-8 are read as U+FFFD, with one warning per
  session naming the server; the session goes on (`stdout_codec.py`).
- Arguments sent and results received pass `text.scrub` (a lone surrogate would make the SDK's
  serialiser raise inside the transport's writer task, which ends the session).
- A response the SDK would drop in silence fails the call at once with what was wrong, instead
  of leaving it to its timeout; a `tools/list` page is checked tool by tool before the SDK sees
  it (`wire.py`).
- A tool with an unusable name or schema is dropped with a warning; descriptions and titles lose
  control characters before they can reach a prompt (`vetting.py`).
- Every configured secret (env values, header values, URL userinfo and query values) is taken
  out of every error text and status the pool produces (`logs.Redactor`); the program takes
  them out of log records too (`logs.redact_secrets`).
- A configured server that is not connected is known by its prefix: `pool.unavailable()` says
  why, and the catalog resolves `server.anything` to an `UnavailableTool`, so a plan naming it
  passes its checks and that task fails at run time with the server's reason, while the rest of
  the plan runs.

Catalog changes (a downstream `tools/list_changed` in either protocol era, a reconnect that lists
different tools, a server joining late) are signalled two ways; use whichever fits:
- `pool.on_catalog_change`: a list of `async def callback(catalog: Catalog) -> None`. Each change
  runs every callback in the pool's task group; a callback that raises is logged, never fatal.
- `await pool.catalog_changed()`: waits for the next change and returns the new catalog.
`pool.catalog_version` counts changes.

Shutdown: leaving `async with` closes every session; the SDK's stdio transport kills each child's
process group. For SIGTERM the embedding program must turn the signal into cancellation of the
scope holding the pool — `cancel_on_signals(scope)` does that:

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_signals, tg.cancel_scope)
        async with UpstreamPool(config) as pool:
            ...
"""

from ..config import server_prefix
from .failures import UpstreamLost
from .pool import UpstreamPool
from .session import ServerStatus
from .signals import cancel_on_signals
from .values import tool_value

__all__ = ["ServerStatus", "UpstreamLost", "UpstreamPool", "cancel_on_signals", "server_prefix", "tool_value"]
