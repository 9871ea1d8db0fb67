"""Fuzzing the MCP surface with a fixed seed: plans, arguments, upstream results, upstream schemas.

A real `mcp-compiler serve` on stdio, behind it a raw-JSON-RPC upstream that returns hostile values
on demand (tests/fixtures/fuzz_upstream.py), in front of it a real `mcp` SDK client. Every case must
come back within its bound as a result (a tool error is fine) that is neither an internal error nor
a task failed on an exception of ours (not a tool error), and the session must serve the next case.
Before the seeded cases, the budget shapes of issue 23 run once each (`BUDGET_CASES`), each reply
held under `REPLY_BOUND` bytes and well inside the call timeout.
CI runs a few hundred cases; `MCP_COMPILER_FUZZ_CASES=5000` runs long (the README's figures come
from that run).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = int(os.environ.get("MCP_COMPILER_FUZZ_CASES", "240"))
SEED = int(os.environ.get("MCP_COMPILER_FUZZ_SEED", "20261201"))

VALID = [
    '1. fuzz.emit(1)\n2. fuzz.echo($1)\njoin()',
    '1. fuzz.echo({"a": [1, 2, {"b": "c"}]})\n2. fuzz.echo("x ${1.a} y")\njoin()',
    '1. fuzz.strict("abc", 3)\njoin()',
    '{"tasks": [{"id": 1, "tool": "fuzz.echo", "args": {"value": [1, 2]}}]}',
]
PIECES = [
    '"\\ud800"', '"\\udfff"', '"a\\ud83d"', "$9", "$1.x.y[3]", "${1", "[" * 700, "9" * 5000, "{" * 50, "\x00",
    "join()", "<END_OF_PLAN>", "Thought: hm", ")", "(", ",", "=", '"', "'", "\n", "0.", "-1.", "fuzz.nope()",
    "compile_and_run()", "é", "\u202e", "\ufeff", "1e309", "NaN", "True", "None", "[1,]", "{'a': 1}",
]

# The budget shapes of issue 23, run once each before the seeded cases (so the seed's cases stay as
# they were): each reply must also stay under REPLY_BOUND and come back well inside the call timeout.
BUDGET_CASES = [
    "1. fuzz.big_error(1000000)\n" + "".join(f"{i}. fuzz.echo($1)\n" for i in range(2, 202)) + "join()",
    "1. fuzz.big_error(600000)\n2. fuzz.echo($1)\njoin()",
    "1. fuzz.deep(200)\n2. fuzz.echo($1)\njoin()",
    "1. fuzz.progress_big(1200000)\njoin()",
    "1. fuzz.items(1000, 2048)\n2. fuzz.echo($1.items[*])\njoin()",
]
REPLY_BOUND = 2**20  # what SDK HTTP hosts read in one server-sent event; the reply budget is half of it
CALL_TIMEOUT_S = 10


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        op = rng.randrange(3)
        if op == 0:
            text = text[:at] + rng.choice(PIECES) + text[at:]
        elif op == 1:
            text = text[:at] + text[at + rng.randrange(1, 8):]
        else:
            text = text[:at] + "".join(_char(rng) for _ in range(rng.randrange(1, 6))) + text[at:]
    return text


def case(rng: random.Random) -> tuple[str, dict[str, Any]]:
    kind = rng.randrange(5)
    if kind == 0:
        return "plan", {"plan": mutate(rng, rng.choice(VALID))}
    if kind == 1:  # arguments of the wrong shape
        return "arguments", rng.choice([
            {}, {"plan": 3}, {"plan": None}, {"plan": "1. fuzz.emit(1)", "query": "x"}, {"other": "x"},
            {"plan": ["1. fuzz.emit(1)"]}, {"query": ""}, {"plan": '1. fuzz.echo("\\ud800")'},
            {"plan": "x" * 2_000_000},
        ])
    if kind == 2:  # upstream results, used by a later task
        seed = rng.randrange(10_000)
        path = rng.choice(["", ".s", "[0]", ".nested[2].k", ".text"])
        return "results", {"plan": f"1. fuzz.emit({seed})\n2. fuzz.echo(${1}{path})\n3. fuzz.echo(\"v=${{1}}\")\njoin()"}
    if kind == 3:  # the upstream's schema: a pattern and a minimum
        s = "".join(rng.choice("ab(+)*$^\\z") for _ in range(rng.randrange(0, 40)))
        return "schemas", {"plan": f"1. fuzz.strict({json.dumps(s)}, {rng.randrange(-5, 5)})\njoin()"}
    # Any code point but a surrogate, which the client's own JSON encoder refuses; lone surrogates
    # reach the server as escapes inside plan text (the PIECES above) and from the upstream.
    text = "".join(_char(rng) for _ in range(rng.randrange(0, 60)))
    return "plan", {"plan": text}


def _char(rng: random.Random) -> str:
    code = rng.randrange(0, 0x10FFFF - 0x800)
    return chr(code + 0x800 if code >= 0xD800 else code)


def engine_exceptions(run: dict[str, Any] | None) -> list[str]:
    """The tasks (and a spread's calls) of a reply that failed on an exception of ours rather than a
    tool error: the engine records its type as `exception`, where a tool error has none. Such a task
    is an ordinary task error in the reply's text, so "internal error" alone would miss it."""
    found = []
    for task in (run or {}).get("tasks") or []:
        records = [(f"task {task.get('id')}", task)]
        records += [(f"task {task.get('id')} call {c.get('index')}", c) for c in task.get("calls") or []]
        for where, record in records:
            if record.get("exception"):
                found.append(f"{where} raised {record['exception']}: {str(record.get('error'))[:200]}")
    return found


def server_rss_kib(config: Path) -> int:
    """Peak RSS (VmHWM) of the `serve` process for this config, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(config) in (entry / "cmdline").read_text().replace("\0", " "):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


async def test_the_surface_survives_fuzzed_plans_arguments_results_and_schemas(tmp_path: Path) -> None:
    config = tmp_path / "fuzz-config.json"
    config.write_text(json.dumps({
        "mcpServers": {"fuzz": {"command": sys.executable, "args": [str(FIXTURES / "fuzz_upstream.py")]}},
        "compiler": {"call_timeout_s": CALL_TIMEOUT_S, "connect_timeout_s": 30, "max_value_bytes": 4 * 2**20},
    }))
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_compiler", "serve", "--config", str(config)])
    rng = random.Random(SEED)
    tally: dict[str, int] = {}
    problems: list[str] = []
    slow: list[tuple[float, str, str]] = []
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    budget_sizes: list[tuple[int, float]] = []
    async with Client(params) as client:
        for n in range(-len(BUDGET_CASES), CASES):
            family, arguments = ("budget", {"plan": BUDGET_CASES[n]}) if n < 0 else case(rng)
            tally[family] = tally.get(family, 0) + 1
            started = anyio.current_time()
            try:
                with anyio.fail_after(30):
                    result = await client.call_tool(
                        "compile_and_run", arguments, progress_callback=on_progress if n < 0 else None
                    )
                if n < 0:
                    took = anyio.current_time() - started
                    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
                    budget_sizes.append((size, took))
                    if size > REPLY_BOUND or took > CALL_TIMEOUT_S * 0.8:
                        problems.append(f"budget case {BUDGET_CASES[n][:60]!r}: {size:,} bytes in {took:.1f} s")
                slow.append((anyio.current_time() - started, family, str(arguments)[:120]))
            except TimeoutError:
                problems.append(f"case {n} ({family}) hung: {str(arguments)[:200]}")
                break
            except Exception as exc:  # noqa: BLE001 - a broken session is what we are looking for
                problems.append(f"case {n} ({family}) broke the session: {type(exc).__name__}: {exc}"[:400])
                break
            text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
            if "internal error" in text:
                problems.append(f"case {n} ({family}) internal error: {str(arguments)[:200]}")
            for bug in engine_exceptions(result.structured_content):
                problems.append(f"case {n} ({family}) {bug}: {str(arguments)[:200]}")
        peak = server_rss_kib(config)
        with anyio.fail_after(30):  # still serving
            final = await client.call_tool("compile_and_run", {"plan": '1. fuzz.echo("still here")\njoin()'})
    for took, family, text in sorted(slow, reverse=True)[:5]:
        print(f"  slowest: {took:.2f} s {family} {text}")
    print(f"\nfuzzed {sum(tally.values())} cases {tally}: {len(problems)} problems; server peak RSS {peak / 1024:.0f} MiB")
    print("budget cases (reply bytes, seconds):", [(size, round(took, 2)) for size, took in budget_sizes])
    assert problems == []
    assert len(budget_sizes) == len(BUDGET_CASES)
    big = [m for m in progress if "ppp" in m]  # the 1.2 MB progress message reached the host, cut
    assert len(big) == 1 and len(big[0].encode()) < REPLY_BOUND // 4, [len(m) for m in big]
    assert not final.is_error
