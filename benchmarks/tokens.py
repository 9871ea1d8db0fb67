"""Tokens that reach the host model: calling each tool itself vs one `compile_and_run`.

    python -m benchmarks.tokens

No LLM: the host model is simulated by counting (tokens.py's rule) what would enter its context.
Three strategies answer the same multi-step questions over the bundled `wiki` and `math` servers,
all over real MCP sessions on stdio:

- **(a) the host calls each tool itself**: an SDK `Client` per bundled server, the host's own
  logic making the calls one model turn at a time (the calls of a turn are the parallel calls a
  host model would emit together). Counted: every tool call it emits (`{"name", "arguments"}` as
  JSON) and every result it gets back.
- **(b) one `compile_and_run` with spread and projection**: `mcp-compiler serve` as a subprocess,
  one call with a plan that fans out with `$N.path[*]` and ends in `join(VALUE, ...)`. Counted:
  the call (the plan is its argument) and the reply.
- **(c) the same plan ending in a bare `join()`**: the answer is then the leaf tasks' values.

What a host model sees of a result: **its text content** (what hosts put in the model's context;
the bundled servers' text content is the JSON of their structured content, as the spec asks of a
tool with an output schema). The "+ structuredContent" figures add the result's
`structuredContent` as compact JSON, for a host that forwards it too. In every strategy the
host's final reading is done from the text content alone: the answers are computed from what the
host received, and asserted equal across the three strategies.

Also printed: the tool definitions the host holds (name, description, input schema), with the
bundled servers alone and with benchmarks/toolsearch.py's 1,000 generated tools beside them (four
stub servers, listed live over their own sessions for (a); a second `mcp-compiler serve` in front
of all six for (b), which also runs every plan and must give the same reply); everything the host
model reads per question over its turns, each turn re-reading the definitions and the turns
before; and the planner's system prompt at 10, 100 and 1,000 tools with every tool listed and with
retrieval (`benchmarks.toolsearch.prompt_tokens`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from benchmarks import ROOT
from mcp_compiler.llm.tokens import count_tokens

SERVERS = ("wiki", "math")
READY_TIMEOUT_S = 60.0


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def call_json(tool: str, arguments: dict[str, Any]) -> str:
    """A tool call as the host model emits it."""
    return _json({"name": tool, "arguments": arguments})


def result_text(result: Any) -> str:
    """The text content of a CallToolResult: what a host puts in the model's context."""
    return "\n".join(block.text for block in result.content if block.type == "text")


@dataclass
class Tally:
    """Tokens in the host's context: emitted (tool calls) and received (results), turn by turn."""

    turns: list[tuple[int, int, int]] = field(default_factory=list)  # (emitted, text, structured)

    def add_turn(self, calls: list[str], results: list[Any]) -> None:
        emitted = sum(count_tokens(c) for c in calls)
        text = sum(count_tokens(result_text(r)) for r in results)
        structured = sum(count_tokens(_json(r.structured_content)) for r in results if r.structured_content)
        self.turns.append((emitted, text, structured))

    @property
    def calls_and_text(self) -> int:
        return sum(e + t for e, t, _ in self.turns)

    @property
    def with_structured(self) -> int:
        return sum(e + t + s for e, t, s in self.turns)

    @property
    def over_turns(self) -> int:
        """Text tokens summed over the model turns that read them: a turn re-reads every earlier
        turn's calls and results (the call of turn 1 is read from turn 2 on, and the last turn,
        which writes the answer, reads everything)."""
        total = context = 0
        for emitted, text, _ in self.turns:
            context += emitted + text
            total += context
        return total


