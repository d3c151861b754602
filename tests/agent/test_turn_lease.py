"""The per-conversation turn lease in the real locks bucket: held, expired, renewed, released.

A crashed holder is an entry whose expiry has passed, written as such; the race between a
taker and a late renewal is ordered by the test (the renewal lands between the taker's read and
its compare-and-set), so no test waits for a clock.
"""

from __future__ import annotations

import asyncio
import json
from typing import cast

import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.agent_worker.turn_lease import LeaseTimeout, TurnLease
from tests.support.waits import eventually, until

CONVERSATION = "conv-lease-1"
EXPIRED = json.dumps({"owner": "crashed-worker", "expires": 0}).encode()
FAR_FUTURE = json.dumps({"owner": "busy-worker", "expires": 4102444800}).encode()


@pytest.fixture
async def kv(js: JetStreamContext) -> KeyValue:
    return await js.key_value("baton-turn-locks")


async def owner(kv: KeyValue) -> str:
    entry = await kv.get(CONVERSATION)
    return str(json.loads(entry.value or b"{}")["owner"])


async def test_a_held_lease_excludes_a_second_holder_until_released(kv: KeyValue) -> None:
    first, second = TurnLease(kv, "worker-a", 30.0), TurnLease(kv, "worker-b", 30.0)
    revision = await first.try_acquire(CONVERSATION)
    assert revision is not None
    assert await second.try_acquire(CONVERSATION) is None
    assert await owner(kv) == "worker-a"
    await first.release(CONVERSATION, revision)
    assert await second.try_acquire(CONVERSATION) is not None
    assert await owner(kv) == "worker-b"


async def test_a_live_lease_of_another_worker_is_not_taken(kv: KeyValue) -> None:
    await kv.create(CONVERSATION, FAR_FUTURE)
    assert await TurnLease(kv, "worker-b", 30.0).try_acquire(CONVERSATION) is None
    assert await owner(kv) == "busy-worker"


async def test_an_expired_lease_is_taken_over(kv: KeyValue) -> None:
    crashed = await kv.create(CONVERSATION, EXPIRED)
    revision = await TurnLease(kv, "worker-b", 30.0).try_acquire(CONVERSATION)
    assert revision is not None and revision > crashed
    assert await owner(kv) == "worker-b"


class RenewedDuringTakeover:
    """The bucket, except that the holder renews right after the taker has read the lease."""

    def __init__(self, kv: KeyValue, holder: TurnLease, revision: int) -> None:
        self._kv = kv
        self._holder = holder
        self._revision = revision
        self.renewed: int | None = None

    async def create(self, key: str, value: bytes) -> int:
        return await self._kv.create(key, value)

    async def get(self, key: str) -> KeyValue.Entry:
        entry = await self._kv.get(key)
        if self.renewed is None:
            self.renewed = await self._holder.renew(CONVERSATION, self._revision)
        return entry

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        return await self._kv.update(key, value, last=last)


async def test_a_lease_renewed_during_a_takeover_stays_with_its_holder(kv: KeyValue) -> None:
    """The taker saw an expired lease, but the holder renewed before the taker wrote."""
    holder = TurnLease(kv, "worker-a", 30.0)
    late = await kv.create(CONVERSATION, json.dumps({"owner": "worker-a", "expires": 0}).encode())
    racing = RenewedDuringTakeover(kv, holder, late)
    taker = TurnLease(racing, "worker-b", 30.0)

    assert await taker.try_acquire(CONVERSATION) is None

    assert racing.renewed is not None and racing.renewed > late
    assert await owner(kv) == "worker-a"


async def stalled_holder_taken_over(kv: KeyValue) -> tuple[TurnLease, int]:
    """worker-a stalled past its lease's expiry, and worker-b took the lease over."""
    stale = await kv.create(CONVERSATION, json.dumps({"owner": "worker-a", "expires": 0}).encode())
    stalled = TurnLease(kv, "worker-a", 30.0)
    assert await TurnLease(kv, "worker-b", 30.0).try_acquire(CONVERSATION) is not None
    return stalled, stale


async def test_a_holder_whose_lease_was_taken_over_cannot_renew_it(kv: KeyValue) -> None:
    stalled, stale = await stalled_holder_taken_over(kv)
    with pytest.raises(KeyWrongLastSequenceError):
        await stalled.renew(CONVERSATION, stale)
    assert await owner(kv) == "worker-b"


async def test_a_holder_whose_lease_was_taken_over_releases_without_touching_it(
    kv: KeyValue,
) -> None:
    stalled, stale = await stalled_holder_taken_over(kv)
    await stalled.release(CONVERSATION, stale)
    assert await owner(kv) == "worker-b"


async def test_held_waits_for_the_holder_and_keeps_the_message_alive(kv: KeyValue) -> None:
    first, second = TurnLease(kv, "worker-a", 30.0), TurnLease(kv, "worker-b", 30.0)
    revision = await first.try_acquire(CONVERSATION)
    assert revision is not None
    heartbeats = 0
    inside = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal heartbeats
        heartbeats += 1

    async def take_turn() -> None:
        async with second.held(CONVERSATION, wait_seconds=10.0, heartbeat=heartbeat):
            inside.set()
            assert await owner(kv) == "worker-b"

    waiting = asyncio.create_task(take_turn())
    await until(lambda: heartbeats >= 2)
    assert not inside.is_set(), "entered while another worker held the conversation"
    await first.release(CONVERSATION, revision)
    await asyncio.wait_for(waiting, 5.0)
    assert inside.is_set()
    assert await first.try_acquire(CONVERSATION) is not None, "released on the way out"


async def test_held_gives_up_after_its_wait(kv: KeyValue) -> None:
    await kv.create(CONVERSATION, FAR_FUTURE)

    async def heartbeat() -> None:
        return None

    lease = TurnLease(kv, "worker-b", 30.0)
    with pytest.raises(LeaseTimeout):
        async with lease.held(CONVERSATION, wait_seconds=0.05, heartbeat=heartbeat):
            pytest.fail("entered a conversation another worker holds")


async def test_held_renews_the_lease_while_the_turn_runs(kv: KeyValue) -> None:
    lease = TurnLease(kv, "worker-a", 1.0)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        beats += 1

    def expiry(entry: KeyValue.Entry) -> float:
        return float(json.loads(entry.value or b"{}")["expires"])

    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=heartbeat):
        taken = await kv.get(CONVERSATION)
        renewed = await eventually(
            lambda: kv.get(CONVERSATION), lambda entry: entry.revision > taken.revision
        )
        assert expiry(renewed) > expiry(taken)
        renewed_at = expiry(renewed) - 1.0
        assert renewed_at < expiry(taken), "renewed only after the lease had run out"
        assert json.loads(renewed.value or b"{}")["owner"] == "worker-a"
        await until(lambda: beats >= 1)


class LeaseGoneBetweenReads:
    """The create fails on a lease that is released before it can be read."""

    async def create(self, key: str, value: bytes) -> int:
        raise KeyWrongLastSequenceError()

    async def get(self, key: str) -> KeyValue.Entry:
        raise KeyNotFoundError()


async def test_a_lease_released_between_the_create_and_the_read_is_tried_again_later() -> None:
    lease = TurnLease(cast(KeyValue, LeaseGoneBetweenReads()), "worker-a", 1.0)
    assert await lease.try_acquire(CONVERSATION) is None
