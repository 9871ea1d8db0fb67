"""Logging for the `mcp-compiler` command: stderr only (stdout is the protocol's on stdio).

Configured once by the program (`cli.main`), never by a library constructor: an application
that embeds the engine keeps its own logging as it set it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .config import Config, HttpServerConfig, StdioServerConfig
from .observability import log_context

__all__ = ["configure_logging", "JsonFormatter", "Redactor", "RedactingFilter", "redact_secrets"]

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


class JsonFormatter(logging.Formatter):
    """One JSON object a line (`--log-format json`): time, level, logger, message, and what the line
    belongs to: the trace and span ids while traces are on, the run and the task of a call."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        line.update(log_context())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(verbosity: int, *, quiet_level: int = logging.WARNING, log_format: str = "text") -> None:
    """`verbosity` 0 logs `quiet_level` and up, 1 INFO, 2 DEBUG (the SDKs' own debug logs too);
    `log_format` "text" (a line for people) or "json" (a JSON object a line, with trace ids)."""
    logging.basicConfig(
        level=[quiet_level, logging.INFO, logging.DEBUG][min(verbosity, 2)],
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for noisy in _SDK_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    stdio = logging.getLogger("mcp.client.stdio")
    if not any(isinstance(f, _OneLineParseErrors) for f in stdio.filters):
        stdio.addFilter(_OneLineParseErrors())
    _install_redaction()


# ---- secrets ------------------------------------------------------------------------------------

REDACTED = "***"
_MIN_SECRET = 4  # shorter values ("on", "UTC") would blank out ordinary words, and guard little


class Redactor:
    """Replaces every configured secret in a text by `***`, longest secrets first.

    Built from a config with `Redactor.from_config`: each stdio server's `env` values, each HTTP
    server's header values (and the token after a scheme such as `Bearer `), and the userinfo
    and query values of its URL (as written and percent-decoded). Values under 4 characters are
    left alone. Calling a Redactor with no secrets returns the text unchanged.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET}
        self.secrets: tuple[str, ...] = tuple(sorted(unique, key=lambda s: (-len(s), s)))
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    @classmethod
    def from_config(cls, config: Config) -> Redactor:
        secrets: list[str] = []
        for server in config.servers.values():
            if isinstance(server, StdioServerConfig):
                secrets.extend(server.env_values().values())
            elif isinstance(server, HttpServerConfig):
                for value in server.header_values().values():
                    secrets.append(value)
                    scheme, _, token = value.partition(" ")
                    if token and scheme.isalpha():
                        secrets.append(token.strip())
                secrets.extend(url_secrets(server.url))
                if server.auth is not None:  # docs/auth.md#servers-behind-a-login
                    secrets.append(server.auth.client_secret.get_secret_value())
        secrets.extend(token.get_secret_value() for token in config.compiler.tokens.values())
        introspecting = config.compiler.auth.introspection_client_secret if config.compiler.auth else None
        if introspecting is not None:
            secrets.append(introspecting.get_secret_value())
        return cls(secrets)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be credentials: userinfo and query values, raw and decoded."""
    parts = urlsplit(url)
    found: list[str] = []
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        found += [userinfo, unquote(userinfo), *userinfo.split(":", 1)]
        found += [unquote(p) for p in userinfo.split(":", 1)]
    for raw in parts.query.split("&"):
        value = raw.partition("=")[2]
        if value:
            found.append(value)
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    if parts.fragment:
        found.append(parts.fragment)
    return found


class RedactingFilter(logging.Filter):
    """A logging filter that takes the registered secrets out of a record (message, arguments,
    traceback text). Always lets the record through."""

    def __init__(self, redactors: Callable[[], Iterable[Redactor]]) -> None:
        super().__init__()
        self._redactors = redactors

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, [r for r in self._redactors() if r])
        return True


_REDACTORS: list[Redactor] = []
_installed_factory: Callable[..., logging.LogRecord] | None = None


def redact_secrets(redactor: Redactor) -> Callable[[], None]:
    """Take `redactor`'s secrets out of every log record from now on, whichever logger (ours,
    the SDKs', uvicorn's) and whichever handler; returns a function that stops it again.

    The program calls it once it has loaded its config (`serve`, `run`). It works through the
    log-record factory, because a filter on a logger does not see the records of its children
    (`mcp.client.stdio` under `mcp`), and a filter on a handler misses handlers added later.
    """
    _install_redaction()
    _REDACTORS.append(redactor)

    def stop() -> None:
        if redactor in _REDACTORS:
            _REDACTORS.remove(redactor)

    return stop


def _install_redaction() -> None:
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        active = [r for r in _REDACTORS if r]
        if active:
            _redact_record(record, active)
        return record

    _installed_factory = factory
    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord, redactors: list[Redactor]) -> None:
    if not redactors:
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string: leave it to the handler to report
        return
    clean = message
    for redact in redactors:
        clean = redact(clean)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        for redact in redactors:
            text = redact(text)
        record.exc_text = text
    if record.stack_info:
        for redact in redactors:
            record.stack_info = redact(record.stack_info)
