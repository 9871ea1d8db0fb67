"""The benchmark lab: strategies side by side (ReAct, parallel function calling, LLMCompiler batch
and streaming) and the bridge's own cost. Run from the repository root:

    python -m benchmarks.bench --quick --out bench-out
    python -m benchmarks.bench --workloads movie,chain --instances 5 --no-bridge
    python -m benchmarks.bench --time-scale 0.5

(`python benchmarks/bench.py ...` works too, from anywhere.) Needs the package installed
(`pip install -e '.[bench]'`; matplotlib for the charts). See docs/bench.md for what is measured
and how.
"""

import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.lab.runner import main

if __name__ == "__main__":
    main()
