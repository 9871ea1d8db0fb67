"""stdio for `serve`: the SDK's framing over reads and writes that cancellation can interrupt.

The SDK's `stdio_server()` reads fd 0 in a worker thread, and a thread blocked in `read()`
cannot be cancelled: after SIGTERM the process lived on for as long as the host kept stdin
open. `stdio_streams()` hands `stdio_server(stdin=..., stdout=...)` streams of its own:

- Reads: a private duplicate of fd 0, set non-blocking, read with `anyio.wait_readable` and
  `os.read`, split into lines and decoded as UTF-8 with errors="replace". Cancelling the read
  (SIGTERM, the end of the scope) takes effect at once, whatever the host does with stdin.
- A line whose JSON holds a lone-surrogate escape (`"\\ud800"`) is decoded, scrubbed
  (`text.scrub`: U+FFFD) and re-encoded before the SDK sees it: the SDK's parser refuses such a
  line, drops it, and the host's request would never be answered.
- Writes: a private duplicate of fd 1, non-blocking: `os.write`, and `anyio.wait_writable` when
  the pipe is full, so a host that stops reading cannot hold up shutdown. When the host has
  closed its end (EPIPE), writes are dropped (logged once) rather than failing the server.
- The wire is protected as the SDK protects it: while serving, fd 0 reads /dev/null and fd 1 is
  pointed at stderr, so a handler or child that reads stdin sees EOF and a stray `print` lands
  in the log, not in the protocol; both are restored on exit (the private duplicates are
  close-on-exec: no child inherits the wire). O_NONBLOCK is a flag of the pipe's open file,
  which the host's other processes may share: it is set only while serving and restored after.
- A descriptor the event loop cannot poll (a regular file, /dev/null) never blocks, so it is
  read and written directly. On Windows, where pipes cannot be polled, the SDK's own transport
  is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from typing import Any

import anyio
import anyio.lowlevel
from mcp.server.stdio import stdio_server

from ..text import scrub

__all__ = ["MAX_LINE_BYTES", "stdio_streams"]

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A line longer than this (64 MiB) is dropped, so a host writing without newlines cannot
exhaust memory."""

_READ_CHUNK = 256 * 1024
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """`(read_stream, write_stream)` for `Server.run`, over the process's stdin and stdout."""
    claims = ExitStack()
    fallback = False
    try:
        if sys.platform == "win32":  # pragma: no cover - pipes cannot be polled there
            raise OSError("stdio pipes cannot be polled on Windows")
        stdin_fd = claims.enter_context(_claimed(0, _stdin_diversion))
        stdout_fd = claims.enter_context(_claimed(1, _stdout_diversion))
    except OSError as exc:  # no fd 0/1 to duplicate, or no way to poll them: the SDK's transport
        claims.close()
        logger.debug("stdio: using the SDK's transport (%s)", exc)
        fallback = True
    if fallback:
        async with stdio_server() as streams:
            yield streams
        return
    with claims:
        try:
            async with stdio_server(stdin=_Lines(stdin_fd), stdout=_Writer(stdout_fd)) as streams:  # type: ignore[arg-type]  # _Lines/_Writer have the methods the SDK calls, not anyio's file type
                yield streams
        finally:
            # Stray output buffered while serving went to fd 1, i.e. stderr: flush it there,
            # before fd 1 is the wire again.
            with suppress(Exception):
                sys.stdout.flush()


def _stdin_diversion() -> int:
    return os.open(os.devnull, os.O_RDONLY)


def _stdout_diversion() -> int:
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


@contextmanager
def _claimed(fd: int, diversion: Any) -> Iterator[int]:
    """A private, non-blocking duplicate of `fd`, with `fd` itself pointed at `diversion()`."""
    import fcntl

    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    was_blocking = os.get_blocking(private)
    try:
        diverted = diversion()
        try:
            os.dup2(diverted, fd)
        finally:
            os.close(diverted)
        try:
            os.set_blocking(private, False)
            yield private
        finally:
            with suppress(OSError):
                os.set_blocking(private, was_blocking)
            os.dup2(private, fd)
    finally:
        os.close(private)


def _pollable(error: OSError) -> bool:
    """Whether the event loop can poll the descriptor, judging by the error it raised."""
    return not isinstance(error, PermissionError)  # epoll refuses regular files and /dev/null (EPERM)


class _Lines:
    """`async for line in _Lines(fd)`: the descriptor's lines, decoded, with their newline."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline
        self._eof = False
        self._dropping = False  # inside a line longer than MAX_LINE_BYTES
        self._poll = True

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                raw = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                self._scanned = 0
                if self._dropping:
                    self._dropping = False
                    continue
                return _decode(raw)
            self._scanned = len(self._buffer)
            if self._eof:
                if self._buffer and not self._dropping:
                    raw = bytes(self._buffer)
                    self._buffer.clear()
                    self._scanned = 0
                    return _decode(raw)
                raise StopAsyncIteration
            if len(self._buffer) > MAX_LINE_BYTES:
                if not self._dropping:
                    logger.warning("stdin: dropping a line longer than %d bytes", MAX_LINE_BYTES)
                self._dropping = True
                self._buffer.clear()
                self._scanned = 0
            chunk = await self._read()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    async def _read(self) -> bytes:
        while True:
            if self._poll:
                try:
                    await anyio.wait_readable(self._fd)
                except OSError as exc:
                    if _pollable(exc):
                        raise
                    self._poll = False
            else:
                await anyio.lowlevel.checkpoint()
            try:
                return os.read(self._fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError as exc:  # EIO from a terminal gone away, and the like: the end of input
                logger.info("stdin: read failed (%s); treating it as the end of input", exc)
                return b""


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:
            message = json.loads(text)  # Python's decoder keeps a lone surrogate; the SDK's refuses the line
        except ValueError:
            return text  # not JSON at all: the SDK reports it as it would
        cleaned = scrub(message)
        if cleaned is not message:
            return json.dumps(cleaned, ensure_ascii=False) + "\n"
    return text


class _Writer:
    """`await write(text)`, `await flush()` on a non-blocking descriptor; cancellable while waiting."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = bytearray()
        self._closed = False
        self._poll = True

    async def write(self, text: str) -> None:
        if not self._closed:
            self._pending += text.encode("utf-8", errors="replace")

    async def flush(self) -> None:
        while self._pending and not self._closed:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                await self._wait()
                continue
            except OSError as exc:  # EPIPE and the like: the host closed its end of stdout
                logger.info("stdout: the host stopped reading (%s); dropping further output", exc)
                self._closed = True
                self._pending.clear()
                return
            del self._pending[:written]

    async def _wait(self) -> None:
        if self._poll:
            try:
                await anyio.wait_writable(self._fd)
                return
            except OSError as exc:
                if _pollable(exc):
                    raise
                self._poll = False
        await anyio.lowlevel.checkpoint()
