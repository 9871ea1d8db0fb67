"""The destructive-tool policy of the call-policy layer."""

from __future__ import annotations

import pytest

from mcp_compiler import execute

pytestmark = pytest.mark.anyio

DELETED: list[str] = []


async def delete(path: str) -> str:
    """Delete a file."""
    DELETED.append(path)
    return f"deleted {path}"


async def read(path: str) -> str:
    """Read a file."""
    return f"contents of {path}"


delete.destructive = True  # type: ignore[attr-defined]
PLAN = '1. read("a")\n2. delete("a")\njoin()'


async def run_with(policy: str, confirm=None):
    return await execute(PLAN, tools={"delete": delete, "read": read}, destructive=policy, confirm=confirm)


async def test_allow_runs_destructive_tools() -> None:
    DELETED.clear()
    run = await run_with("allow")
    assert run.ok and DELETED == ["a"]


async def test_deny_refuses_destructive_tools_and_runs_the_rest() -> None:
    DELETED.clear()
    run = await run_with("deny")
    assert run.task(1).status == "ok"
    assert run.task(2).status == "error" and "'deny'" in (run.task(2).error or "")
    assert DELETED == []


async def test_confirm_asks_with_the_call_and_obeys_the_answer() -> None:
    asked: list[tuple[str, dict]] = []

    async def say(answer: bool):
        async def confirm(spec, arguments) -> bool:
            asked.append((spec.name, arguments))
            return answer
        return confirm

    DELETED.clear()
    run = await run_with("confirm", await say(False))
    assert run.task(2).status == "error" and "not confirmed" in (run.task(2).error or "")
    assert DELETED == [] and asked == [("delete", {"path": "a"})]
    run = await run_with("confirm", await say(True))
    assert run.ok and DELETED == ["a"]


async def test_confirm_without_anyone_to_ask_refuses_and_says_how_to_allow() -> None:
    DELETED.clear()
    run = await run_with("confirm")
    assert run.task(2).status == "error" and "compiler.destructive" in (run.task(2).error or "")
    assert DELETED == []


# ---- per server and per tool ---------------------------------------------------------------------

from mcp_compiler.engine.policy import CallPolicy, Limits, NobodyToAsk, ServerLimits  # noqa: E402
from mcp_compiler.errors import CallRefused  # noqa: E402
from mcp_compiler.tools.toolbox import ToolSpec  # noqa: E402

WRITE = ToolSpec("fs.write_file", provider="fs")
ERASE = ToolSpec("fs.erase", provider="fs", destructive=True)
OTHER_ERASE = ToolSpec("db.erase", provider="db", destructive=True)


def policy(default: str = "confirm", **fs: object) -> CallPolicy:
    """compiler.destructive is `default`; `fs` are the fs server's own settings."""
    return CallPolicy(object(), Limits(servers={"fs": ServerLimits(setting="mcpServers.fs", **fs)}), default)  # type: ignore[arg-type]


def test_the_first_matching_tool_glob_decides_for_any_tool() -> None:
    p = policy(tools=(("write_*", "confirm"), ("*", "deny")))
    assert p.decide(WRITE) == ("confirm", 'mcpServers.fs.tools["write_*"]')
    assert p.decide(ERASE) == ("deny", 'mcpServers.fs.tools["*"]')
    assert p.decide(OTHER_ERASE) == ("confirm", "compiler.destructive")  # another server: the default
    assert p.may_refuse(WRITE) and p.asks(WRITE)


def test_auto_approve_allows_after_the_tool_globs_and_before_the_servers_destructive() -> None:
    assert policy(auto_approve=("era*",), destructive="deny").decide(ERASE) == ("allow", "mcpServers.fs.autoApprove")
    assert policy(auto_approve=("era*",), tools=(("erase", "confirm"),)).decide(ERASE)[0] == "confirm"
    assert policy(auto_approve=("x",), destructive="deny").decide(ERASE) == ("deny", "mcpServers.fs.destructive")


def test_a_tool_neither_marked_nor_named_runs_unasked_and_costs_no_await() -> None:
    p = policy(auto_approve=("erase",))
    assert p.decide(WRITE) is None and not p.may_refuse(WRITE) and not p.asks(WRITE)
    assert not policy("allow").may_confirm() and policy("allow", tools=(("w*", "confirm"),)).may_confirm()


@pytest.mark.parametrize(("p", "spec", "hint"), [
    (policy(), ERASE, 'add "tools": {"erase": "allow"} to mcpServers.fs (this tool), or "destructive": "allow" to mcpServers.fs'),
    (policy(destructive="confirm"), ERASE, 'add "tools": {"erase": "allow"} to mcpServers.fs (this tool), or set mcpServers.fs.destructive to "allow"'),
    (policy("allow", tools=(("w*", "confirm"),)), WRITE, 'set mcpServers.fs.tools["w*"] to "allow"'),
])
async def test_nobody_to_ask_refuses_naming_the_setting_that_would_allow_the_call(p: CallPolicy, spec: ToolSpec, hint: str) -> None:
    async def host_without_elicitation(spec: ToolSpec, arguments: dict) -> bool:
        raise NobodyToAsk(spec.name)

    for confirm in (None, host_without_elicitation):
        with pytest.raises(CallRefused) as refused:
            await p.permit(spec, {}, confirm)
        assert "nobody can be asked here; to run it without asking, " + hint in str(refused.value)
