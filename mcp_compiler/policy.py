"""The destructive-tool policy, as a wrapper in front of any toolbox.

Tools marked `destructiveHint: true` run only where `compiler.destructive` allows: `allow` runs
them, `deny` refuses, `confirm` asks someone first — the MCP host through elicitation, or the
person at the terminal — and refuses when nobody can be asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from .tools import ToolError, Toolbox, ToolSpec

__all__ = ["PolicyToolbox", "Confirm", "Policy", "NOBODY_TO_ASK"]

NOBODY_TO_ASK = "nobody can be asked here; set compiler.destructive to 'allow' to run such tools"

Policy = Literal["allow", "confirm", "deny"]
Confirm = Callable[[ToolSpec, dict[str, Any]], Awaitable[bool]]
"""Asks whether a destructive call may run; may raise ToolError when nobody can be asked."""


class PolicyToolbox:
    """A `Toolbox` that applies the policy, then delegates to `inner`."""

    def __init__(self, inner: Toolbox, policy: Policy, confirm: Confirm | None = None) -> None:
        self.inner = inner
        self.policy = policy
        self.confirm = confirm

    def specs(self) -> Mapping[str, ToolSpec]:
        return self.inner.specs()

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        if spec.destructive and self.policy != "allow":
            await self._permit(spec, arguments)
        return await self.inner.call(spec, arguments)

    async def _permit(self, spec: ToolSpec, arguments: dict[str, Any]) -> None:
        if self.policy == "deny":
            raise ToolError(f"{spec.name} is marked destructive and compiler.destructive is 'deny'")
        if self.confirm is None:
            raise ToolError(f"{spec.name} is marked destructive and needs confirmation, but {NOBODY_TO_ASK}")
        if not await self.confirm(spec, arguments):
            raise ToolError(f"{spec.name} was not confirmed, so it did not run")
