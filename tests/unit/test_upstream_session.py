"""One upstream session's call path, in process: what a server can cause is a ToolError (or
UpstreamLost), and a bug of ours is not dressed up as one (issue 20, item 8).

The session's client is a stand-in (`live_client` monkeypatched): no subprocess, no transport.
"""

from __future__ import annotations

import codecs
from typing import Any

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mcp_compiler.config import parse_config
from mcp_compiler.errors import ToolError
from mcp_compiler.upstreams import UpstreamLost
from mcp_compiler.upstreams.session import UpstreamSession
from mcp_compiler.upstreams.stdout_codec import report_undecodable_to, reporting_utf8

pytestmark = pytest.mark.anyio

CONFIG = parse_config({"mcpServers": {"srv": {"command": "unused"}}})


class StandInClient:
    """What the session asks of an `mcp.Client` on its call path, raising `raises` when called."""

    def __init__(self, raises: BaseException) -> None:
        self.raises = raises

    async def call_tool(self, name: str, arguments: dict[str, Any], **options: Any) -> types.CallToolResult:
        raise self.raises

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        raise self.raises


def session_whose_client_raises(monkeypatch: pytest.MonkeyPatch, raises: BaseException) -> UpstreamSession:
    session = UpstreamSession("srv", CONFIG.servers["srv"], CONFIG.compiler, on_change=lambda: None, redact=str)
    client = StandInClient(raises)

    async def live_client() -> Any:
        return client

    monkeypatch.setattr(session, "live_client", live_client)
    return session


def malformed_result() -> ValidationError:
    try:
        types.CallToolResult.model_validate({"content": "not a list"})
    except ValidationError as exc:
        return exc
    raise AssertionError("the result validated")


async def test_a_bug_of_ours_on_the_call_path_is_not_turned_into_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    session = session_whose_client_raises(monkeypatch, KeyError("oops"))
    with pytest.raises(KeyError, match="oops"):
        await session.call("tool", {})


async def test_a_bug_of_ours_in_a_resource_request_is_not_turned_into_a_tool_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = session_whose_client_raises(monkeypatch, KeyError("oops"))
    with pytest.raises(KeyError, match="oops"):
        await session.request("resources/read", lambda client: client.read_resource("x://y"))


@pytest.mark.parametrize(
    ("raises", "says"),
    [
        (MCPError(code=-32602, message="bad arguments"), "srv.tool: bad arguments"),
        (malformed_result(), "srv.tool: ValidationError: 1 validation error for CallToolResult"),
    ],
    ids=["error response", "result the SDK cannot parse"],
)
async def test_what_a_server_can_cause_stays_a_tool_error(
    monkeypatch: pytest.MonkeyPatch, raises: BaseException, says: str
) -> None:
    session = session_whose_client_raises(monkeypatch, raises)
    with pytest.raises(ToolError) as caught:
        await session.call("tool", {})
    assert not isinstance(caught.value, UpstreamLost)
    assert str(caught.value).startswith(says)


async def test_a_connection_that_breaks_under_a_call_is_upstream_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    session = session_whose_client_raises(monkeypatch, BrokenPipeError("pipe"))
    with pytest.raises(UpstreamLost, match="went away during the call"):
        await session.call("tool", {})


async def test_a_resource_request_the_server_refuses_is_a_tool_error_naming_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = session_whose_client_raises(monkeypatch, MCPError(code=-32002, message="no such resource"))
    with pytest.raises(ToolError, match="server 'srv': resources/read: no such resource"):
        await session.request("resources/read", lambda client: client.read_resource("x://y"))


def test_the_stdout_codec_registers_once_and_reports_undecodable_bytes() -> None:
    name = reporting_utf8()
    assert reporting_utf8() == name  # a second use registers nothing more
    reports: list[None] = []
    report_undecodable_to(lambda: reports.append(None))
    decoder = codecs.getincrementaldecoder(name)("strict")
    assert decoder.decode(b"ok \xff done", final=True) == "ok \ufffd done"
    assert reports == [None]
