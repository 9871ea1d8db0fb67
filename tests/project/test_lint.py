"""ruff over the code and tests (the rules, and why each, are in pyproject.toml): a mistake such as an
undefined name on an error path fails the suite instead of a user's run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_ruff_finds_no_unused_imports_or_undefined_names() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "mcp_compiler", "tests", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
