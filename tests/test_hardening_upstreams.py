"""Issue 11, the boundary with the upstreams: what a misbehaving or hostile MCP server can do to us.

Each test runs real subprocesses over real pipes: tests/fixtures/fault_server.py writes raw
JSON-RPC by hand, so it can send what an SDK never would (bytes that are not UTF-8, wrong ids,
responses with neither result nor error, JSON arrays, hostile tool names and schemas).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcp_compiler.config import Config, parse_config
from mcp_compiler.schemas import pattern_search, schema_problem, validator_for

FIXTURES = Path(__file__).parent / "fixtures"
FAULT = str(FIXTURES / "fault_server.py")
TOY = str(FIXTURES / "toy_server.py")


def fault(*flags: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [FAULT, *flags], **extra}


def config(servers: dict[str, Any], **compiler: Any) -> Config:
    compiler.setdefault("connect_timeout_s", 20)
    return parse_config({"mcpServers": servers, "compiler": compiler})


# ---- schemas: patterns that cannot block, references that stay local, loops found up front ----------


REDOS = {"type": "string", "pattern": "^(a+)+$"}


def test_a_catastrophic_pattern_is_evaluated_in_linear_time() -> None:
    started = time.perf_counter()
    errors = list(validator_for(REDOS).iter_errors("a" * 28 + "!"))  # Python's re: about 13 s
    long_errors = list(validator_for(REDOS).iter_errors("a" * 1_000_000 + "!"))
    elapsed = time.perf_counter() - started
    assert [e.message for e in errors] == ["'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!' does not match '^(a+)+$'"]
    assert len(long_errors) == 1
    assert not list(validator_for(REDOS).iter_errors("a" * 28))
    assert elapsed < 1.0, f"{elapsed:.2f}s"


def test_pattern_properties_and_additional_properties_use_the_same_engine() -> None:
    schema = {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}, "additionalProperties": False}
    started = time.perf_counter()
    messages = sorted(e.message for e in validator_for(schema).iter_errors({"a" * 30 + "!": 1, "aa": "x"}))
    assert time.perf_counter() - started < 1.0
    assert messages == [
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' does not match any of the regexes: '^(a+)+$'",
        "'x' is not of type 'integer'",
    ]


def test_a_pattern_re2_cannot_run_is_left_to_the_server() -> None:
    assert pattern_search("(?=x)x", "x") is None  # look-ahead: not RE2
    assert pattern_search(r"(a)\1", "aa") is None  # back-reference
    assert not list(validator_for({"type": "string", "pattern": "(?=x)y"}).iter_errors("zzz"))
    assert pattern_search("^ab", "abc") is True and pattern_search("^b", "abc") is False


def test_references_resolve_against_the_root_and_never_over_the_network() -> None:
    root = {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}, "$defs": {"N": {"type": "integer"}}}
    assert [e.message for e in validator_for(root["properties"]["n"], root=root).iter_errors("s")] == [
        "'s' is not of type 'integer'"
    ]
    assert schema_problem({"$ref": "http://127.0.0.1:9/schema.json"}) == (
        "$ref 'http://127.0.0.1:9/schema.json' does not resolve (only references inside the schema are followed)"
    )
    # The metaschemas are known without a fetch.
    assert schema_problem({"$ref": "https://json-schema.org/draft/2020-12/schema"}) is None


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (
            {"properties": {"x": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}},
            "its $refs loop without consuming input ('#/$defs/b' -> '#/$defs/a')",
        ),
        ({"allOf": [{"$ref": "#"}]}, "its $refs loop without consuming input ('#')"),
        ({"properties": {"x": {"$ref": "#/$defs/nowhere"}}}, "$ref '#/$defs/nowhere' does not resolve (only references inside the schema are followed)"),
        ({"properties": {"x": {"type": "strng"}}}, "not a valid JSON Schema: ['properties']['x']['type']: 'strng' is not valid under any of the given schemas"),
        ({"properties": {"x": {"pattern": "(unclosed"}}}, "not a valid JSON Schema: ['properties']['x']['pattern']: '(unclosed' is not a 'regex'"),
        ([1, 2], "not a JSON Schema (an object or a boolean)"),
        # Recursion that consumes input is fine.
        ({"properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}, None),
        ({"type": "object", "properties": {"q": {"type": "string"}}}, None),
    ],
)
def test_schema_problem_names_what_makes_a_schema_unusable(schema: Any, problem: str | None) -> None:
    assert schema_problem(schema) == problem
