"""Turning SDK failures into one-line LLMErrors.

Both SDKs are generated from the same template (Stainless), so their errors share a shape:
`APIStatusError` with `.status_code` and a parsed `.body`, `APITimeoutError`, `APIConnectionError`.
The functions here take those attributes, not the classes, so one mapping serves both.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import ErrorKind, LLMError

_STATUS_HINTS = {
    401: "authentication failed (check the API key)",
    403: "permission denied",
    404: "not found (check the model name and base URL)",
    429: "rate limited",
    529: "overloaded",
}


def status_error(backend: str, status: int, body: object, fallback: str, *, key_env: str) -> LLMError:
    kind: ErrorKind = "http"
    if status in (401, 403):
        kind = "auth"
    elif status in (429, 529):
        kind = "rate_limit"
    hint = _STATUS_HINTS.get(status, "request failed")
    if status == 401:
        hint = f"authentication failed (check {key_env})"
    detail = _body_message(body) or fallback
    return LLMError(backend, f"HTTP {status}, {hint}: {detail}", kind=kind, status=status)


def _body_message(body: object) -> str | None:
    """The human message inside an error body: `{"error": {"message": ...}}` or `{"message": ...}`."""
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
        return str(inner["message"])
    if isinstance(body.get("message"), str):
        return str(body["message"])
    return None


def connection_error(backend: str, base_url: str, err: Exception) -> LLMError:
    cause = err.__cause__ or err.__context__
    reason = f": {cause}" if cause and str(cause) else ""
    return LLMError(backend, f"could not reach {base_url}{reason}", kind="connection")


def timeout_error(backend: str) -> LLMError:
    return LLMError(backend, "the HTTP request timed out", kind="timeout")


def other_error(backend: str, err: Exception) -> LLMError:
    return LLMError(backend, f"{type(err).__name__}: {err}", kind="protocol")
