"""The plan language, described once, in pieces that a prompt or a tool description composes.

The planner prompt (planner.py) and the MCP tool description of `compile_and_run` both teach
the same language; each takes these pieces and adds only its own framing (the planner: its role,
the output format and the stop marker; the tool description: "give exactly one of `plan` or
`query`" and what the answer is). What the pieces say is what parser.py and checks.py do.

Text pieces, each a few `- ` bullet lines, to be joined with newlines:

- `SYNTAX`: a task line, task IDs, tool names, argument values.
- `ARGUMENTS`: how positional arguments map onto a tool's parameters, and what `-> {fields}`
  in a tool line (`catalog.tool_line(..., with_output=True)`) means.
- `REFERENCES`: `$N` and its paths, references inside strings, which tasks `$N` may name, and the
  spread `$N.path[*]` (one call per element of a list).
- `ORDER`: `after $N` (wait for a task without using its value) and the plan order that calls to
  one server keep around calls with side effects.
- `THOUGHT_AND_JOIN`: `Thought:` lines, `join()`, and `join(VALUE, ...)` (the answer projection).
- `CHECKS`: what is checked before a task runs, and what an error says.
- `RULES`: the six above, joined: the whole language without framing.
- `CHECK_FAILS_WHOLE`: what a failing check does to a plan given whole (`compile_and_run(plan=...)`,
  `mcp-compiler run --plan`): nothing runs.
- `CHECK_FAILS_STREAMED`: what it does to a plan the planner streams: the tasks before the failing
  one keep running and the planner gets the error once to continue.

Examples, as `Example` (`question`, `plan` from an optional `Thought:` line to `join()`, `note`
on how it runs, `tools` it calls):

- `EXAMPLE_GENERIC`: over placeholder tool names (`search.find`, `calc.compare`).
- `EXAMPLE_WIKI_MATH`: over the bundled `wiki` and `math` servers.
- `example_for(tool_names)`: `EXAMPLE_WIKI_MATH` when every tool it calls is among `tool_names`,
  else `EXAMPLE_GENERIC`.

A tool description might read:

    f"{intro}\\n\\nPlan language:\\n{RULES}\\n{CHECK_FAILS_WHOLE}\\n\\n"
    f"Example:\\n{textwrap.indent(ex.plan, '  ')}\\n({ex.note})"   # ex = example_for(catalog)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from .parser import parse_plan

__all__ = [
    "ARGUMENTS", "CHECKS", "CHECK_FAILS_STREAMED", "CHECK_FAILS_WHOLE", "EXAMPLE_GENERIC", "EXAMPLE_WIKI_MATH",
    "Example", "ORDER", "REFERENCES", "RULES", "SYNTAX", "THOUGHT_AND_JOIN", "example_for",
]

SYNTAX = """\
- One task per line: `ID. server.tool(arguments)`. IDs are positive integers that increase (1, 2, \
3, ...; a later round goes on from the last ID). A bare `tool` works when only one server has it.
- Arguments are JSON values (or `True`, `False`, `None`, 'single quotes'), positional ones first, \
then `name=value`; they may span lines."""

ARGUMENTS = """\
- Positional arguments follow the tool's parameters in the order listed (required first; `?` or \
`= default` marks an optional one; `[T]` is an array of T, `{a: T}` an object). `-> {fields}` lists \
the fields of a tool's result."""

REFERENCES = """\
- `$N` is task N's result, with its type; `$N.field`, `$N.items[0].name`, `$N["key"]` pick parts \
of it. `$N` may only name an earlier task (or one of an earlier round).
- In a string, `$N.field` or `${N.field}` becomes the value's text: "population of $1.name". \
`${N}` ends the reference ("${1}.txt"); `$$` is a literal `$`.
- `[*]` spreads: an argument holding `$N.path[*]` makes the task one call per element of the list `$N.path`, all at once (in order, one at a time, for a tool not marked read-only), with the element in its place (`wiki.fact($1.items[*].name, "height_m")`: one call per item's name; in a string, its text). Its value is the list of the calls' values in order: `$2[0].value`, `$2[*].value`. One list per task."""

ORDER = """\
- `ID. server.tool(...) after $1, $2` (on the task's line) makes it wait for tasks 1 and 2 without \
using their results; it runs only if they succeeded. Calls to one server already keep plan order \
around each call not marked read-only (writes wait for the calls before them, later calls wait for \
the writes), so `after` is for order across servers."""

THOUGHT_AND_JOIN = """\
- `Thought: ...` lines are notes and never run. `join()` on its own line ends the plan; no task may \
follow it.
- `join(VALUE, ...)` ends it too, and the answer is exactly those values, one a line (text as it \
is, anything else as compact JSON; a value with `[*]`, one line per element). Write it when the \
results alone determine the answer, e.g. `join("$3.value km is longer")`: no joiner is then asked \
(unless a task failed)."""

CHECKS = """\
- Each task is checked before it runs: the tool exists, the arguments fit its schema, every `$N` \
names an earlier task, IDs increase, `$N.field` paths exist in task N's `-> {fields}`. An error \
gives the line, the column and what was expected."""

RULES = "\n".join([SYNTAX, ARGUMENTS, REFERENCES, ORDER, THOUGHT_AND_JOIN, CHECKS])

CHECK_FAILS_WHOLE = "- A plan that fails a check runs nothing."

CHECK_FAILS_STREAMED = """\
- Tasks are checked as you write them; at a failing one, the tasks before it keep running and you \
get the error, once, to continue after them."""


@dataclass(frozen=True)
class Example:
    """A question and a plan that answers it; `note` says how it runs, `tools` what it calls."""

    question: str
    plan: str  # from an optional `Thought:` line to `join()`, one statement a line
    note: str

    @cached_property
    def tools(self) -> frozenset[str]:
        return frozenset(task.tool for task in parse_plan(self.plan).tasks)


EXAMPLE_GENERIC = Example(
    question="(two independent look-ups, then a step that needs both)",
    plan="""\
1. search.find(query="Nile")
2. search.find(query="Amazon")
3. calc.compare(a=$1.length_km, b=$2.length_km)
join()""",
    note="the tool names are placeholders; 1 and 2 run at once, 3 starts when both are done",
)

EXAMPLE_WIKI_MATH = Example(
    question="By how many miles do the Nile shortened by 10% and the Amazon extended by 5% differ?",
    plan="""\
Thought: The two look-ups are independent; math needs both, then converts the difference.
1. wiki.fact("Nile", "length_km")
2. wiki.fact("Amazon", "length_km")
3. math.eval("nile * 0.9 - amazon * 1.05", {"nile": $1.value, "amazon": $2.value})
4. math.eval("abs($3.value) / 1.609344")
join()""",
    note="1 and 2 run at once; 3 starts when both are done, 4 when 3 is",
)


def example_for(tool_names: Iterable[str]) -> Example:
    """The wiki/math example when a catalog has the tools it calls, else the generic one."""
    return EXAMPLE_WIKI_MATH if EXAMPLE_WIKI_MATH.tools <= set(tool_names) else EXAMPLE_GENERIC
