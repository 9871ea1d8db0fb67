"""When the description must cut, it keeps every server, drops no write before the reads of its
server, and says per server what it left out.

The catalog is the five reference servers' tools as they list them (names and read-only hints of
server-everything, server-memory, server-filesystem, mcp-server-time and mcp-server-git); the
measurement with the servers themselves is tests/e2e/test_description_reference_servers.py.
"""

from __future__ import annotations

import re

from mcp_compiler.request import RequestLimits
from mcp_compiler.server.tool_definition import tool_description
from mcp_compiler.tools.builtins import SEARCH_TOOL
from mcp_compiler.tools.toolbox import ToolSpec

READS, WRITES = True, False
SERVERS: dict[str, list[tuple[str, bool]]] = {
    "everything": [(n, READS) for n in (
        "echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference",
        "get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource", "toggle-simulated-logging",
        "toggle-subscriber-updates", "trigger-long-running-operation", "trigger-elicitation-request",
        "trigger-sampling-request")],
    "memory": [("create_entities", WRITES), ("create_relations", WRITES), ("add_observations", WRITES),
               ("delete_entities", WRITES), ("delete_observations", WRITES), ("delete_relations", WRITES),
               ("read_graph", READS), ("search_nodes", READS), ("open_nodes", READS)],
    "filesystem": [("read_file", READS), ("read_text_file", READS), ("read_media_file", READS),
                   ("read_multiple_files", READS), ("write_file", WRITES), ("edit_file", WRITES),
                   ("create_directory", WRITES), ("list_directory", READS), ("list_directory_with_sizes", READS),
                   ("directory_tree", READS), ("move_file", WRITES), ("search_files", READS),
                   ("get_file_info", READS), ("list_allowed_directories", READS)],
    "time": [("get_current_time", READS), ("convert_time", READS)],
    "git": [("git_status", READS), ("git_diff_unstaged", READS), ("git_diff_staged", READS), ("git_diff", READS),
            ("git_commit", WRITES), ("git_add", WRITES), ("git_reset", WRITES), ("git_log", READS),
            ("git_create_branch", WRITES), ("git_checkout", WRITES), ("git_show", READS), ("git_branch", READS)],
}


def catalog() -> dict[str, ToolSpec]:
    specs = [
        ToolSpec(f"{server}.{tool}", provider=server, read_only=read_only, description=f"The {tool} tool. " + "x" * 60,
                 input_schema={"type": "object", "properties": {"path": {"type": "string"}}})
        for server, tools in SERVERS.items() for tool, read_only in tools
    ]
    return {s.name: s for s in specs}


def listed(description: str) -> list[str]:
    return re.findall(r"^(\w+\.[\w-]+)\(", description, re.M)


def test_a_cut_keeps_every_server_and_their_writes_and_says_what_each_left_out() -> None:
    tools = catalog()
    description = tool_description(tools, limits=RequestLimits(description_max_tools=40))
    shown = listed(description)
    assert len(shown) == 40 and f"{len(tools)} exist on 5 servers" in description
    by_server = {s: [n for n in shown if n.startswith(s + ".")] for s in SERVERS}
    assert all(by_server.values()), by_server  # every server represented
    # The writes the issue found missing are there: a host model plans a write without a search.
    for write in ("filesystem.write_file", "filesystem.edit_file", "git.git_commit", "git.git_add"):
        assert write in shown, write
    # Within a server, no write was dropped while a later read of the same server was kept.
    for server, tools_of in SERVERS.items():
        writes_cut = [t for t, ro in tools_of if not ro and f"{server}.{t}" not in shown]
        reads_cut = [t for t, ro in tools_of if ro and f"{server}.{t}" not in shown]
        reads_kept = [t for t, ro in tools_of if ro and f"{server}.{t}" in shown]
        writes_kept = [t for t, ro in tools_of if not ro and f"{server}.{t}" in shown]
        if writes_cut and reads_kept:
            assert len(writes_kept) >= len(reads_kept) - 1, (server, writes_kept, reads_kept)
        if reads_cut and writes_kept:
            assert len(reads_kept) >= len(writes_kept) - 1, (server, writes_kept, reads_kept)
    # The cut told per server, with what to search.
    cut = description.split("Not listed above: ", 1)[1].split("\n", 1)[0]
    for server, tools_of in SERVERS.items():
        missing = len(tools_of) - len(by_server[server])
        if missing:
            assert f"{server}: {missing} more" in cut
    assert "search `filesystem`" not in cut  # no search tool in this catalog, so none is offered


def test_the_listed_tools_are_grouped_by_server_in_each_servers_order() -> None:
    tools = catalog()
    shown = listed(tool_description(tools, limits=RequestLimits(description_max_tools=20)))
    servers = [name.split(".")[0] for name in shown]
    assert servers == sorted(servers)  # grouped, servers in name order
    for server in SERVERS:
        mine = [n for n in shown if n.startswith(server + ".")]
        assert mine == [n for n in tools if n in mine]  # the server's own order


def test_with_the_search_tool_each_cut_says_what_to_search() -> None:
    tools = catalog()
    tools[SEARCH_TOOL] = ToolSpec(SEARCH_TOOL, provider="compiler", read_only=True)
    description = tool_description({k: v for k, v in tools.items() if k != SEARCH_TOOL}, limits=RequestLimits(description_max_tools=10))
    assert "search `" not in description.split("Not listed above: ", 1)[1]
    from mcp_compiler.tools.builtins import WithBuiltins
    from mcp_compiler.tools.toolbox import FunctionToolbox

    with_search = WithBuiltins(FunctionToolbox({})).specs()
    description = tool_description({**catalog(), **with_search}, limits=RequestLimits(description_max_tools=10))
    assert "filesystem: " in description and "more, search `filesystem`" in description
