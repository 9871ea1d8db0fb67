"""The one sanitising boundary for text: no lone surrogate crosses to or from a peer.

A Python `str` can hold surrogate code points (U+D800–U+DFFF) that UTF-8 cannot encode: JSON
decoders make them from an escape such as `"\\ud800"` (the plan parser's, an upstream's text
result parsed as JSON), and one of them anywhere in a reply makes the SDK's serialiser raise
"surrogates not allowed", which ends a stdio server and leaves an HTTP host without an answer.

`scrub(value)` replaces every surrogate code point in the strings of a JSON-like value (dict
keys included) by U+FFFD. It is applied where text crosses the boundary: every result and
resource the MCP server returns and the plan/query it is given (server/app.py), the lines read
on stdio (server/stdio.py), the arguments sent to upstreams and the results they return.

The common path is cheap and copies nothing: an ASCII string is recognised in O(1)
(`str.isascii()` reads a flag CPython keeps), another string is searched once with a compiled
pattern, and a container is checked by pydantic-core's native JSON encoder (which fails on a
surrogate; about 2 µs per task of a Run). Only a container that holds one is walked in Python,
and rebuilt only along the paths to the strings that changed; otherwise the very object passed
in is returned (`scrub(v) is v`).

`cut(text, limit, setting)` is the one way a text that reaches a reply or a host is bounded: an
error text, a progress message, a log line. Beyond `limit` UTF-8 bytes it keeps the start and
says how long the text was and which setting cut it.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic_core

__all__ = ["MESSAGE_BYTES", "REPLACEMENT", "cut", "has_surrogates", "scrub"]

REPLACEMENT = "\ufffd"
MESSAGE_BYTES = 4 * 2**10  # an upstream's progress message or log line, as a host is sent it
_SURROGATE = re.compile("[\ud800-\udfff]")

T = TypeVar("T")


def has_surrogates(text: str) -> bool:
    """Whether `text` holds a surrogate code point (which UTF-8 cannot encode)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def cut(text: str, limit: int, setting: str) -> str:
    """`text` when its UTF-8 takes at most `limit` bytes; else its first `limit` bytes (whole
    characters) and a marker: `… [cut: N bytes in all; <setting>]`."""
    if len(text) <= limit // 4:  # at most 4 bytes a character: within the limit, not encoded
        return text
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return f"{data[:limit].decode('utf-8', 'ignore')}… [cut: {len(data):,} bytes in all; {setting}]"


def scrub(value: T) -> T:
    """`value` with every surrogate code point in its strings and dict keys replaced by U+FFFD.

    Strings, dicts, lists and tuples are walked (any depth); anything else is returned as it
    is. When nothing needs replacing, the same object comes back, not a copy.
    """
    if isinstance(value, str):
        # T is str here, which mypy cannot narrow a type variable to: the one cast-like ignore.
        return _scrub_str(value)  # type: ignore[return-value]
    if not isinstance(value, dict | list | tuple):
        return value
    try:
        # The common case, checked at native speed: pydantic-core's encoder writes UTF-8 and
        # fails on a surrogate (about a third of the cost of walking the value in Python).
        pydantic_core.to_json(value)
    except Exception:  # noqa: BLE001 - a surrogate, or a value that is not plain JSON: walk it
        return _walk(value)
    return value


def _scrub_str(text: str) -> str:
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_str(value)
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for index, (key, item) in enumerate(value.items()):
            new_key = _scrub_str(key) if isinstance(key, str) else key
            new_item = _walk(item)
            if changed is None and (new_key is not key or new_item is not item):
                changed = dict(list(value.items())[:index])
            if changed is not None:
                changed[new_key] = new_item
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        items: list[Any] | None = None
        for index, item in enumerate(value):
            new_item = _walk(item)
            if items is None and new_item is not item:
                items = list(value[:index])
            if items is not None:
                items.append(new_item)
        if items is None:
            return value
        return items if isinstance(value, list) else tuple(items)
    return value
