"""The pieces of plan syntax that the text form (parser.py) and the JSON form (json_form.py) share:
task numbers and tool names, references with their paths, and strings with references inside.

A reference is `$N` or `${N}` and a path: `.key`, `.0`, `[0]`, `["key"]`, `['key']`, and at most
one `[*]` (a spread). Inside a string `$N.path` and `${N.path}` are references (`${N}` ends one,
so text may follow it) and `$$` is a literal `$`.

Reading is incremental as the parser's is: `char(i)` gives the character at `i`, or raises the
parser's need for more text when `i` is past what has arrived (a string's own text has all of it).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

from .plan import PlanError, Ref, Value, template

__all__ = ["ID", "TOOL_NAME", "isdigit", "make_ref", "read_path", "string_value"]

ID = re.compile(r"[0-9]+")
TOOL_NAME = re.compile(r"[\w\-.]+")
# The start of a bracketed path item that the text so far does not end: `[`, `[1`, `["a]b`, `['x\`.
_BRACKET_SO_FAR = re.compile(
    r"""\[\s*(?:[0-9]+\s*|"(?:[^"\\]|\\.)*(?:\\|"\s*)?|'(?:[^'\\]|\\.)*(?:\\|'\s*)?)?"""
)


def isdigit(c: str) -> bool:
    return "0" <= c <= "9"


def string_value(text: str, error: Callable[[str], PlanError]) -> Value:
    """A string's value: references inside become a Ref (alone) or a Template (mixed); `error` makes
    the PlanError for a bad one (the caller knows where the string is)."""
    if "$" not in text:
        return text
    parts: list[str | Ref] = []
    lit, i = "", 0

    def char(k: int) -> str:
        return text[k] if k < len(text) else ""

    def fail(k: int, message: str) -> PlanError:
        return error(f"in the string {text!r}: {message}")

    while i < len(text):
        c = text[i]
        if c != "$":
            lit += c
            i += 1
        elif char(i + 1) == "$":
            lit += "$"
            i += 2
        elif isdigit(char(i + 1)) or (char(i + 1) == "{" and isdigit(char(i + 2))):
            parts.append(lit)
            lit = ""
            ref, i = _string_ref(text, i, char, fail)
            parts.append(ref)
        else:
            lit += c
            i += 1
    parts.append(lit)
    return template(parts)


_STAR = object()  # `[*]` in a path being read


def read_path(text: str, i: int, char: Any, fail: Any) -> tuple[list[Any], int]:
    """A reference's path: `.key`, `.0`, `[0]`, `["key"]`, `['key']`, `[*]` (a spread), repeated."""
    path: list[Any] = []
    while True:
        c = char(i)
        if c == "." and re.match(r"[A-Za-z0-9_]", char(i + 1)):
            m = re.compile(r"[0-9]+|[A-Za-z_]\w*").match(text, i + 1)
            if m is None or m.end() >= len(text):
                char(len(text))  # the key may go on in text not received yet
            if m is None:
                return path, i
            item = m.group()
            path.append(int(item) if item.isdigit() else item)
            i = m.end()
        elif c == "[" and text.startswith("[*]", i):
            path.append(_STAR)
            i += 3
        elif c == "[":
            m = re.compile(r"\[\s*(?:([0-9]+)|\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)')\s*\]").match(text, i)
            if m is None:
                if "]" not in text[i:] or _BRACKET_SO_FAR.fullmatch(text, i):
                    char(len(text))  # what is here may yet become an index or a key (`["a]b` + `"]`)
                raise fail(i, "expected an index like [0] or a key like [\"name\"] in a reference path")
            if m.group(1) is not None:
                path.append(int(m.group(1)))
            else:
                try:
                    if m.group(2) is not None:
                        path.append(json.loads(f'"{m.group(2)}"'))
                    else:  # a Python-quoted key: Python's own escapes
                        path.append(ast.literal_eval(f"'{m.group(3)}'"))
                except (ValueError, SyntaxError):
                    raise fail(i, "bad escape in a reference key") from None
            i = m.end()
        else:
            return path, i


def _string_ref(text: str, i: int, char: Any, fail: Any) -> tuple[Ref, int]:
    """A reference inside a string: `$N.path` or `${N.path}` (the brace ends it)."""
    braced = text[i + 1] == "{"
    m = ID.match(text, i + (2 if braced else 1))
    assert m is not None  # the caller saw a digit
    path, j = read_path(text, m.end(), char, fail)
    if braced:
        if char(j) != "}":
            raise fail(j, "expected '}' to close ${...}")
        j += 1
    return make_ref(int(m.group()), path, lambda msg: fail(i, msg)), j


def make_ref(task: int, items: list[Any], fail: Any) -> Ref:
    """A Ref from a parsed path; a `[*]` in it (at most one) makes it a spread reference."""
    stars = [k for k, item in enumerate(items) if item is _STAR]
    if not stars:
        return Ref(task, tuple(items))
    if len(stars) > 1:
        raise fail(f"a reference spreads over one list: one [*] per reference, not {len(stars)}")
    k = stars[0]
    return Ref(task, tuple(items[:k]), spread=tuple(items[k + 1 :]))
