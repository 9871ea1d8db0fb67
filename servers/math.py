"""The bundled ``math`` MCP server: a safe arithmetic evaluator and a few numeric helpers.

``eval`` parses the expression with :mod:`ast` and walks a whitelist of node types; nothing
is ever passed to Python's ``eval``/``exec``. Names are looked up in the caller's
``variables`` and the constants ``pi``, ``e`` and ``tau`` (there is no ``inf``: results
must be finite JSON numbers). Limits keep a hostile or careless expression from
hanging the server: the expression's length and node count, the size of integers (so
``9**9**9`` is refused at once instead of computed), and ``factorial``'s argument.

Tools (all read-only and deterministic):

- ``eval(expression, variables=None)`` -> ``{expression, value}``;
- ``sum(values)`` -> ``{value, count}``;
- ``stats(values)`` -> ``{count, sum, mean, min, max}``;
- ``percent_change(old, new)`` -> ``{old, new, change, percent}``;
- ``compare(a, b)`` -> ``{a, b, larger, difference, ratio}``.

Run: ``python -m mcp_compiler.servers.math`` (stdio) or
``python -m mcp_compiler.servers.math --transport http --port 8002`` (Streamable HTTP at /mcp).
``MCP_COMPILER_SIM_LATENCY_MS`` / ``MCP_COMPILER_SIM_LATENCY_MS_MATH`` add a simulated delay
to every tool call (see ``mcp_compiler.servers._common``). Logs go to stderr only.
"""

from __future__ import annotations

import ast
import math
import operator
import statistics
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ._common import SimulatedLatency, run_server

Number = int | float
Value = int | float | bool

MAX_EXPRESSION_CHARS = 2_000
MAX_NODES = 400
# Integers beyond ~1,200 digits are refused: big enough for any real calculation, small
# enough that every operation on them is instant.
MAX_INT_BITS = 4_096
MAX_FACTORIAL = 400

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class EvalError(Exception):
    """A problem with the expression, located by column (1-based) and the offending text."""

    def __init__(self, message: str, node: ast.AST | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column if column is not None else (node.col_offset + 1 if isinstance(node, ast.expr) else None)
        self.end = node.end_col_offset if isinstance(node, ast.expr) else None
        self.source = ""

    def __str__(self) -> str:
        if self.column is None:
            return self.message
        if self.column > len(self.source):
            return f"{self.message} at the end of the expression"
        where = f"{self.message} at column {self.column}"
        if self.end is not None and self.end - self.column >= 1:
            snippet = self.source[self.column - 1 : self.end]
            where += f": {snippet if len(snippet) <= 60 else snippet[:57] + '...'}"
        return where


# ---------------------------------------------------------------------------- functions


def _log(x: float, base: float = math.e) -> float:
    return math.log(x, base)


def _round(x: float, ndigits: int = 0) -> Number:
    if not isinstance(ndigits, int) or isinstance(ndigits, bool):
        raise ValueError("round()'s second argument must be a whole number")
    return round(x) if ndigits == 0 else round(x, ndigits)


def _factorial(n: Number) -> int:
    if n != int(n) or n < 0:
        raise ValueError("factorial() needs a whole number >= 0")
    if n > MAX_FACTORIAL:
        raise ValueError(f"factorial() is limited to n <= {MAX_FACTORIAL}")
    return math.factorial(int(n))


def _flatten(args: tuple[Any, ...]) -> list[Number]:
    # min(1, 2, 3) and min([1, 2, 3]) both work, as in Python.
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items:
        raise ValueError("needs at least one number")
    return items


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _round,
    "min": lambda *a: min(_flatten(a)),
    "max": lambda *a: max(_flatten(a)),
    "sum": lambda *a: sum(_flatten(a)),
    "mean": lambda *a: statistics.fmean(_flatten(a)),
    "median": lambda *a: statistics.median(_flatten(a)),
    "sqrt": math.sqrt,
    "cbrt": math.cbrt,
    "exp": math.exp,
    "log": _log,
    "ln": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "hypot": math.hypot,
    "degrees": math.degrees,
    "radians": math.radians,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "factorial": _factorial,
}

BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
# Python spellings people reach for that mean something else here; say what to write.
HINTS: dict[type[ast.AST], str] = {
    ast.BitXor: "'^' is not a power here; write a ** b",
    ast.BitAnd: "bitwise '&' is not supported; use 'and'",
    ast.BitOr: "bitwise '|' is not supported; use 'or'",
    ast.MatMult: "'@' is not supported",
    ast.LShift: "'<<' is not supported; write a * 2 ** n",
    ast.RShift: "'>>' is not supported; write a // 2 ** n",
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "indexing ('[...]') is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "strings are not allowed",
}


# ---------------------------------------------------------------------------- the evaluator


