"""The size and time of a compile_and_run reply for one large tool result (the result contract).

    python benchmarks/reply_size.py [--sizes 400000,20000000] [--reps 2] [--transport stdio|http]

Runs `mcp-compiler serve` as a subprocess in front of tests/fixtures/media_server.py, calls
`1. media.big(SIZE)` with the Python SDK's client, and prints, per size and repetition, the
reply's JSON size and the call's time (from the host's side), then the time to read the value
back in its parts. Prints a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "fixtures" / "media_server.py"
sys.path.insert(0, str(ROOT / "tests"))


async def measure(target: object, sizes: list[int], reps: int) -> list[tuple[int, int, float, float | None]]:
    rows = []
    async with Client(target) as client:  # type: ignore[arg-type]
        await client.call_tool("compile_and_run", {"plan": "1. media.big(10)"})  # servers up, code warm
        for size in sizes:
            for _ in range(reps):
                started = time.perf_counter()
                result = await client.call_tool("compile_and_run", {"plan": f"1. media.big({size})"})
                took = time.perf_counter() - started
                reply = len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))
                stored = (result.structured_content or {}).get("tasks", [{}])[0].get("result_stored")
                read = None
                if stored and stored["uri"]:
                    started = time.perf_counter()
                    for part in range(1, stored["parts"] + 1):
                        uri = f"{stored['uri']}/parts/{part}" if stored["parts"] > 1 else stored["uri"]
                        await client.read_resource(uri)
                    read = time.perf_counter() - started
                rows.append((size, reply, took, read))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="400000,20000000")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({
            "mcpServers": {"media": {"command": sys.executable, "args": [str(MEDIA)]}},
            "compiler": {"max_value_bytes": 64 * 2**20, "call_timeout_s": 300},
        }))
        serve = [sys.executable, "-m", "mcp_compiler", "serve", "--config", str(config)]
        if args.transport == "stdio":
            rows = anyio.run(measure, StdioServerParameters(command=serve[0], args=serve[1:]), sizes, args.reps)
        else:
            from procs import free_port, stop, wait_for_port

            port = free_port()
            proc = subprocess.Popen([*serve, "--transport", "http", "--port", str(port)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_port(port, proc)
                rows = anyio.run(measure, f"http://127.0.0.1:{port}/mcp", sizes, args.reps)
            finally:
                stop(proc)
    print(f"| result bytes | reply bytes ({args.transport}) | call s | read back s |")
    print("|---:|---:|---:|---:|")
    for size, reply, took, read in rows:
        print(f"| {size:,} | {reply:,} | {took:.2f} | {'-' if read is None else f'{read:.2f}'} |")


if __name__ == "__main__":
    main()
