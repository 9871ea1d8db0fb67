"""The Redis state backend: the state seam (`state/__init__.py`) shared by every replica.

`pip install 'mcp-compiler[redis]'` brings the client (`redis`, its asyncio API); `compiler.state`,
`serve --state` or `MCP_COMPILER_STATE` select it with a URL: `redis://[user:password@]host:port/db`
or `rediss://` (TLS).

Each method is one Lua script, so each is atomic across replicas exactly as `MemoryState`'s methods
are on one event loop, with the same caps in the same order (refuse what could never fit, drop the
expired, evict the oldest evictable, refuse if the pinned leave no room). A value over the kind's
`max_bytes` is refused here, before anything is sent. The keys of a kind (`P` is
`mcp-compiler:{<kind>}:`, one Redis Cluster hash slot per kind):

- `P e:<key>`: a hash, the entry: `o` its owner, `p:<part>` each part's bytes
- `P order`: a sorted set of the kind's keys by the order they became evictable (oldest first)
- `P exp`: a sorted set of the evictable keys by their expiry (ms); pinned keys are not in it
- `P sizes`: a hash, each entry's bytes; `P meta`: a hash, `bytes` (the kind's) and `seq`

Time is the Redis server's clock (`TIME`), one clock for every replica. Expired entries are
dropped by the next operation on the kind. Every call is bounded by `timeout_s`: a Redis that is
down or slow gives `StateUnavailable` naming the backend, never a hang; the client's connection
pool reconnects by itself on the next call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from . import Kind, StateStore, StateUnavailable

__all__ = ["RedisState", "safe_url"]

PREFIX = "mcp-compiler"

_COMMON = """
local P = ARGV[1]
local now = tonumber(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ORDER, EXP, META, SIZES = P .. 'order', P .. 'exp', P .. 'meta', P .. 'sizes'
local function drop(k)
  local s = tonumber(redis.call('HGET', SIZES, k) or '0')
  redis.call('DEL', P .. 'e:' .. k)
  redis.call('ZREM', ORDER, k)
  redis.call('ZREM', EXP, k)
  redis.call('HDEL', SIZES, k)
  if s ~= 0 then redis.call('HINCRBY', META, 'bytes', 0 - s) end
end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', EXP, '-inf', now)) do drop(k) end
local function find(k, has_owner, owner)
  local e = P .. 'e:' .. k
  if redis.call('EXISTS', e) == 0 then return nil end
  if has_owner == '1' and redis.call('HGET', e, 'o') ~= owner then return nil end
  return e
end
"""

# ARGV: P, now, key, part, value, owner, pinned, ttl_ms, max_bytes, max_entries
_PUT = _COMMON + """
local k, field, value = ARGV[3], 'p:' .. ARGV[4], ARGV[5]
local e = P .. 'e:' .. k
local exists = redis.call('EXISTS', e) == 1
local replaced, esize = 0, 0
if exists then
  replaced = redis.call('HSTRLEN', e, field)
  esize = tonumber(redis.call('HGET', SIZES, k) or '0')
end
local grows = string.len(value) - replaced
local maxb, maxn = tonumber(ARGV[9]), tonumber(ARGV[10])
if esize + grows > maxb then return 0 end
local size = tonumber(redis.call('HGET', META, 'bytes') or '0') + grows
local entries = redis.call('ZCARD', ORDER)
if not exists then entries = entries + 1 end
local victims = {}
if size > maxb or entries > maxn then
  for _, v in ipairs(redis.call('ZRANGE', ORDER, 0, -1)) do
    if size <= maxb and entries <= maxn then break end
    if v ~= k and redis.call('ZSCORE', EXP, v) then
      victims[#victims + 1] = v
      size = size - tonumber(redis.call('HGET', SIZES, v) or '0')
      entries = entries - 1
    end
  end
end
if size > maxb or entries > maxn then return 0 end
for _, v in ipairs(victims) do drop(v) end
if not exists then
  redis.call('HSET', e, 'o', ARGV[6])
  redis.call('ZADD', ORDER, redis.call('HINCRBY', META, 'seq', 1), k)
  if ARGV[7] == '0' then redis.call('ZADD', EXP, now + tonumber(ARGV[8]), k) end
end
redis.call('HSET', e, field, value)
redis.call('HINCRBY', SIZES, k, grows)
redis.call('HINCRBY', META, 'bytes', grows)
return 1
"""

# ARGV: P, now, key, part, has_owner, owner
_GET = _COMMON + """
local e = find(ARGV[3], ARGV[5], ARGV[6])
if e == nil then return false end
return redis.call('HGET', e, 'p:' .. ARGV[4])
"""

_TAKE = _COMMON + """
local k = ARGV[3]
local e = find(k, ARGV[5], ARGV[6])
if e == nil then return false end
local field = 'p:' .. ARGV[4]
local value = redis.call('HGET', e, field)
if not value then return false end
redis.call('HDEL', e, field)
local n = string.len(value)
if n > 0 then
  redis.call('HINCRBY', SIZES, k, 0 - n)
  redis.call('HINCRBY', META, 'bytes', 0 - n)
end
if redis.call('HLEN', e) <= 1 then drop(k) end
return value
"""

# ARGV: P, now, key, ttl_ms
_EXPIRE = _COMMON + """
local k = ARGV[3]
if redis.call('EXISTS', P .. 'e:' .. k) == 0 then return 0 end
local ttl = tonumber(ARGV[4])
if ttl <= 0 then drop(k) return 1 end
redis.call('ZADD', EXP, now + ttl, k)
redis.call('ZADD', ORDER, redis.call('HINCRBY', META, 'seq', 1), k)
return 1
"""

# ARGV: P, now, key
_DELETE = _COMMON + """
drop(ARGV[3])
return 1
"""

# ARGV: P, now, owner
_OWNED = _COMMON + """
local keys = {}
for _, k in ipairs(redis.call('ZRANGE', ORDER, 0, -1)) do
  if redis.call('HGET', P .. 'e:' .. k, 'o') == ARGV[3] then keys[#keys + 1] = k end
end
return keys
"""

# ARGV: P, now
_SIZE = _COMMON + """
return {redis.call('ZCARD', ORDER), tonumber(redis.call('HGET', META, 'bytes') or '0')}
"""


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.hostname or ""
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisState(StateStore):
    """Every kind's entries in one Redis database, shared by every replica that names it.

    `clock` (seconds) replaces the Redis server's clock, for tests; `timeout_s` bounds every call.
    """

    def __init__(self, url: str, *, timeout_s: float = 2.0, clock: Callable[[], float] | None = None) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:  # pragma: no cover - depends on the environment
            from ..errors import ConfigError

            raise ConfigError(
                f"the state backend {safe_url(url)} needs the Redis client: pip install 'mcp-compiler[redis]'"
            ) from None
        self.url = url
        self.name = safe_url(url)
        self.timeout_s = timeout_s
        self._clock = clock
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False,
            health_check_interval=30,
        )
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in (("put", _PUT), ("get", _GET), ("take", _TAKE), ("expire", _EXPIRE),
                                 ("delete", _DELETE), ("owned", _OWNED), ("size", _SIZE))
        }

    def __repr__(self) -> str:
        return f"RedisState({self.name!r})"

    def _now(self) -> str:
        return "" if self._clock is None else str(int(self._clock() * 1000))

    async def _run(self, script: str, kind: Kind, *args: Any) -> Any:
        from redis.exceptions import RedisError

        argv = [f"{PREFIX}:{{{kind.name}}}:", self._now(), *args]
        try:
            with anyio.fail_after(self.timeout_s):
                return await self._scripts[script](args=argv)
        except TimeoutError:
            raise StateUnavailable(
                f"the state backend {self.name} did not answer within {self.timeout_s:g} s"
            ) from None
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"the state backend {self.name} is unavailable: {type(exc).__name__}: {exc}") from None

    async def put(
        self, kind: Kind, key: str, value: bytes, *, part: str = "", owner: str = "", pinned: bool = False
    ) -> bool:
        if len(value) > kind.max_bytes:
            return False  # could never fit: refused before it is sent
        ttl_ms = int(kind.ttl_s * 1000)
        done = await self._run("put", kind, key, part, value, owner, int(pinned), ttl_ms, kind.max_bytes,
                               kind.max_entries)
        return bool(done)

    async def get(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        return await self._run("get", kind, key, part, int(owner is not None), owner or "")

    async def take(self, kind: Kind, key: str, *, part: str = "", owner: str | None = None) -> bytes | None:
        return await self._run("take", kind, key, part, int(owner is not None), owner or "")

    async def expire(self, kind: Kind, key: str, ttl_s: float) -> None:
        await self._run("expire", kind, key, int(ttl_s * 1000))

    async def delete(self, kind: Kind, key: str) -> None:
        await self._run("delete", kind, key)

    async def owned(self, kind: Kind, owner: str) -> list[str]:
        return [key.decode() for key in await self._run("owned", kind, owner)]

    async def size(self, kind: Kind) -> tuple[int, int]:
        entries, size = await self._run("size", kind)
        return int(entries), int(size)

    async def shared_secret(self, name: str) -> bytes:
        """`mcp-compiler:secret:<name>`, set once (SET NX) by the first replica that asks."""
        from redis.exceptions import RedisError

        key = f"{PREFIX}:secret:{name}"
        try:
            with anyio.fail_after(self.timeout_s):
                await self._client.set(key, os.urandom(32), nx=True)
                value = await self._client.get(key)
        except TimeoutError:
            raise StateUnavailable(f"the state backend {self.name} did not answer within {self.timeout_s:g} s") from None
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"the state backend {self.name} is unavailable: {type(exc).__name__}") from None
        return bytes(value)

    async def ping(self) -> None:
        """Raise StateUnavailable unless the backend answers now."""
        from redis.exceptions import RedisError

        try:
            with anyio.fail_after(self.timeout_s):
                await self._client.ping()
        except TimeoutError:
            raise StateUnavailable(f"the state backend {self.name} did not answer within {self.timeout_s:g} s") from None
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"the state backend {self.name} is unavailable: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        await self._client.aclose()

