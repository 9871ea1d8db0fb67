"""mypy over the package, at the strictness pyproject.toml sets ([tool.mypy]: strict, less
warn_return_any): a wrong type on an error path fails the suite instead of a user's run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.timeout(600)
def test_mypy_finds_no_type_errors_in_the_package() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    """A bare `# type: ignore` silences every error on its line, the ones nobody has seen yet too;
    and each one says why the checker is wrong there (after it, or in a comment just above)."""
    bare, unexplained = [], []
    for path in (ROOT / "mcp_compiler").rglob("*.py"):
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            if "# type: ignore" not in line:
                continue
            where = f"{path.relative_to(ROOT)}:{n}"
            if "# type: ignore[" not in line:
                bare.append(where)
            after = line.split("# type: ignore", 1)[1].split("]", 1)[-1]
            if "#" not in after and not lines[n - 2].strip().startswith("#"):
                unexplained.append(where)
    assert bare == [] and unexplained == []
