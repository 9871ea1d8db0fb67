"""Who is calling, and what they may call: `serve --transport http` as an OAuth protected resource.

- `identity.py`: `Identity`, the caller of one request (a named token, an OAuth subject, or
  nobody on stdio), how the server finds it for a request, and the owner string state is kept under.
- `access_tokens.py`: JWT access tokens checked against the issuer's JWKS (PyJWT): signature,
  `iss`, `aud`, `exp`/`nbf` with a small leeway, asymmetric algorithms only; the JWKS cached and
  fetched again, at a bounded rate, when a token names a key it does not hold (rotation).
- `allow.py`: `ToolAccess`, `compiler.auth.allow`: which tools an identity may call.
- `resource.py`: the ASGI layer in front of `/mcp`: the protected-resource metadata (RFC 9728),
  401 with `resource_metadata`, 403 `insufficient_scope`, static tokens and JWTs (docs/auth.md).
"""

from __future__ import annotations

from .allow import ToolAccess
from .identity import ANONYMOUS, Identity, current_identity, identity_of

__all__ = ["ANONYMOUS", "Identity", "ToolAccess", "current_identity", "identity_of"]
