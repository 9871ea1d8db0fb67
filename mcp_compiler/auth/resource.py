"""The ASGI layer in front of `/mcp`: who is calling (docs/auth.md#serving-as-a-protected-resource).

`Authenticator` turns the `Authorization: Bearer ...` of a request into an `Identity`:

- a static token: `MCP_COMPILER_TOKEN` (the caller named "token") or a caller of
  `compiler.tokens` (its name), compared in constant time, every one of them each time;
- otherwise, with `compiler.auth`, a JWT access token (`access_tokens.py`), whose subject
  (`sub`, else `client_id`) names the caller.

`ProtectedResource` answers as the MCP authorization specification says:

- `GET /.well-known/oauth-protected-resource` (and the same with the resource's path appended,
  RFC 9728 section 3.1): the metadata, with `compiler.auth`;
- no token, or one that is not accepted: 401 with `WWW-Authenticate: Bearer
  resource_metadata="..."` (and `error="invalid_token"` when a token was sent), nothing more: why
  a token was refused goes to our log, never to the caller;
- a token without every scope of `scopes_required`: 403 `error="insufficient_scope"` naming them;
- accepted: the identity goes into the request's ASGI scope (`identity.SCOPE_KEY`), where the MCP
  handlers find it. Health probes stay outside (server/http.py wraps them around this).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .access_tokens import Introspector, InvalidToken, JwksCache, JwtValidator, scopes_of
from .identity import SCOPE_KEY, Identity

__all__ = ["Authenticator", "Denied", "ProtectedResource", "metadata_path"]

logger = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/oauth-protected-resource"
STATIC_TOKEN_CALLER = "token"


class Denied(Exception):
    """A request is refused: `status` 401 or 403; `error` the RFC 6750 code (or "")."""

    def __init__(self, status: int, error: str = "", scope: str = "") -> None:
        super().__init__(error or "unauthorized")
        self.status = status
        self.error = error
        self.scope = scope


class Authenticator:
    """From a bearer credential to an `Identity`, or `Denied`."""

    def __init__(
        self, *, token: str | None = None, tokens: Mapping[str, str] | None = None,
        validator: JwtValidator | None = None, scopes_required: tuple[str, ...] = (), resource: str | None = None,
        authorization_servers: tuple[str, ...] = (), introspector: Introspector | None = None,
    ) -> None:
        named = dict(tokens or {})
        if token:
            named.setdefault(STATIC_TOKEN_CALLER, token)
        empty = [name for name, value in named.items() if not value]
        if empty:
            raise ConfigError(f"compiler.tokens: the token of {empty[0]!r} is empty, which protects nothing")
        self._tokens = [(name, value.encode()) for name, value in named.items()]
        self.validator = validator
        self.introspector = introspector
        self.scopes_required = scopes_required
        self.resource = resource
        self.authorization_servers = authorization_servers

    @classmethod
    def from_config(cls, compiler: Any, token: str | None = None) -> Authenticator | None:
        """From `compiler.tokens`, `compiler.auth` and the static token; None when none is set."""
        tokens = {name: secret.get_secret_value() for name, secret in compiler.tokens.items()}
        auth = compiler.auth
        oauth = auth is not None and auth.issuer is not None
        if not token and not tokens and not oauth:
            return None
        validator = None
        if oauth:
            from jwt.algorithms import has_crypto

            if not has_crypto:
                raise ConfigError("compiler.auth needs the auth extra for its signatures: pip install 'mcp-compiler[auth]'")
            keys = JwksCache(auth.issuer, auth.jwks_uri, cache_s=auth.jwks_cache_s, refetch_min_s=auth.jwks_refetch_min_s)
            validator = JwtValidator(
                keys, issuer=auth.issuer, audience=auth.audience, algorithms=auth.algorithms, leeway_s=auth.leeway_s
            )
        introspector = None
        if oauth and auth.introspection_endpoint is not None:
            introspector = Introspector(
                auth.introspection_endpoint, auth.introspection_client_id, auth.introspection_client_secret.get_secret_value(),
                issuer=auth.issuer, audience=auth.audience, leeway_s=auth.leeway_s,
            )
        return cls(
            token=token, tokens=tokens, validator=validator, introspector=introspector,
            scopes_required=tuple(auth.scopes_required) if oauth else (),
            resource=auth.audience if oauth else None, authorization_servers=(auth.issuer,) if oauth else (),
        )

    @property
    def metadata_url(self) -> str | None:
        """Where the protected-resource metadata is (RFC 9728: the resource's path after the well-known one)."""
        if self.resource is None:
            return None
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{metadata_path(self.resource)}"

    def metadata(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],
        }
        if self.validator is not None:
            document["resource_signing_alg_values_supported"] = list(self.validator.algorithms)
        if self.scopes_required:
            document["scopes_supported"] = list(self.scopes_required)
        return document

    async def identify(self, credential: bytes | None) -> Identity:
        if credential is None:
            raise Denied(401)
        matched = None
        for name, value in self._tokens:  # every one, each time: the time taken says nothing
            if hmac.compare_digest(credential, value) and matched is None:
                matched = name
        if matched is not None:
            return Identity(name=matched, source="token", claims={"caller": matched})
        if self.validator is None:
            raise Denied(401, "invalid_token")
        try:
            text = credential.decode("ascii")
            opaque = self.introspector is not None and text.count(".") != 2  # a JWT has three parts
            claims = await (self.introspector.validate(text) if opaque and self.introspector else self.validator.validate(text))
        except (InvalidToken, UnicodeDecodeError) as exc:
            logger.info("auth: refused an access token: %s", exc)
            raise Denied(401, "invalid_token") from None
        subject = claims.get("sub") or claims.get("client_id")
        # `caller=NAME` grants name the callers of static tokens: a token's own `caller` claim is not one.
        claims = {k: v for k, v in claims.items() if k != "caller"}
        identity = Identity(
            name=str(subject), source="oauth", issuer=str(claims.get("iss")), scopes=scopes_of(claims), claims=claims
        )
        missing = [s for s in self.scopes_required if s not in identity.scopes]
        if missing:
            logger.info("auth: %s lacks the scopes %s", identity, missing)
            raise Denied(403, "insufficient_scope", " ".join(self.scopes_required))
        return identity


