"""The caching hint a list made of several servers' lists may carry (`combine_cache_hints`), and
reading the hint a server's list result came with (`cache_hint_of`)."""

from __future__ import annotations

import mcp_types as types
from mcp.server.caching import CacheHint

from mcp_compiler.upstreams.discovery import cache_hint_of, combine_cache_hints


def test_the_smallest_ttl_and_the_narrower_scope_win() -> None:
    hints = [CacheHint(60_000, "public"), CacheHint(5_000, "public"), CacheHint(30_000, "private")]
    assert combine_cache_hints(hints) == CacheHint(5_000, "private")
    assert combine_cache_hints([CacheHint(60_000, "public"), CacheHint(5_000, "public")]) == CacheHint(5_000, "public")


def test_one_hint_passes_unchanged() -> None:
    assert combine_cache_hints([CacheHint(1_234, "public")]) == CacheHint(1_234, "public")


def test_a_server_without_a_hint_allows_no_caching() -> None:
    assert combine_cache_hints([CacheHint(60_000, "public"), None]) == CacheHint(0, "private")
    assert combine_cache_hints([None, CacheHint(60_000, "public")]) == CacheHint(0, "private")


def test_nobodys_list_promises_nothing() -> None:
    assert combine_cache_hints([]) == CacheHint(0, "private")


def test_a_result_without_hints_on_the_wire_has_none() -> None:
    assert cache_hint_of(types.ListToolsResult.model_validate({"tools": []})) is None
    sent = types.ListToolsResult.model_validate({"tools": [], "ttlMs": 500, "cacheScope": "public"})
    assert cache_hint_of(sent) == CacheHint(500, "public")
    half = types.ListPromptsResult.model_validate({"prompts": [], "ttlMs": 500})
    assert cache_hint_of(half) == CacheHint(500, "private")  # the missing scope: the narrower one
