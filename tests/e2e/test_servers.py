"""The bundled downstream servers (mcp_compiler.servers.wiki / .math), through real MCP clients."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp_compiler.servers._common import LATENCY_ENV, SEED_ENV, SimulatedLatency, call_key, parse_latency_ms
from mcp_compiler.servers.math import server as math_server
from mcp_compiler.servers.wiki import server as wiki_server
from procs import free_port

pytestmark = pytest.mark.anyio


async def call(server: Any, tool: str, **args: Any) -> Any:
    """Call a tool in-process and return the whole CallToolResult."""
    async with Client(server) as client:
        return await client.call_tool(tool, args)


async def ok(server: Any, tool: str, **args: Any) -> dict[str, Any]:
    result = await call(server, tool, **args)
    assert not result.is_error, result.content
    return result.structured_content


async def error_text(server: Any, tool: str, **args: Any) -> str:
    result = await call(server, tool, **args)
    assert result.is_error, result.structured_content
    return result.content[0].text


# ---------------------------------------------------------------------------- wiki: data


def test_wiki_data_is_well_formed_and_big_enough() -> None:
    raw = resources.files("mcp_compiler.servers").joinpath("wiki.json").read_bytes()
    entries = json.loads(raw)
    assert len(entries) >= 300
    assert len(raw) < 300 * 1024
    names = [e["name"].casefold() for e in entries]
    assert len(names) == len(set(names))
    for e in entries:
        assert e["name"] and e["kind"] and len(e["summary"]) > 40
        assert any(isinstance(v, int | float) for v in e["facts"].values()), e["name"]
    kinds = {e["kind"] for e in entries}
    assert {"country", "city", "river", "mountain", "lake", "animal", "person", "planet", "building"} <= kinds


# ---------------------------------------------------------------------------- wiki: search


async def test_search_puts_the_exact_name_first() -> None:
    result = await ok(wiki_server, "search", query="Nile")
    assert result["hits"][0]["name"] == "Nile"
    assert result["hits"][0]["kind"] == "river"
    scores = [hit["score"] for hit in result["hits"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("longest river Africa", "Nile"),
        ("red planet", "Mars"),
        ("fastest land animal", "Cheetah"),
        ("Hillary Tenzing", "Mount Everest"),
        ("Puerto Rico Trench", "Puerto Rico Trench"),
    ],
)
async def test_search_ranks_by_words_in_names_and_summaries(query: str, best: str) -> None:
    result = await ok(wiki_server, "search", query=query)
    assert result["hits"][0]["name"] == best


@pytest.mark.parametrize("query", ["SAO PAULO", "são paulo", "Sao Paulo"])
async def test_search_is_case_and_accent_insensitive(query: str) -> None:
    result = await ok(wiki_server, "search", query=query, limit=1)
    assert [hit["name"] for hit in result["hits"]] == ["São Paulo"]


async def test_search_hits_carry_a_short_summary() -> None:
    hit = (await ok(wiki_server, "search", query="Nile", limit=1))["hits"][0]
    assert hit["summary"].startswith("The Nile is a river")
    assert hit["summary"].endswith(".") and hit["summary"].count(". ") == 0


async def test_search_respects_and_validates_limit() -> None:
    assert len((await ok(wiki_server, "search", query="river", limit=2))["hits"]) == 2
    assert "greater than or equal to 1" in await error_text(wiki_server, "search", query="river", limit=0)


async def test_search_rejects_an_empty_query_and_returns_nothing_for_nonsense() -> None:
    assert "query is empty" in await error_text(wiki_server, "search", query="   ")
    assert (await ok(wiki_server, "search", query="qwxzv"))["hits"] == []


# ---------------------------------------------------------------------------- wiki: lookup


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Nile", "Nile"),
        ("the nile", "Nile"),
        ("NILE", "Nile"),
        ("River Nile", "Nile"),
        ("Nile River", "Nile"),
        ("Everest", "Mount Everest"),
        ("Mt. Everest", "Mount Everest"),
        ("USA", "United States"),
        ("the Moon", "Moon"),
        ("Sao Paulo", "São Paulo"),
        ("Baikal", "Lake Baikal"),
        ("Bombay", "Mumbai"),
    ],
)
async def test_lookup_tolerates_case_articles_accents_and_aliases(name: str, canonical: str) -> None:
    entry = await ok(wiki_server, "lookup", name=name)
    assert entry["name"] == canonical


async def test_lookup_returns_the_full_entry() -> None:
    entry = await ok(wiki_server, "lookup", name="Amazon")
    assert entry["kind"] == "river"
    assert entry["facts"]["length_km"] == 6400
    assert entry["facts"]["continent"] == "South America"
    assert "Amazon" in entry["summary"]


async def test_lookup_of_an_unknown_name_names_close_matches() -> None:
    text = await error_text(wiki_server, "lookup", name="Nlie")
    assert "No entry named 'Nlie'" in text
    assert "Did you mean" in text and "Nile" in text


async def test_lookup_of_nothing_similar_points_to_search() -> None:
    text = await error_text(wiki_server, "lookup", name="Qwxzvbn")
    assert "use search" in text


# ---------------------------------------------------------------------------- wiki: facts


async def test_fact_returns_value_and_unit() -> None:
    nile = await ok(wiki_server, "fact", name="Nile", key="length_km")
    assert nile == {"name": "Nile", "key": "length_km", "value": 6650, "unit": "km"}
    everest = await ok(wiki_server, "fact", name="everest", key="height_m")
    assert everest["value"] == 8849 and everest["unit"] == "m" and everest["name"] == "Mount Everest"


async def test_fact_accepts_a_key_without_its_unit_and_text_facts() -> None:
    assert (await ok(wiki_server, "fact", name="Amazon", key="length"))["key"] == "length_km"
    assert (await ok(wiki_server, "fact", name="Japan", key="Population"))["unit"] == "people"
    capital = await ok(wiki_server, "fact", name="France", key="capital")
    assert capital["value"] == "Paris" and capital["unit"] is None


async def test_fact_with_a_missing_key_lists_the_available_keys() -> None:
    text = await error_text(wiki_server, "fact", name="Nile", key="height_m")
    assert "Nile has no fact 'height_m'" in text
    assert "length_km" in text and "discharge_m3s" in text


async def test_compare_orders_entries_by_a_numeric_fact() -> None:
    result = await ok(wiki_server, "compare", names=["Amazon", "Nile", "Thames"], key="length_km")
    assert [item["name"] for item in result["items"]] == ["Nile", "Amazon", "Thames"]
    assert result["largest"] == "Nile" and result["smallest"] == "Thames" and result["unit"] == "km"
    assert "is text" in await error_text(wiki_server, "compare", names=["France"], key="capital")


async def test_rank_lists_the_top_entries_of_a_kind() -> None:
    result = await ok(wiki_server, "rank", kind="mountains", key="height", limit=3)
    assert [item["name"] for item in result["items"]] == ["Mount Everest", "K2", "Kangchenjunga"]
    shortest = await ok(wiki_server, "rank", kind="river", key="length_km", limit=1, ascending=True)
    assert shortest["items"][0]["name"] == "Jordan River"
    assert "Unknown kind" in await error_text(wiki_server, "rank", kind="spaceship", key="length_km")


async def test_list_kinds_counts_every_entry() -> None:
    result = await ok(wiki_server, "list_kinds")
    assert result["total"] >= 300
    assert sum(kind["count"] for kind in result["kinds"]) == result["total"]
    river = next(kind for kind in result["kinds"] if kind["kind"] == "river")
    assert "length_km" in river["keys"]


async def test_nile_shortened_vs_amazon_extended_is_answerable_across_servers() -> None:
    async with Client(wiki_server) as wiki, Client(math_server) as math:
        nile = (await wiki.call_tool("fact", {"name": "Nile", "key": "length_km"})).structured_content
        amazon = (await wiki.call_tool("fact", {"name": "Amazon", "key": "length_km"})).structured_content
        result = await math.call_tool(
            "eval",
            {"expression": "nile * 0.9 > amazon * 1.05", "variables": {"nile": nile["value"], "amazon": amazon["value"]}},
        )
    assert result.structured_content["value"] is False  # 5985 km against 6720 km: the Amazon wins


# ---------------------------------------------------------------------------- both: protocol surface


@pytest.mark.parametrize("server", [wiki_server, math_server], ids=["wiki", "math"])
async def test_every_tool_has_a_title_an_output_schema_and_read_only_annotations(server: Any) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) >= 5
    for tool in tools:
        assert tool.title and tool.description
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.idempotent_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.annotations.open_world_hint is False


async def test_structured_content_and_text_content_agree() -> None:
    result = await call(wiki_server, "lookup", name="Mars")
    assert json.loads(result.content[0].text) == result.structured_content
    assert set(result.structured_content) == {"name", "kind", "summary", "aliases", "facts"}


async def test_math_tool_names_match_the_documented_interface() -> None:
    async with Client(math_server) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"eval", "sum", "stats", "percent_change", "compare"}


# ---------------------------------------------------------------------------- math: eval


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 512),  # right-associative
        ("-2 ** 2", -4),  # unary minus binds looser than **
        ("10 - 4 - 3", 3),  # left-associative
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("10 / 4", 2.5),
        ("2 * 3 + 4 * 5", 26),
        ("+5", 5),
    ],
)
async def test_eval_follows_python_operator_precedence(expression: str, value: float) -> None:
    result = await ok(math_server, "eval", expression=expression)
    assert result == {"expression": expression, "value": value}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("sqrt(16)", 4.0),
        ("abs(-3)", 3),
        ("round(2.567, 2)", 2.57),
        ("max(1, 5, 3)", 5),
        ("min([4, 2, 9])", 2),
        ("sum(1, 2, 3.5)", 6.5),
        ("mean(1, 2, 3, 4)", 2.5),
        ("log(8, 2)", 3.0),
        ("log10(1000)", 3.0),
        ("exp(0)", 1.0),
        ("floor(2.7) + ceil(2.1)", 5),
        ("factorial(5)", 120),
        ("round(sin(pi / 2), 9)", 1.0),
        ("round(cos(0) + log(e), 9)", 2.0),
        ("1 if 2 > 1 else 0", 1),
    ],
)
async def test_eval_supports_whitelisted_functions_and_constants(expression: str, value: float) -> None:
    assert (await ok(math_server, "eval", expression=expression))["value"] == pytest.approx(value)


async def test_eval_uses_variables() -> None:
    result = await ok(math_server, "eval", expression="a * 0.9 - b", variables={"a": 6650, "b": 985})
    assert result["value"] == pytest.approx(5000)
    # A variable may span several lines of an LLM-written expression.
    assert (await ok(math_server, "eval", expression="(x +\n y)", variables={"x": 1, "y": 2}))["value"] == 3


async def test_eval_comparisons_give_booleans() -> None:
    assert (await ok(math_server, "eval", expression="1 < 2 < 3"))["value"] is True
    assert (await ok(math_server, "eval", expression="3 <= 2"))["value"] is False
    assert (await ok(math_server, "eval", expression="not (1 == 1)"))["value"] is False


@pytest.mark.parametrize(
    "expression",
    [
        "().__class__",
        "().__class__.__bases__[0].__subclasses__()",
        "__import__('os').system('echo hacked')",
        "open('/etc/passwd')",
        "globals()",
        "x.real",
        "[c for c in (1, 2)]",
        "lambda: 1",
        "'a' * 3",
        "[1] * 10",
        "{'a': 1}",
        "__builtins__",
    ],
)
async def test_eval_refuses_anything_but_arithmetic(expression: str) -> None:
    text = await error_text(math_server, "eval", expression=expression, variables={"x": 1})
    assert text.startswith("Error executing tool eval: cannot evaluate")
    assert "Traceback" not in text


@pytest.mark.parametrize("expression", ["9**9**9", "10**10**10", "2**100000", "2.0**100000", "exp(10000)", "1e308 * 10"])
async def test_eval_refuses_huge_numbers_quickly(expression: str) -> None:
    start = time.perf_counter()
    text = await error_text(math_server, "eval", expression=expression)
    assert time.perf_counter() - start < 2.0
    assert "too large" in text or "not a finite number" in text


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + foo", "unknown name 'foo'"),
        ("2 + foo", "at column 5"),
        ("1 / (2 - 2)", "division by zero"),
        ("2 * (3", "syntax error"),
        ("1 +", "at the end of the expression"),
        ("2 ^ 3", "write a ** b"),
        ("sqrt(-1)", "math domain error"),
        ("nope(1)", "unknown function 'nope'"),
        ("", "expression is empty"),
        ("1 + " * 600 + "1", "too long"),
    ],
)
async def test_eval_errors_say_what_and_where(expression: str, expected: str) -> None:
    assert expected in await error_text(math_server, "eval", expression=expression)


async def test_eval_rejects_bad_variable_names() -> None:
    assert "must be an identifier" in await error_text(math_server, "eval", expression="1", variables={"__x": 1})
    assert "taken by a function" in await error_text(math_server, "eval", expression="1", variables={"sqrt": 1})


# ---------------------------------------------------------------------------- math: helpers


async def test_math_helpers() -> None:
    assert await ok(math_server, "sum", values=[1, 2, 3.5]) == {"value": 6.5, "count": 3}
    assert await ok(math_server, "stats", values=[2, 4, 9]) == {"count": 3, "sum": 15, "mean": 5, "min": 2, "max": 9}
    change = await ok(math_server, "percent_change", old=200, new=150)
    assert change["change"] == -50 and change["percent"] == -25
    assert await ok(math_server, "compare", a=3, b=4) == {"a": 3, "b": 4, "larger": "b", "difference": -1, "ratio": 0.75}
    assert (await ok(math_server, "compare", a=1, b=0))["ratio"] is None
    assert "undefined" in await error_text(math_server, "percent_change", old=0, new=5)
    assert "at least 1 item" in await error_text(math_server, "sum", values=[])


# ---------------------------------------------------------------------------- simulated latency


def test_parse_latency_ms() -> None:
    assert parse_latency_ms("250") == (250, 250)
    assert parse_latency_ms(" 100-400 ") == (100, 400)
    for bad in ["fast", "400-100", "-5", ""]:
        with pytest.raises(ValueError):
            parse_latency_ms(bad)


async def timed_lookup() -> float:
    async with Client(wiki_server) as client:
        await client.call_tool("lookup", {"name": "Nile"})  # warm up: the first call lists tools
        start = time.perf_counter()
        result = await client.call_tool("lookup", {"name": "Nile"})
        elapsed = time.perf_counter() - start
    assert not result.is_error
    return elapsed


async def test_latency_env_var_delays_every_tool_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LATENCY_ENV, raising=False)
    monkeypatch.delenv(f"{LATENCY_ENV}_WIKI", raising=False)
    assert await timed_lookup() < 0.25
    monkeypatch.setenv(LATENCY_ENV, "300-400")
    assert 0.29 <= await timed_lookup() < 5.0


async def test_per_server_latency_wins_over_the_global_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LATENCY_ENV, "5000")
    monkeypatch.setenv(f"{LATENCY_ENV}_WIKI", "0")
    assert await timed_lookup() < 0.25
    monkeypatch.setenv(f"{LATENCY_ENV}_WIKI", "300")
    assert 0.29 <= await timed_lookup() < 4.0


def test_a_seeded_delay_depends_on_the_call_not_on_what_came_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LATENCY_ENV, "100-400")
    monkeypatch.setenv(SEED_ENV, "7")
    first, second = SimulatedLatency("wiki"), SimulatedLatency("wiki")
    a, b = call_key("fact", {"name": "Nile"}), call_key("fact", {"name": "Amazon"})
    in_order = [first.delay_seconds(a), first.delay_seconds(b)]
    reversed_order = [second.delay_seconds(b), second.delay_seconds(a)]
    assert in_order == reversed_order[::-1]  # same call, same delay, in any order
    assert in_order[0] != in_order[1] and all(0.1 <= d <= 0.4 for d in in_order)
    monkeypatch.setenv(SEED_ENV, "8")
    assert SimulatedLatency("wiki").delay_seconds(a) != in_order[0]  # another seed, another draw


async def test_unparsable_latency_is_ignored_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(f"{LATENCY_ENV}_WIKI", raising=False)
    monkeypatch.setenv(LATENCY_ENV, "slow")
    assert await timed_lookup() < 0.25


# ---------------------------------------------------------------------------- real transports


async def test_wiki_over_a_stdio_subprocess_with_latency() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_compiler.servers.wiki"],
        env={f"{LATENCY_ENV}_WIKI": "200"},  # a stdio child only inherits allow-listed variables
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            start = time.perf_counter()
            result = await client.call_tool("fact", {"name": "Nile", "key": "length_km"})
            elapsed = time.perf_counter() - start
            missing = await client.call_tool("lookup", {"name": "Atlantis"})
    assert {"search", "lookup", "fact"} <= names
    assert result.structured_content == {"name": "Nile", "key": "length_km", "value": 6650, "unit": "km"}
    assert elapsed >= 0.19
    assert missing.is_error and "No entry named 'Atlantis'" in missing.content[0].text


@asynccontextmanager
async def http_server(module: str) -> AsyncIterator[str]:
    """Start ``python -m module --transport http`` on a free port; yield its /mcp URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with anyio.fail_after(60):
            while True:
                assert process.poll() is None, f"{module} exited with {process.returncode}"
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    await anyio.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_math_over_streamable_http() -> None:
    async with http_server("mcp_compiler.servers.math") as url:
        with anyio.fail_after(60):
            async with Client(url) as client:
                result = await client.call_tool("eval", {"expression": "2 ** 10 + x", "variables": {"x": 1}})
                refused = await client.call_tool("eval", {"expression": "().__class__"})
    assert result.structured_content == {"expression": "2 ** 10 + x", "value": 1025}
    assert refused.is_error and "attribute access" in refused.content[0].text
