"""A stdio server's stdout read as UTF-8 whose undecodable bytes become U+FFFD and are reported.

The SDK decodes a stdio server's stdout with `StdioServerParameters.encoding`, strictly by
default: one byte that is not UTF-8 left its transport draining stdout for good (every later call
timed out). `reporting_utf8()` names a codec that replaces such bytes instead, and tells whoever
`report_undecodable_to` named in the reading task's context (the transport's reader task inherits
the session task's context), so the session can warn once.

The codec and its error handler are registered under our own names, once, by the first
`reporting_utf8()` — not when this module is imported.
"""

from __future__ import annotations

import codecs
import contextvars
from collections.abc import Callable
from typing import Any

__all__ = ["report_undecodable_to", "reporting_utf8"]

_CODEC = "mcp_compiler_utf_8"
_ERRORS = "mcp_compiler.replace_and_report"
_report: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "mcp_compiler_undecodable", default=None
)
_registered = False


def reporting_utf8() -> str:
    """The codec's name, for `StdioServerParameters(encoding=...)`; registers it the first time."""
    global _registered
    if not _registered:
        # A search function cannot be registered twice by mistake: the flag guards it (one
        # event loop thread calls this; a second registration would only be a dead entry).
        codecs.register_error(_ERRORS, _replace_and_report)
        codecs.register(_find_codec)
        _registered = True
    return _CODEC


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


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != _CODEC:
        return None
    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(
        name=_CODEC, encode=utf8.encode, decode=utf8.decode,
        incrementalencoder=utf8.incrementalencoder, incrementaldecoder=_ReportingUtf8Decoder,
        streamreader=utf8.streamreader, streamwriter=utf8.streamwriter,
    )
