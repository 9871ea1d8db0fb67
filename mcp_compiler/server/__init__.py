"""The MCP server: one tool, `compile_and_run`, over stdio or Streamable HTTP.

    serve(config, transport="stdio"|"http")       serve.py: open the gateway, serve until cancelled
      └─ CompilerServer(toolbox, config)          app.py: tools/list, tools/call, resources
           ├─ parse_request(arguments, limits)   request.py: the request parsed and checked, once
           └─ make_run(compiler, request, ...)    app.py: the one place a call becomes a Run
    tool_definition.py  the tool's name, schemas and description (pure functions of the catalog)
    results.py    the result contract: a Run as the reply (native blocks, each value once, the budget)
    store.py      values too big for a reply, kept for a while (mcp-compiler://runs/...), on the state seam
    round_trips.py  2026-07-28: a run held across input_required round trips (HeldRuns)
    task_server.py  the Tasks extension: a tools/call run as a task (ToolCallTask, TaskStore)
    _common.py    what those share: a tool error, the confirmation form, progress, a question
    resources.py  resources/list, templates, read: the catalog, kept values, the upstreams' (proxied)
    http.py       the ASGI app, DNS-rebinding protection, the bearer token, HTTP limits, uvicorn
    stdio.py      stdio with cancellable reads and writes (SIGTERM ends serve at once)
"""

from ..request import RequestLimits
from .app import CompilerServer, RunRequest, make_run, run_result
from .http import ALLOWED_HOSTS_ENV, TOKEN_ENV, BearerTokenMiddleware, http_app, require_token, transport_security
from .serve import serve
from .tool_definition import (
    CATALOG_JSON_URI,
    CATALOG_URI,
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    RUN_SCHEMA,
    TOOL_NAME,
    catalog_text,
    tool_description,
)

__all__ = [
    "ALLOWED_HOSTS_ENV", "BearerTokenMiddleware", "CATALOG_JSON_URI", "CATALOG_URI", "CompilerServer", "INPUT_SCHEMA",
    "OUTPUT_SCHEMA", "RUN_SCHEMA", "RequestLimits", "RunRequest", "TOKEN_ENV", "TOOL_NAME", "catalog_text",
    "http_app", "make_run", "require_token", "run_result", "serve", "tool_description", "transport_security",
]
