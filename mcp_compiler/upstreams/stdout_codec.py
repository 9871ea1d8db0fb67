"""A stdio server's stdout read as UTF-8 whose undecodable bytes become U+FFFD and are reported.

The SDK decodes a stdio server's stdout with `StdioServerParameters.encoding`, strictly by
default: one byte that is not UTF-8 left its transport draining stdout for good (every later call
timed out). `reporting_utf8()` names a codec that replaces such bytes instead, and tells whoever
`report_undecodable_to` named in the reading task's context (the transport's reader task inherits
the session task's context), so the session can warn once.

The decoder also bounds each line (one JSON-RPC message) to `max_line_bytes` while it is being
read: it holds a line's bytes until its newline and hands the SDK whole lines, so a line over the
bound is dropped as its bytes arrive, never held whole (its first bytes are kept, to find its id).
In its place the SDK gets a JSON-RPC error for that request (`oversized_message`), so the call
fails at once naming the setting; a request or notification of the server's own is dropped.

The codec and its error handler are registered under our own names, once, by the first
`reporting_utf8()` — not when this module is imported; each bound is a codec name of its own
(`mcp_compiler_utf_8_max_<bytes>`).
"""

from __future__ import annotations

import codecs
import contextvars
import json
from collections.abc import Callable
from typing import Any

from .wire import OVERSIZED, top_level_keys

__all__ = ["report_undecodable_to", "reporting_utf8"]

_CODEC = "mcp_compiler_utf_8"
_BOUNDED = _CODEC + "_max_"
_PREFIX_BYTES = 4096  # of a dropped line: where its id is looked for
_ERRORS = "mcp_compiler.replace_and_report"
_report: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "mcp_compiler_undecodable", default=None
)
_registered = False


def reporting_utf8(max_line_bytes: int | None = None) -> str:
    """The codec's name, for `StdioServerParameters(encoding=...)`; registers it the first time.
    With `max_line_bytes`, a line longer than that is dropped while it is read (see above)."""
    global _registered
    if not _registered:
        # A search function cannot be registered twice by mistake: the flag guards it (one
        # event loop thread calls this; a second registration would only be a dead entry).
        codecs.register_error(_ERRORS, _replace_and_report)
        codecs.register(_find_codec)
        _registered = True
    return _CODEC if max_line_bytes is None else f"{_BOUNDED}{int(max_line_bytes)}"


def report_undecodable_to(callback: Callable[[], None]) -> None:
    """In the calling task's context (and the tasks it starts): undecodable bytes call `callback`."""
    _report.set(callback)


def _replace_and_report(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # only our decoder names this handler
        raise exc
    report = _report.get()
    if report is not None:
        report()
    return "\ufffd", exc.end  # what codecs.replace_errors gives for a decode error


class _ReportingUtf8Decoder(codecs.BufferedIncrementalDecoder):
    def __init__(self, errors: str = "strict") -> None:
        super().__init__(_ERRORS)  # whatever the transport asks for: replace, and report

    def _buffer_decode(self, input: Any, errors: str, final: bool) -> tuple[str, int]:
        return codecs.utf_8_decode(input, errors, final)


class _BoundedLinesDecoder(codecs.IncrementalDecoder):
    """UTF-8 (replaced and reported, as above), whole lines at a time, each at most `limit` bytes."""

    def __init__(self, limit: int, errors: str = "strict") -> None:
        super().__init__(_ERRORS)
        self.limit = limit
        self._line = bytearray()  # the line being read, while within the limit
        self._dropped = 0  # bytes of the line being dropped (0: not dropping)
        self._prefix = b""

    def decode(self, input: Any, final: bool = False) -> str:
        out: list[str] = []
        data = bytes(input)
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline + 1
            if self._dropped:
                self._dropped += end - start
            elif len(self._line) + end - start > self.limit + 1:  # + its newline
                self._prefix = (bytes(self._line) + data[start:min(end, start + _PREFIX_BYTES)])[:_PREFIX_BYTES]
                self._dropped = len(self._line) + end - start
                self._line = bytearray()
            else:
                self._line += data[start:end]
            start = end
            if newline >= 0:
                out.append(self._end_line())
        if final and (self._line or self._dropped):
            out.append(self._end_line())
        return "".join(out)

    def _end_line(self) -> str:
        if self._dropped:
            size, self._dropped = self._dropped, 0
            prefix, self._prefix = self._prefix, b""
            return oversized_message(prefix.decode("utf-8", "replace"), size, self.limit)
        line, self._line = self._line, bytearray()
        return codecs.utf_8_decode(line, self.errors, True)[0]  # from the bytearray: no copy

    def reset(self) -> None:
        self._line, self._dropped, self._prefix = bytearray(), 0, b""


def oversized_message(prefix: str, size: int, limit: int) -> str:
    """What the SDK reads in place of a message over `limit` bytes: an error response to the
    request it answered (its id from the message's first bytes), `id: null` when that cannot be
    told (every call in flight fails: `wire.py`), nothing for the server's own request or
    notification (nobody of ours waits on it)."""
    top = top_level_keys(prefix)
    if "method" in top:
        return ""
    text = (
        f"{OVERSIZED} of {size:,} bytes, more than the {limit:,} a message may take "
        "(compiler.max_value_bytes and 1 MiB for its envelope); it was dropped as it was read"
    )
    return json.dumps({"jsonrpc": "2.0", "id": top.get("id"), "error": {"code": -32603, "message": text}}) + "\n"


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != _CODEC and not name.startswith(_BOUNDED):
        return None
    utf8 = codecs.lookup("utf-8")
    decoder: Any = _ReportingUtf8Decoder
    if name.startswith(_BOUNDED):
        limit = int(name[len(_BOUNDED):])

        def decoder(errors: str = "strict") -> codecs.IncrementalDecoder:
            return _BoundedLinesDecoder(limit, errors)

    return codecs.CodecInfo(
        name=name, encode=utf8.encode, decode=utf8.decode,
        incrementalencoder=utf8.incrementalencoder, incrementaldecoder=decoder,
        streamreader=utf8.streamreader, streamwriter=utf8.streamwriter,
    )
