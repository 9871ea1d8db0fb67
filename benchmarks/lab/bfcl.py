"""The BFCL `parallel` and `parallel_multiple` categories as workloads over a generated stub server.

Data: the Berkeley Function Calling Leaderboard's own JSON files, from the PyPI package
`bfcl-eval` (Apache-2.0). Installing that package pulls in torch, vllm-sized dependencies and pins
numpy 1.26, so we never install it: we look for its data files, in order,
1. an installed `bfcl_eval` package (located without importing it),
2. the cache directory (`$MCP_COMPILER_BFCL_DIR`, else `~/.cache/mcp-compiler/bfcl`),
3. `pip download --no-deps bfcl-eval==VERSION` (one 1.9 MB wheel) into the cache, unpacking only
   the four JSON files we need.
When none works (offline CI), the BFCL workloads are skipped with a message.

Each question's functions become MCP tools (names made MCP-safe: `spotify.play` ->
`spotify_play`); BFCL's types map onto JSON Schema (`dict` -> object, `float` -> number,
`tuple` -> array, `any` -> unconstrained). The ground truth (a list of acceptable values per
argument) gives the plan: the first acceptable value of each argument, leaving out optional ones
whose first choice is "" (BFCL's "may be omitted"). A question whose ground truth does not
validate against its own converted schema is dropped and counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import jsonschema

from .workloads import Instance

__all__ = ["BFCL_VERSION", "find_bfcl_data", "bfcl_instances", "convert_schema", "tool_name", "stub_result"]

log = logging.getLogger(__name__)

BFCL_VERSION = "2026.3.23"
CATEGORIES = ("parallel", "parallel_multiple")
_FILES = [f"BFCL_v4_{c}.json" for c in CATEGORIES] + [f"possible_answer/BFCL_v4_{c}.json" for c in CATEGORIES]


def _cache_dir() -> Path:
    env = os.environ.get("MCP_COMPILER_BFCL_DIR")
    return Path(env) if env else Path.home() / ".cache" / "mcp-compiler" / "bfcl"


def _complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in _FILES)


def find_bfcl_data(download: bool = True, timeout_s: float = 120) -> tuple[Path | None, str]:
    """The folder holding the BFCL JSON files and where it came from, or (None, why not)."""
    spec = find_spec("bfcl_eval")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if _complete(Path(loc) / "data"):
                return Path(loc) / "data", f"installed bfcl_eval package ({loc})"
    cache = _cache_dir()
    if _complete(cache):
        return cache, f"cache {cache}"
    if not download:
        return None, "bfcl-eval data not found and download disabled"
    wheels = cache / "wheel"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           f"bfcl-eval=={BFCL_VERSION}", "-d", str(wheels)]
    log.info("fetching the BFCL data: %s", " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"pip download bfcl-eval failed: {exc}"
    found = sorted(wheels.glob("bfcl_eval-*.whl"))
    if done.returncode != 0 or not found:
        return None, f"pip download bfcl-eval failed: {(done.stderr or done.stdout).strip()[-300:]}"
    with zipfile.ZipFile(found[-1]) as whl:
        for name in _FILES:
            target = cache / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(whl.read(f"bfcl_eval/data/{name}"))
    return cache, f"bfcl-eval {BFCL_VERSION} wheel via pip download --no-deps, cached in {cache}"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "str": "string",
          "bool": "boolean", "list": "array"}


def convert_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as JSON Schema."""
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type":
            t = _TYPES.get(v, v)
            if t != "any":
                out["type"] = t
        elif k == "properties" and isinstance(v, dict):
            out["properties"] = {name: convert_schema(p) for name, p in v.items()}
        elif k == "items" and isinstance(v, dict):
            out["items"] = convert_schema(v)
        elif k in ("required", "description", "enum", "default"):
            out[k] = v
    return out


def tool_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def stub_result(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What every stub tool returns: deterministic in its name and arguments."""
    digest = hashlib.sha1(f"{name}:{json.dumps(arguments, sort_keys=True)}".encode()).hexdigest()[:8]
    return {"function": name, "status": "ok", "result_id": digest}


def _first_choice(choices: Any) -> tuple[bool, Any]:
    if isinstance(choices, list) and choices:
        first = choices[0]
        return (first != ""), first
    return False, None


def bfcl_instances(folder: Path, category: str, n: int, offset: int = 0) -> tuple[list[Instance], list[dict[str, Any]], int]:
    """Up to `n` instances of a category, the tools they need (MCP Tool dicts) and how many were dropped."""
    questions = _read_jsonl(folder / f"BFCL_v4_{category}.json")
    answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(folder / f"possible_answer/BFCL_v4_{category}.json")}
    instances: list[Instance] = []
    tools: dict[str, dict[str, Any]] = {}
    dropped = 0
    for q in questions[offset:]:
        if len(instances) >= n:
            break
        built = _instance(q, answers.get(q["id"]), category)
        if built is None:
            dropped += 1
            continue
        inst, inst_tools = built
        clash = [t for t in inst_tools if t["name"] in tools and tools[t["name"]] != t]
        if clash:  # the same function name with another doc elsewhere: keep the first, skip this one
            dropped += 1
            continue
        for t in inst_tools:
            tools[t["name"]] = t
        instances.append(inst)
    return instances, list(tools.values()), dropped


def _instance(q: dict[str, Any], truth: list[dict[str, Any]] | None, category: str) -> tuple[Instance, list[dict[str, Any]]] | None:
    if not truth:
        return None
    fns = {f["name"]: f for f in q["function"]}
    tools = []
    for f in fns.values():
        tools.append({"name": tool_name(f["name"]), "description": f.get("description", ""),
                      "inputSchema": convert_schema(f.get("parameters", {"type": "dict", "properties": {}}))})
    schemas = {t["name"]: t["inputSchema"] for t in tools}
    lines, calls = [], []
    for i, call in enumerate(truth, 1):
        (fname, params), = call.items()
        if fname not in fns:
            return None
        args = {}
        for pname, choices in params.items():
            keep, value = _first_choice(choices)
            if keep:
                args[pname] = value
        name = tool_name(fname)
        try:
            jsonschema.validate(args, schemas[name])
        except jsonschema.ValidationError:
            return None
        from mcp_compiler.language.plan import format_value

        kw = ", ".join(f"{k}={format_value(v)}" for k, v in args.items())
        lines.append(f"{i}. bfcl.{name}({kw})")
        calls.append(name)
    question = q["question"][0][-1]["content"] if q["question"] and q["question"][0] else ""
    n = len(lines)

    def answer(v: dict[int, Any]) -> str:
        return "; ".join(f"{v[i]['function']} {v[i]['result_id']}" for i in range(1, n + 1))

    plan = "Thought: every call is independent.\n" + "\n".join(lines) + "\njoin()\n<END_OF_PLAN>\n"
    values = "; ".join(f"${i}.function ${i}.result_id" for i in range(1, n + 1))
    projection = plan.replace("\njoin()\n", f'\njoin("{values}")\n')
    thoughts = {i: f"Call {c} for part {i} of the request." for i, c in enumerate(calls, 1)}
    inst = Instance(f"bfcl_{category}", question, plan, answer, thoughts,
                    tuple(f"bfcl.{t['name']}" for t in tools), projection)
    return inst, tools
