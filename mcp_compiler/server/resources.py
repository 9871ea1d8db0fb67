"""The resources mcp-compiler serves: its catalog, the values a reply linked, and every upstream's.

- `mcp-compiler://catalog`, `mcp-compiler://catalog.json`: the tools (`server/tool_definition.py`).
- `mcp-compiler://runs/<run-id>/…`: values kept from replies (`server/store.py`); not listed.
- `mcp-compiler://servers/<prefix>/<upstream URI, percent-encoded>`: a resource of the upstream
  `prefix`. Every resource URI an upstream hands out (in `resources/list`, resource templates, a
  tool's `resource_link` and embedded resources) reaches the host in this form, and a
  `resources/read` of it is proxied to that server with the URI as the server wrote it. The
  upstream URI is percent-encoded whole (`quote(uri, safe="")`), so the form is reversible
  whatever the URI holds; in a template, the `{…}` expressions are left as they are, so the
  host fills them in (a value it percent-encodes is decoded once, as part of the upstream URI).

`resources/list` and `resources/templates/list` gather every connected server's pages: one
upstream page per page of ours (in pieces when it is larger than half a reply), the cursor (opaque
to hosts) naming the server, its cursor and how much of that page was sent.
What an upstream sends is not trusted: texts are scrubbed, and a read larger than a reply carries
(`compiler.max_reply_bytes`) is refused with an error saying so.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import anyio
import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.shared.exceptions import MCPError

from ..errors import ToolError
from ..text import scrub
from ..tools.builtins import visible
from ..tools.toolbox import Toolbox, ToolSpec, as_toolbox
from ..upstreams.discovery import cache_hint_of, combine_cache_hints
from .store import RUNS_URI, RunStore, Unreadable
from .tool_definition import CATALOG_JSON_URI, CATALOG_URI, TOOL_NAME, catalog_json, catalog_text

__all__ = ["SERVERS_URI", "Resources", "namespaced", "upstream_of", "namespaced_template"]

logger = logging.getLogger(__name__)

SERVERS_URI = "mcp-compiler://servers/"
_EXPRESSION = re.compile(r"(\{[^{}]*\})")
_OURS = "mcp-compiler://"  # our own URIs: never an upstream's
_LIST_WAIT_S = 5.0  # how long a first page waits for servers still starting (as tools/list)


def namespaced(prefix: str, uri: str) -> str:
    """The URI mcp-compiler serves an upstream's resource `uri` by."""
    return f"{SERVERS_URI}{quote(prefix, safe='')}/{quote(uri, safe='')}"


def namespaced_template(prefix: str, template: str) -> str:
    """A URI template of an upstream, namespaced: its `{…}` expressions stay for the host to fill."""
    pieces = _EXPRESSION.split(template)
    encoded = "".join(piece if _EXPRESSION.fullmatch(piece) else quote(piece, safe="") for piece in pieces)
    return f"{SERVERS_URI}{quote(prefix, safe='')}/{encoded}"


def upstream_of(uri: str) -> tuple[str, str] | None:
    """(prefix, upstream URI) for a namespaced URI; None for any other."""
    if not uri.startswith(SERVERS_URI):
        return None
    prefix, slash, rest = uri[len(SERVERS_URI):].partition("/")
    if not slash or not prefix or not rest:
        return None
    return unquote(prefix), unquote(rest)


def _cursor(prefix: str, upstream: str | None, skip: int = 0) -> str:
    """Our cursor: the server, its cursor for the page, and how many of that page were sent."""
    return base64.urlsafe_b64encode(json.dumps([prefix, upstream, skip]).encode()).decode()


def _uncursor(cursor: str) -> tuple[str, str | None, int]:
    try:
        prefix, upstream, skip = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(prefix, str) and (upstream is None or isinstance(upstream, str)) and isinstance(skip, int):
            return prefix, upstream, max(0, skip)
    except (ValueError, TypeError):
        pass
    raise MCPError(code=types.INVALID_PARAMS, message="invalid cursor: pass back the nextCursor of the last page")


