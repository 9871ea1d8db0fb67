"""Values too big for a reply, kept for a while so that a host can read them with `resources/read`.

A reply (`server/results.py`) that would carry a value over its budget carries a link to it
instead: `mcp-compiler://runs/<run-id>/<path>`, where the run id is 128 random bits (a link is
the capability to read it: ids cannot be guessed or enumerated, `resources/list` names none).
The values live behind the state seam (`mcp_compiler/state`): one entry per run of the kind
`runs`, one part per value, so the backend bounds them three ways, oldest run out first: a time
to live per run (`compiler.run_ttl_s`), a number of runs (`compiler.run_store_max_runs`) and
the bytes of all values kept (`compiler.run_store_max_bytes`). A value that cannot fit even
with every other run gone is refused before any run is evicted for it.

A read is a reply too, so it keeps to the reply budget: a value larger than a part
(`compiler.max_reply_bytes` / 3, leaving room for JSON escaping and base64) is read in parts,
`<uri>/parts/1` ... `<uri>/parts/K`, whose contents joined are the value (text cut at UTF-8
character boundaries; binary as raw byte ranges). Reading the value's own URI then fails with
an error that names the parts.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass

import mcp_types as types
from mcp.shared.exceptions import MCPError

from ..auth.identity import current_identity
from ..config import CompilerConfig
from ..state import Kind, StateStore, StateUnavailable, default_state
from ..text import scrub

__all__ = ["RUNS_URI", "Item", "RunStore", "Unreadable"]

RUNS_URI = "mcp-compiler://runs/"
_PART = re.compile(r"(?P<base>.+)/parts/(?P<number>[1-9][0-9]{0,8})")


class Unreadable(LookupError):
    """A run URI that names nothing kept (never stored, expired, evicted), or a part out of range."""


@dataclass(frozen=True)
class Item:
    """One kept value: its bytes (UTF-8 for text) and how a read serves them."""

    data: bytes
    mime_type: str
    is_text: bool

    @classmethod
    def text(cls, text: str, mime_type: str = "text/plain") -> Item:
        return cls(scrub(text).encode("utf-8"), mime_type, True)

    @classmethod
    def blob(cls, data: bytes, mime_type: str) -> Item:
        return cls(data, mime_type, False)

    def encode(self) -> bytes:
        """The bytes kept through the state seam: a JSON header line, then the value."""
        return self._header() + self.data

    def encoded_size(self) -> int:
        """`len(self.encode())`, without copying the value."""
        return len(self._header()) + len(self.data)

    def _header(self) -> bytes:
        return json.dumps([self.mime_type, self.is_text]).encode() + b"\n"

    @classmethod
    def decode(cls, kept: bytes) -> Item:
        header, _, data = kept.partition(b"\n")
        mime_type, is_text = json.loads(header)
        return cls(data, str(mime_type), bool(is_text))


class RunStore:
    """Kept values by run and path, through the state seam."""

    def __init__(
        self, *, ttl_s: float = 600, max_bytes: int = 256 * 2**20, max_runs: int = 256,
        part_bytes: int = 2**19 // 3, state: StateStore | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.kind = Kind("runs", ttl_s=ttl_s, max_bytes=max_bytes, max_entries=max_runs)
        self.part_bytes = max(1024, part_bytes)
        self.state = state if state is not None else default_state()

    @property
    def max_bytes(self) -> int:
        return self.kind.max_bytes

    @classmethod
    def from_config(cls, compiler: CompilerConfig, state: StateStore | None = None) -> RunStore:
        return cls(
            ttl_s=compiler.run_ttl_s, max_bytes=compiler.run_store_max_bytes,
            max_runs=compiler.run_store_max_runs, part_bytes=compiler.max_reply_bytes // 3, state=state,
        )

    async def size(self) -> int:
        """Bytes of every value kept now (with their headers)."""
        return (await self.state.size(self.kind))[1]

    def new_run_id(self) -> str:
        return secrets.token_urlsafe(16)

    async def put(self, run_id: str, path: str, item: Item) -> str | None:
        """Keep `item` under `run_id`/`path` and return its URI; None if it cannot be kept (this
        run's values with it would be larger than the whole store). Older runs make room, the
        oldest first, and only for an item that then fits."""
        owner = current_identity.get().owner  # the caller's (auth/identity.py): no other caller reads it
        if not await self.state.put(self.kind, run_id, item.encode(), part=path, owner=owner):
            return None
        return f"{RUNS_URI}{run_id}/{path}"

    def parts(self, item: Item) -> list[tuple[int, int]]:
        """The byte ranges a read serves `item` in: one when it fits a part."""
        data, size = item.data, self.part_bytes
        if len(data) <= size:
            return [(0, len(data))]
        ranges, start = [], 0
        while start < len(data):
            end = min(start + size, len(data))
            if item.is_text:
                while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a UTF-8 character
                    end -= 1
            ranges.append((start, end))
            start = end
        return ranges

    async def read(self, uri: str) -> types.ReadResourceResult:
        """`resources/read` of a run URI; Unreadable when it names nothing kept, MCPError when
        the value is too large for one reply (the message names its parts)."""
        match = _PART.fullmatch(uri)
        base, number = (match["base"], int(match["number"])) if match else (uri, None)
        item = await self._find(base)
        if item is None and match:  # a stored path may itself end in /parts/N: look it up whole
            base, number, item = uri, None, await self._find(uri)
        if item is None:
            raise Unreadable(
                f"nothing is kept at {uri!r}: it was never stored, or it expired (values are kept "
                f"{self.ttl_s:g} s, compiler.run_ttl_s) or made room for newer runs"
            )
        ranges = self.parts(item)
        if number is None:
            if len(ranges) > 1:
                raise MCPError(
                    code=types.INVALID_PARAMS,
                    message=(
                        f"{uri} is {len(item.data):,} bytes, more than one reply carries "
                        f"(compiler.max_reply_bytes): read it in {len(ranges)} parts, {uri}/parts/1 to "
                        f"{uri}/parts/{len(ranges)}, whose contents joined are the value"
                    ),
                    data={"uri": uri, "bytes": len(item.data), "parts": len(ranges)},
                )
            start, end = ranges[0]
        elif number > len(ranges):
            raise Unreadable(f"{base} has {len(ranges)} part(s), not {number}")
        else:
            start, end = ranges[number - 1]
        chunk = item.data[start:end]
        contents: types.TextResourceContents | types.BlobResourceContents
        if item.is_text:
            contents = types.TextResourceContents(uri=uri, mime_type=item.mime_type, text=chunk.decode("utf-8", "replace"))
        else:
            contents = types.BlobResourceContents(
                uri=uri, mime_type=item.mime_type, blob=base64.b64encode(chunk).decode("ascii")
            )
        return types.ReadResourceResult(contents=[contents])

    async def _find(self, uri: str) -> Item | None:
        if not uri.startswith(RUNS_URI):
            return None
        run_id, _, path = uri[len(RUNS_URI):].partition("/")
        try:
            kept = await self.state.get(self.kind, run_id, part=path, owner=current_identity.get().owner)
        except StateUnavailable as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=f"{exc}: {uri} cannot be read now; try again later") from None
        return Item.decode(kept) if kept is not None else None
