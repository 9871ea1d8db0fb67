"""Plan order over real MCP servers (issue 12): side effects keep plan order on their server, `after`
and the JSON form's `deps` order calls across servers, references are checked against real output
schemas before anything runs, and an empty plan is an error at every door.

The servers are real subprocesses: tests/fixtures/ordered_server.py (its calls report when they
ran, on the host's monotonic clock, which every process shares) and the reference
`@modelcontextprotocol/server-memory` (installed by tests/fixtures/install_third_party.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest

from mcp_compiler import PlanError
from mcp_compiler.compiler import Compiler
from mcp_compiler.config import Config, parse_config
from mcp_compiler.engine.run import Run
from mcp_compiler.gateway import open_gateway
from mcp_compiler.server import RUN_SCHEMA
from mcp_compiler.tools.toolbox import ToolSpec
from mcp_compiler.upstreams import UpstreamPool

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
ORDERED = str(FIXTURES / "ordered_server.py")
THIRD_PARTY = Path(os.environ.get("MCP_COMPILER_THIRD_PARTY", Path.home() / ".cache/mcp-compiler/third-party"))
MEMORY = THIRD_PARTY / "node/node_modules/.bin/mcp-server-memory"


def ordered(name: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [ORDERED, "--name", name], **extra}


def config(servers: dict[str, Any], **compiler: Any) -> Config:
    compiler.setdefault("connect_timeout_s", 30)
    return parse_config({"mcpServers": servers, "compiler": compiler})


async def run_plan(cfg: Config, plan: str, **kwargs: Any) -> Run:
    with anyio.fail_after(90):
        async with open_gateway(cfg) as gateway:
            assert all(s.connected for s in gateway.pool.status()), gateway.pool.status()
            return await gateway.compiler.run_plan(plan, **kwargs)


def stamps(run: Run) -> dict[int, dict[str, float]]:
    """Each task's start and end as its server saw them."""
    assert run.ok, [(t.id, t.status, t.error) for t in run.tasks]
    return {t.id: t.result for t in run.tasks}


def overlapping(calls: list[dict[str, float]]) -> bool:
    """Whether every call was in flight at one moment."""
    return max(c["start"] for c in calls) < min(c["end"] for c in calls)


# ---- side effects keep plan order on their server -----------------------------------------------

WRITES_AND_READS = """\
1. {s}.write(1, 0.3)
2. {s}.read(2, 0.4)
3. {s}.read(3, 0.4)
4. {s}.read(4, 0.4)
5. {s}.write(5, 0.3)
6. {s}.read(6, 0.2)
join()"""


async def test_writes_keep_plan_order_the_reads_between_them_overlap_and_ordering_free_lifts_it() -> None:
    cfg = config({"store": ordered("store"), "loose": ordered("loose", ordering="free")})
    messages: list[str] = []
    with anyio.fail_after(90):
        async with open_gateway(cfg) as gateway:
            ordered_run = await gateway.compiler.run_plan(
                WRITES_AND_READS.format(s="store"), on_event=lambda e: messages.append(e.message)
            )
            free_run = await gateway.compiler.run_plan(WRITES_AND_READS.format(s="loose"))
    at = stamps(ordered_run)
    reads = [at[2], at[3], at[4]]
    assert at[1]["end"] <= min(r["start"] for r in reads)  # the reads waited for the write before them
    assert overlapping(reads)  # and ran side by side
    assert max(r["end"] for r in reads) <= at[5]["start"]  # the next write waited for all of them
    assert at[5]["end"] <= at[6]["start"]
    # The Run records the edges beside the (empty) data edges, in the shape the MCP tool returns.
    assert [t.ordered_after for t in ordered_run.tasks] == [[], [1], [1], [1], [2, 3, 4], [5]]
    assert all(t.deps == [] and t.after == [] for t in ordered_run.tasks)
    as_dict = ordered_run.to_dict()
    jsonschema.validate(as_dict, RUN_SCHEMA)
    assert as_dict["tasks"][4]["ordered_after"] == [2, 3, 4]
    # The live view says why a task started late.
    assert "task 5 store.write started after tasks 2, 3, 4 (plan order on its server)" in messages
    assert "task 2 store.read started after task 1 (plan order on its server)" in messages
    # `ordering: free` on the server: the same six calls all at once.
    free = stamps(free_run)
    assert overlapping(list(free.values()))
    assert all(t.ordered_after == [] for t in free_run.tasks)
    assert free_run.timings["total_s"] < ordered_run.timings["total_s"]


