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

Also printed: the tool definitions the host holds (name, description, input schema: once per
conversation, whatever the question), and the planner's system prompt at 10, 100 and 1,000 tools
with every tool listed and with retrieval (`benchmarks.toolsearch.prompt_tokens`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from benchmarks import ROOT
from mcp_compiler.tokens import count_tokens

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


async def _ready(compiler: Client) -> list[Any]:
    """compile_and_run's tool list once every bundled server is connected (serve connects them in
    the background), within READY_TIMEOUT_S."""
    with anyio.fail_after(READY_TIMEOUT_S):
        while True:
            tools = (await compiler.list_tools()).tools
            if "Not connected" not in (tools[0].description or "") and all(
                    f"{s}." in (tools[0].description or "") for s in SERVERS):
                return tools
            await anyio.sleep(0.2)


async def _via_compiler(compiler: Client, plan: str) -> tuple[str, Tally]:
    tally = Tally()
    result = await compiler.call_tool("compile_and_run", {"plan": plan})
    if result.is_error:
        raise RuntimeError(f"compile_and_run failed for\n{plan}\n{result_text(result)}")
    tally.add_turn([call_json("compile_and_run", {"plan": plan})], [result])
    return result_text(result), tally


async def measure(tasks: tuple[Task, ...] = TASKS) -> tuple[list[Row], dict[str, int]]:
    """Every task in the three strategies, and the tool definitions each host holds; raises when a
    task's answers disagree."""
    serve = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve"], cwd=str(ROOT))
    rows = []
    async with (Client(_server("mcp_compiler.servers.wiki")) as wiki,
                Client(_server("mcp_compiler.servers.math")) as math_,
                Client(serve) as compiler):
        clients = {"wiki": wiki, "math": math_}
        listed = [tool for c in clients.values() for tool in (await c.list_tools()).tools]
        definitions = {"tools": len(listed), "a": definitions_tokens(listed),
                       "b": definitions_tokens(await _ready(compiler))}
        for task in tasks:
            host = DirectHost(clients)
            answers = {"a": await task.host(host)}
            projected, tally_b = await _via_compiler(compiler, task.plan)
            full, tally_c = await _via_compiler(compiler, without_projection(task.plan))
            answers["b"], answers["c"] = task.read_projected(projected), task.read_full(full)
            if len({repr(a) for a in answers.values()}) != 1:
                raise AssertionError(f"{task.name}: the strategies disagree: {answers}")
            rows.append(Row(task.name, host.calls, answers, {"a": host.tally, "b": tally_b, "c": tally_c}))
    return rows, definitions


# ---- the report ---------------------------------------------------------------------------------


def catalog_definitions() -> dict[str, int]:
    """The tool definitions a host holds for the generated 1,000-tool catalog: every tool listed
    (a), or compile_and_run alone, whose description lists what fits and says how to search (b)."""
    from benchmarks.toolsearch import CATALOG, _Fixed, specs
    from mcp_compiler.builtins import WithBuiltins
    from mcp_compiler.server.schemas import INPUT_SCHEMA, TOOL_NAME, tool_description

    every = [{**t, "name": f"{server}__{t['name']}"} for server, tools in CATALOG.items() for t in tools]
    listed = _json([{k: t[k] for k in ("name", "description", "inputSchema")} for t in every])
    description = tool_description(WithBuiltins(_Fixed(specs())).specs())
    ours = _json([{"name": TOOL_NAME, "description": description, "inputSchema": INPUT_SCHEMA}])
    return {"tools": len(every), "a": count_tokens(listed), "b": count_tokens(ours)}


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


def definitions_table(bundled: dict[str, int], catalog: dict[str, int]) -> str:
    return "\n".join([
        "| tools behind the host | (a) every tool listed to the host | (b), (c) compile_and_run alone |",
        "|---|---:|---:|",
        f"| the bundled wiki + math ({bundled['tools']}) | {bundled['a']:,} | {bundled['b']:,} |",
        f"| the generated catalog ({catalog['tools']:,}) | {catalog['a']:,} | {catalog['b']:,} |",
    ])


def prompt_table() -> str:
    from benchmarks.toolsearch import prompt_tokens

    lines = ["| tools | every tool listed | retrieved (budget) |", "|---:|---:|---:|"]
    for row in prompt_tokens():
        lines.append(f"| {row['tools']:,} | {row['all_listed']:,} | {row['retrieved']:,} ({row['budget']:,}) |")
    return "\n".join(lines)


def main() -> None:
    rows, bundled = anyio.run(measure)
    print("Tokens reaching the host model per question (text content, and the calls it emits):\n")
    print(tasks_table(rows))
    print("\nAnswers (equal in the three strategies): " + "; ".join(f"{r.task}: {r.answers['a']}" for r in rows))
    print("\nTool definitions in the host's context (once per conversation):\n")
    print(definitions_table(bundled, catalog_definitions()))
    print("\nThe planner's system prompt (benchmarks/toolsearch.py's catalog):\n")
    print(prompt_table())


if __name__ == "__main__":
    main()
