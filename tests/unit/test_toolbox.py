"""The Toolbox interface: every member a toolbox may have, with its default; a plain object with
`specs()` and `call()` taken as one; WithBuiltins passing each member on explicitly."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_compiler import CompilerError, PlanError, ToolError, UnknownTool, execute
from mcp_compiler.tools.builtins import SEARCH_TOOL, WithBuiltins
from mcp_compiler.tools.catalog import Catalog
from mcp_compiler.tools.toolbox import NO_RESOURCES, FunctionToolbox, Toolbox, ToolSpec, as_toolbox

pytestmark = pytest.mark.anyio


class Plain:
    """A toolbox as the README has always described one: `specs()` and `call()`, nothing more."""

    def specs(self) -> dict[str, ToolSpec]:
        return {"echo": ToolSpec("echo", input_schema={"type": "object", "properties": {"x": {}}})}

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return arguments


class Full(Toolbox):
    """Every optional member given, to see WithBuiltins pass each one on."""

    relay_to_hosts = True
    offers_resources = True

    def __init__(self) -> None:
        self.asked: list[Any] = []

    def specs(self) -> Catalog:
        return Catalog([ToolSpec("s.echo", provider="s")], unavailable={"down": "refused"})

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        return ("call", arguments)

    async def call_with_progress(self, spec: ToolSpec, arguments: dict[str, Any], progress: Any) -> Any:
        progress(1.0, 2.0, "half")
        return ("progress", arguments)

    async def settle(self, tools: Any) -> None:
        self.asked.append(("settle", tools))

    def unavailable(self) -> dict[str, str]:
        return {"down": "refused"}

    def resource_servers(self) -> list[str]:
        return ["s"]

    async def list_resources(self, prefix: str, cursor: str | None = None) -> Any:
        return ("resources", prefix, cursor)

    async def list_resource_templates(self, prefix: str, cursor: str | None = None) -> Any:
        return ("templates", prefix, cursor)

    async def read_resource(self, prefix: str, uri: str) -> Any:
        return ("read", prefix, uri)


async def test_the_defaults_fit_a_toolbox_without_the_features() -> None:
    box = FunctionToolbox({})
    assert box.relay_to_hosts is False and box.offers_resources is False
    assert box.unavailable() == {} and box.resource_servers() == []
    await box.settle(None)  # at once
    for request in (box.list_resources("s"), box.list_resource_templates("s"), box.read_resource("s", "x://y")):
        with pytest.raises(ToolError, match=NO_RESOURCES):
            await request


async def test_call_with_progress_defaults_to_call() -> None:
    async def f(x: int) -> int:
        return x + 1

    box = FunctionToolbox({"f": f})
    heard: list[Any] = []
    assert await box.call_with_progress(box.specs()["f"], {"x": 1}, lambda *a: heard.append(a)) == 2
    assert heard == []


async def test_a_plain_object_with_specs_and_call_is_a_toolbox_with_the_defaults() -> None:
    plain = Plain()
    box = as_toolbox(plain)
    assert isinstance(box, Toolbox) and as_toolbox(box) is box
    assert box.unavailable() == {} and box.relay_to_hosts is False and box.offers_resources is False
    await box.settle(["echo"])
    run = await execute("1. echo(1)", toolbox=plain)
    assert run.tasks[0].result == {"x": 1}


async def test_with_builtins_passes_every_member_on() -> None:
    inner = Full()
    box = WithBuiltins(inner)
    assert box.relay_to_hosts is True and box.offers_resources is True
    assert box.unavailable() == {"down": "refused"} and box.resource_servers() == ["s"]
    assert set(box.specs()) == {"s.echo", SEARCH_TOOL}
    assert box.specs().unavailable == {"down": "refused"}  # the inner catalog's servers that are down
    heard: list[Any] = []
    spec = box.specs()["s.echo"]
    assert await box.call_with_progress(spec, {"x": 1}, lambda *a: heard.append(a)) == ("progress", {"x": 1})
    assert heard == [(1.0, 2.0, "half")]
    assert await box.call(spec, {"x": 1}) == ("call", {"x": 1})
    await box.settle(["s.echo", SEARCH_TOOL])
    await box.settle([SEARCH_TOOL])  # only built-ins: nothing to wait for
    assert inner.asked == [("settle", ["s.echo"])]
    assert await box.list_resources("s", "c") == ("resources", "s", "c")
    assert await box.list_resource_templates("s") == ("templates", "s", None)
    assert await box.read_resource("s", "x://y") == ("read", "s", "x://y")


async def test_with_builtins_over_a_plain_object_has_the_defaults() -> None:
    box = WithBuiltins(Plain())
    assert box.relay_to_hosts is False and box.offers_resources is False and box.unavailable() == {}
    with pytest.raises(ToolError, match=NO_RESOURCES):
        await box.read_resource("s", "x://y")
    result = await box.call(box.specs()[SEARCH_TOOL], {"query": "echo"})
    assert [t["name"] for t in result["tools"]] == ["echo"]


def test_unknown_tool_is_a_plan_error_and_still_a_lookup_error() -> None:
    with pytest.raises(UnknownTool) as caught:
        Catalog().resolve("nope")
    assert isinstance(caught.value, PlanError) and isinstance(caught.value, CompilerError)
    assert isinstance(caught.value, LookupError)
    assert caught.value.name == "nope" and str(caught.value).startswith("unknown tool 'nope'")
