"""Logging for the `mcp-compiler` command: stderr only (stdout is the protocol's on stdio).

Configured once by the program (`cli.main`), never by a library constructor: an application
that embeds the engine keeps its own logging as it set it.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

_SDK_LOGGERS = ("httpx2", "httpx", "mcp", "uvicorn.access")


class _OneLineParseErrors(logging.Filter):
    """The SDK logs every non-JSON stdout line of a stdio server with a traceback; one line says enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Failed to parse JSONRPC"):
            exc = record.exc_info[1]
            first = str(exc).splitlines()[0] if exc is not None and str(exc) else ""
            record.msg = f"Failed to parse JSONRPC message from server: {first}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(verbosity: int, *, quiet_level: int = logging.WARNING) -> None:
    """`verbosity` 0 logs `quiet_level` and up, 1 INFO, 2 DEBUG (the SDKs' own debug logs too)."""
    logging.basicConfig(
        level=[quiet_level, logging.INFO, logging.DEBUG][min(verbosity, 2)],
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in _SDK_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    stdio = logging.getLogger("mcp.client.stdio")
    if not any(isinstance(f, _OneLineParseErrors) for f in stdio.filters):
        stdio.addFilter(_OneLineParseErrors())
