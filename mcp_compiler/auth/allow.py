"""`ToolAccess`: `compiler.auth.allow`, which tools each identity may call (docs/auth.md#who-may-call-what).

`allow` maps a grant (a scope such as `tools:math`, or `claim=value` such as `caller=alice` or
`groups=ops`) to globs over full tool names (`math.*`). A tool is allowed to an identity that holds
a grant listing a glob that matches it. Without `allow`, every caller may call every tool. With
it, a tool no grant lists is nobody's. mcp-compiler's own tools (`compiler.*`) are everyone's:
`compiler.search_tools` shows each caller only what it may call.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from .identity import Identity

__all__ = ["ToolAccess"]

_OWN = "compiler."


class ToolAccess:
    def __init__(self, allow: Mapping[str, Iterable[str]] | None = None) -> None:
        self.allow = None if allow is None else {grant: tuple(globs) for grant, globs in allow.items()}

    @property
    def restricts(self) -> bool:
        return self.allow is not None

    def allows(self, identity: Identity, tool: str) -> bool:
        if self.allow is None or tool.startswith(_OWN):
            return True
        return any(identity.holds(grant) and _matches(tool, globs) for grant, globs in self.allow.items())

    def grants_for(self, tool: str) -> list[str]:
        """The grants that would allow `tool` (for an error that names what is missing)."""
        if self.allow is None:
            return []
        return [grant for grant, globs in self.allow.items() if _matches(tool, globs)]

    def refusal(self, identity: Identity, tool: str, *, task: int | None = None) -> str | None:
        """Why `identity` may not call `tool` (naming the task and the scope it lacks), or None."""
        if self.allows(identity, tool):
            return None
        grants = self.grants_for(tool)
        which = f"task {task} calls {tool}" if task is not None else f"{tool}"
        if not grants:
            return f"{which}, which no caller may call here (no grant in compiler.auth.allow lists it)"
        needed = ", ".join(repr(g) for g in grants)
        return f"{which}, which needs the scope {needed}" if len(grants) == 1 else \
            f"{which}, which needs one of the scopes {needed}"


def _matches(tool: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(tool, glob) for glob in globs)
