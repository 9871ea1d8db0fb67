"""Workloads: questions with a ground-truth call graph, in the shapes of the paper's benchmarks.

An `Instance` is one question. Its `plan` is the ground-truth DAG written in the plan language
(what a perfect LLMCompiler planner writes); every strategy's simulated model derives its replies
from it: ReAct walks it one task at a time, parallel function calling one DAG level at a time.
`answer(values)` turns the tool results the model was shown (task id -> value) into the final
answer, so every strategy answers from real tool results and the answers can be compared.

Shapes over the bundled wiki/math servers (entries drawn with a seeded RNG from the wiki data):
- hotpot: 2 independent look-ups, compared by the joiner (HotpotQA comparison questions);
- movie: 8 independent look-ups, the joiner picks one (Movie Recommendation);
- parallelqa: 2-5 look-ups feeding math, sometimes two math levels (ParallelQA);
- chain: search -> fact -> math (-> math), depth 3-4, where parallelism cannot help.
BFCL workloads come from `bfcl.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

__all__ = ["Instance", "WORKLOADS", "wiki_instances", "fmt_number", "PAPER"]


@dataclass
class Instance:
    workload: str
    question: str
    plan: str  # ground truth, plan language, ends with join() / <END_OF_PLAN>
    answer: Callable[[dict[int, Any]], str]
    thoughts: dict[int, str] = field(default_factory=dict)  # per task: the ReAct/PFC thought
    tools: tuple[str, ...] = ()  # the catalog names this question may use (all strategies see the same)
    # The plan a planner writes when the results determine the answer: it ends in join(VALUE, ...),
    # whose text is `answer(values)` exactly, so no joiner is asked (the `compiler_project` strategy).
    projection: str | None = None


# The paper's figures (Kim et al., ICML 2024, Tables 1-2): ReAct latency (s) and LLMCompiler's
# latency speedup / cost ratio against ReAct. ParallelQA ran on GPT-4, the others on GPT-3.5.
PAPER = {
    "hotpot": {"react_s": 7.12, "speedup": 1.80, "cost": 3.37, "profile": "gpt-3.5"},
    "movie": {"react_s": 20.47, "speedup": 3.74, "cost": 6.73, "profile": "gpt-3.5"},
    "parallelqa": {"react_s": 35.90, "speedup": 2.15, "cost": 4.65, "profile": "gpt-4"},
}

WIKI_MATH_TOOLS = (
    "wiki.search", "wiki.lookup", "wiki.fact", "wiki.compare", "wiki.rank", "wiki.list_kinds",
    "math.eval", "math.sum", "math.stats", "math.percent_change", "math.compare",
)

# kind -> (fact key, comparative, unit word for questions)
_FACTS = {
    "river": ("length_km", "longer"),
    "mountain": ("height_m", "taller"),
    "country": ("population", "more populous"),
    "city": ("population", "more populous"),
    "building": ("height_m", "taller"),
    "lake": ("area_km2", "larger"),
    "animal": ("top_speed_kmh", "faster"),
    "desert": ("area_km2", "larger"),
    "island": ("area_km2", "larger"),
}
_NOUN = {"length_km": "length", "height_m": "height", "population": "population", "area_km2": "area",
         "top_speed_kmh": "top speed"}


def fmt_number(x: Any) -> str:
    """A number as its JSON text (`6650`, `4132.0689`, `5000.0`): as a plan's join(...) writes it, so
    an answer projected by the plan and one written by a joiner read the same."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return json.dumps(x)


def _entries() -> list[dict[str, Any]]:
    text = resources.files("mcp_compiler.servers").joinpath("wiki.json").read_text(encoding="utf-8")
    return json.loads(text)


def _by_kind() -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in _entries():
        key = _FACTS.get(e["kind"], (None,))[0]
        if key and isinstance(e["facts"].get(key), (int, float)):
            groups.setdefault(e["kind"], []).append(e)
    return groups


