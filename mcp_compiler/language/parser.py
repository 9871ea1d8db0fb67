"""Plan text -> IR, incrementally: feed chunks as an LLM streams them, get each task as it completes.

The grammar, one statement after another (whitespace and newlines between them):

    Thought: free text to the end of the line
    # a comment, to the end of the line (also after a task, or between arguments)
    ID. NAME(ARG, ..., KEY=ARG, ...)     a task; arguments may span lines
    ID. NAME(...) after $N, $M           a task that runs after tasks N and M, using no value of theirs
    join()  /  ID. join()                 ends the plan
    join(VALUE, ...)                      ends it, and the answer is those values, one a line
    <END_OF_PLAN>                         ends the plan; everything after it is ignored

An ARG is a JSON value (Python spellings `True`, `None`, single quotes accepted), a reference
`$N` / `${N}` with a path (`.key`, `[0]`, `["key"]`, and at most one `[*]`: a spread), or, for compatibility with the reference
LLMCompiler prompts, bare text such as `search(Star Wars (1977 film))`, read up to the next
top-level `,` or `)`. A `#` outside strings starts a comment that runs to the end of the line,
wherever whitespace may go; a Thought line and bare text are read as written, `#` included.
Inside strings `$N.path` and `${N.path}` are references (`${N}` ends one, so
text may follow it) and `$$` is a literal `$`. A plan may also be JSON: `{"tasks": [...]}`.

The parser re-reads the statement in progress on each chunk and only commits once every look-ahead
it used was decided by real text, so splitting the text anywhere yields the same tasks. A task is
therefore handed out once the character after its `)` has arrived (usually the line end), which
says whether an `after` list follows.

The pieces both forms share (tool names, references and their paths, strings with references
inside) are in syntax.py; the JSON form is read in json_form.py, here it is only recognised.

It checks syntax only. Whether IDs increase and references name earlier tasks is a check on the
plan, made by `checks.check_plan` / `checks.PlanChecker` whatever the plan came from; so
`parse_plan("1. f($2)")` parses, and checking it fails.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Any

from .json_form import parse_json_plan
from .plan import MAX_VALUE_DEPTH, Plan, PlanError, Ref, Task, Value
from .syntax import ID, TOOL_NAME, isdigit, make_ref, read_path, string_value

__all__ = ["PlanParser", "parse_plan"]

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_STATEMENT_START = re.compile(r"[0-9]+\.[ \t]*[\w\-.]+[ \t]*\(|Thought[ \t]*:|join[ \t]*\(|<END_OF_PLAN>")
_TASK_START_LINE = re.compile(r"^[ \t]*[0-9]+\.[ \t]*[\w\-.]+[ \t]*\(", re.MULTILINE)
_PLAIN_RUN = {'"': re.compile(r'[^"\\]+'), "'": re.compile(r"[^'\\]+")}
_KEYWORDS: dict[str, Any] = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_END = "<END_OF_PLAN>"
MAX_DEPTH = MAX_VALUE_DEPTH  # lists and objects inside one argument; deeper is a PlanError, not a RecursionError
MAX_INT_DIGITS = 4300  # Python's own limit for converting digits to an int


class _NeedMore(Exception):
    """The statement in progress runs past the text received so far."""


def parse_plan(text: str, *, known_ids: Iterable[int] = ()) -> Plan:
    """Parse a whole plan. `known_ids`, task IDs of earlier rounds, are kept on the Plan for the checks."""
    parser = PlanParser(known_ids=known_ids)
    parser.feed(text)
    parser.close()
    return parser.plan


class PlanParser:
    """Feed plan text in chunks; each call returns the tasks completed by that chunk."""

    def __init__(self, *, known_ids: Iterable[int] = ()) -> None:
        self.plan = Plan(known_ids=frozenset(known_ids))
        self._buf = ""
        self._pos = 0
        self._final = False
        self._done = False  # join() or <END_OF_PLAN> seen
        self._join_end: int | None = None  # where text after join() starts
        self._json: bool | None = None
        self._thought: str | None = None
        self._stalled_at: int | None = None  # buffer length when the last attempt needed more text
        self._depth = 0  # lists and objects open at the current position
        self._newlines: list[int] = []  # offsets of every "\n" in the buffer up to _scanned
        self._scanned = 0
        self._in_tail = False  # reading what follows a task's ')': retry on every chunk

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, chunk: str) -> list[Task]:
        if self._final:
            raise RuntimeError("feed() after close()")
        self._buf += chunk
        if not self._worth_retrying(chunk):
            return []
        return self._drain()

    def _worth_retrying(self, chunk: str) -> bool:
        """Skip re-reading a long statement in progress until the text could have completed it.

        Re-reading on every token would cost O(n²) on a long argument. A statement ends only at a
        `)` or a line end, so a chunk without either rarely helps; every 64 characters the parser
        tries anyway (short look-aheads, such as a number's exponent, resolve that way). This
        changes when a task is handed out, never which tasks: close() always reads to the end.
        """
        if self._stalled_at is None or ")" in chunk or "\n" in chunk:
            return True
        return len(self._buf) - self._stalled_at >= 64

    def close(self) -> list[Task]:
        """End of the text: finish the last statement or fail on a truncated one."""
        self._final = True
        tasks = self._drain()
        if self._json:
            tasks = parse_json_plan(self._buf, self.plan)
        elif self._join_end is not None:
            self._check_after_join()
        return tasks

    # -- statements ---------------------------------------------------------------------------

    def _drain(self) -> list[Task]:
        tasks: list[Task] = []
        while not self._done and not self._json:
            try:
                task = self._statement()
            except _NeedMore:
                # Past a task's ')' only a short tail (`after $1, $2`, or the line end) is missing:
                # any chunk may complete it, so the next one is always tried.
                self._stalled_at = None if self._in_tail else len(self._buf)
                break
            self._stalled_at = None
            if task is None:
                break
            tasks.append(task)
        return tasks

    def _statement(self) -> Task | None:
        """Parse statements at self._pos up to the next task; commit; None when no task is complete."""
        self._in_tail = False
        while True:
            i = self._skip_ws(self._pos, newlines=True)
            if i >= len(self._buf):
                return None
            if self._starts(i, "```"):
                self._pos = self._line_end(i)  # Markdown fences around a plan are noise
                continue
            if self._json is None:
                self._json = self._buf[i] == "{"
                if self._json:
                    return None
            if self._starts(i, _END):
                self._pos, self._done = len(self._buf), True
                self.plan.joined = True
                return None
            if self._starts(i, "Thought"):
                self._pos = self._thought_line(i)
                continue
            if self._starts(i, "join") or isdigit(self._buf[i]):
                return self._task(i)
            if self._starts(i, "after"):
                raise self._error(i, "`after $N` goes on its task's line, right after the task's ')'")
            raise self._error(i, "expected a task such as `1. tool(...)`, a `Thought:` line, `join()` or " + _END)

    def _line_end(self, i: int) -> int:
        end = self._buf.find("\n", i)
        if end < 0:
            self._need(len(self._buf))
            return len(self._buf)
        return end

    def _thought_line(self, i: int) -> int:
        j = self._skip_ws(i + len("Thought"), newlines=False)
        if self._char(j) != ":":
            raise self._error(j, "expected ':' after 'Thought'")
        end = self._line_end(j)
        text = self._buf[j + 1 : end].strip()
        self.plan.thoughts.append(text)
        self._thought = text or None
        return end

    def _task(self, i: int) -> Task | None:
        start = i
        task_id: int | None = None
        if isdigit(self._buf[i]):
            m = self._match(ID, i)
            assert m is not None  # a digit is there
            task_id = int(m.group())
            j = m.end()
            if self._char(j) != ".":
                raise self._error(j, f"expected '.' after the task number {task_id}")
            i = self._skip_ws(j + 1, newlines=False)
        m = self._match(TOOL_NAME, i)
        if not m:
            raise self._error(i, "expected a tool name")
        name = m.group()
        j = self._skip_ws(m.end(), newlines=False)
        if self._char(j) != "(":
            raise self._error(j, f"expected '(' after the tool name {name!r}")
        args, kwargs, end, closed = self._arguments(j + 1)
        if name == "join":
            if kwargs:
                raise self._error(j, "join(...) takes values, not name=value: join(\"$1.name is $2.value\", $3)")
            self._pos, self._done, self._join_end = end, True, end
            self.plan.joined = True
            self.plan.answer = tuple(args) if args else None
            return None
        if task_id is None:
            raise self._error(start, f"expected a task number before {name!r}, as in `1. {name}(...)`")
        after: list[int] = []
        if closed:
            self._in_tail = True
            after, end = self._after(end)
        line, column = self._line_col(start)
        task = Task(task_id, name, args, kwargs, self._thought, line, column, tuple(after))
        self.plan.tasks.append(task)
        self._pos, self._thought = end, None
        return task

    def _after(self, i: int) -> tuple[list[int], int]:
        """`after $N, $M` following a task's ')' on the same line; ([], i) when there is none."""
        k = self._skip_ws(i, newlines=False, comments=False)
        if self._char(k) == "#":
            return [], i  # a comment takes the rest of the line: no `after` list, nothing to wait for
        if not self._starts(k, "after") or self._char(k + 5) not in (" ", "\t", "\r", "$", "\n", ""):
            return [], i
        ids: list[int] = []
        k = self._skip_ws(k + 5, newlines=False)
        while True:
            if self._char(k) != "$":
                raise self._error(k, "expected a task reference such as $1 after `after` (as in `after $1, $2`)")
            ref, j = self._ref(k)
            if ref.path:
                raise self._error(k, f"`after` names whole tasks: write ${ref.task}, without a path")
            ids.append(ref.task)
            k = self._skip_ws(j, newlines=False, comments=False)
            if self._char(k) == "#":
                return ids, k
            if self._char(k) == ",":
                k = self._skip_ws(k + 1, newlines=False)
                continue
            if self._char(k) in ("\n", "") or self._statement_starts(k):
                return ids, k
            raise self._error(k, "expected ',' and another $N, or the end of the line, in an `after` list")

    def _check_after_join(self) -> None:
        rest = self._buf[self._join_end or 0 :]
        end = rest.find(_END)
        rest = rest if end < 0 else rest[:end]
        m = _TASK_START_LINE.search(rest)
        if m:
            raise self._error((self._join_end or 0) + m.start(), "task after join(): join() must come last")

    # -- arguments and values -----------------------------------------------------------------

    def _arguments(self, i: int) -> tuple[list[Value], dict[str, Value], int, bool]:
        """The arguments up to ')': (args, kwargs, where the task ends, whether a ')' closed it)."""
        args: list[Value] = []
        kwargs: dict[str, Value] = {}
        while True:
            i = self._skip_ws(i, newlines=True)
            if self._char(i) == ")":
                return args, kwargs, i + 1, True
            start = i
            key, i = self._keyword(i)
            value, i = self._argument(i)
            if key is not None:
                if key in kwargs:
                    raise self._error(start, f"argument {key!r} given twice")
                kwargs[key] = value
            elif kwargs:
                raise self._error(start, "positional argument after a keyword argument")
            else:
                args.append(value)
            i = self._skip_ws(i, newlines=False)
            c = self._char(i)
            if c == "\n":
                k = self._skip_ws(i, newlines=True)
                if self._char(k) in (",", ")"):
                    i, c = k, self._buf[k]
                elif self._statement_starts(k):
                    # The reference prompts have tasks whose ')' is missing at the end of the line.
                    return args, kwargs, k, False
            if c == ",":
                i += 1
            elif c == ")":
                return args, kwargs, i + 1, True
            else:
                raise self._error(i, "expected ',' or ')' after an argument")

    def _keyword(self, i: int) -> tuple[str | None, int]:
        m = self._match(_IDENT, i)
        if not m:
            return None, i
        j = self._skip_ws(m.end(), newlines=False)
        if self._char(j) == "=" and self._char(j + 1) != "=":
            return m.group(), self._skip_ws(j + 1, newlines=True)
        return None, i

    def _argument(self, i: int) -> tuple[Value, int]:
        """A top-level argument: a strict value, or else bare text up to the next ',' or ')'."""
        c = self._char(i)
        if c in ('"', "'", "[", "{"):
            return self._value(i)
        try:
            value, j = self._value(i)
        except PlanError:
            return self._bare_text(i)
        k = self._skip_ws(j, newlines=False)
        if self._char(k) in (",", ")", "\n", ""):
            return value, j
        return self._bare_text(i)

    def _bare_text(self, i: int) -> tuple[Value, int]:
        depth, j = 0, i
        while True:
            c = self._char(j)
            if c in ("", "\n") or (depth == 0 and c in (",", ")")):
                break
            depth += {"(": 1, ")": -1}.get(c, 0)
            j += 1
        text = self._buf[i:j].strip()
        if not text:
            raise self._error(i, "expected a value")
        return self._string_value(text, i), j

    def _value(self, i: int) -> tuple[Value, int]:
        c = self._char(i)
        if c in ('"', "'"):
            text, j = self._string(i)
            return self._string_value(text, i), j
        if c == "[":
            return self._list(i)
        if c == "{":
            return self._object(i)
        if c == "$":
            return self._ref(i)
        if c == "-" or isdigit(c):
            m = _NUMBER.match(self._buf, i)
            if not m:
                self._need(i + 2)  # a lone "-" may yet become "-5"
                raise self._error(i, "expected a number")
            self._need(self._number_end_decided_at(m.end()))
            text = m.group()
            is_int = "." not in text and "e" not in text.lower()
            if is_int and len(text.lstrip("-")) > MAX_INT_DIGITS:
                raise self._error(i, f"an integer of {len(text.lstrip('-')):,} digits; at most {MAX_INT_DIGITS:,} are allowed")
            return (int(text) if is_int else float(text)), m.end()
        m = self._match(_IDENT, i)
        if m and m.group() in _KEYWORDS:
            return _KEYWORDS[m.group()], m.end()
        found = repr(c) if c else "the end of the plan"
        raise self._error(i, f"expected a value (a string, number, list, object or $reference), found {found}")

    def _number_end_decided_at(self, end: int) -> int:
        """How much text must exist to know a number ends at `end`: "1" may go on as "1.5" or
        "1e+5", so a following ".", "e" or "e+" needs one more character to rule that out."""
        rest = self._buf[end : end + 2]
        if rest[:1] == "":
            return end + 1
        if rest[0] == ".":
            return end + 2
        if rest[0] in "eE":
            return end + (3 if rest[1:2] in ("+", "-", "") else 2)
        return end

    def _nest(self, i: int) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._error(i, f"lists and objects nest deeper than {MAX_DEPTH} levels")

    def _list(self, i: int) -> tuple[list[Value], int]:
        self._nest(i)
        try:
            return self._list_items(i)
        finally:
            self._depth -= 1

    def _list_items(self, i: int) -> tuple[list[Value], int]:
        items: list[Value] = []
        i += 1
        while True:
            i = self._skip_ws(i, newlines=True)
            if self._char(i) == "]":
                return items, i + 1
            value, i = self._value(i)
            items.append(value)
            i = self._skip_ws(i, newlines=True)
            c = self._char(i)
            if c == ",":
                i += 1
            elif c != "]":
                raise self._error(i, "expected ',' or ']' in a list")

    def _object(self, i: int) -> tuple[dict[str, Value], int]:
        self._nest(i)
        try:
            return self._object_items(i)
        finally:
            self._depth -= 1

    def _object_items(self, i: int) -> tuple[dict[str, Value], int]:
        obj: dict[str, Value] = {}
        i += 1
        while True:
            i = self._skip_ws(i, newlines=True)
            c = self._char(i)
            if c == "}":
                return obj, i + 1
            if c in ('"', "'"):
                key, i = self._string(i)
            else:
                m = self._match(_IDENT, i)
                if not m:
                    raise self._error(i, "expected a key (a string) in an object")
                key, i = m.group(), m.end()
            i = self._skip_ws(i, newlines=True)
            if self._char(i) != ":":
                raise self._error(i, "expected ':' after an object key")
            obj[key], i = self._value(self._skip_ws(i + 1, newlines=True))
            i = self._skip_ws(i, newlines=True)
            c = self._char(i)
            if c == ",":
                i += 1
            elif c != "}":
                raise self._error(i, "expected ',' or '}' in an object")

    def _string(self, i: int) -> tuple[str, int]:
        quote, j = self._buf[i], i + 1
        out: list[str] = []
        while True:
            c = self._char(j)
            if c == "":
                raise self._error(i, "unterminated string")
            if c == quote:
                return "".join(out), j + 1
            if c != "\\":
                plain = _PLAIN_RUN[quote].match(self._buf, j)  # a whole run at C speed
                assert plain is not None
                out.append(plain.group())
                j = plain.end()
                continue
            e = self._char(j + 1)
            if e == "u":
                digits = self._buf[j + 2 : j + 6]
                if len(digits) < 4:
                    self._need(len(self._buf))
                try:
                    out.append(chr(int(digits, 16)))
                except ValueError:
                    raise self._error(j, "bad \\u escape: expected four hex digits") from None
                j += 6
            else:
                out.append(_ESCAPES.get(e, "\\" + e))
                j += 2

    def _ref(self, i: int) -> tuple[Ref, int]:
        """An unquoted reference: `$N` or `${N}`, then an optional path."""
        braced = self._char(i + 1) == "{"
        m = self._match(ID, i + (2 if braced else 1))
        if not m:
            raise self._error(i, "expected a task number after '$', as in $1 or ${1}")
        fail = self._error
        path, j = read_path(self._buf, m.end(), self._char, fail)
        if braced:
            if self._char(j) != "}":
                raise self._error(j, "expected '}' to close ${...}")
            more, j = read_path(self._buf, j + 1, self._char, fail)
            path += more
        return make_ref(int(m.group()), path, lambda msg: fail(i, msg)), j

    # -- low-level look-ahead -----------------------------------------------------------------

    def _need(self, i: int) -> None:
        """Reading at i needs text not received yet: wait for more, unless the text has ended."""
        if i >= len(self._buf) and not self._final:
            raise _NeedMore

    def _char(self, i: int) -> str:
        self._need(i)
        return self._buf[i] if i < len(self._buf) else ""

    def _match(self, pattern: re.Pattern[str], i: int) -> re.Match[str] | None:
        m = pattern.match(self._buf, i)
        self._need(m.end() if m else i)
        return m

    def _starts(self, i: int, word: str) -> bool:
        piece = self._buf[i : i + len(word)]
        if len(piece) < len(word) and word.startswith(piece):
            self._need(len(self._buf))
        return piece == word

    def _skip_ws(self, i: int, *, newlines: bool, comments: bool = True) -> int:
        """Past spaces (and line ends when `newlines`) and `#` comments. A comment runs to its line
        end, which it leaves to be read; one whose line end has not arrived yet runs to the end of
        the text so far, where the caller's next read waits for more."""
        spaces = " \t\r\n" if newlines else " \t\r"
        buf = self._buf
        while i < len(buf):
            c = buf[i]
            if c in spaces:
                i += 1
            elif c == "#" and comments:
                end = buf.find("\n", i)
                if end < 0:
                    return len(buf)
                i = end
            else:
                break
        return i

    def _statement_starts(self, i: int) -> bool:
        if _STATEMENT_START.match(self._buf, i):
            return True
        if "\n" not in self._buf[i:]:
            self._need(len(self._buf))
        return False

    def _line_col(self, i: int) -> tuple[int, int]:
        # Newlines are indexed once as the buffer grows, so finding a task's line is a bisection,
        # not a count from the start (which made parsing quadratic in the number of tasks).
        if i > self._scanned:
            j = self._buf.find("\n", self._scanned, i)
            while j >= 0:
                self._newlines.append(j)
                j = self._buf.find("\n", j + 1, i)
            self._scanned = i
        before = bisect.bisect_left(self._newlines, i)
        line_start = self._newlines[before - 1] + 1 if before else 0
        return before + 1, i - line_start + 1

    def _string_value(self, text: str, at: int) -> Value:
        if "$" not in text:  # most strings: no reference to look for, and no error to place
            return text
        return string_value(text, lambda message: self._error(at, message))

    def _error(self, i: int, message: str) -> PlanError:
        line, col = self._line_col(min(i, len(self._buf)))
        if i >= len(self._buf) and self._final:
            message += " (the plan text ended here)"
        return PlanError(message, line, col)
