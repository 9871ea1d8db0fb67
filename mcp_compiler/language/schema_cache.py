"""A cache of what is built from schema objects, for as long as they are in use (`PerSchema`).

The static checks (checks.py) keep a validator per tool property and each tool's parameters in
positional order; the run-time coercion (coercion.py) each tool's declared argument types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["PerSchema"]


class PerSchema:
    """What `build` makes of some schema objects, made once for as long as they are in use.

    Keyed by the objects' identity (a schema is a dict, so cannot be hashed), and the entry keeps
    them, so an id cannot be reused for another object while its entry is here. The catalog's
    schemas are long-lived, so this is built once per tool, not once per task or per run.
    """

    _LIMIT = 4096  # entries; a catalog that keeps changing starts over rather than growing

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._entries: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = {}

    def get(self, *schemas: Any) -> Any:
        key = tuple(map(id, schemas))
        entry = self._entries.get(key)
        if entry is not None:  # the entry keeps its objects alive, so these ids are still theirs
            return entry[1]
        if len(self._entries) >= self._LIMIT:
            self._entries.clear()
        made = self._build(*schemas)
        self._entries[key] = (schemas, made)
        return made
