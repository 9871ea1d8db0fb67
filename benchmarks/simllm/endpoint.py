"""SimulatedLLM: a local HTTP endpoint speaking the OpenAI and Anthropic wire formats.

In a test, on the running (asyncio) event loop:

    async with SimulatedLLM(replies=["1. wiki.search('x')\\njoin()"], latency=LatencyModel(0.2, 50)) as sim:
        llm = AnthropicLLM("sim", base_url=sim.base_url_anthropic, api_key="k")
        ...
        assert "wiki.search" in sim.requests[0].system

In a background thread (sync code, or a subprocess under test that needs `sim.env()`):

    with SimulatedLLM(responder=lambda req: "hi") as sim: ...

Standalone, for benchmarks and subprocess servers (prints `SIMLLM READY <base url>` on stdout):

    python -m benchmarks.simllm --port 0 --script script.json
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import uvicorn

from ._app import SimState, build_app
from .script import Exchange, LatencyModel, ReplyLike, Responder, Script, SimRequest

log = logging.getLogger("benchmarks.simllm")

SHUTDOWN_TIMEOUT_S = 5.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process (pytest, a benchmark) owns signals."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SimulatedLLM:
    """A scripted LLM endpoint on 127.0.0.1. Replies come from `replies` (a queue, used first,
    extendable with `push`), then from `responder(SimRequest)` (sync or async). See `script.py`
    for `Reply`, `Fail`, `LatencyModel`, and `tokens.py` for how tokens are counted.

    `async with` needs the asyncio backend (uvicorn is asyncio-only); `with` runs it on its own
    asyncio loop in a thread, so it serves any caller.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        replies: Iterable[ReplyLike] = (),
        latency: LatencyModel = LatencyModel(),
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.state = SimState(latency=latency, responder=responder, api_key=api_key, on_exchange=on_exchange)
        self.state.push(replies)
        self.api_key = api_key
        self.host = host
        self._port = port
        self._server: _EmbeddedServer | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopped: anyio.Event | None = None  # made on the serving loop, in __aenter__
        self._thread_cms: list[AbstractContextManager[Any]] = []

    # ---- what tests look at ----

    @property
    def port(self) -> int:
        if self._port == 0:  # still the "pick one" request: never started
            raise RuntimeError("SimulatedLLM has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url_anthropic(self) -> str:
        return self.base_url

    @property
    def base_url_openai(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def exchanges(self) -> list[Exchange]:
        return self.state.exchanges

    @property
    def requests(self) -> list[SimRequest]:
        return [ex.request for ex in self.state.exchanges]

    def push(self, *replies: ReplyLike) -> None:
        """Queue more replies (thread-safe: a deque append)."""
        self.state.push(replies)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess whose SDKs should talk to this endpoint."""
        key = self.api_key or "sim-key"
        return {
            "ANTHROPIC_BASE_URL": self.base_url_anthropic,
            "ANTHROPIC_API_KEY": key,
            "OPENAI_BASE_URL": self.base_url_openai,
            "OPENAI_API_KEY": key,
        }

    # ---- on the current event loop ----

    async def __aenter__(self) -> SimulatedLLM:
        if self._server is not None:
            raise RuntimeError("SimulatedLLM is already running")
        sock = _listen(self.host, self._port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.state),
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,  # leave the host's logging alone
            access_log=False,
            timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_S),
        )
        self._server = _EmbeddedServer(config)
        self._stopped = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._serve, sock)
        log.info("SimulatedLLM listening on %s", self.base_url)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None and self._stopped is not None
        try:
            await self._server.serve(sockets=[sock])
        finally:
            self._stopped.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._server is not None and self._tg is not None and self._stopped is not None
        if self.state.active:
            # A client that just left may not have been noticed yet: let its disconnect land, so
            # it is recorded as one (and uvicorn does not log an aborted response as an error).
            await anyio.sleep(0.05)
        self.state.cancel_all()  # stalled replies would otherwise hold the shutdown
        self._server.should_exit = True
        with anyio.move_on_after(SHUTDOWN_TIMEOUT_S + 1):
            await self._stopped.wait()
        if not self._stopped.is_set():
            log.warning("SimulatedLLM: uvicorn did not stop in time; cancelling it")
            self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._server = None

    # ---- in a background thread ----

    def __enter__(self) -> SimulatedLLM:
        portal_cm = anyio.from_thread.start_blocking_portal(backend="asyncio")
        portal = portal_cm.__enter__()
        self._thread_cms = [portal_cm]
        try:
            running = portal.wrap_async_context_manager(self)
            running.__enter__()
            self._thread_cms.append(running)
        except BaseException:
            portal_cm.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for cm in reversed(self._thread_cms):
            cm.__exit__(None, None, None)
        self._thread_cms = []


def _listen(host: str, port: int) -> socket.socket:
    # Bound and listening before uvicorn starts, so the port is known and connections made at
    # once queue in the backlog instead of being refused.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


# ---- python -m benchmarks.simllm ----


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.simllm", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    p.add_argument("--script", help="JSON script: latency, replies, rules, default (see script.Script)")
    p.add_argument("--ttft", type=float, help="seconds to first token (overrides the script)")
    p.add_argument("--tps", type=float, help="tokens per second (overrides the script)")
    p.add_argument("--api-key", help="require this key (x-api-key or Bearer)")
    p.add_argument("--record", help="append each finished exchange to this file as a JSON line")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    script = Script.load(args.script) if args.script else Script()
    latency = script.latency
    if args.ttft is not None or args.tps is not None:
        latency = LatencyModel(
            ttft_s=latency.ttft_s if args.ttft is None else args.ttft,
            tokens_per_s=latency.tokens_per_s if args.tps is None else args.tps,
            jitter=latency.jitter,
            tokens_per_chunk=latency.tokens_per_chunk,
            seed=latency.seed,
        )
    record = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115

    def on_exchange(ex: Exchange) -> None:
        if record is not None:
            record.write(json.dumps(ex.to_json()) + "\n")
            record.flush()

    sim = SimulatedLLM(
        script.respond, replies=script.replies, latency=latency, api_key=args.api_key,
        host=args.host, port=args.port, on_exchange=on_exchange,
    )  # fmt: skip
    try:
        async with sim:
            print(f"SIMLLM READY {sim.base_url}", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("SimulatedLLM: got signal %d, stopping", signum)
                    break
    finally:
        if record is not None:
            record.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    anyio.run(_main, _parse_args(argv))


if __name__ == "__main__":
    main()
