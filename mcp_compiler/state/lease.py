"""Which replicas are alive: a lease each one renews through the state seam.

Work that cannot leave its process (a running Tasks task, a held run) is recorded with the id of
the replica running it. That replica renews its lease (an entry of the kind `replicas` that
expires `lease_s` after its last renewal) every `lease_s / 3`; any other replica that finds the
work unfinished and the lease gone knows the replica running it stopped, and says so, instead of
answering `working` forever. A replica that starts needs no coordination step: its first renewal
is its joining.
"""

from __future__ import annotations

import logging
import secrets

import anyio

from . import Kind, StateStore, StateUnavailable

__all__ = ["LEASE_S", "Lease"]

logger = logging.getLogger(__name__)

LEASE_S = 10.0  # a replica unheard of this long is taken for stopped


class Lease:
    """This replica's lease (`id`, random per process), and the others' seen through the seam."""

    def __init__(self, state: StateStore, *, lease_s: float = LEASE_S) -> None:
        self.id = secrets.token_hex(8)
        self.state = state
        self.lease_s = lease_s
        self.kind = Kind("replicas", ttl_s=lease_s, max_bytes=1 << 20, max_entries=4096)

    async def renew(self) -> None:
        """Live `lease_s` more from now (StateUnavailable when the backend does not answer)."""
        if not await self.state.put(self.kind, self.id, b"alive"):
            logger.warning("the replicas' lease table is full (4096): this replica's lease was not written")
            return
        await self.state.expire(self.kind, self.id, self.lease_s)

    async def keep(self) -> None:
        """Renew every `lease_s / 3` until cancelled; a backend in trouble is logged, not fatal."""
        failing = False
        while True:
            try:
                await self.renew()
                if failing:
                    logger.info("this replica's lease is renewed again: the state backend is back")
                failing = False
            except StateUnavailable as exc:
                if not failing:  # once an outage, not every renewal
                    logger.warning("could not renew this replica's lease: %s", exc)
                failing = True
            await anyio.sleep(self.lease_s / 3)

    async def alive(self, replica: str) -> bool:
        """`replica` renewed its lease within `lease_s` (this replica always is)."""
        return replica == self.id or await self.state.get(self.kind, replica) is not None
