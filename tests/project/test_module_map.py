"""docs/architecture.md's module map names every module of the package, so a newcomer's map of the
house is the house: a module added without a line there fails here."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_module_map_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    sections = text.split("### `mcp_compiler/")
    listed = set()
    for section in sections[1:]:
        folder = section.split("`", 1)[0]  # "" for the top, "engine/" for a part
        for line in section.splitlines():
            if line.startswith("- `") and "`" in line[3:]:
                listed.add(folder + line[3:].split("`", 1)[0])
    modules = {p.relative_to(ROOT / "mcp_compiler").as_posix() for p in (ROOT / "mcp_compiler").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sorted(modules - listed) == []
