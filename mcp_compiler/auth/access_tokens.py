"""JWT access tokens checked against the issuer's keys (docs/auth.md#access-tokens).

PyJWT does the JOSE (never hand-rolled here): the signature with a key from the issuer's JWKS,
`iss`, `aud`, `exp` and `nbf` with a small leeway. Around it, what PyJWT leaves to its caller:

- Algorithms: the token's `alg` must be one of the configured asymmetric algorithms (the config
  refuses `none` and HS*), and must fit the key: a key whose JWK names an `alg` verifies only that
  one, so a public key can never be used as an HMAC secret.
- Keys (`JwksCache`): the JWKS is fetched from `jwks_uri` (or the URI the issuer's metadata names,
  RFC 8414 then OpenID discovery, the metadata's `issuer` checked), kept `cache_s`, and fetched again
  when a token names a `kid` it does not hold (the issuer rotated its keys), at most once every
  `refetch_min_s`, so tokens with made-up `kid`s cannot make us hammer the issuer. Fetches are
  single-flight and bounded by a timeout.

Every failure is an `InvalidToken` whose text is for the log only: the reply says no more than
`invalid_token` (resource.py). Nothing of the token itself is ever logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import jwt
from jwt import PyJWK

__all__ = ["InvalidToken", "Introspector", "JwksCache", "JwtValidator", "SigningKey", "fetch_json", "scopes_of"]

logger = logging.getLogger(__name__)

_FETCH_TIMEOUT_S = 5.0
_MAX_DOCUMENT_BYTES = 256 * 1024

Fetch = Callable[[str], Awaitable[Any]]


class InvalidToken(Exception):
    """The access token is not acceptable; the text says why, for the log (never for the caller)."""


async def fetch_json(url: str) -> Any:
    """GET `url` as JSON, within a timeout and a size bound (the issuer's metadata and JWKS)."""
    import httpx2

    async with httpx2.AsyncClient(timeout=_FETCH_TIMEOUT_S, follow_redirects=False) as client:
        response = await client.get(url, headers={"accept": "application/json"})
        if response.status_code != 200:
            raise OSError(f"GET {url} answered {response.status_code}")
        if len(response.content) > _MAX_DOCUMENT_BYTES:
            raise OSError(f"GET {url}: the document is over {_MAX_DOCUMENT_BYTES} bytes")
        return response.json()


class JwksCache:
    """The issuer's signing keys, by `kid`: cached, and refetched at a bounded rate on an unknown `kid`."""

    def __init__(
        self, issuer: str, jwks_uri: str | None = None, *, cache_s: float = 300.0, refetch_min_s: float = 10.0,
        fetch: Fetch = fetch_json, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.cache_s = cache_s
        self.refetch_min_s = refetch_min_s
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0  # how many times the JWKS was fetched (tests, metrics)

    async def key(self, kid: str | None) -> SigningKey | None:
        """The key for `kid` (None: the only key, when the set has exactly one), or None."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self.cache_s:
            await self._refresh(self._fetched_at)
        found = self._find(kid)
        if found is None and self._fetched_at is not None and self._clock() - self._fetched_at >= self.refetch_min_s:
            await self._refresh(self._fetched_at)  # the issuer may have rotated its keys
            found = self._find(kid)
        return found

    def _find(self, kid: str | None) -> SigningKey | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, seen: float | None) -> None:
        async with self._lock:
            if self._fetched_at != seen:
                return  # another request fetched while this one waited
            try:
                with anyio.fail_after(_FETCH_TIMEOUT_S * 3):
                    uri = self.jwks_uri or await self._discover()
                    document = await self._fetch(uri)
                keys = _signing_keys(document)
            except Exception as exc:  # noqa: BLE001 - a failed fetch keeps the keys we had; tokens fail closed
                logger.warning("auth: could not fetch the signing keys of %s: %s", self.issuer, _short(exc))
                self._fetched_at = self._clock()  # and waits refetch_min_s before trying again
                return
            self.fetches += 1
            self._keys = {k.kid: k for k in keys}
            self._fetched_at = self._clock()
            logger.info("auth: %d signing keys from %s", len(self._keys), self.issuer)

    async def _discover(self) -> str:
        """The JWKS URI from the issuer's metadata (RFC 8414, then OpenID discovery)."""
        base = self.issuer.rstrip("/")
        failures = []
        for well_known in ("oauth-authorization-server", "openid-configuration"):
            # RFC 8414 inserts the well-known part before the issuer's path; OpenID appends it.
            scheme, _, rest = base.partition("://")
            host, slash, path = rest.partition("/")
            url = f"{scheme}://{host}/.well-known/{well_known}{slash}{path}" if well_known.startswith("oauth") \
                else f"{base}/.well-known/{well_known}"
            try:
                metadata = await self._fetch(url)
            except Exception as exc:  # noqa: BLE001 - the next document may answer
                failures.append(_short(exc))
                continue
            if not isinstance(metadata, Mapping) or metadata.get("issuer") != self.issuer:
                failures.append(f"{url} is not the metadata of {self.issuer}")
                continue
            uri = metadata.get("jwks_uri")
            if isinstance(uri, str) and uri.startswith(("https://", "http://")):
                self.jwks_uri = uri
                return uri
            failures.append(f"{url} names no jwks_uri")
        raise OSError("; ".join(failures))


class JwtValidator:
    """Checks one access token; returns its claims or raises InvalidToken."""

    def __init__(
        self, keys: JwksCache, *, issuer: str, audience: str, algorithms: Sequence[str], leeway_s: float = 30.0,
    ) -> None:
        bad = [a for a in algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if bad:
            raise ValueError(f"refusing the algorithms {bad}: asymmetric algorithms only")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway_s = leeway_s

    async def validate(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken(f"algorithm {str(alg)[:20]!r} is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the kid is not a string")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidToken("signed with a key the issuer does not publish")
        if not key.fits(alg):
            raise InvalidToken(f"algorithm {alg} does not fit the key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.jwk.key, algorithms=[alg], audience=self.audience, issuer=self.issuer, leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("from another issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"refused ({type(exc).__name__})") from None
        if not isinstance(claims.get("sub") or claims.get("client_id"), str):
            raise InvalidToken("names no subject (sub or client_id)")
        return claims


class Introspector:
    """Opaque access tokens asked about at the issuer (RFC 7662), checked as a JWT's claims are:
    active, `iss` (when given) the issuer, `aud` holding the audience, not expired (with the
    leeway). Every token is asked about each time (no cache: a revoked token stops at once)."""

    def __init__(
        self, endpoint: str, client_id: str, client_secret: str, *, issuer: str, audience: str, leeway_s: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self._auth = (client_id, client_secret)
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s

    async def validate(self, token: str) -> dict[str, Any]:
        import httpx2

        try:
            with anyio.fail_after(_FETCH_TIMEOUT_S * 2):
                async with httpx2.AsyncClient(timeout=_FETCH_TIMEOUT_S, follow_redirects=False) as client:
                    response = await client.post(
                        self.endpoint, data={"token": token, "token_type_hint": "access_token"}, auth=self._auth,
                        headers={"accept": "application/json"},
                    )
        except (OSError, TimeoutError, httpx2.HTTPError) as exc:
            raise InvalidToken(f"the introspection endpoint did not answer ({_short(exc)})") from None
        if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT_BYTES:
            raise InvalidToken(f"the introspection endpoint answered {response.status_code}")
        try:
            claims = response.json()
        except ValueError:
            raise InvalidToken("the introspection endpoint answered no JSON") from None
        if not isinstance(claims, dict) or claims.get("active") is not True:
            raise InvalidToken("inactive (introspection)")
        if claims.get("iss", self.issuer) != self.issuer:
            raise InvalidToken("from another issuer")
        audience = claims.get("aud")
        if self.audience not in (audience if isinstance(audience, list) else [audience]):
            raise InvalidToken("for another audience")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + self.leeway_s < time.time():
            raise InvalidToken("expired")
        if not isinstance(claims.get("sub") or claims.get("client_id"), str):
            raise InvalidToken("names no subject (sub or client_id)")
        claims.setdefault("iss", self.issuer)
        return claims


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes granted: `scope` (RFC 9068, space-separated) or `scp` (a list, or a string)."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()


# The algorithms each asymmetric key type may verify; a symmetric key (`oct`) is never taken.
_KEY_TYPE_ALGORITHMS = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA", "Ed25519", "Ed448")}


@dataclass(frozen=True)
class SigningKey:
    """One key of the issuer's JWKS: the algorithm it declares (if any) and its type bound what it verifies."""

    kid: str | None
    kty: str
    declared_alg: str | None
    jwk: PyJWK

    def fits(self, alg: str) -> bool:
        if self.declared_alg is not None:
            return alg == self.declared_alg
        return alg.startswith(_KEY_TYPE_ALGORITHMS.get(self.kty, ("-",)))


def _signing_keys(document: Any) -> list[SigningKey]:
    """The asymmetric signature keys of a JWKS document; the others (and unreadable ones) are skipped."""
    raw = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(raw, list):
        raise OSError("not a JWK Set (no `keys` list)")
    keys = []
    for entry in raw:
        if not isinstance(entry, Mapping) or entry.get("kty") not in _KEY_TYPE_ALGORITHMS:
            continue
        if entry.get("use", "sig") != "sig" or any(k in entry for k in ("d", "p", "q", "k")):
            continue  # an encryption key, or a private part published by mistake: not for verifying
        alg = entry.get("alg")
        try:
            jwk = PyJWK(dict(entry))
        except jwt.PyJWTError:
            continue
        kid = entry.get("kid")
        keys.append(SigningKey(kid if isinstance(kid, str) else None, str(entry["kty"]),
                               alg if isinstance(alg, str) else None, jwk))
    return keys


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]
