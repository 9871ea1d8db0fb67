"""Finding a server's tools and hearing when they change: every page of `tools/list`, and the
2026-07-28 era's `subscriptions/listen` stream (handshake-era servers send
`notifications/tools/list_changed` instead, which the session's message handler hears). The same
stream carries the server's prompt and resource list changes, handed on as `UpstreamEvent`s."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client
from mcp.server.caching import CacheHint
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged

__all__ = ["UpstreamEvent", "cache_hint_of", "combine_cache_hints", "list_all_tools", "listen_for_changes"]

UpstreamEvent = PromptsListChanged | ResourcesListChanged | ResourceUpdated
"""A change a server announces beyond its tools, passed on to the hosts (`server/passthrough.py`)."""

logger = logging.getLogger(__name__)

_MAX_PAGES = 100  # a server whose cursor never ends must not hang us


def cache_hint_of(result: types.CacheableResult) -> CacheHint | None:
    """The `ttlMs`/`cacheScope` a list result came with, or None when the server sent neither
    (a handshake-era server; the SDK's defaults are not the server's word). A missing one of the
    two takes the SDK's default (0 ms, private), the most restrictive."""
    if not {"ttl_ms", "cache_scope"} & result.model_fields_set:
        return None
    return CacheHint(ttl_ms=result.ttl_ms, scope=result.cache_scope)


def combine_cache_hints(hints: Iterable[CacheHint | None]) -> CacheHint:
    """The caching hint a list made of several servers' lists may carry: what the most
    restrictive of them allows, the smallest ttl and "public" only when every one is public.
    A server that gave no hint (None) allows no caching, and neither does a list of nobody's:
    the result is then 0 ms, private, which is also what a result without hints means."""
    combined: CacheHint | None = None
    for hint in hints:
        if hint is None:
            return CacheHint()
        if combined is None:
            combined = hint
        else:
            combined = CacheHint(
                ttl_ms=min(combined.ttl_ms, hint.ttl_ms),
                scope="public" if combined.scope == hint.scope == "public" else "private",
            )
    return combined if combined is not None else CacheHint()


async def list_all_tools(client: Client) -> tuple[list[types.Tool], CacheHint | None]:
    """Every page of the server's tools, and the caching hint of the whole (the most restrictive
    of its pages'; None when a page came without one)."""
    tools: list[types.Tool] = []
    hints: list[CacheHint | None] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        hints.append(cache_hint_of(page))
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools, (None if None in hints else combine_cache_hints(hints))


async def listen_for_changes(
    client: Client,
    server: str,
    ack_timeout_s: float,
    on_change: Callable[[], None],
    redact: Callable[[str], str],
    on_event: Callable[[UpstreamEvent], None] | None = None,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Call `on_change` for each tools/list_changed event of a 2026-07-28 server's subscription,
    and `on_event` for each prompts or resources list change.

    Reports started once the server acknowledged the subscription (or refused it, or did not
    answer within `ack_timeout_s`), so the caller can hold calls back until changes will be heard.
    """
    started = False
    # The deadline bounds the wait for the server's ack only; the scope must enclose the
    # subscription's own task group, hence a scope around it rather than `fail_after`.
    with anyio.CancelScope(deadline=anyio.current_time() + ack_timeout_s) as scope:
        try:
            async with client.listen(
                tools_list_changed=True, prompts_list_changed=on_event is not None,
                resources_list_changed=on_event is not None,
            ) as subscription:
                scope.deadline = math.inf
                task_status.started()
                started = True
                async for event in subscription:
                    if isinstance(event, ToolsListChanged):
                        on_change()
                    elif on_event is not None:
                        on_event(event)
        except Exception as exc:  # noqa: BLE001 - a server without subscriptions never refreshes
            logger.debug("upstream %r: no tools/list_changed subscription (%s)", server, redact(str(exc)))
    if scope.cancelled_caught:
        logger.debug("upstream %r: tools/list_changed subscription was not acknowledged", server)
    if not started:
        task_status.started()
