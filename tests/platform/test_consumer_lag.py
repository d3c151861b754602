"""Sampling consumer lag stops when asked, even when a cancellation is swallowed mid-request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import cast

from faststream.nats import NatsBroker

from libs.platform.consumer_lag import ConsumerLag


class SwallowingLag(ConsumerLag):
    """A sample that swallows one cancellation, as nats-py does while it writes a request."""

    def __init__(self) -> None:
        super().__init__(cast(NatsBroker, object()), [], every_seconds=30.0)
        self.samples = 0
        self.sampling = asyncio.Event()

    async def sample(self) -> None:
        self.samples += 1
        self.sampling.set()
        with contextlib.suppress(asyncio.CancelledError):  # the request goes on, answers
            await asyncio.sleep(0.5)


async def test_stop_returns_although_the_sample_swallowed_the_cancellation() -> None:
    lag = SwallowingLag()
    lag.start()
    await asyncio.wait_for(lag.sampling.wait(), 5)
    started = time.monotonic()
    stopping = asyncio.ensure_future(lag.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert done, "stop waits for a sampling round that never ends"
    assert time.monotonic() - started < 4, "stop waited for the next sampling round"
    assert lag.samples == 1


async def test_a_stopped_lag_can_start_again() -> None:
    lag = SwallowingLag()
    lag.start()
    await asyncio.wait_for(lag.sampling.wait(), 5)
    await lag.stop()
    lag.sampling.clear()
    lag.start()
    await asyncio.wait_for(lag.sampling.wait(), 5)
    await lag.stop()
    assert lag.samples == 2