class Evaluator:
    """Walks a parsed expression, allowing only arithmetic on numbers."""

    def __init__(self, names: dict[str, Number]) -> None:
        self.names = names

    def run(self, expression: str) -> Value:
        if len(expression) > MAX_EXPRESSION_CHARS:
            raise EvalError(f"expression is too long ({len(expression)} characters, limit {MAX_EXPRESSION_CHARS})")
        if not expression.strip():
            raise EvalError("expression is empty")
        # One line without leading blanks (Python would call them an indent); `shift` keeps
        # every column we report pointing into the text the caller sent.
        source = expression.replace("\r", " ").replace("\n", " ").replace("\t", " ")
        body = source.lstrip()
        shift = len(source) - len(body)
        try:
            try:
                tree = ast.parse(body, mode="eval")
            except SyntaxError as exc:
                column = exc.offset if exc.offset and exc.offset <= len(body) else len(body) + 1
                raise EvalError(f"syntax error: {exc.msg}", column=column) from None
            count = sum(1 for _ in ast.walk(tree))
            if count > MAX_NODES:
                raise EvalError(f"expression is too complex ({count} parts, limit {MAX_NODES})")
            value = self.visit(tree.body)
            if isinstance(value, list):
                raise EvalError("the result is a list; wrap it in a function such as sum(...) or max(...)")
            return value
        except EvalError as exc:
            if exc.column is not None:
                exc.column += shift
                exc.end = exc.end + shift if exc.end is not None else None
            exc.source = source
            raise

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            hint = HINTS.get(type(node)) or f"{type(node).__name__} is not allowed"
            raise EvalError(hint, node)
        return method(node)

    def visit_Constant(self, node: ast.Constant) -> Value:
        if isinstance(node.value, bool | int | float):
            return check(node.value, node)
        kind = "strings are" if isinstance(node.value, str) else f"{type(node.value).__name__} values are"
        raise EvalError(f"{kind} not allowed; only numbers", node)

    def visit_Name(self, node: ast.Name) -> Number:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id in FUNCTIONS:
            raise EvalError(f"{node.id} is a function; call it as {node.id}(...)", node)
        known = ", ".join(sorted(self.names)) or "none"
        raise EvalError(f"unknown name {node.id!r} (known names: {known})", node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Value:
        operand = number(self.visit(node.operand), node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        if isinstance(node.op, ast.Not):
            return not operand
        raise EvalError("'~' is not supported", node)

    def visit_BinOp(self, node: ast.BinOp) -> Number:
        left = number(self.visit(node.left), node.left)
        right = number(self.visit(node.right), node.right)
        if isinstance(node.op, ast.Pow):
            return check(power(left, right, node), node)
        op = BINARY.get(type(node.op))
        if op is None:
            raise EvalError(HINTS.get(type(node.op), f"operator {type(node.op).__name__} is not supported"), node)
        try:
            return check(op(left, right), node)
        except ZeroDivisionError:
            raise EvalError("division by zero", node) from None
        except OverflowError:
            raise EvalError("result too large", node) from None

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = number(self.visit(node.left), node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = number(self.visit(right_node), right_node)
            compare = COMPARE.get(type(op))
            if compare is None:
                raise EvalError(f"comparison {type(op).__name__} is not supported; use < <= > >= == !=", node)
            if not compare(left, right):
                return False
            left = right
        return True

    def visit_BoolOp(self, node: ast.BoolOp) -> Value:
        # Short-circuits like Python, and returns the deciding operand like Python.
        is_and = isinstance(node.op, ast.And)
        value: Value = is_and
        for operand in node.values:
            value = number(self.visit(operand), operand)
            if bool(value) != is_and:
                return value
        return value

    def visit_IfExp(self, node: ast.IfExp) -> Value:
        condition = number(self.visit(node.test), node.test)
        return self.visit(node.body if condition else node.orelse)

    def visit_List(self, node: ast.List | ast.Tuple) -> list[Number]:
        return [number(self.visit(item), item) for item in node.elts]

    visit_Tuple = visit_List

    def visit_Call(self, node: ast.Call) -> Value:
        if not isinstance(node.func, ast.Name):
            raise EvalError("only calls to the built-in functions are allowed, e.g. sqrt(2)", node)
        name = node.func.id
        function = FUNCTIONS.get(name)
        if function is None:
            raise EvalError(f"unknown function {name!r}; functions: {', '.join(sorted(FUNCTIONS))}", node)
        if node.keywords:
            raise EvalError(f"{name}() takes positional arguments only", node)
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise EvalError("'*' unpacking is not allowed", node)
        args = [self.visit(arg) for arg in node.args]
        try:
            result = function(*args)
        except TypeError as exc:
            raise EvalError(f"bad arguments for {name}(): {exc}", node) from None
        except ValueError as exc:
            raise EvalError(f"{name}(): {exc}", node) from None
        except ZeroDivisionError:
            raise EvalError(f"{name}(): division by zero", node) from None
        except OverflowError:
            raise EvalError(f"{name}(): result too large", node) from None
        return check(result, node)


def number(value: Any, node: ast.AST) -> Number:
    """Operators work on numbers only: no list arithmetic, so no `[0] * 10**9`."""
    if isinstance(value, bool | int | float):
        return value
    raise EvalError("expected a number here, not a list", node)


def check(value: Any, node: ast.AST) -> Any:
    """Keep every intermediate result a finite number of bounded size."""
    if isinstance(value, complex):
        raise EvalError("the result would be a complex number", node)
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError("result is not a finite number (overflow)", node)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise EvalError(f"result too large (more than {MAX_INT_BITS} bits)", node)
    return value


def power(base: Number, exponent: Number, node: ast.AST) -> Number:
    # Estimate the size before computing, so 9**9**9 fails in microseconds.
    if isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if isinstance(base, int) and exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise EvalError(f"result too large (more than {MAX_INT_BITS} bits)", node)
    try:
        return base**exponent
    except ZeroDivisionError:
        raise EvalError("0 cannot be raised to a negative power", node) from None
    except OverflowError:
        raise EvalError("result too large", node) from None


def evaluate(expression: str, variables: dict[str, Number] | None = None) -> Value:
    """Evaluate safely; raises EvalError with the column of the problem."""
    names: dict[str, Number] = dict(CONSTANTS)
    for name, value in (variables or {}).items():
        if not name.isidentifier() or name.startswith("_"):
            raise EvalError(f"variable name {name!r} must be an identifier not starting with '_'")
        if name in FUNCTIONS:
            raise EvalError(f"variable name {name!r} is taken by a function")
        if not math.isfinite(value):
            raise EvalError(f"variable {name!r} is not a finite number")
        names[name] = value
    return Evaluator(names).run(expression)


# ---------------------------------------------------------------------------- result models


class EvalResult(BaseModel):
    expression: str
    value: Value = Field(description="a number, or true/false for comparisons")


class SumResult(BaseModel):
    value: float
    count: int


class StatsResult(BaseModel):
    count: int
    sum: float
    mean: float
    min: float
    max: float


class PercentChangeResult(BaseModel):
    old: float
    new: float
    change: float = Field(description="new - old")
    percent: float = Field(description="(new - old) / |old| * 100")


class CompareResult(BaseModel):
    a: float
    b: float
    larger: Literal["a", "b", "equal"]
    difference: float = Field(description="a - b")
    ratio: float | None = Field(description="a / b, or null when b is 0")


# ---------------------------------------------------------------------------- the server

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
Numbers = Annotated[list[float], Field(min_length=1, max_length=10_000)]

server = MCPServer(
    "math",
    instructions=(
        "Exact arithmetic for plans. Use eval for any formula over numbers from other tools, e.g. "
        "eval('a * 0.9 > b * 1.05', {'a': 6650, 'b': 6400})."
    ),
    middleware=[SimulatedLatency("math")],
)


@server.tool(name="eval", title="Evaluate an arithmetic expression", annotations=READ_ONLY)
async def eval_(expression: str, variables: dict[str, float] | None = None) -> EvalResult:
    """Evaluate an arithmetic expression safely (no Python code runs).

    Supports numbers, + - * / // % ** (not ^), parentheses, comparisons (< <= > >= == !=),
    and/or/not, `x if cond else y`, the constants pi, e, tau, the names in `variables`,
    and the functions abs round min max sum mean median sqrt cbrt exp log(x[, base]) ln
    log10 log2 sin cos tan asin acos atan atan2 hypot degrees radians floor ceil trunc
    factorial. Example: eval("nile * 0.9 > amazon * 1.05", {"nile": 6650, "amazon": 6400})
    -> value false.
    """
    try:
        value = evaluate(expression, variables)
    except EvalError as exc:
        raise ToolError(f"cannot evaluate {expression[:200]!r}: {exc}") from None
    return EvalResult(expression=expression, value=value)


@server.tool(name="sum", title="Add up numbers", annotations=READ_ONLY)
async def sum_(values: Numbers) -> SumResult:
    """The sum of a list of numbers: sum([1, 2, 3.5]) -> value 6.5."""
    return SumResult(value=math.fsum(values), count=len(values))


@server.tool(title="Summary statistics", annotations=READ_ONLY)
async def stats(values: Numbers) -> StatsResult:
    """Count, sum, mean, min and max of a list of numbers."""
    return StatsResult(
        count=len(values), sum=math.fsum(values), mean=statistics.fmean(values), min=min(values), max=max(values)
    )


@server.tool(title="Percent change", annotations=READ_ONLY)
async def percent_change(old: float, new: float) -> PercentChangeResult:
    """The change from old to new, absolute and in percent: (100, 125) -> percent 25."""
    if old == 0:
        raise ToolError("percent change from 0 is undefined; old must not be 0")
    return PercentChangeResult(old=old, new=new, change=new - old, percent=(new - old) / abs(old) * 100)


@server.tool(title="Compare two numbers", annotations=READ_ONLY)
async def compare(a: float, b: float) -> CompareResult:
    """Which of two numbers is larger, their difference (a - b) and ratio (a / b)."""
    larger: Literal["a", "b", "equal"] = "a" if a > b else "b" if b > a else "equal"
    return CompareResult(a=a, b=b, larger=larger, difference=a - b, ratio=a / b if b else None)


def main(argv: list[str] | None = None) -> None:
    run_server(server, argv)


if __name__ == "__main__":
    main()
