"""SIGTERM and SIGINT as cancellation, so leaving the pool's context stops every stdio child."""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence

import anyio

__all__ = ["cancel_on_signals"]

logger = logging.getLogger(__name__)


async def cancel_on_signals(
    scope: anyio.CancelScope, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> None:
    """Cancel `scope` when the process gets one of `signals`, so every session closes cleanly.

    Run it in the task group whose scope holds the pool: `tg.start_soon(cancel_on_signals,
    tg.cancel_scope)`. Leaving the pool's context then stops every stdio child.
    """
    with anyio.open_signal_receiver(*signals) as received:
        async for signum in received:
            logger.info("received %s; shutting down", signal.Signals(signum).name)
            scope.cancel()
            return
