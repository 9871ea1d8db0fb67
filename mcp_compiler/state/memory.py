"""The in-memory state backend: one process's dicts behind the state seam (`state/__init__.py`).

Eviction order is the order entries became evictable (their first put, or `expire` for a pinned
one), oldest first, as the run store and the task store had before the seam. Quick and
synchronous inside: every method finishes without waiting, so each is atomic on the event loop.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from . import Kind, StateStore

__all__ = ["MemoryState"]


@dataclass
class _Entry:
    owner: str
    expires: float | None  # None: pinned (neither expires nor is evicted)
    parts: dict[str, bytes] = field(default_factory=dict)
    size: int = 0


@dataclass
class _Space:
    """One kind's entries: evictable ones in the order they became so, then the pinned."""

    entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    size: int = 0


class MemoryState(StateStore):
    """Every kind's entries in this process. `clock` (monotonic seconds) is for tests."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._spaces: dict[str, _Space] = {}

    def _space(self, kind: Kind) -> _Space:
        space = self._spaces.get(kind.name)
        if space is None:
            space = self._spaces[kind.name] = _Space()
        now = self._clock()
        for key, entry in list(space.entries.items()):
            if entry.expires is not None and entry.expires <= now:
                self._drop(space, key)
        return space

    @staticmethod
    def _drop(space: _Space, key: str) -> None:
        entry = space.entries.pop(key)
        space.size -= entry.size

    def _find(self, kind: Kind, key: str, owner: str | None) -> tuple[_Space, _Entry | None]:
        space = self._space(kind)
        entry = space.entries.get(key)
        if entry is not None and owner is not None and not secrets.compare_digest(entry.owner, owner):
            entry = None  # another owner's entry does not exist for this one
        return space, entry

    async def put(
        self, kind: Kind, key: str, value: bytes, *, part: str = "", owner: str = "", pinned: bool = False
    ) -> bool:
        space = self._space(kind)
        entry = space.entries.get(key)
        replaced = len(entry.parts.get(part, b"")) if entry is not None else 0
        grows = len(value) - replaced
        if (entry.size if entry is not None else 0) + grows > kind.max_bytes:
            return False  # could never fit: refused before anything is evicted
        evictable = [k for k, e in space.entries.items() if k != key and e.expires is not None]
        entries = len(space.entries) + (entry is None)
        size, victims = space.size + grows, []
        while (size > kind.max_bytes or entries > kind.max_entries) and evictable:
            victim = evictable.pop(0)
            victims.append(victim)
            size -= space.entries[victim].size
            entries -= 1
        if size > kind.max_bytes or entries > kind.max_entries:
            return False  # the rest is pinned: nothing changes
        for victim in victims:
            self._drop(space, victim)
        if entry is None:
            expires = None if pinned else self._clock() + kind.ttl_s
            entry = space.entries[key] = _Entry(owner, expires)
        entry.parts[part] = value
        entry.size += grows
        space.size += grows
        return True

    async def get(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        _, entry = self._find(kind, key, owner)
        return entry.parts.get(part) if entry is not None else None

    async def take(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        space, entry = self._find(kind, key, owner)
        if entry is None or part not in entry.parts:
            return None
        value = entry.parts.pop(part)
        entry.size -= len(value)
        space.size -= len(value)
        if not entry.parts:
            self._drop(space, key)
        return value

    async def expire(self, kind: Kind, key: str, ttl_s: float) -> None:
        space = self._space(kind)
        entry = space.entries.get(key)
        if entry is not None:
            entry.expires = self._clock() + ttl_s
            space.entries.move_to_end(key)  # pinned entries sit among the evictable ones: order by this
            if ttl_s <= 0:
                self._drop(space, key)

    async def delete(self, kind: Kind, key: str) -> None:
        space = self._space(kind)
        if key in space.entries:
            self._drop(space, key)

    async def owned(self, kind: Kind, owner: str) -> list[str]:
        space = self._space(kind)
        return [key for key, entry in space.entries.items() if secrets.compare_digest(entry.owner, owner)]

    async def size(self, kind: Kind) -> tuple[int, int]:
        space = self._space(kind)
        return len(space.entries), space.size
