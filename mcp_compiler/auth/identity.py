"""`Identity`: who one request comes from, and the owner its kept state is bound to.

The HTTP layer (`resource.py`) puts the identity it established into the request's ASGI scope;
the MCP handlers find it there through the SDK's request context (`identity_of`). stdio and
in-process servers have no credentials: their caller is `ANONYMOUS`, owner `""`, as before.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANONYMOUS", "SCOPE_KEY", "CallerOnLogLines", "Identity", "current_identity", "identity_of", "log_callers"]

SCOPE_KEY = "mcp_compiler.identity"  # where resource.py leaves the identity in the ASGI scope


@dataclass(frozen=True)
class Identity:
    """A caller: `name` for the logs and the audit record, `scopes` and `claims` for `allow`.

    `source` is how it was established: "token" (the static bearer token, or a caller of
    `compiler.tokens`), "oauth" (a JWT access token from `issuer`), "" (no credentials).
    """

    name: str
    source: str = ""
    issuer: str = ""
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def owner(self) -> str:
        """What the caller's kept state is bound to: stable across token refreshes, opaque."""
        if not self.source:
            return ""
        return hashlib.sha256(f"{self.source}\0{self.issuer}\0{self.name}".encode()).hexdigest()

    def holds(self, grant: str) -> bool:
        """A scope it was granted, or `claim=value`: a claim equal to the value, or a list holding it."""
        claim, eq, value = grant.partition("=")
        if not eq:
            return grant in self.scopes
        held = self.claims.get(claim.strip())
        if isinstance(held, list):
            return value.strip() in [str(v) for v in held]
        return held is not None and str(held) == value.strip()

    def __str__(self) -> str:
        return f"{self.source}:{self.name}" if self.source else "anonymous"


ANONYMOUS = Identity(name="anonymous", claims={"caller": "anonymous"})  # `allow` may name it: caller=anonymous

# The caller of the request being served: set around a compile_and_run (logs, built-in tools).
current_identity: ContextVar[Identity] = ContextVar("mcp_compiler_identity", default=ANONYMOUS)


def identity_of(request: Any) -> Identity:
    """The identity `resource.py` established for `request` (a Starlette request or an ASGI
    scope); `ANONYMOUS` when there is none (stdio, in process, or HTTP without auth)."""
    scope = getattr(request, "scope", request)
    found = scope.get(SCOPE_KEY) if isinstance(scope, Mapping) else None
    return found if isinstance(found, Identity) else ANONYMOUS


class CallerOnLogLines(logging.Filter):
    """Every log line written while serving an identified caller names it: `[oauth:alice] ...`."""

    def filter(self, record: logging.LogRecord) -> bool:
        identity = current_identity.get()
        if identity.source and isinstance(record.msg, str) and not getattr(record, "caller", None):
            record.caller = str(identity)
            record.msg = f"[{str(identity).replace('%', '%%')}] {record.msg}"
        return True


def log_callers() -> None:
    """Put `CallerOnLogLines` on the root logger's handlers (once; the program's own logging), and
    keep the audit records (`mcp_compiler.audit`, INFO) whatever the level of the rest of the log."""
    audit = logging.getLogger("mcp_compiler.audit")
    if audit.level == logging.NOTSET:
        audit.setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, CallerOnLogLines) for f in handler.filters):
            handler.addFilter(CallerOnLogLines())
