"""The HTTP server's operational endpoints, as small ASGI wrappers: `/healthz`, `/readyz`, `/metrics`.

- `/healthz`: 200 while the process serves HTTP. Nothing else is checked: a liveness probe that
  fails on a slow upstream restarts a healthy process.
- `/readyz`: 200 when ready by the stated rule, 503 otherwise, with a JSON body saying why:
  the state backend answers a read within `STATE_PROBE_S`, and every server the config marks
  `"required": true` is connected. A load balancer sends traffic only to a ready replica.
- `/metrics`: the Prometheus text exposition of `MetricsObserver`.

Both probes are cheap (one read of the state backend at most, under a deadline) and, by default,
outside the bearer token (`http_app` puts them in front of it), as probes usually cannot send one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from .metrics import CONTENT_TYPE, MetricsObserver

__all__ = ["HealthRoutes", "MetricsRoute", "Readiness", "STATE_PROBE_S"]

STATE_PROBE_S = 2.0

# (ready, why): the reasons it is not ready, each a line an operator can act on
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


async def _respond(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")],
    })
    await send({"type": "http.response.body", "body": body})


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _is(scope: Any, path: str) -> bool:
    return scope["type"] == "http" and scope.get("path") == path and scope.get("method") in ("GET", "HEAD")


class HealthRoutes:
    """ASGI: `/healthz` and `/readyz` answered here; every other request goes to `app`."""

    def __init__(self, app: Any, readiness: Readiness) -> None:
        self.app = app
        self.readiness = readiness

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if _is(scope, "/healthz"):
            await _respond(send, 200, _json({"status": "ok"}), b"application/json")
        elif _is(scope, "/readyz"):
            ready, detail = await self.readiness()
            await _respond(send, 200 if ready else 503, _json({"ready": ready, **detail}), b"application/json")
        else:
            await self.app(scope, receive, send)


class MetricsRoute:
    """ASGI: `/metrics` answered here; every other request goes to `app`."""

    def __init__(self, app: Any, metrics: MetricsObserver) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if _is(scope, "/metrics"):
            await _respond(send, 200, self.metrics.render().encode(), CONTENT_TYPE.encode())
        else:
            await self.app(scope, receive, send)


def readiness(
    probe_state: Callable[[], Awaitable[Any]], servers: Callable[[], dict[str, bool]], required: list[str]
) -> Readiness:
    """The rule: `probe_state()` returns within `STATE_PROBE_S`, and each of `required` is connected
    (`servers()`: name -> connected)."""

    async def check() -> tuple[bool, dict[str, Any]]:
        problems: dict[str, str] = {}
        try:
            with anyio.fail_after(STATE_PROBE_S):
                await probe_state()
        except TimeoutError:
            problems["state"] = f"the state backend did not answer within {STATE_PROBE_S:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure of the backend is "not ready", said briefly
            problems["state"] = f"the state backend failed: {type(exc).__name__}"
        connected = servers()
        for name in required:
            if not connected.get(name, False):
                problems[f"server {name}"] = "required, and not connected"
        return not problems, {"problems": problems} if problems else {}

    return check
