"""A short soak in CI (the README's 2-minute figures come from `python -m benchmarks.soak`): hosts
keep calls in flight against a fault-injecting upstream mix; no reply is lost, memory and file
descriptors stay flat."""

from __future__ import annotations

import pytest

from benchmarks.soak import soak

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.mark.parametrize("transport, clients", [("http", 8), ("stdio", 8)])
async def test_a_short_soak_loses_no_reply_and_stays_flat(transport: str, clients: int) -> None:
    figures = await soak(transport, clients, 15, "auto")
    print(f"\nsoak {figures}")
    assert figures["lost"] == 0, figures["lost_examples"]
    assert figures["replies"] >= clients  # every client got answers
    assert figures["tool_errors"] > 0  # the faults were met (crashes, hangs, a bad plan)
    # Twelve 15 s runs of 8 hosts on the 2-core build machine grew the server's RSS by 0.4-1.0 MiB
    # (500-600 replies each); 4 MiB leaves room for the allocator and fails a leak of about 7 KiB
    # a reply (one of 16 KiB a call grew it by 9.4 MiB).
    assert figures["rss_mib_after"] - figures["rss_mib_before"] < 4
    assert figures["fds_after"] - figures["fds_before"] < 24