class DirectHost:
    """Strategy (a): the host with a session to each bundled server, calling tools itself."""

    def __init__(self, clients: dict[str, Client]) -> None:
        self.clients = clients
        self.tally = Tally()
        self.calls = 0

    async def turn(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
        """One model turn: these calls emitted together; their results, read as JSON from the text."""
        results = []
        for name, arguments in calls:
            server, tool = name.split(".", 1)
            result = await self.clients[server].call_tool(tool, arguments)
            if result.is_error:
                raise RuntimeError(f"{name}({arguments}) failed: {result_text(result)}")
            results.append(result)
        self.calls += len(calls)
        self.tally.add_turn([call_json(name.replace(".", "__"), args) for name, args in calls], results)
        return [json.loads(result_text(r)) for r in results]


@dataclass(frozen=True)
class Task:
    """One question, its three strategies, and how the host reads each reply into the answer."""

    name: str
    host: Callable[[DirectHost], Awaitable[Any]]  # (a): the calls and the host's own reasoning
    plan: str  # (b): ends in join(VALUE, ...); (c) is the same plan ending in join()
    read_projected: Callable[[str], Any]
    read_full: Callable[[str], Any]


# ---- the tasks ----------------------------------------------------------------------------------


def _top3(pairs: list[tuple[str, float]]) -> tuple[str, ...]:
    return tuple(name for name, _ in sorted(pairs, key=lambda p: -p[1])[:3])


def _lines(text: str) -> list[tuple[str, str]]:
    """A projected answer of `NAME: VALUE` lines as pairs."""
    return [(line.rpartition(": ")[0], line.rpartition(": ")[2]) for line in text.strip().splitlines()]


async def rivers_host(host: DirectHost) -> tuple[str, ...]:
    (found,) = await host.turn(("wiki.search", {"query": "river", "limit": 20}))
    entries = await host.turn(*[("wiki.lookup", {"name": hit["name"]}) for hit in found["hits"]])
    return _top3([(e["name"], e["facts"]["length_km"]) for e in entries])


RIVERS = Task(
    name="search 20 rivers, look each up, keep the 3 longest",
    host=rivers_host,
    plan='1. wiki.search("river", 20)\n'
         '2. wiki.lookup($1.hits[*].name)\n'
         'join("$2[*].name: $2[*].facts.length_km")',
    read_projected=lambda text: _top3([(name, float(km)) for name, km in _lines(text)]),
    read_full=lambda text: _top3([(e["name"], e["facts"]["length_km"]) for e in json.loads(text)]),
)


def _most_common(continents: list[str]) -> tuple[str, int]:
    return Counter(continents).most_common(1)[0]


async def cities_host(host: DirectHost) -> tuple[str, int]:
    (ranked,) = await host.turn(("wiki.rank", {"kind": "city", "key": "population", "limit": 10}))
    facts = await host.turn(*[("wiki.fact", {"name": i["name"], "key": "continent"}) for i in ranked["items"]])
    return _most_common([f["value"] for f in facts])


CITIES = Task(
    name="the 10 most populous cities: the continent most of them are on",
    host=cities_host,
    plan='1. wiki.rank("city", "population", 10)\n'
         '2. wiki.fact($1.items[*].name, "continent")\n'
         'join("$2[*].name: $2[*].value")',
    read_projected=lambda text: _most_common([continent for _, continent in _lines(text)]),
    read_full=lambda text: _most_common([f["value"] for f in json.loads(text)]),
)


async def mountains_host(host: DirectHost) -> float:
    (ranked,) = await host.turn(("wiki.rank", {"kind": "mountain", "key": "height_m", "limit": 8}))
    feet = await host.turn(*[("math.eval", {"expression": "h * 3.28084", "variables": {"h": i["value"]}})
                             for i in ranked["items"]])
    (stats,) = await host.turn(("math.stats", {"values": [f["value"] for f in feet]}))
    return round(stats["mean"], 6)


MOUNTAINS = Task(
    name="the 8 highest mountains: their mean height in feet",
    host=mountains_host,
    plan='1. wiki.rank("mountain", "height_m", 8)\n'
         '2. math.eval("h * 3.28084", {"h": $1.items[*].value})\n'
         '3. math.stats([' + ", ".join(f"$2[{i}].value" for i in range(8)) + '])\n'
         'join($3.mean)',
    read_projected=lambda text: round(float(text), 6),
    read_full=lambda text: round(json.loads(text)["mean"], 6),
)

TASKS = (RIVERS, CITIES, MOUNTAINS)


def without_projection(plan: str) -> str:
    """The plan with its closing `join(VALUE, ...)` replaced by a bare `join()`."""
    head, last = plan.rsplit("\n", 1)
    assert last.startswith("join("), last
    return head + "\njoin()"


# ---- measuring ----------------------------------------------------------------------------------


@dataclass
class Row:
    task: str
    calls: int
    answers: dict[str, Any]
    tallies: dict[str, Tally]


def _server(module: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", module], cwd=str(ROOT))


def definitions_tokens(tools: list[Any]) -> int:
    """The tools as a host lists them to its model: name, description and input schema each."""
    return count_tokens(_json([{"name": t.name, "description": t.description or "", "inputSchema": t.input_schema}
                               for t in tools]))


async def _ready(compiler: Client, tools: int) -> list[Any]:
    """compile_and_run's tool list once its description holds all `tools` (serve connects the
    servers in the background), within READY_TIMEOUT_S."""
    with anyio.fail_after(READY_TIMEOUT_S):
        while True:
            listed = (await compiler.list_tools()).tools
            description = listed[0].description or ""
            if f"Tools ({tools}):" in description or f"Tools: {tools} exist" in description:
                return listed
            await anyio.sleep(0.2)


async def _via_compiler(compiler: Client, plan: str) -> tuple[str, Tally]:
    tally = Tally()
    result = await compiler.call_tool("compile_and_run", {"plan": plan})
    if result.is_error:
        raise RuntimeError(f"compile_and_run failed for\n{plan}\n{result_text(result)}")
    tally.add_turn([call_json("compile_and_run", {"plan": plan})], [result])
    return result_text(result), tally


def stub_servers() -> dict[str, dict[str, Any]]:
    """benchmarks/toolsearch.py's 1,000 generated tools on four stub servers (250 tools each)."""
    from benchmarks.toolsearch import CATALOG

    services = list(CATALOG)
    return {f"stub{i}": {"command": sys.executable, "args": ["-m", "benchmarks.toolsearch", "serve", *services[i::4]],
                         "cwd": str(ROOT)} for i in range(4)}


def _params(entry: dict[str, Any]) -> StdioServerParameters:
    return StdioServerParameters(command=entry["command"], args=entry["args"], cwd=entry.get("cwd", str(ROOT)))


@dataclass
class Report:
    rows: list[Row]
    # "bundled" (wiki + math) and "catalog" (the same + 1,000 generated tools): {"tools", "a", "b"}
    definitions: dict[str, dict[str, int]]


async def measure(tasks: tuple[Task, ...] = TASKS) -> Report:
    """Every task in the three strategies, and the tool definitions each host holds, with the
    bundled servers alone and with the 1,000-tool catalog beside them (where every (b) reply is
    checked to be the same). Raises when a task's answers disagree."""
    bundled = {name: {"command": sys.executable, "args": ["-m", f"mcp_compiler.servers.{name}"]} for name in SERVERS}
    everything = {**bundled, **stub_servers()}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"mcpServers": everything, "compiler": {"connect_timeout_s": READY_TIMEOUT_S}}))
        async with AsyncExitStack() as stack:
            clients = {name: await stack.enter_async_context(Client(_params(e))) for name, e in everything.items()}
            serve = ["-m", "mcp_compiler", "serve"]
            compiler = await stack.enter_async_context(Client(_params({"command": sys.executable, "args": serve})))
            with_catalog = await stack.enter_async_context(
                Client(_params({"command": sys.executable, "args": [*serve, "--config", str(config)]})))
            listed = {name: (await c.list_tools()).tools for name, c in clients.items()}
            small = [t for name in SERVERS for t in listed[name]]
            large = [t for tools in listed.values() for t in tools]
            definitions = {
                "bundled": {"tools": len(small), "a": definitions_tokens(small),
                            "b": definitions_tokens(await _ready(compiler, len(small)))},
                "catalog": {"tools": len(large), "a": definitions_tokens(large),
                            "b": definitions_tokens(await _ready(with_catalog, len(large)))},
            }
            rows = [await _task(task, clients, compiler, with_catalog) for task in tasks]
    return Report(rows, definitions)


