"""The house: arrows go one way. The engine knows nothing of MCP's server side, the CLI or the
config file; the composition root (gateway.py) is where those meet; no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "mcp_compiler"

ENGINE = {"language", "engine", "tools", "llm", "compiler", "errors", "testing", "text", "task_protocol", "state"}
EDGES = {"config", "host_configs", "server", "cli", "upstreams", "gateway", "demo", "logs"}


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports (by their dotted name under mcp_compiler)."""
    tree = ast.parse(path.read_text())
    here = _module_of(path).split(".") if _module_of(path) else []
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here if is_package else here[:-1]
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, node.module]) if node.module else ".".join(base)
            found.add(target)
            if not node.module:
                found.update(".".join([*base, a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mcp_compiler."):
            found.add(node.module.removeprefix("mcp_compiler."))
    return {f for f in found if f}


def _graph() -> dict[str, set[str]]:
    return {_module_of(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_no_engine_module_imports_the_server_the_cli_or_the_config_model() -> None:
    offending = {
        module: sorted(t for t in targets if _top(t) in EDGES)
        for module, targets in _graph().items()
        if _top(module) in ENGINE
    }
    assert {m: t for m, t in offending.items() if t} == {}


def test_the_package_has_no_import_cycles() -> None:
    graph = _graph()
    # Resolve "pkg.name" imports of names (not modules) to the module that holds them.
    modules = set(graph)
    edges = {m: {t if t in modules else t.rsplit(".", 1)[0] for t in ts} & modules for m, ts in graph.items()}
    edges = {m: {t for t in ts if t != m and not m.startswith(t + ".")} for m, ts in edges.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for module in sorted(edges):
        if state.get(module) is None and visit(module, []):
            break
    assert cycle == []


def test_every_error_the_package_raises_on_purpose_is_a_compiler_error() -> None:
    import mcp_compiler as mc

    families = [mc.PlanError, mc.ConfigError, mc.RequestError, mc.ToolError, mc.CallTimeout, mc.CallRefused,
                mc.ConnectionLost, mc.LLMError]
    assert all(issubclass(family, mc.CompilerError) for family in families)
    from mcp_compiler.errors import NoPlanner
    from mcp_compiler.upstreams import UpstreamLost

    assert issubclass(NoPlanner, mc.RequestError) and issubclass(UpstreamLost, mc.ConnectionLost)


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]


def test_no_module_is_over_600_lines() -> None:
    """A module a reader can hold in mind: past 600 lines it holds more than one idea (split it)."""
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def test_no_two_modules_share_a_file_name() -> None:
    """One name, one idea: `tasks.py` in two folders makes every mention of it ambiguous."""
    seen: dict[str, list[str]] = {}
    for p in _modules():
        if p.name != "__init__.py":
            seen.setdefault(p.name, []).append(str(p.relative_to(PACKAGE)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_no_object_reads_another_objects_private_attributes() -> None:
    """`other._x` couples two classes through what one of them meant to keep to itself; neighbours
    talk through public members, callbacks or a declared interface. `self._x` and `cls._x` are fine."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
    assert found == []
