"""Size budgets end to end: the attack from the hardening issue (17 tasks, each
`concat(a=$N, b=$N)` of the previous, drove the server to 1.1 GiB) over a real stdio upstream and
`mcp-compiler run`, with its peak memory measured. The budgets' unit tests are in
tests/unit/test_budgets.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"


def doubling_plan(tasks: int, seed: str = "ab" * 512, path: str = "") -> str:
    """`path`: `.result` over an MCP server, whose `str` results come wrapped as {"result": ...}."""
    lines = [f'1. concat("{seed}", "")']
    lines += [f"{i}. concat(a=${i - 1}{path}, b=${i - 1}{path})" for i in range(2, tasks + 1)]
    return "\n".join(lines) + "\njoin()"


def test_the_doubling_attack_over_a_real_upstream_stays_small_in_memory(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "mcpServers": {"sleepy": {"command": sys.executable, "args": [str(FIXTURES / "sleepy_server.py")]}},
        "compiler": {"max_value_bytes": 4 * 2**20, "connect_timeout_s": 30},
    }))
    # The static checks refuse `$N` (an object, per the tool's output schema) for a string parameter.
    plan = doubling_plan(17, path=".result")
    script = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
        "print(p.returncode)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.write(p.stdout[-2000:] + p.stderr[-2000:])\n"
    )
    measured = subprocess.run(
        [sys.executable, "-c", script, sys.executable, "-m", "mcp_compiler", "run", "--config", str(config),
         "--json", "--plan", plan],
        capture_output=True, text=True, timeout=180,
    )
    code, peak_kib = (int(x) for x in measured.stdout.split()[:2])
    assert code == 1, measured.stderr  # a run with failed tasks
    # The peak of the largest child (the CLI or the upstream), well under the 1.1 GiB it took unbounded.
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    print(f"\ndoubling attack over a real upstream: peak RSS {peak_kib / 1024:.0f} MiB")