async def test_after_and_the_json_forms_deps_order_a_call_on_another_server() -> None:
    cfg = config({"store": ordered("store"), "audit": ordered("audit")})
    text = "1. store.write(1, 0.4)\n2. audit.read(2, 0.05) after $1\n3. audit.read(3, 0.05)\njoin()"
    as_json = json.dumps({"tasks": [
        {"id": 1, "tool": "store.write", "args": {"n": 1, "seconds": 0.4}},
        {"id": 2, "tool": "audit.read", "args": {"n": 2, "seconds": 0.05}, "deps": [1]},
        {"id": 3, "tool": "audit.read", "args": {"n": 3, "seconds": 0.05}},
    ]})
    with anyio.fail_after(90):
        async with open_gateway(cfg) as gateway:
            runs = [await gateway.compiler.run_plan(plan) for plan in (text, as_json)]
    for run in runs:
        at = stamps(run)
        assert at[2]["start"] >= at[1]["end"]  # waited for a call on another server
        assert at[3]["start"] < at[1]["end"]  # the same call without `after` did not wait
        second = run.task(2)
        assert (second.deps, second.after, second.ordered_after) == ([], [1], [])
        assert second.args == {"n": 2, "seconds": 0.05}  # no value of task 1 was passed
        jsonschema.validate(run.to_dict(), RUN_SCHEMA)


def test_the_config_switch_maps_to_the_servers_limits() -> None:
    from mcp_compiler.config import ConfigError
    from mcp_compiler.engine.policy import Limits, ServerLimits
    from mcp_compiler.gateway import limits_from

    limits = limits_from(config({"store": ordered("store", ordering="free"), "audit": ordered("audit"),
                                 "strict": ordered("strict", ordering="plan")}))
    assert limits.servers == {"store": ServerLimits(ordering="free", setting="mcpServers.store"),
                              "strict": ServerLimits(ordering="plan", setting="mcpServers.strict")}
    assert limits.ordering == Limits().ordering == "plan"  # servers without their own
    with pytest.raises(ConfigError, match=r"mcpServers\.store\.ordering: .*'plan' or 'free'"):
        config({"store": ordered("store", ordering="sometimes")})


# ---- the reference knowledge-graph server -------------------------------------------------------


