"""Run a module pinned to some CPUs: `python -m benchmarks.pin 1 benchmarks.lab.noop_server`.

The overhead measurement pins the two sides of every call (caller on one core, the no-op server
on another) so each way is timed with the same placement. Unpinned on 2 cores, where the
scheduler puts a client and its server decides a call's time more than the bridge does: the
same 32 direct calls took 27-56 ms across repeats.
"""

from __future__ import annotations

import os
import runpy
import sys


def pin(cpus: set[int]) -> bool:
    """Pin this process to `cpus` where the OS allows it; False when it cannot."""
    setter = getattr(os, "sched_setaffinity", None)  # Linux only
    if setter is None or not cpus:
        return False
    try:
        setter(0, cpus)
    except OSError:
        return False
    return True


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: python -m benchmarks.pin CPU[,CPU...] MODULE [ARGS...]")
    cpus = {int(c) for c in sys.argv[1].split(",") if c}
    module, args = sys.argv[2], sys.argv[3:]
    pin(cpus)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
