"""Signing in to a server behind mcp-compiler (docs/auth.md#servers-behind-a-login).

An HTTP server entry's `auth` (`ClientCredentials`) becomes the mcp SDK's own OAuth client:
`ClientCredentialsOAuthProvider`, an httpx auth flow that, on the server's 401, follows its
protected-resource metadata (RFC 9728) to the authorization server's metadata (RFC 8414 / OpenID
discovery, its `issuer` checked against the entry's), asks for a token by client credentials
with the `resource` indicator (RFC 8707) and the entry's `scope`, sends it, and gets a new one
when it expires or a request is answered 401 again. Tokens are kept in memory, per server, for
the life of the process (`MemoryTokens`): nothing is written to disk for machine credentials.
"""

from __future__ import annotations

import logging
from typing import Any

from .settings import ClientCredentials

__all__ = ["MemoryTokens", "client_auth"]


class MemoryTokens:
    """The SDK's `TokenStorage`, in memory: one server's tokens and client information."""

    def __init__(self) -> None:
        self._tokens: Any = None
        self._client: Any = None

    async def get_tokens(self) -> Any:
        return self._tokens

    async def set_tokens(self, tokens: Any) -> None:
        self._tokens = tokens

    async def get_client_info(self) -> Any:
        return self._client

    async def set_client_info(self, client_info: Any) -> None:
        self._client = client_info


_storage: dict[tuple[str, str, str], MemoryTokens] = {}


class _NoFlowTraceback(logging.Filter):
    """The SDK logs a failed sign-in as ERROR with a traceback; the session already reports its
    cause in one line (the server's status, a warning), so that record is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.getMessage() == "OAuth flow error")


_SDK_AUTH_LOG = logging.getLogger("mcp.client.auth.oauth2")


def client_auth(url: str, auth: ClientCredentials) -> Any:
    """The httpx auth flow that signs in to the server at `url` (its tokens kept across reconnects)."""
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
    from mcp.client.auth.utils import union_scopes

    class WithConfiguredScope(ClientCredentialsOAuthProvider):
        """Where the SDK does not fit as it is: on a 401 it replaces the client's scope with the one
        the server's challenge names (the MCP scope-selection rule, right for an interactive user
        who is asked), which drops the scopes the entry asks for; a machine client asks for both."""

        async def _perform_authorization(self) -> Any:  # the base's, with the entry's scope added
            self.context.client_metadata.scope = union_scopes(self.context.client_metadata.scope, auth.scope)
            return await self._exchange_token_client_credentials()

    if not any(isinstance(f, _NoFlowTraceback) for f in _SDK_AUTH_LOG.filters):
        _SDK_AUTH_LOG.addFilter(_NoFlowTraceback())
    storage = _storage.setdefault((url, auth.issuer, auth.client_id), MemoryTokens())
    return WithConfiguredScope(
        server_url=url, storage=storage, client_id=auth.client_id, client_secret=auth.client_secret.get_secret_value(),
        token_endpoint_auth_method=auth.token_endpoint_auth_method, scope=auth.scope, issuer=auth.issuer,
    )
