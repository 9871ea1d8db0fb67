"""The caller of each request (docs/auth.md): who it is, what it may call, and the audit record.

- `Callers.serve_as` (server middleware): every request is served as the identity the HTTP layer
  established (`auth/resource.py`; `ANONYMOUS` on stdio): `current_identity` names it in the
  logs, and `visible_tools` (`tools/builtins.py`) narrows the description, the catalog resource,
  `compiler.search_tools` and every call to what `compiler.auth.allow` gives it.
- `Callers.refusal`: a plan's tasks checked against `allow` before anything runs; the error names
  the task and the scope it lacks.
- `audit`: one record per `compile_and_run` on the `mcp_compiler.audit` logger: who, which tools,
  the outcome, how long. Never an argument's value.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from ..auth import ToolAccess, current_identity, identity_of
from ..engine.run import Run
from ..request import Request
from ..tools.builtins import visible_tools
from ..tools.toolbox import Toolbox

__all__ = ["Callers", "audit"]

audit_log = logging.getLogger("mcp_compiler.audit")


class Callers:
    def __init__(self, access: ToolAccess) -> None:
        self.access = access

    async def serve_as(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        identity = identity_of(ctx.request)
        caller = current_identity.set(identity)
        allowed = visible_tools.set((lambda tool: self.access.allows(identity, tool)) if self.access.restricts else None)
        try:
            return await call_next(ctx)
        finally:
            visible_tools.reset(allowed)
            current_identity.reset(caller)

    async def refusal(self, request: Request, toolbox: Toolbox) -> str | None:
        """Why the caller may not run this plan (its first task it may not call), or None."""
        if request.plan is None or not self.access.restricts:
            return None
        await toolbox.settle([task.tool for task in request.plan.tasks])  # bare names resolve once servers are in
        identity = current_identity.get()
        resolve = getattr(toolbox.specs(), "resolve", None)
        for task in request.plan.tasks:
            tool = task.tool
            if resolve is not None:
                try:
                    tool = resolve(task.tool).name
                except LookupError:
                    pass  # the checks say it is unknown; a call to it is refused anyway (WithBuiltins)
            refused = self.access.refusal(identity, tool, task=task.id)
            if refused is not None:
                audit(request, None, "refused", 0.0)
                return f"not allowed: {refused}, which this caller was not granted; nothing ran"
        return None


def audit(request: Request, run: Run | None, outcome: str, duration_s: float) -> None:
    """The audit record of one compile_and_run (module docstring)."""
    if not audit_log.isEnabledFor(logging.INFO):
        return
    if run is not None:
        tools, tasks = sorted({t.tool for t in run.tasks}), len(run.tasks)
        failed = sum(1 for t in run.tasks if t.status != "ok")
    else:
        planned = request.plan.tasks if request.plan is not None else []
        tools, tasks, failed = sorted({t.tool for t in planned}), len(planned), 0
    record = {
        "caller": str(current_identity.get()), "kind": "plan" if request.plan is not None else "query",
        "tools": tools, "tasks": tasks, "failed": failed, "outcome": outcome, "duration_ms": round(duration_s * 1000, 1),
    }
    audit_log.info("compile_and_run %s", json.dumps(record, sort_keys=True))
