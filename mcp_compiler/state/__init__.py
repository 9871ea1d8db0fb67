"""The state seam: everything the server keeps between requests goes through `StateStore`.

Kept values of runs (the `mcp-compiler://runs/...` links), runs held across 2026-07-28 round
trips, and Tasks-extension tasks are all entries of a `StateStore`, each under a `Kind` (its key
namespace, with its own expiry and size caps). The code above the seam asks for put, get, take,
expire, delete and a listing by owner, never for a backend: `MemoryState` (`state/memory.py`)
is the one so far; a shared one (Redis) implements the same methods.

An entry is a key of a kind, an owner, an expiry and named parts of bytes (one part, `""`, for
most kinds; a run's kept values are one part each). What goes through the seam is bytes (or
JSON made into bytes by the caller), never a live object: a running task group, a cancel scope
or an event a question waits on cannot leave the process, so those stay in a process-local
registry beside the seam, keyed by the same ids.

Caps are the kind's and are checked by the backend on every put, in this order: a put that could
never fit (the entry's bytes with the new part over `max_bytes`) is refused before anything is
evicted; else expired entries go, then the oldest other evictable entries until the kind is
within `max_bytes` and `max_entries`; if it still is not (every other entry is pinned), the put
is refused and changes nothing.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass

from ..errors import CompilerError, ConfigError

__all__ = ["STATE_ENV", "Kind", "StateStore", "StateUnavailable", "default_state", "state_from_url"]

STATE_ENV = "MCP_COMPILER_STATE"  # the state URL, when neither `serve --state` nor `compiler.state` names one


class StateUnavailable(CompilerError):
    """The state backend did not answer in time, or cannot be reached; the message names it."""


@dataclass(frozen=True)
class Kind:
    """A namespace of entries and its caps: how long an entry lives and how much the kind holds."""

    name: str
    ttl_s: float  # from when an entry becomes evictable (at its first put, unless pinned)
    max_bytes: int  # the parts of every entry of the kind together
    max_entries: int


class StateStore(abc.ABC):
    """Entries by (kind, key), each with an owner, an expiry and parts of bytes.

    Every method is a coroutine, so a backend may do I/O; each one is atomic for its entry.
    `owner` (default: none) binds an entry to whoever made it: a read by another owner finds
    nothing, as if the key did not exist.
    """

    @abc.abstractmethod
    async def put(
        self, kind: Kind, key: str, value: bytes, *, part: str = "", owner: str = "", pinned: bool = False
    ) -> bool:
        """Keep `value` as `part` of the entry `key`, replacing that part if it exists; False (and
        nothing changed) when the kind's caps cannot make room for it.

        A new entry expires `kind.ttl_s` from now, or never while `pinned` (a pinned entry is not
        evicted either, until `expire` sets its time). A put to an existing entry keeps its expiry.
        """

    @abc.abstractmethod
    async def get(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        """The part, or None when the entry or part does not exist, expired, or is another owner's
        (`owner=None`: any owner's)."""

    @abc.abstractmethod
    async def take(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        """`get` and delete the part in one step: of two takes of the same part, one gets it. An
        entry whose last part is taken is deleted."""

    @abc.abstractmethod
    async def expire(self, kind: Kind, key: str, ttl_s: float) -> None:
        """Let the entry live `ttl_s` more from now and make it evictable (the newest so)."""

    @abc.abstractmethod
    async def delete(self, kind: Kind, key: str) -> None:
        """Forget the entry, all its parts (nothing happens when there is none)."""

    @abc.abstractmethod
    async def owned(self, kind: Kind, owner: str) -> list[str]:
        """The keys of the kind's live entries bound to `owner`, oldest first."""

    @abc.abstractmethod
    async def size(self, kind: Kind) -> tuple[int, int]:
        """(entries, bytes) the kind holds now, after expiry."""

    async def shared_secret(self, name: str) -> bytes:
        """32 random bytes under `name`: the same for every process on this backend (the first
        to ask makes them). In memory: this store's own, made at the first ask."""
        kept: dict[str, bytes] = self.__dict__.setdefault("_secrets", {})
        return kept.setdefault(name, os.urandom(32))

    async def ping(self) -> None:
        """Raise StateUnavailable unless the backend answers now (memory always does)."""

    async def aclose(self) -> None:
        """Release the backend's connections (nothing to release in memory)."""


def default_state() -> StateStore:
    """The backend used when none is configured: this process's memory."""
    from .memory import MemoryState

    return MemoryState()


def state_from_url(url: str | None, *, timeout_s: float = 2.0) -> StateStore:
    """The backend a state URL names: `memory://` (the default, this process) or
    `redis://[user:password@]host:port/db` / `rediss://` (shared by replicas; the `redis` extra).
    `timeout_s` bounds every call to a remote backend."""
    scheme = (url or "memory://").partition("://")[0].lower()
    if scheme == "memory" and url in (None, "", "memory://", "memory:"):
        return default_state()
    if scheme in ("redis", "rediss") and "://" in (url or ""):
        try:
            import redis  # noqa: F401 - only to say which extra is missing
        except ImportError:
            raise ConfigError(
                "the state backend redis:// needs the Redis client, an optional extra: "
                "pip install 'mcp-compiler[redis]'"
            ) from None
        from .redis import RedisState

        return RedisState(url or "", timeout_s=timeout_s)
    raise ConfigError(
        f"unknown state URL scheme {scheme + '://'!r}: use memory:// or "
        "redis://[user:password@]host:port/db (or rediss:// for TLS)"
    )