@pytest.fixture(scope="module")
def memory_server() -> Path:
    """server-memory from the cache tests/fixtures/install_third_party.sh fills (run here when it is
    missing). When that cannot work (offline) the test fails and says so; `-m "not network"` leaves
    it out."""
    if not MEMORY.exists():
        done = subprocess.run(["bash", str(FIXTURES / "install_third_party.sh"), str(THIRD_PARTY)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not MEMORY.exists():
            pytest.fail(
                f"@modelcontextprotocol/server-memory is not in {THIRD_PARTY} and installing it failed: run "
                "`bash tests/fixtures/install_third_party.sh` (it downloads it from npm), or leave the network "
                f"tests out with -m \"not network\".\n{done.stderr[-500:]}"
            )
    return MEMORY


def memory(server: Path, tmp_path: Path) -> dict[str, Any]:
    return {"command": str(server), "env": {"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}}


ADA = '{"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]}'


@pytest.mark.network
async def test_memory_create_then_read_returns_the_entity(memory_server: Path, tmp_path: Path) -> None:
    run = await run_plan(config({"memory": memory(memory_server, tmp_path)}),
                         f"1. memory.create_entities(entities=[{ADA}])\n2. memory.read_graph()\njoin()")
    assert run.ok, [(t.id, t.error) for t in run.tasks]
    graph = run.task(2).result
    assert [(e["name"], e["observations"]) for e in graph["entities"]] == [("Ada Lovelace", ["wrote the first program"])]
    create, read = run.task(1), run.task(2)
    assert (read.deps, read.after, read.ordered_after) == ([], [], [1])
    assert read.start_s >= create.end_s
    # Nothing uses either value, so the answer holds both.
    assert "$1 memory.create_entities" in run.answer and "$2 memory.read_graph" in run.answer


@pytest.mark.network
async def test_a_bad_reference_into_a_third_party_result_runs_nothing(memory_server: Path, tmp_path: Path) -> None:
    plan = (f"1. memory.create_entities(entities=[{ADA}])\n2. memory.read_graph()\n"
            "3. memory.open_nodes(names=[$2.entities[0].nam])\njoin()")
    with pytest.raises(PlanError) as caught:
        await run_plan(config({"memory": memory(memory_server, tmp_path)}), plan)
    assert caught.value.line == 3 and caught.value.column == 1
    assert "$2.entities[0].nam: $2.entities[0] has no field 'nam' (did you mean name?)" in str(caught.value)
    assert not (tmp_path / "memory.jsonl").exists()  # the write before the bad task never reached the server


# ---- references against the bundled wiki's output schemas, with a call counter --------------------


class Counting:
    """A toolbox that counts the calls it passes on."""

    def __init__(self, inner: UpstreamPool) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def specs(self) -> Any:
        return self.inner.specs()

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        self.calls.append(spec.name)
        return await self.inner.call(spec, arguments)


async def test_wiki_references_are_checked_against_its_output_schema_before_any_call() -> None:
    cfg = config({"wiki": {"command": sys.executable, "args": ["-m", "mcp_compiler.servers.wiki"]}})
    bad = {
        'wiki.search("$1.valu")': "$1.valu: task 1 (wiki.fact) has no field 'valu' (did you mean value?); "
                                  "its fields: name, key, value, unit (wiki.fact's output schema)",
        'wiki.search("$1.value[0]")': "$1.value[0]: $1.value is an integer or a number or a string",
        'wiki.compare($1.value, "length_km")': "argument names: $1.value is an integer or a number or a string "
                                               "(wiki.fact's output schema), but wiki.compare takes a list for names",
        'wiki.fact($1, "length_km")': "argument name: $1 is an object (wiki.fact's output schema), but wiki.fact "
                                      "takes a string for name (did you mean $1.name or $1.key or $1.value?)",
    }
    with anyio.fail_after(90):
        async with UpstreamPool(cfg) as pool:
            box = Counting(pool)
            compiler = Compiler(box)
            for call, message in bad.items():
                with pytest.raises(PlanError) as caught:
                    await compiler.run_plan(f'1. wiki.fact("Nile", "length_km")\n2. {call}\njoin()')
                assert message in str(caught.value), str(caught.value)
                assert (caught.value.line, caught.value.column) == (2, 1)
            assert box.calls == []  # not one call reached the server
            good = await compiler.run_plan('1. wiki.fact("Nile", "length_km")\n2. wiki.search("$1.value km")\njoin()')
    assert good.ok and box.calls == ["wiki.fact", "wiki.search"]  # the counter does count
    assert good.task(2).args["query"] == f"{good.task(1).result['value']} km"


# ---- an empty plan at every door ----------------------------------------------------------------


async def test_an_empty_plan_is_a_tool_error_in_the_server() -> None:
    from mcp import Client

    from mcp_compiler.server import TOOL_NAME, CompilerServer
    from mcp_compiler.tools.toolbox import FunctionToolbox

    async def echo(x: Any) -> Any:
        return x

    async with Client(CompilerServer(FunctionToolbox({"echo": echo})).server) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(TOOL_NAME, {"plan": "Thought: nothing to do\njoin()"})
            fine = await client.call_tool(TOOL_NAME, {"plan": "1. echo(1)"})
    assert result.is_error
    assert "the plan has no tasks" in " ".join(getattr(block, "text", "") for block in result.content)
    assert not fine.is_error


def test_an_empty_plan_exits_2_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    path.write_text(json.dumps({"mcpServers": {"store": ordered("store")}}))
    done = subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "run", "--config", str(path), "--plan", "Thought: x\njoin()"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "the plan has no tasks" in done.stderr
    assert done.stdout == ""
