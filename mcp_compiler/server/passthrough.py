"""What the servers behind offer beside tools and resources, passed through to the hosts
([server.md](../../docs/server.md#what-passes-through)):

- **Prompts**: `prompts/list` gathers every connected server's prompts, each named
  `server.prompt` (its title says which server it is from), one upstream page per page of ours;
  `prompts/get` of `server.prompt` is proxied to that server, the resource URIs in its messages
  namespaced as `resources/read` takes them (`server/resources.py`).
- **Completions**: `completion/complete` for a prompt `server.prompt`, or for a resource template
  by its namespaced URI template, is proxied to that server.
- **Subscriptions**: `resources/subscribe` / `unsubscribe` of a namespaced URI hold one
  subscription upstream (counted across hosts); the upstream's `notifications/resources/updated`
  goes to each handshake-era connection subscribed, as the namespaced URI. A 2026-07-28
  `subscriptions/listen` stream naming namespaced URIs holds the same subscriptions for as long as
  it is open. A handshake-era connection's subscriptions end when the connection does.
- **List changes**: an upstream's `prompts/list_changed` and `resources/list_changed` are told to
  every host, in both eras (handshake-era notifications, 2026-07-28 listen events).
- **Instructions**: every connected server's `instructions`, each under its server's name, after
  ours in `initialize` / `server/discover`, at most `MAX_INSTRUCTIONS_CHARS` per server and
  `MAX_ALL_INSTRUCTIONS_CHARS` in all (a longer text is cut, and says so).

What an upstream sends is not trusted: its texts are scrubbed, and a request goes to the server
a name or URI says, never elsewhere.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.subscriptions import (
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    SubscriptionBus,
)
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..errors import ToolError
from ..text import scrub
from ..upstreams.discovery import UpstreamEvent, cache_hint_of, combine_cache_hints
from ..upstreams.pool import UpstreamPool
from ..upstreams.relay import HostChannel
from ._common import declares
from .host import SessionHost, connection_key, has_standalone_channel
from .resources import namespaced, upstream_of

__all__ = ["MAX_ALL_INSTRUCTIONS_CHARS", "MAX_INSTRUCTIONS_CHARS", "Passthrough"]

logger = logging.getLogger(__name__)

MAX_INSTRUCTIONS_CHARS = 4_000  # one server's instructions, as the host gets them
MAX_ALL_INSTRUCTIONS_CHARS = 16_000  # every server's together
_INSTRUCTIONS_WAIT_S = 5.0  # how long `initialize` waits for servers still starting, for their instructions
_LIST_WAIT_S = 5.0  # how long a first page of prompts waits for servers still starting (as tools/list)
_MAX_COMPLETIONS = 100  # the spec's cap on completion values in one result
_MAX_CONNECTIONS = 1024

Notify = Callable[[types.ServerNotification], Awaitable[None]]


def _cursor(prefix: str, upstream: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([prefix, upstream]).encode()).decode()


def _uncursor(cursor: str) -> tuple[str, str | None]:
    try:
        prefix, upstream = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(prefix, str) and (upstream is None or isinstance(upstream, str)):
            return prefix, upstream
    except (ValueError, TypeError):
        pass
    raise MCPError(code=types.INVALID_PARAMS, message="invalid cursor: pass back the nextCursor of the last page")


def _invalid(message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=scrub(message))


def _owner(name: str, servers: list[str], what: str) -> tuple[str, str]:
    """(prefix, the server's own name) for `server.name`; INVALID_PARAMS naming the choices if none."""
    prefix, dot, own = name.partition(".")
    if not dot or not own or prefix not in servers:
        known = ", ".join(servers) or "none connected"
        raise _invalid(f"unknown {what} {name!r}: {what}s are named server.{what} (servers with {what}s: {known})")
    return prefix, own


class _Connection:
    """A handshake-era connection, as this module tells it things outside any request."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.subscriptions: set[tuple[str, str]] = set()  # (prefix, upstream URI)


class Passthrough:
    """Prompts, completions, subscriptions, list changes and instructions of the pool's servers."""

    def __init__(self, pool: UpstreamPool | None, bus: SubscriptionBus) -> None:
        self.pool = pool
        self.bus = bus
        self._connections: dict[Hashable, _Connection] = {}
        self._joined: anyio.Event | None = None  # set when a connection is first seen (made when waited on)
        if pool is not None:
            pool.on_upstream_event.append(self.upstream_event)
            pool.answer_roots_at_rest(self.hosts_at_rest)

    def install(self, server: Server[Any]) -> None:
        """Serve all of it on `server`: the handlers, and a middleware that remembers handshake-era
        connections and adds the upstreams' instructions to `initialize` / `server/discover`."""
        server.add_request_handler("prompts/list", types.PaginatedRequestParams, self.list_prompts)
        server.add_request_handler("prompts/get", types.GetPromptRequestParams, self.get_prompt)
        server.add_request_handler("completion/complete", types.CompleteRequestParams, self.complete)
        server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, self.subscribe)
        server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, self.unsubscribe)
        # Registered here rather than as `on_roots_list_changed`, which warns that roots are deprecated.
        server.add_notification_handler("notifications/roots/list_changed", types.NotificationParams, self.roots_changed)

        async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.method != "initialize":
                self.remember(ctx)
            result = await call_next(ctx)
            if ctx.method in ("initialize", "server/discover") and isinstance(result, dict):
                # The result as the SDK built it (a dict by now). Either is a host's first request:
                # it waits a little for servers still making their first connection attempt.
                merged = await self.instructions(server.instructions, wait=True)
                if merged:
                    result = {**result, "instructions": merged}
            return result

        server.middleware.append(middleware)

    # ---- prompts ----------------------------------------------------------------------------

    def _prompt_servers(self) -> list[str]:
        return self.pool.prompt_servers() if self.pool is not None else []

    async def list_prompts(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        cursor = params.cursor if params is not None else None
        if self.pool is None:
            return types.ListPromptsResult(prompts=[])
        if cursor is None:  # as tools/list: servers still making their first connection get a few seconds
            with anyio.move_on_after(_LIST_WAIT_S):
                await self.pool.settle(None)
        servers = self._prompt_servers()
        if cursor is not None:
            prefix, upstream_cursor = _uncursor(cursor)
        elif servers:
            prefix, upstream_cursor = servers[0], None
        else:
            return types.ListPromptsResult(prompts=[])
        hints: list[CacheHint | None] = []  # each upstream page's: the reply carries the most restrictive
        while True:
            try:
                page = await self.pool.list_prompts(prefix, upstream_cursor)
                prompts, upstream_next = [_prompt(prefix, p) for p in page.prompts], page.next_cursor
                hints.append(cache_hint_of(page))
            except ToolError as exc:  # one server's failure leaves the others' pages
                logger.warning("listing the prompts of %r failed: %s", prefix, exc)
                prompts, upstream_next = [], None
                hints.append(None)
            hint = combine_cache_hints(hints)
            if upstream_next is not None:
                return types.ListPromptsResult(
                    prompts=prompts, next_cursor=_cursor(prefix, upstream_next), ttl_ms=hint.ttl_ms, cache_scope=hint.scope
                )
            following = servers[servers.index(prefix) + 1:] if prefix in servers else []
            if prompts or not following:  # an empty page is skipped, unless it is the last
                return types.ListPromptsResult(
                    prompts=prompts, next_cursor=_cursor(following[0], None) if following else None,
                    ttl_ms=hint.ttl_ms, cache_scope=hint.scope,
                )
            prefix, upstream_cursor = following[0], None

    async def get_prompt(
        self, ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        if self.pool is None:
            raise _invalid(f"unknown prompt {params.name!r}: no servers behind this one")
        prefix, name = _owner(params.name, self._prompt_servers(), "prompt")
        try:
            result = await self.pool.get_prompt(prefix, name, params.arguments)
        except ToolError as exc:
            raise _invalid(str(exc)) from None
        dumped = scrub(result.model_dump(by_alias=True, mode="json", exclude_none=True))
        for message in dumped.get("messages", []):
            if isinstance(message, dict) and isinstance(message.get("content"), dict):
                message["content"] = _namespaced_content(message["content"], prefix)
        return types.GetPromptResult.model_validate(dumped)

    # ---- completions --------------------------------------------------------------------------

    async def complete(self, ctx: ServerRequestContext[Any], params: types.CompleteRequestParams) -> types.CompleteResult:
        if self.pool is None:
            raise _invalid("nothing to complete: no servers behind this one")
        servers = self.pool.completion_servers()
        ref = params.ref
        upstream_ref: types.PromptReference | types.ResourceTemplateReference
        if isinstance(ref, types.PromptReference):
            prefix, name = _owner(ref.name, servers, "prompt")
            upstream_ref = types.PromptReference(type="ref/prompt", name=name)
        else:
            owner = upstream_of(ref.uri)
            if owner is None or owner[0] not in servers:
                raise _invalid(f"no server behind this one completes the template {ref.uri!r}")
            prefix, template = owner
            upstream_ref = types.ResourceTemplateReference(type="ref/resource", uri=template)
        context = params.context.arguments if params.context is not None else None
        argument = {"name": params.argument.name, "value": params.argument.value}
        try:
            result = await self.pool.complete(prefix, upstream_ref, argument, context)
        except ToolError as exc:
            raise _invalid(str(exc)) from None
        values = [scrub(v) for v in result.completion.values[:_MAX_COMPLETIONS]]
        return types.CompleteResult(completion=types.Completion(
            values=values, total=result.completion.total, has_more=result.completion.has_more,
        ))

    # ---- subscriptions ------------------------------------------------------------------------

    async def _subscribable(self, uri: str) -> tuple[str, str]:
        owner = upstream_of(uri)
        if self.pool is not None and owner is not None and owner[0] not in self.pool.subscription_servers():
            with anyio.move_on_after(_LIST_WAIT_S):  # it may be still making its first connection
                await self.pool.settle(None)
        servers = self.pool.subscription_servers() if self.pool is not None else []
        if owner is None or owner[0] not in servers:
            raise _invalid(
                f"cannot subscribe to {uri!r}: only the resources of servers behind this one that take "
                f"subscriptions can be (servers that do: {', '.join(servers) or 'none connected'})"
            )
        return owner

    async def subscribe(self, ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams) -> types.EmptyResult:
        prefix, uri = await self._subscribable(str(params.uri))
        key = connection_key(ctx)
        if isinstance(key, tuple) and key[0] == "request":
            raise _invalid(
                "resources/subscribe needs a session to send updates on, and this connection has none "
                "(stateless HTTP): use subscriptions/listen (2026-07-28), or a stateful HTTP session"
            )
        connection = self._connection(ctx)
        if (prefix, uri) in connection.subscriptions:
            return types.EmptyResult()
        assert self.pool is not None
        try:
            await self.pool.subscribe(prefix, uri)
        except ToolError as exc:
            raise _invalid(str(exc)) from None
        connection.subscriptions.add((prefix, uri))
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        owner = upstream_of(str(params.uri))
        connection = self._connections.get(connection_key(ctx))
        if owner is not None and connection is not None and owner in connection.subscriptions:
            connection.subscriptions.discard(owner)
            if self.pool is not None:
                await self.pool.unsubscribe(*owner)
        return types.EmptyResult()

    def listen(self, handler: ListenHandler) -> Callable[..., Awaitable[types.SubscriptionsListenResult]]:
        """`subscriptions/listen` (2026-07-28): the stream's namespaced URIs held upstream while it is open."""

        async def listen(
            ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
        ) -> types.SubscriptionsListenResult:
            held: list[tuple[str, str]] = []
            try:
                for uri in params.notifications.resource_subscriptions or ():
                    prefix, upstream = await self._subscribable(uri)
                    assert self.pool is not None
                    try:
                        await self.pool.subscribe(prefix, upstream)
                    except ToolError as exc:
                        raise _invalid(str(exc)) from None
                    held.append((prefix, upstream))
                return await handler(ctx, params)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    for prefix, upstream in held:
                        await self.pool.unsubscribe(prefix, upstream) if self.pool is not None else None

        return listen

    def _connection(self, ctx: ServerRequestContext[Any]) -> _Connection:
        key = connection_key(ctx)
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connections[key] = _Connection(ctx.session)
            # The connection's own exit stack (the SDK's per-connection cleanup) ends its
            # subscriptions when it goes: stdio's end, an HTTP session closed or expired.
            stack = getattr(getattr(ctx.session, "_connection", None), "exit_stack", None)
            if stack is not None:
                stack.push_async_callback(self._forget, key)
            if self._joined is not None:  # a roots/list at rest waiting for a host (`hosts_at_rest`)
                self._joined.set()
                self._joined = None
            # Beyond the most recent `_MAX_CONNECTIONS`, connections holding no subscription are
            # forgotten (abandoned HTTP sessions cannot pile up); ones holding some stay until they go.
            idle = [k for k, c in self._connections.items() if not c.subscriptions and k != key]
            for old in idle[:max(0, len(self._connections) - _MAX_CONNECTIONS)]:
                self._connections.pop(old)
        connection.session = ctx.session
        return connection

    async def _forget(self, key: Hashable) -> None:
        connection = self._connections.pop(key, None)
        if connection is None or self.pool is None:
            return
        for prefix, uri in connection.subscriptions:
            await self.pool.unsubscribe(prefix, uri)

    def subscriptions(self) -> int:
        """How many (connection, resource) subscriptions handshake-era hosts hold now."""
        return sum(len(c.subscriptions) for c in self._connections.values())

    # ---- what the upstreams announce ------------------------------------------------------------

    async def upstream_event(self, prefix: str, event: UpstreamEvent) -> None:
        """Fits `UpstreamPool.on_upstream_event`: told to the hosts, in both eras."""
        if isinstance(event, ResourceUpdated):
            uri = namespaced(prefix, event.uri)
            await self.bus.publish(ResourceUpdated(uri=uri))
            notification: types.ServerNotification = types.ResourceUpdatedNotification(
                params=types.ResourceUpdatedNotificationParams(uri=uri)
            )
            targets = [k for k, c in self._connections.items() if (prefix, event.uri) in c.subscriptions]
        else:
            await self.bus.publish(event)
            notification = (
                types.PromptListChangedNotification() if isinstance(event, PromptsListChanged)
                else types.ResourceListChangedNotification()
            )
            assert isinstance(event, ResourcesListChanged | PromptsListChanged)
            targets = list(self._connections)
        for key in targets:
            connection = self._connections.get(key)
            if connection is None:
                continue
            try:
                with anyio.fail_after(5):
                    await connection.session.send_notification(notification)
            except Exception as exc:  # noqa: BLE001 - a gone host must not stop the others
                logger.debug("could not tell %s of %s: %s", key, notification.method, exc)

    def remember(self, ctx: ServerRequestContext[Any]) -> None:
        """A handshake-era connection, to tell of list changes (the server's middleware calls it)."""
        key = connection_key(ctx)
        if isinstance(key, tuple) and key[0] == "request":
            return  # stateless HTTP: no standalone stream to notify on
        self._connection(ctx)

    # ---- roots at rest --------------------------------------------------------------------------

    async def hosts_at_rest(self, wait_s: float) -> list[HostChannel]:
        """Fits `HostRelay.hosts_at_rest`: the handshake-era hosts connected now that offer roots
        and can be asked outside a request; waits up to `wait_s` for a first one to connect."""
        with anyio.move_on_after(wait_s):
            while not self._connections:
                if self._joined is None:
                    self._joined = anyio.Event()
                await self._joined.wait()
        return [
            SessionHost(c.session, None, key=key, at_rest=True) for key, c in self._connections.items()
            if declares(getattr(c.session, "client_capabilities", None), "roots") and has_standalone_channel(c.session)
        ]

    async def roots_changed(self, ctx: ServerRequestContext[Any], params: types.NotificationParams) -> None:
        """A host's `notifications/roots/list_changed`, passed on to the servers behind."""
        if self.pool is not None:
            await self.pool.roots_changed()

    # ---- instructions -----------------------------------------------------------------------------

    async def instructions(self, ours: str | None, *, wait: bool) -> str | None:
        """Ours, then each connected server's under its name, within the stated caps."""
        if self.pool is None:
            return ours
        if wait:
            with anyio.move_on_after(_INSTRUCTIONS_WAIT_S):
                await self.pool.settle(None)
        parts = [ours] if ours else []
        budget = MAX_ALL_INSTRUCTIONS_CHARS
        for prefix, text in self.pool.instructions().items():
            text = scrub(text.strip())
            cap = min(MAX_INSTRUCTIONS_CHARS, budget)
            if cap <= 0:
                parts.append(f"(the instructions of {prefix} and any after it are left out: "
                             f"{MAX_ALL_INSTRUCTIONS_CHARS:,} characters in all)")
                break
            if len(text) > cap:
                text = text[:cap] + f"\n[... cut at {cap:,} of {len(text):,} characters]"
            budget -= len(text)
            parts.append(f"## The server {prefix} (its tools are {prefix}.*)\n\n{text}")
        return "\n\n".join(parts) if parts else None


def _prompt(prefix: str, prompt: types.Prompt) -> types.Prompt:
    cleaned = types.Prompt.model_validate(scrub(prompt.model_dump(by_alias=True, mode="json", exclude_none=True)))
    return cleaned.model_copy(update={
        "name": f"{prefix}.{cleaned.name}", "title": scrub(f"{prefix}: {cleaned.title or cleaned.name}"),
    })


def _namespaced_content(block: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A prompt message's content with the server's resource URIs as mcp-compiler serves them."""
    if block.get("type") == "resource_link" and isinstance(block.get("uri"), str):
        return {**block, "uri": namespaced(prefix, block["uri"])}
    resource = block.get("resource")
    if block.get("type") == "resource" and isinstance(resource, dict) and isinstance(resource.get("uri"), str):
        return {**block, "resource": {**resource, "uri": namespaced(prefix, resource["uri"])}}
    return block