class Resources:
    """`resources/list`, `resources/templates/list` and `resources/read` for the server.

    `toolbox` serves upstream resources when it says it does (`Toolbox.offers_resources`:
    `resource_servers`, `list_resources`, `list_resource_templates`, `read_resource`).
    """

    def __init__(self, toolbox: Toolbox | Any, store: RunStore, *, max_reply_bytes: int) -> None:
        self.toolbox = as_toolbox(toolbox)
        self.store = store
        self.max_reply_bytes = max_reply_bytes

    @property
    def proxies(self) -> bool:
        return self.toolbox.offers_resources

    def servers(self) -> list[str]:
        return list(self.toolbox.resource_servers()) if self.proxies else []

    def prefixes(self) -> dict[str, str]:
        """Tool name → the prefix of the upstream it belongs to, for namespacing (`reply_for`)."""
        if not self.proxies:
            return {}
        return {name: spec.provider for name, spec in self.toolbox.specs().items() if spec.provider}

    # ---- resources/list -------------------------------------------------------------------------

    async def list_resources(self, cursor: str | None) -> types.ListResourcesResult:
        own = [] if cursor is not None else self._catalog_resources(await self._settled())
        page, next_cursor, hint = await self._page("resources", cursor)
        if own:  # our catalog resources change with every server's tools: no caching promised
            hint = CacheHint()
        return types.ListResourcesResult(
            resources=own + page, next_cursor=next_cursor, ttl_ms=hint.ttl_ms, cache_scope=hint.scope
        )

    async def list_templates(self, cursor: str | None) -> types.ListResourceTemplatesResult:
        page, next_cursor, hint = await self._page("templates", cursor)
        return types.ListResourceTemplatesResult(
            resource_templates=page, next_cursor=next_cursor, ttl_ms=hint.ttl_ms, cache_scope=hint.scope
        )

    async def _page(self, kind: str, cursor: str | None) -> tuple[list[Any], str | None, CacheHint]:
        """One upstream page, namespaced, the cursor of the next (None after the last server), and
        the caching hint of the upstream pages it was made of (the most restrictive)."""
        if cursor is None:
            # As tools/list does: servers still making their first connection get a few seconds.
            with anyio.move_on_after(_LIST_WAIT_S):
                await self.toolbox.settle(None)
        servers = self.servers()
        if cursor is not None:
            prefix, upstream_cursor, skip = _uncursor(cursor)
        elif servers:
            prefix, upstream_cursor, skip = servers[0], None, 0
        else:
            return [], None, CacheHint()
        hints: list[CacheHint | None] = []
        while True:
            try:
                items, upstream_next, upstream_hint = await self._upstream_page(kind, prefix, upstream_cursor)
                hints.append(upstream_hint)
            except ToolError as exc:  # one server's failure leaves the others' pages
                logger.warning("listing %s of %r failed: %s", kind, prefix, exc)
                items, upstream_next = [], None
                hints.append(None)
            hint = combine_cache_hints(hints)
            items = items[skip:]
            fits = _fitting(items, self.max_reply_bytes // 2)
            if fits < len(items):  # an upstream page larger than a reply: sent in pieces
                return items[:fits], _cursor(prefix, upstream_cursor, skip + fits), hint
            if upstream_next is not None:
                return items, _cursor(prefix, upstream_next), hint
            following = servers[servers.index(prefix) + 1:] if prefix in servers else []
            if items or not following:  # an empty page is skipped, unless it is the last
                return items, (_cursor(following[0], None) if following else None), hint
            prefix, upstream_cursor, skip = following[0], None, 0

    async def _upstream_page(
        self, kind: str, prefix: str, cursor: str | None
    ) -> tuple[list[Any], str | None, CacheHint | None]:
        if kind == "resources":
            listed = await self.toolbox.list_resources(prefix, cursor)
            items = [_named(_clean(r).model_copy(update={"uri": namespaced(prefix, r.uri)}), prefix) for r in listed.resources]
            return items, listed.next_cursor, cache_hint_of(listed)
        templates = await self.toolbox.list_resource_templates(prefix, cursor)
        items = [
            _named(_clean(t).model_copy(update={"uri_template": namespaced_template(prefix, t.uri_template)}), prefix)
            for t in templates.resource_templates
        ]
        return items, templates.next_cursor, cache_hint_of(templates)

    async def _settled(self) -> Mapping[str, ToolSpec]:
        """The catalog as tools/list describes it: servers still making their first connection get
        the same few seconds, so the catalog resource and the description agree on a cold start."""
        with anyio.move_on_after(_LIST_WAIT_S):
            await self.toolbox.settle(None)
        return visible(self.toolbox.specs())

    def _catalog_resources(self, catalog: Mapping[str, ToolSpec]) -> list[types.Resource]:
        count = len(catalog)
        down = self.toolbox.unavailable()
        missing = f"; not connected yet: {', '.join(down)}" if down else ""
        return [
            types.Resource(
                uri=CATALOG_URI, name="catalog", title="Every tool a plan can call",
                description=f"The {count} tools behind {TOOL_NAME}: signature and description{missing}",
                mime_type="text/plain",
            ),
            types.Resource(
                uri=CATALOG_JSON_URI, name="catalog.json", title="Every tool, with full JSON schemas",
                description=f"The {count} tools behind {TOOL_NAME}, as JSON{missing}", mime_type="application/json",
            ),
        ]

    # ---- resources/read -------------------------------------------------------------------------

    async def read(self, uri: str) -> types.ReadResourceResult:
        if uri == CATALOG_URI:
            return _text(uri, catalog_text(await self._settled(), self.toolbox.unavailable()), "text/plain")
        if uri == CATALOG_JSON_URI:
            return _text(uri, catalog_json(await self._settled()), "application/json")
        if uri.startswith(RUNS_URI):
            try:
                return await self.store.read(uri)
            except Unreadable as exc:
                raise _unknown(uri, str(exc)) from None
        owner = upstream_of(uri)
        if owner is None and self.proxies and not uri.startswith(_OURS):
            return await self._read_raw(uri)
        if owner is None or not self.proxies:
            raise _unknown(uri, f"unknown resource {uri!r}")
        prefix, upstream_uri = owner
        try:
            result = await self.toolbox.read_resource(prefix, upstream_uri)
        except ToolError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=scrub(str(exc)), data={"uri": scrub(uri)}) from None
        return self._served(uri, prefix, upstream_uri, result)

    async def _read_raw(self, uri: str) -> types.ReadResourceResult:
        """An upstream's URI as the server wrote it (a result's text quotes it so): each server
        that declares resources is asked; the one that has it serves it under its namespaced
        name; several that have it make a refusal naming each one's name to use."""
        found: dict[str, types.ReadResourceResult] = {}

        async def attempt(prefix: str) -> None:
            try:
                found[prefix] = await self.toolbox.read_resource(prefix, uri)
            except ToolError:
                pass  # not this server's (or it failed): the others may have it

        servers = self.servers()
        async with anyio.create_task_group() as tg:
            for prefix in servers:
                tg.start_soon(attempt, prefix)
        owners = [prefix for prefix in servers if prefix in found]  # config order
        if len(owners) == 1:
            return self._served(namespaced(owners[0], uri), owners[0], uri, found[owners[0]])
        if owners:
            names = ", ".join(f"{namespaced(p, uri)} ({p})" for p in owners)
            raise _unknown(uri, f"{uri!r} is a resource of {len(owners)} servers behind mcp-compiler; read one of: {names}")
        raise _unknown(
            uri, f"unknown resource {uri!r}: no server behind mcp-compiler has it (a server's resource "
                 f"is read as {SERVERS_URI}<server>/<its URI, percent-encoded>)"
        )

    def _served(self, uri: str, prefix: str, upstream_uri: str, result: types.ReadResourceResult) -> types.ReadResourceResult:
        """`prefix`'s read of `upstream_uri`, its contents under their namespaced URIs, within a reply."""
        contents = [_clean(c).model_copy(update={"uri": namespaced(prefix, c.uri)}) for c in result.contents]
        size = sum(len(c.text if isinstance(c, types.TextResourceContents) else c.blob) for c in contents)
        if size > self.max_reply_bytes:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"{prefix}'s resource {upstream_uri!r} is {size:,} bytes, more than one reply carries "
                        f"({self.max_reply_bytes:,}, compiler.max_reply_bytes)",
                data={"uri": scrub(uri), "bytes": size},
            )
        return types.ReadResourceResult(contents=contents)


def _fitting(items: list[Any], budget: int) -> int:
    """How many of `items`, from the first, fit `budget` bytes as JSON (at least one)."""
    total = 0
    for count, item in enumerate(items):
        total += len(item.model_dump_json(by_alias=True, exclude_none=True))
        if total > budget:
            return max(1, count)
    return len(items)


def _clean(model: Any) -> Any:
    """An upstream's model with every string scrubbed (a lone surrogate would fail our reply)."""
    return type(model).model_validate(scrub(model.model_dump(mode="json", by_alias=True, exclude_none=True)))


def _named(item: Any, prefix: str) -> Any:
    """A listed resource or template, its title saying which server it is from."""
    return item.model_copy(update={"title": scrub(f"{prefix}: {item.title or item.name}")})


def _text(uri: str, text: str, mime: str) -> types.ReadResourceResult:
    return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=scrub(text), mime_type=mime)])


def _unknown(uri: str, message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=scrub(message), data={"uri": scrub(uri)})