async def _task(task: Task, clients: dict[str, Client], compiler: Client, with_catalog: Client) -> Row:
    host = DirectHost(clients)
    answers = {"a": await task.host(host)}
    projected, tally_b = await _via_compiler(compiler, task.plan)
    full, tally_c = await _via_compiler(compiler, without_projection(task.plan))
    answers["b"], answers["c"] = task.read_projected(projected), task.read_full(full)
    if len({repr(a) for a in answers.values()}) != 1:
        raise AssertionError(f"{task.name}: the strategies disagree: {answers}")
    beside_catalog, _ = await _via_compiler(with_catalog, task.plan)
    if beside_catalog != projected:
        raise AssertionError(f"{task.name}: beside the 1,000 tools the reply differs:\n{beside_catalog}\n{projected}")
    return Row(task.name, host.calls, answers, {"a": host.tally, "b": tally_b, "c": tally_c})


# ---- the report ---------------------------------------------------------------------------------


def read_over_turns(tally: Tally, definitions: int) -> int:
    """Everything the host model reads to answer, turn by turn: each model turn reads the tool
    definitions and every earlier turn's calls and results; the last one writes the answer."""
    return (len(tally.turns) + 1) * definitions + tally.over_turns


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.1f}×" if b else "-"


def tasks_table(rows: list[Row]) -> str:
    lines = [
        "| task | calls | (a) host calls each tool | (b) compile_and_run, spread + projection "
        "| (c) same, bare join() | (a)/(b) | (c)/(b) | (a) summed over its turns "
        "| + structuredContent: (a) / (b) / (c) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        a, b, c = (row.tallies[s] for s in "abc")
        lines.append(
            f"| {row.task} | {row.calls} | {a.calls_and_text:,} | {b.calls_and_text:,} | {c.calls_and_text:,} "
            f"| {_ratio(a.calls_and_text, b.calls_and_text)} | {_ratio(c.calls_and_text, b.calls_and_text)} "
            f"| {a.over_turns:,} | {a.with_structured:,} / {b.with_structured:,} / {c.with_structured:,} |"
        )
    return "\n".join(lines)


def definitions_table(definitions: dict[str, dict[str, int]]) -> str:
    small, large = definitions["bundled"], definitions["catalog"]
    return "\n".join([
        "| tools behind the host | (a) every tool listed to the host | (b), (c) compile_and_run alone |",
        "|---|---:|---:|",
        f"| the bundled wiki + math ({small['tools']}) | {small['a']:,} | {small['b']:,} |",
        f"| the same + the generated catalog ({large['tools']:,}) | {large['a']:,} | {large['b']:,} |",
    ])


def totals_table(report: Report) -> str:
    small, large = report.definitions["bundled"], report.definitions["catalog"]
    lines = [
        "| question | model turns (a) / (b) | wiki + math: (a) / (b) "
        f"| + 1,000 tools ({large['tools']:,}): (a) / (b) |",
        "|---|---:|---:|---:|",
    ]
    for row in report.rows:
        a, b = row.tallies["a"], row.tallies["b"]
        lines.append(
            f"| {row.task} | {len(a.turns) + 1} / {len(b.turns) + 1} "
            f"| {read_over_turns(a, small['a']):,} / {read_over_turns(b, small['b']):,} "
            f"| {read_over_turns(a, large['a']):,} / {read_over_turns(b, large['b']):,} |"
        )
    return "\n".join(lines)


def prompt_table() -> str:
    from benchmarks.toolsearch import prompt_tokens

    lines = ["| tools | every tool listed | retrieved (budget) |", "|---:|---:|---:|"]
    for row in prompt_tokens():
        lines.append(f"| {row['tools']:,} | {row['all_listed']:,} | {row['retrieved']:,} ({row['budget']:,}) |")
    return "\n".join(lines)


def main() -> None:
    report = anyio.run(measure)
    rows = report.rows
    print("Tokens reaching the host model per question (text content, and the calls it emits):\n")
    print(tasks_table(rows))
    print("\nAnswers (equal in the three strategies): " + "; ".join(f"{r.task}: {r.answers['a']}" for r in rows))
    print("\nTool definitions in the host's context (once per conversation):\n")
    print(definitions_table(report.definitions))
    print("\nEverything the host model reads per question, over its turns, tool definitions included:\n")
    print(totals_table(report))
    print("\nThe planner's system prompt (benchmarks/toolsearch.py's catalog):\n")
    print(prompt_table())


if __name__ == "__main__":
    main()