def _q(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _plan(lines: list[str], thought: str, join: str = "join()") -> str:
    return f"Thought: {thought}\n" + "\n".join(lines) + f"\n{join}\n<END_OF_PLAN>\n"


def _unit(key: str) -> str:
    """The unit text after a number in an answer (" km"), as the key's suffix says (wiki.unit_for)."""
    from mcp_compiler.servers.wiki import unit_for

    unit = unit_for(key)
    return f" {unit}" if unit else ""


def hotpot(rng: random.Random, groups: dict[str, list[dict[str, Any]]]) -> Instance:
    kind = rng.choice(sorted(groups))
    key, comparative = _FACTS[kind]
    a, b = rng.sample(groups[kind], 2)

    def answer(v: dict[int, Any]) -> str:
        x, y = v[1], v[2]
        win, lose = (x, y) if x["value"] >= y["value"] else (y, x)
        unit = f" {win['unit']}" if win.get("unit") else ""
        return f"{win['name']} ({fmt_number(win['value'])}{unit} against {fmt_number(lose['value'])}{unit})"

    lines = [f"1. wiki.fact({_q(a['name'])}, {_q(key)})", f"2. wiki.fact({_q(b['name'])}, {_q(key)})"]
    u = _unit(key)
    projection = _plan([f"1. wiki.compare([{_q(a['name'])}, {_q(b['name'])}], {_q(key)})"],
                       "One comparison answers it.", f'join("$1.largest ($1.items[0].value{u} against $1.items[1].value{u})")')
    return Instance(
        "hotpot", f"Which is {comparative}, {a['name']} or {b['name']}?",
        _plan(lines, "The two look-ups are independent; the joiner compares them."), answer,
        {1: f"I need the {_NOUN[key]} of {a['name']}.", 2: f"Now the {_NOUN[key]} of {b['name']}."},
        WIKI_MATH_TOOLS, projection,
    )


def movie(rng: random.Random, groups: dict[str, list[dict[str, Any]]]) -> Instance:
    kind = rng.choice([k for k in sorted(groups) if len(groups[k]) >= 8])
    key, _ = _FACTS[kind]
    picks = rng.sample(groups[kind], 8)
    names = [p["name"] for p in picks]

    def answer(v: dict[int, Any]) -> str:
        best = max((v[i] for i in range(1, 9)), key=lambda r: r["value"])
        unit = f" {best['unit']}" if best.get("unit") else ""
        return f"{best['name']} ({fmt_number(best['value'])}{unit})"

    lines = [f"{i}. wiki.fact({_q(n)}, {_q(key)})" for i, n in enumerate(names, 1)]
    projection = _plan([f"1. wiki.compare([{', '.join(map(_q, names))}], {_q(key)})"], "One comparison answers it.",
                       f'join("$1.largest ($1.items[0].value{_unit(key)})")')
    return Instance(
        "movie", f"Of {', '.join(names[:-1])} and {names[-1]}, which has the greatest {_NOUN[key]}?",
        _plan(lines, "Eight independent look-ups; the joiner picks the largest."), answer,
        {i: f"Next I need the {_NOUN[key]} of {n}." for i, n in enumerate(names, 1)}, WIKI_MATH_TOOLS, projection,
    )


def parallelqa(rng: random.Random, groups: dict[str, list[dict[str, Any]]], k: int) -> Instance:
    kind = rng.choice([k2 for k2 in sorted(groups) if len(groups[k2]) >= k])
    key, _ = _FACTS[kind]
    picks = [p["name"] for p in rng.sample(groups[kind], k)]
    lines = [f"{i}. wiki.fact({_q(n)}, {_q(key)})" for i, n in enumerate(picks, 1)]
    thoughts = {i: f"I need the {_NOUN[key]} of {n}." for i, n in enumerate(picks, 1)}
    refs = ", ".join(f"${i}.value" for i in range(1, k + 1))
    lines.append(f"{k + 1}. math.stats([{refs}])")
    thoughts[k + 1] = "Now the total and the mean of those numbers."
    question = f"What are the total and the average {_NOUN[key]} of {', '.join(picks[:-1])} and {picks[-1]}"
    last = k + 1
    projected = list(lines)
    join = f'join("total ${k + 1}.sum, average ${k + 1}.mean")'
    if k % 2 == 1:  # a second math level: the first entry's share of the total, in percent
        share = f'{{"a": $1.value, "t": ${k + 1}.sum}}'
        lines.append(f'{k + 2}. math.eval("100 * a / t", {share})')
        projected.append(f'{k + 2}. math.eval("round(100 * a / t, 2)", {share})')  # the joiner rounds; here math does
        join = f'join("total ${k + 1}.sum, average ${k + 1}.mean, share of {picks[0]} ${k + 2}.value%")'
        thoughts[k + 2] = f"Finally the share of {picks[0]} in percent."
        question += f", and what share of the total is {picks[0]}'s, in percent"
        last = k + 2

    def answer(v: dict[int, Any]) -> str:
        s = v[k + 1]
        text = f"total {fmt_number(s['sum'])}, average {fmt_number(s['mean'])}"
        if last != k + 1:
            text += f", share of {picks[0]} {fmt_number(round(v[last]['value'], 2))}%"
        return text

    return Instance("parallelqa", question + "?", _plan(lines, f"{k} independent look-ups feed the math."),
                    answer, thoughts, WIKI_MATH_TOOLS, _plan(projected, f"{k} independent look-ups feed the math.", join))


def chain(rng: random.Random, groups: dict[str, list[dict[str, Any]]], depth: int) -> Instance:
    from mcp_compiler.servers.wiki import wiki  # plain Python index: pick entries a search finds first

    while True:
        kind = rng.choice(sorted(groups))
        entry = rng.choice(groups[kind])
        query = f"{entry['name']} {kind}"
        hits = wiki().search(query, 1)
        if hits and hits[0].name == entry["name"]:
            break
    key, _ = _FACTS[kind]
    factor = {"length_km": 0.621371, "height_m": 3.28084, "area_km2": 0.386102}.get(key, 0.001)
    lines = [
        f"1. wiki.search({_q(query)}, limit=1)",
        f"2. wiki.fact($1.hits[0].name, {_q(key)})",
        f'3. math.eval("x * {factor}", {{"x": $2.value}})',
    ]
    thoughts = {1: f"First find the entry for {entry['name']}.", 2: f"Then its {_NOUN[key]}.",
                3: "Convert the unit."}
    question = f"What is the {_NOUN[key]} of the top search hit for '{query}', multiplied by {factor}"
    if depth >= 4:
        lines.append('4. math.eval("round(y, 1)", {"y": $3.value})')
        thoughts[4] = "Round it to one decimal."
        question += ", rounded to one decimal"

    def answer(v: dict[int, Any]) -> str:
        return f"{v[2]['name']}: {fmt_number(v[len(lines)]['value'])}"

    projection = _plan(lines, "Each step needs the one before it.", f'join("$2.name: ${len(lines)}.value")')
    return Instance("chain", question + "?", _plan(lines, "Each step needs the one before it."), answer,
                    thoughts, WIKI_MATH_TOOLS, projection)


def wiki_instances(workload: str, n: int, seed: int = 7) -> list[Instance]:
    rng = random.Random(f"{seed}:{workload}")
    groups = _by_kind()
    if workload == "hotpot":
        return [hotpot(rng, groups) for _ in range(n)]
    if workload == "movie":
        return [movie(rng, groups) for _ in range(n)]
    if workload == "parallelqa":
        return [parallelqa(rng, groups, 2 + i % 4) for i in range(n)]
    if workload == "chain":
        return [chain(rng, groups, 3 + i % 2) for i in range(n)]
    raise KeyError(workload)


WORKLOADS = ("hotpot", "movie", "parallelqa", "chain")
