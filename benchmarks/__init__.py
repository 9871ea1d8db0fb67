"""The benchmark lab, outside the installed package: run it from a clone of the repository.

- `benchmarks.lab`: ReAct vs parallel function calling vs LLMCompiler, and the bridge's own cost
  (`python -m benchmarks.bench --quick --out bench-out`, see docs/bench.md);
- `benchmarks.simllm`: a simulated LLM endpoint (OpenAI and Anthropic wire formats over HTTP) for
  the lab and the test suite;
- `benchmarks.pin`: run a module pinned to some CPUs.
"""

from pathlib import Path

# The repository root. Child processes that run `python -m benchmarks....` start here, so they
# import this package wherever the lab itself was started from.
ROOT = Path(__file__).resolve().parent.parent
