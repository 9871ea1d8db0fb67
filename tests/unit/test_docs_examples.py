"""Every plan and every config the README and the manual show parses or loads as written.

A block is recognised by its fence's info string: ```plan is a plan in the text form (parsed
with `parse_plan`), ```json is a config (loaded with the config loader, as `--config` would). A
```json config whose server runs mcp-compiler itself is the host's side (Claude Desktop's file
pointing at mcp-compiler): its arguments must be ones the CLI accepts, and the rest loads.
A ```console block's `--plan '...'` is a plan. The other fences (```bash, bare ```) are commands
and pictures, not checked here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mcp_compiler import parse_plan
from mcp_compiler.cli import parse_args
from mcp_compiler.config import parse_config
from mcp_compiler.host_configs import input_variable

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def _blocks(info: str) -> list[Any]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            if m.group("info") != info:
                continue
            line = text.count("\n", 0, m.start()) + 1
            body = "".join(row[len(m.group("indent")):] for row in m.group("body").splitlines(keepends=True))
            found.append(pytest.param(body, id=f"{page.relative_to(ROOT)}:{line}"))
    return found


# A ```console block's `--plan '...'` is a plan too.
PLANS = _blocks("plan") + [
    pytest.param(m.group(1), id=f"{p.id}:--plan")
    for p in _blocks("console")
    for m in re.finditer(r"--plan '([^']*)'", p.values[0])
]
CONFIGS = _blocks("json")


def test_the_docs_mark_their_examples() -> None:
    # The README and the plan-language page show plans; the config page shows configs. A fence
    # that lost its info string would drop out of the tests below without failing them.
    assert len(PLANS) >= 5 and len(CONFIGS) >= 6
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            body = m.group("body").lstrip()
            if not m.group("info") and (re.match(r"(Thought:|[0-9]+\. [\w.]+\()", body) or body.startswith("{")):
                line = text.count("\n", 0, m.start()) + 1
                raise AssertionError(f"{page.name}:{line}: a plan or config fenced without ```plan / ```json")


@pytest.mark.parametrize("text", PLANS)
def test_every_plan_in_the_docs_parses(text: str) -> None:
    plan = parse_plan(text)
    assert plan.tasks, "a plan example with no task"
    assert plan.joined or plan.tasks


def _environment_for(text: str) -> dict[str, str]:
    """A value for every variable the config names: `${VAR}`, `${env:VAR}`, `${input:ID}`."""
    names = set(re.findall(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)", text)) - {"workspaceFolder", "userHome"}
    env = dict.fromkeys(names, "example")
    env.update({input_variable(i): "example" for i in re.findall(r"\$\{input:([^}]+)\}", text)})
    return env


def _runs_mcp_compiler(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    command = str(entry.get("command", ""))
    args = [str(a) for a in entry.get("args", [])]
    return Path(command).name == "mcp-compiler" or args[:2] == ["-m", "mcp_compiler"]


@pytest.mark.parametrize("text", CONFIGS)
def test_every_config_in_the_docs_loads(text: str, tmp_path: Path) -> None:
    data = json.loads(text)
    for section in ("mcpServers", "servers"):
        for name, entry in list(data.get(section, {}).items()):
            if _runs_mcp_compiler(entry):
                args = [str(a) for a in entry.get("args", [])]
                parse_args(args[2:] if args[:2] == ["-m", "mcp_compiler"] else args)
                del data[section][name]
            elif isinstance(entry, dict) and "envFile" in entry:
                # The env file is the reader's own: an empty one where the example says it is.
                path = Path(str(entry["envFile"]).replace("${workspaceFolder}", str(tmp_path)))
                path = path if path.is_absolute() else tmp_path / path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("", encoding="utf-8")
    config = parse_config(data, environ=_environment_for(text), base_dir=tmp_path)
    assert config.servers or not any(data.get(s) for s in ("mcpServers", "servers"))
