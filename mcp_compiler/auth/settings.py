"""`compiler.auth`, the settings of the protected resource (docs/auth.md#the-settings), and an
HTTP server entry's `auth` (docs/auth.md#servers-behind-a-login).

Here rather than in config.py, beside what reads them; config.py holds it as `CompilerConfig.auth`.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr, model_validator

__all__ = ["AuthConfig", "ClientCredentials", "is_our_auth"]


class AuthConfig(BaseModel):
    """`compiler.auth`: `serve --transport http` as an OAuth protected resource (docs/auth.md).

    Access tokens are JWTs from `issuer` for `audience` (this server's resource URL, `.../mcp`),
    checked against the issuer's keys (`jwks_uri`, else found in its metadata). `allow` maps a
    scope, or `claim=value`, to the tools (globs over full names) a caller holding it may call.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = None
    audience: str | None = None
    jwks_uri: str | None = None
    # Opaque (non-JWT) access tokens are asked about at the issuer's introspection endpoint (RFC 7662),
    # as a client of its own (HTTP Basic); without an endpoint they are refused.
    introspection_endpoint: str | None = None
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None
    scopes_required: list[str] = Field(default_factory=list)
    # Asymmetric algorithms only: `none` and the HMAC family can never be allowed (auth/access_tokens.py).
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    leeway_s: Annotated[float, Field(ge=0, le=300)] = 30
    jwks_cache_s: PositiveFloat = 300
    jwks_refetch_min_s: Annotated[float, Field(ge=0)] = 10
    allow: dict[str, list[str]] | None = None

    @model_validator(mode="after")
    def _issuer_with_audience(self) -> AuthConfig:
        if (self.issuer is None) != (self.audience is None):
            raise ValueError("`issuer` and `audience` go together: both, or neither (tokens and allow only)")
        if self.introspection_endpoint is not None and not (self.introspection_client_id and self.introspection_client_secret):
            raise ValueError("introspection_endpoint needs introspection_client_id and introspection_client_secret")
        for url in (self.issuer, self.audience, self.jwks_uri, self.introspection_endpoint):
            if url is not None and urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{url!r} is not an http(s) URL")
        bad = [a for a in self.algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if bad:
            raise ValueError(f"algorithms {bad} are refused: only asymmetric algorithms (RS*, PS*, ES*, EdDSA)")
        return self


class ClientCredentials(BaseModel):
    """An HTTP server entry's `auth`: mcp-compiler signs in to that server by itself (machine to
    machine, OAuth client credentials), through the mcp SDK's client auth (upstreams/connect.py).

    `issuer` is the authorization server the credentials belong to: discovery from the server's
    401 must lead there (its metadata's `issuer` checked), else nothing is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["client_credentials"]
    client_id: str
    client_secret: SecretStr
    issuer: str
    scope: str | None = None
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"

    @model_validator(mode="after")
    def _issuer_is_a_url(self) -> ClientCredentials:
        if urlsplit(self.issuer).scheme not in ("http", "https"):
            raise ValueError(f"issuer {self.issuer!r} is not an http(s) URL")
        return self


def is_our_auth(value: object) -> bool:
    """An entry's `auth` that is ours (it has a `type`), not another host's (Cursor's, ignored)."""
    return isinstance(value, dict) and "type" in value
