"""Strategies side by side (ReAct, parallel function calling, LLMCompiler batch and streaming) and
the bridge's own cost: the same as `mcp-compiler bench`, with a few more knobs.

    python benchmarks/bench.py --quick --out bench-out
    python benchmarks/bench.py --workloads movie,chain --instances 5 --no-bridge
    python benchmarks/bench.py --time-scale 0.5

See docs/bench.md for what is measured and how.
"""

from mcp_compiler.bench.runner import main

if __name__ == "__main__":
    main()