def metadata_path(resource: str) -> str:
    path = urlsplit(resource).path.rstrip("/")
    return WELL_KNOWN + path


class ProtectedResource:
    """ASGI: the metadata, and every other HTTP request identified or refused (module docstring)."""

    def __init__(self, app: Any, authenticator: Authenticator) -> None:
        self.app = app
        self.auth = authenticator
        self._metadata_paths = {WELL_KNOWN}
        if authenticator.resource is not None:
            self._metadata_paths.add(metadata_path(authenticator.resource))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.auth.resource is not None and scope.get("path") in self._metadata_paths:
            if scope.get("method") not in ("GET", "HEAD"):
                await _respond(send, 405, {"error": "method not allowed"}, [(b"allow", b"GET, HEAD")])
                return
            await _respond(send, 200, self.auth.metadata(), [(b"cache-control", b"max-age=3600")])
            return
        try:
            identity = await self.auth.identify(_bearer(scope))
        except Denied as denied:
            await self._refuse(send, denied)
            return
        await self.app({**scope, SCOPE_KEY: identity}, receive, send)

    async def _refuse(self, send: Any, denied: Denied) -> None:
        params = []
        if self.auth.metadata_url is None:
            params.append('realm="mcp-compiler"')
        if denied.error:
            params.append(f'error="{denied.error}"')
        scope = denied.scope or " ".join(self.auth.scopes_required)
        if scope and (denied.status == 403 or self.auth.metadata_url is not None):
            params.append(f'scope="{scope}"')
        if self.auth.metadata_url is not None:
            params.append(f'resource_metadata="{self.auth.metadata_url}"')
        body = {"error": denied.error or "unauthorized"}
        if denied.status == 401 and not denied.error:
            body["error_description"] = "send Authorization: Bearer <token>"
        await _respond(send, denied.status, body, [(b"www-authenticate", ("Bearer " + ", ".join(params)).encode())])


def _bearer(scope: Any) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, credential = value.partition(b" ")
            credential = credential.strip()
            return credential if scheme.lower() == b"bearer" and credential else None
    return None


async def _respond(send: Any, status: int, document: Mapping[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(document).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})
