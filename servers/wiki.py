"""The bundled ``wiki`` MCP server: an offline encyclopedia with search, lookup and facts.

The data (``wiki.json``, a few hundred countries, cities, rivers, mountains, lakes,
animals, people, planets, buildings, ...) is approximate and written for this project;
it exists so plans have something real-looking to fetch, fast and without a network.

Tools (all read-only and deterministic):

- ``search(query, limit=5)``: ranked hits by simple token scoring;
- ``lookup(name)``: one full entry; tolerant of case, accents, "the", aliases;
- ``fact(name, key)``: one fact with its unit, e.g. ``fact("Nile", "length_km")``;
- ``compare(names, key)``: one numeric fact for several entries, largest first;
- ``rank(kind, key, limit=5, ascending=False)``: the top entries of a kind by a fact;
- ``list_kinds()``: the kinds of entry and the fact keys each one has.

Run: ``python -m mcp_compiler.servers.wiki`` (stdio) or
``python -m mcp_compiler.servers.wiki --transport http --port 8001`` (Streamable HTTP at /mcp).
``MCP_COMPILER_SIM_LATENCY_MS`` / ``MCP_COMPILER_SIM_LATENCY_MS_WIKI`` add a simulated delay
to every tool call (see ``mcp_compiler.servers._common``). Logs go to stderr only.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ._common import SimulatedLatency, run_server

FactValue = int | float | str

# ---------------------------------------------------------------------------- result models


class Entry(BaseModel):
    """One encyclopedia entry."""

    name: str
    kind: str = Field(description="country, city, river, mountain, lake, animal, person, planet, ...")
    summary: str
    aliases: list[str] = Field(default_factory=list)
    facts: dict[str, FactValue] = Field(description="numeric facts carry their unit in the key, e.g. length_km")


class SearchHit(BaseModel):
    name: str
    kind: str
    summary: str = Field(description="the first sentence of the entry's summary")
    score: float


class SearchResult(BaseModel):
    query: str
    hits: list[SearchHit] = Field(description="best first; empty when nothing matched")


class FactResult(BaseModel):
    name: str = Field(description="the entry's canonical name")
    key: str = Field(description="the canonical fact key, e.g. length_km")
    value: FactValue
    unit: str | None = Field(description="e.g. km, m, km/h, people; null for text facts")


class RankedValue(BaseModel):
    name: str
    value: int | float


class CompareResult(BaseModel):
    key: str
    unit: str | None
    items: list[RankedValue] = Field(description="largest value first")
    largest: str
    smallest: str


class RankResult(BaseModel):
    kind: str
    key: str
    unit: str | None
    items: list[RankedValue]


class KindInfo(BaseModel):
    kind: str
    count: int
    keys: list[str] = Field(description="fact keys found on entries of this kind")


class KindsResult(BaseModel):
    total: int
    kinds: list[KindInfo]


# ---------------------------------------------------------------------------- text helpers

STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how in is it its of on or the to "
    "was what when where which who whom whose why with".split()
)
# Spelled-out forms, so "Mt. Everest" finds "Mount Everest" and "St Lawrence" finds "Saint".
TOKEN_SYNONYMS = {"mt": "mount", "st": "saint", "&": "and"}

# Unit by key suffix; the first matching suffix wins, so longer ones come first.
UNITS: list[tuple[str, str]] = [
    ("_per_km2", "per km²"), ("_million_km", "million km"), ("_km2", "km²"), ("_km3", "km³"),
    ("_m3s", "m³/s"), ("_kmh", "km/h"), ("_km", "km"), ("_kg", "kg"), ("_m", "m"),
    ("_years", "years"), ("_year", "year"), ("_days", "days"), ("_ly", "light years"),
]
UNITS_BY_KEY = {"population": "people", "moons": "moons", "floors": "floors", "age_at_death": "years"}


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'São Paulo' -> 'sao paulo'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+|&", fold(text))
    return [TOKEN_SYNONYMS.get(w, w) for w in words]


def stem(token: str) -> str:
    """Just enough to let "rivers", "cities", "volcanoes" find their singular; both sides get it."""
    if len(token) <= 3 or not token.endswith("s") or token.endswith("ss"):
        return token
    if token.endswith("ies"):
        return token[:-3] + "y"
    if token.endswith("oes"):
        return token[:-2]
    return token[:-1]


def normalize_name(text: str) -> str:
    """The key names and aliases are indexed by: folded tokens, without a leading 'the'."""
    words = tokens(text)
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def unit_for(key: str) -> str | None:
    if key in UNITS_BY_KEY:
        return UNITS_BY_KEY[key]
    return next((unit for suffix, unit in UNITS if key.endswith(suffix)), None)


def first_sentence(text: str) -> str:
    # Split at ". " followed by a capital, so "Washington, D.C. is" stays whole.
    match = re.search(r"(?<=[a-z0-9²³)])\.\s+(?=[A-Z])", text)
    return text[: match.start() + 1] if match else text


# ---------------------------------------------------------------------------- the index


@dataclass
class Wiki:
    """The entries plus the indexes behind lookup and search. Plain Python, no MCP."""

    entries: list[Entry]
    by_key: dict[str, Entry] = field(init=False, default_factory=dict)
    _fields: list[dict[str, float]] = field(init=False, default_factory=list)
    _pairs: list[set[tuple[str, str]]] = field(init=False, default_factory=list)
    _idf: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Names first, so an alias can never shadow another entry's real name.
        for entry in self.entries:
            self.by_key.setdefault(normalize_name(entry.name), entry)
        for entry in self.entries:
            for alias in [*entry.aliases, *implied_aliases(entry)]:
                self.by_key.setdefault(normalize_name(alias), entry)
        self._build_search_index()

    def _build_search_index(self) -> None:
        # Each entry's tokens with the weight of the best field they appear in.
        df: Counter[str] = Counter()
        for entry in self.entries:
            weights: dict[str, float] = {}
            fields = [
                (entry.summary, 1.0),
                (" ".join(str(v) for v in entry.facts.values() if isinstance(v, str)), 1.5),
                (entry.kind, 2.0),
                (" ".join([entry.name, *entry.aliases]), 3.0),
            ]
            pairs: set[tuple[str, str]] = set()
            for text, weight in fields:
                words = [stem(t) for t in tokens(text) if t not in STOPWORDS]
                for token in words:
                    weights[token] = max(weights.get(token, 0.0), weight)
                pairs.update(itertools.pairwise(words))
            self._fields.append(weights)
            self._pairs.append(pairs)
            df.update(weights.keys())
        n = len(self.entries)
        self._idf = {token: math.log(1 + n / count) for token, count in df.items()}

    @classmethod
    def load(cls) -> Wiki:
        text = resources.files(__package__).joinpath("wiki.json").read_text(encoding="utf-8")
        return cls([Entry.model_validate(item) for item in json.loads(text)])

    # -- lookup

    def find(self, name: str) -> Entry | None:
        return self.by_key.get(normalize_name(name))

    def get(self, name: str) -> Entry:
        """The entry called ``name``, or a ToolError that names the closest entries."""
        if not name.strip():
            raise ToolError("name is empty; give an entry name such as 'Nile' or 'Mount Everest'")
        entry = self.find(name)
        if entry is None:
            raise ToolError(f"No entry named {name!r}. {self._did_you_mean(name)}")
        return entry

    def _did_you_mean(self, name: str) -> str:
        close = difflib.get_close_matches(normalize_name(name), self.by_key.keys(), n=8, cutoff=0.6)
        names = list(dict.fromkeys(self.by_key[key].name for key in close))
        if not names:
            names = [hit.name for hit in self.search(name, limit=5)]
        if not names:
            return "Nothing similar was found; use search to find entries."
        return f"Did you mean: {', '.join(names[:5])}?"

    # -- search

    def search(self, query: str, limit: int = 5) -> list[SearchHit]:
        words = [stem(t) for t in tokens(query)]
        # Stopwords only count when the query has nothing else ("The The" is a band).
        wanted = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or list(dict.fromkeys(words))
        if not wanted:
            return []
        phrase = normalize_name(query)
        query_pairs = list(itertools.pairwise(wanted))
        scored: list[tuple[float, int, Entry]] = []
        for index, (entry, weights, pairs) in enumerate(zip(self.entries, self._fields, self._pairs, strict=True)):
            score = sum(self._idf[w] * weights[w] for w in wanted if w in weights)
            if score == 0:
                continue
            # Words that appear side by side as in the query ("red planet") count again.
            score += sum(self._idf[a] + self._idf[b] for a, b in query_pairs if (a, b) in pairs)
            # A query that is an entry's whole name beats one that merely mentions it.
            if self.by_key.get(phrase) is entry:
                score += 10.0
            scored.append((score, index, entry))
        # Ties keep the data's order, which lists the largest/best-known of each kind first.
        scored.sort(key=lambda item: (item[0] * -1, item[1]))
        return [
            SearchHit(name=e.name, kind=e.kind, summary=first_sentence(e.summary), score=round(s, 3))
            for s, _, e in scored[:limit]
        ]

    # -- facts

    def resolve_key(self, keys: list[str], key: str, *, owner: str) -> str:
        """Map a requested key onto one of ``keys``: exact, then 'length' -> 'length_km'."""
        wanted = "_".join(tokens(key))
        if wanted in keys:
            return wanted
        prefixed = [k for k in keys if k.startswith(wanted + "_")]
        if len(prefixed) == 1:
            return prefixed[0]
        parts = set(wanted.split("_"))
        containing = [k for k in keys if parts <= set(k.split("_"))]
        if len(containing) == 1:
            return containing[0]
        raise ToolError(f"{owner} has no fact {key!r}. Available keys: {', '.join(keys) or 'none'}.")

    def kinds(self) -> dict[str, list[Entry]]:
        groups: dict[str, list[Entry]] = {}
        for entry in self.entries:
            groups.setdefault(entry.kind, []).append(entry)
        return groups


def implied_aliases(entry: Entry) -> list[str]:
    """Names people use without the generic word: 'Everest', 'Lake Baikal' -> 'Baikal', 'Nile River'."""
    name = entry.name
    out: list[str] = []
    for prefix in ("Mount ", "Lake "):
        if name.startswith(prefix):
            out.append(name.removeprefix(prefix))
    for suffix in (" River", " Ocean", " Desert", " Trench", " Sea"):
        if name.endswith(suffix) and entry.kind != "lake":
            out.append(name.removesuffix(suffix))
    if entry.kind == "river" and not name.endswith(" River"):
        out += [f"{name} River", f"River {name}"]
    return out


def resolve_kind(kind: str, groups: dict[str, list[Entry]]) -> str:
    """'Mountains' -> 'mountain', 'cities' -> 'city'."""
    k = " ".join(tokens(kind))
    for candidate in (k, k.removesuffix("s"), k.removesuffix("es"), k.removesuffix("ies") + "y"):
        if candidate in groups:
            return candidate
    raise ToolError(f"Unknown kind {kind!r}. Kinds: {', '.join(sorted(groups))}.")


@cache
def wiki() -> Wiki:
    return Wiki.load()


def numeric(entry: Entry, key: str) -> int | float:
    value = entry.facts[key]
    if isinstance(value, str):
        raise ToolError(f"{entry.name}.{key} is text ({value!r}), not a number")
    return value


# ---------------------------------------------------------------------------- the server

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

server = MCPServer(
    "wiki",
    instructions=(
        "An offline encyclopedia of a few hundred entries (countries, cities, rivers, mountains, lakes, "
        "animals, people, planets, buildings, ...). Use fact(name, key) to get one number for arithmetic; "
        "numeric keys carry their unit, e.g. length_km, height_m, population, area_km2, top_speed_kmh."
    ),
    middleware=[SimulatedLatency("wiki")],
)


@server.tool(title="Search the encyclopedia", annotations=READ_ONLY)
async def search(
    query: str,
    limit: Annotated[int, Field(ge=1, le=50, description="how many hits to return")] = 5,
) -> SearchResult:
    """Find entries matching a few keywords (case- and accent-insensitive), best first.

    Example: search("longest river Africa") -> hits[0].name == "Nile".
    """
    if not query.strip():
        raise ToolError("query is empty; give a few keywords, e.g. 'highest mountain'")
    return SearchResult(query=query, hits=wiki().search(query, limit))


@server.tool(title="Look up an entry", annotations=READ_ONLY)
async def lookup(name: str) -> Entry:
    """The full entry for a name: kind, summary, aliases and all facts.

    Tolerant of case, accents, a leading "the" and common aliases ("USA", "Everest",
    "River Nile"). An unknown name is an error that lists the closest entries.
    """
    return wiki().get(name)


@server.tool(title="Get one fact", annotations=READ_ONLY)
async def fact(name: str, key: str) -> FactResult:
    """One fact of one entry, with its unit: fact("Nile", "length_km") -> value 6650, unit "km".

    A key without its unit suffix works when it is unambiguous ("length" -> "length_km").
    A missing key is an error that lists the entry's keys.
    """
    entry = wiki().get(name)
    resolved = wiki().resolve_key(list(entry.facts), key, owner=entry.name)
    return FactResult(name=entry.name, key=resolved, value=entry.facts[resolved], unit=unit_for(resolved))


@server.tool(title="Compare entries by a fact", annotations=READ_ONLY)
async def compare(
    names: Annotated[list[str], Field(min_length=1, max_length=50)],
    key: str,
) -> CompareResult:
    """One numeric fact for several entries, largest first.

    Example: compare(["Nile", "Amazon", "Yangtze"], "length_km") -> largest "Nile".
    """
    entries = [wiki().get(name) for name in names]
    items: list[RankedValue] = []
    resolved = key
    for entry in entries:
        resolved = wiki().resolve_key(list(entry.facts), key, owner=entry.name)
        items.append(RankedValue(name=entry.name, value=numeric(entry, resolved)))
    items.sort(key=lambda item: -item.value)
    return CompareResult(
        key=resolved, unit=unit_for(resolved), items=items, largest=items[0].name, smallest=items[-1].name
    )


@server.tool(title="Rank entries of a kind", annotations=READ_ONLY)
async def rank(
    kind: str,
    key: str,
    limit: Annotated[int, Field(ge=1, le=100)] = 5,
    ascending: bool = False,
) -> RankResult:
    """The entries of one kind ordered by a numeric fact, largest first unless ascending.

    Example: rank("mountain", "height_m", 3) -> Mount Everest, K2, Kangchenjunga.
    Entries without the fact are left out.
    """
    groups = wiki().kinds()
    kind_key = resolve_kind(kind, groups)
    members = groups[kind_key]
    keys = sorted({k for e in members for k, v in e.facts.items() if not isinstance(v, str)})
    resolved = wiki().resolve_key(keys, key, owner=f"Kind {kind_key!r}")
    items = [RankedValue(name=e.name, value=numeric(e, resolved)) for e in members if resolved in e.facts]
    items.sort(key=lambda item: item.value, reverse=not ascending)
    return RankResult(kind=kind_key, key=resolved, unit=unit_for(resolved), items=items[:limit])


@server.tool(title="List kinds and fact keys", annotations=READ_ONLY)
async def list_kinds() -> KindsResult:
    """The kinds of entry, how many of each, and the fact keys they carry."""
    groups = wiki().kinds()
    kinds = [
        KindInfo(kind=kind, count=len(members), keys=sorted({k for e in members for k in e.facts}))
        for kind, members in sorted(groups.items())
    ]
    return KindsResult(total=len(wiki().entries), kinds=kinds)


def main(argv: list[str] | None = None) -> None:
    run_server(server, argv)


if __name__ == "__main__":
    main()

