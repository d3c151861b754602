"""The per-conversation turn lease inside the real conversations bucket: held, expired,
renewed, given back with the turn's own write, and taken without a read by the last writer.

A crashed holder is a state whose lease has expired, written as such; the race between a
taker and a late renewal is ordered by the test (the renewal lands between the taker's read
and its compare-and-set), so no test waits for a clock.
"""

from __future__ import annotations

import asyncio
from typing import cast

import nats.errors
import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from libs.contracts.conversation import (
    ConversationState,
    TurnHolder,
    cut_reply,
    record_turns,
)
from libs.contracts.messages import Channel, Route, TranscriptLine
from libs.contracts.subjects import CONVERSATIONS_BUCKET
from libs.platform.conversation_store import ConversationStore
from services.agent_worker import turn_lease
from services.agent_worker.turn_lease import HeldConversation, LeaseLost, LeaseTimeout, TurnLease
from tests.support.waits import eventually, until

CONVERSATION = "conv-lease-1"
FAR_FUTURE = 4102444800.0
VOICE_ROUTE = Route(
    channel=Channel.VOICE, customer_address="+15550001111", agent_address="+15550002222"
)


@pytest.fixture
async def kv(js: JetStreamContext) -> KeyValue:
    return await js.key_value(CONVERSATIONS_BUCKET)


@pytest.fixture
def store(kv: KeyValue) -> ConversationStore:
    return ConversationStore(kv)


async def holder(store: ConversationStore) -> TurnHolder | None:
    return (await store.get(CONVERSATION)).holder


async def stored_with(kv: KeyValue, holder: TurnHolder) -> int:
    """A conversation whose state names ``holder`` (a crashed one, or a busy one)."""
    state = ConversationState(conversation_id=CONVERSATION, holder=holder)
    return await kv.create(CONVERSATION, state.model_dump_json().encode())


async def no_heartbeat() -> None:
    return None


async def held_by_the_first_of_two(
    store: ConversationStore,
) -> tuple[TurnLease, TurnLease, HeldConversation]:
    """Two workers' leases, and the first one's holding of the conversation."""
    first, second = TurnLease(store, "worker-a", 30.0), TurnLease(store, "worker-b", 30.0)
    held = await first.try_acquire(CONVERSATION)
    assert held is not None
    return first, second, held


async def test_a_held_conversation_excludes_a_second_holder_until_released(
    store: ConversationStore,
) -> None:
    first, second, held = await held_by_the_first_of_two(store)
    assert await second.try_acquire(CONVERSATION) is None
    assert (await holder(store)) == held.state.holder
    assert held.owner.startswith("worker-a/")
    await first.release(held)
    assert await holder(store) is None
    taken = await second.try_acquire(CONVERSATION)
    assert taken is not None and taken.owner.startswith("worker-b/")


async def test_two_turns_of_one_worker_exclude_each_other(store: ConversationStore) -> None:
    lease = TurnLease(store, "worker-a", 30.0)
    held = await lease.try_acquire(CONVERSATION)
    assert held is not None
    assert await lease.try_acquire(CONVERSATION) is None


async def test_a_live_lease_of_another_worker_is_not_taken(
    kv: KeyValue, store: ConversationStore
) -> None:
    await stored_with(kv, TurnHolder(owner="busy-worker/1", expires=FAR_FUTURE))
    assert await TurnLease(store, "worker-b", 30.0).try_acquire(CONVERSATION) is None
    assert (await holder(store)) == TurnHolder(owner="busy-worker/1", expires=FAR_FUTURE)


async def test_an_expired_lease_is_taken_over(kv: KeyValue, store: ConversationStore) -> None:
    crashed = await stored_with(kv, TurnHolder(owner="crashed-worker/1", expires=0))
    held = await TurnLease(store, "worker-b", 30.0).try_acquire(CONVERSATION)
    assert held is not None and held.revision is not None and held.revision > crashed
    assert (await holder(store)).owner == held.owner  # type: ignore[union-attr]


class RenewedDuringTakeover:
    """The bucket, except that the holder renews right after the taker has read the state."""

    def __init__(self, kv: KeyValue, holder: TurnLease, held: HeldConversation) -> None:
        self._kv = kv
        self._holder = holder
        self._held = held
        self.renewed = False

    async def create(self, key: str, value: bytes) -> int:
        return await self._kv.create(key, value)

    async def get(self, key: str) -> KeyValue.Entry:
        entry = await self._kv.get(key)
        if not self.renewed:
            self.renewed = await self._holder.renew(self._held)
        return entry

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        return await self._kv.update(key, value, last=last)


async def held_then_stalled(kv: KeyValue, store: ConversationStore) -> HeldConversation:
    """worker-a holds the conversation, then stalls until its lease has run out."""
    held = await TurnLease(store, "worker-a", 30.0).try_acquire(CONVERSATION)
    assert held is not None
    state = await store.get(CONVERSATION)
    assert state.holder is not None
    state.holder.expires = 0
    entry = await kv.get(CONVERSATION)
    await kv.update(CONVERSATION, state.model_dump_json().encode(), last=entry.revision)
    return held


async def taken_over(
    kv: KeyValue, store: ConversationStore
) -> tuple[HeldConversation, HeldConversation]:
    """worker-a's stalled holding, and worker-b's that took the conversation over."""
    stalled = await held_then_stalled(kv, store)
    taken = await TurnLease(store, "worker-b", 30.0).try_acquire(CONVERSATION)
    assert taken is not None
    return stalled, taken


async def test_a_lease_renewed_during_a_takeover_stays_with_its_holder(
    kv: KeyValue, store: ConversationStore
) -> None:
    """The taker saw an expired lease, but the holder renewed before the taker wrote."""
    holding = TurnLease(store, "worker-a", 30.0)
    late = await held_then_stalled(kv, store)
    racing = RenewedDuringTakeover(kv, holding, late)
    taker = TurnLease(ConversationStore(cast(KeyValue, racing)), "worker-b", 30.0)

    assert await taker.try_acquire(CONVERSATION) is None

    assert racing.renewed
    assert (await holder(store)).owner == late.owner  # type: ignore[union-attr]


async def test_a_holder_whose_lease_was_taken_over_cannot_renew_or_release_it(
    kv: KeyValue, store: ConversationStore
) -> None:
    stalled, taken = await taken_over(kv, store)
    lease = TurnLease(store, "worker-a", 30.0)
    assert not await lease.renew(stalled)
    await lease.release(stalled)
    assert (await holder(store)).owner == taken.owner  # type: ignore[union-attr]


async def test_the_turns_write_gives_the_lease_back_in_the_same_revision(
    kv: KeyValue, store: ConversationStore
) -> None:
    lease = TurnLease(store, "worker-a", 30.0)
    line = TranscriptLine(role="customer", text="hello")
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat) as held:
        taken = held.revision
        await lease.write(held, record_turns(7, VOICE_ROUTE, [line]), release=True)
    entry = await kv.get(CONVERSATION)
    assert taken is not None and entry.revision == taken + 1, "one write: recorded and released"
    state = ConversationState.model_validate_json(entry.value or b"")
    assert state.holder is None and state.last_turn_seq == 7 and state.history == [line]


async def test_a_turn_with_more_to_read_keeps_the_lease(store: ConversationStore) -> None:
    lease = TurnLease(store, "worker-a", 30.0)
    held = await lease.try_acquire(CONVERSATION)
    assert held is not None
    await lease.write(held, record_turns(3, VOICE_ROUTE, []), release=False)
    assert (await holder(store)).owner == held.owner  # type: ignore[union-attr]
    assert await TurnLease(store, "worker-b", 30.0).try_acquire(CONVERSATION) is None


class CountingReads:
    """The bucket, counting reads."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.reads = 0

    async def create(self, key: str, value: bytes) -> int:
        return await self._kv.create(key, value)

    async def get(self, key: str) -> KeyValue.Entry:
        self.reads += 1
        return await self._kv.get(key)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        return await self._kv.update(key, value, last=last)


async def one_turn(lease: TurnLease, sequence: int) -> None:
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat) as held:
        await lease.write(held, record_turns(sequence, VOICE_ROUTE, []), release=True)


async def test_the_last_writer_takes_the_next_turn_without_reading(kv: KeyValue) -> None:
    counting = CountingReads(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, counting)), "worker-a", 30.0)
    await one_turn(lease, 1)
    reads = counting.reads
    await one_turn(lease, 2)
    assert counting.reads == reads, "the next turn read the state it had written itself"
    assert (await ConversationStore(kv).get(CONVERSATION)).last_turn_seq == 2


async def test_a_write_by_another_in_between_makes_the_last_writer_read_afresh(
    kv: KeyValue,
) -> None:
    counting = CountingReads(kv)
    store = ConversationStore(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, counting)), "worker-a", 30.0)
    await one_turn(lease, 1)
    await store.apply(CONVERSATION, cut_reply(1, "the caller heard this"))  # the relay writes
    reads = counting.reads
    await one_turn(lease, 2)
    assert counting.reads == reads + 1
    state = await store.get(CONVERSATION)
    assert state.heard == {1: "the caller heard this"} and state.last_turn_seq == 2


async def test_only_recent_conversations_are_remembered(
    kv: KeyValue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_lease, "REMEMBERED_CONVERSATIONS", 2)
    counting = CountingReads(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, counting)), "worker-a", 30.0)
    for conversation in ("c1", "c2", "c3"):
        held = await lease.try_acquire(conversation)
        assert held is not None
        await lease.write(held, record_turns(1, VOICE_ROUTE, []), release=True)
    for conversation, read in (("c3", False), ("c2", False), ("c1", True)):
        reads = counting.reads
        assert await lease.try_acquire(conversation) is not None
        assert (counting.reads > reads) is read, f"{conversation}: only the oldest is forgotten"


async def test_a_turn_with_nothing_to_answer_gives_the_lease_back_on_its_way_out(
    kv: KeyValue,
) -> None:
    counting = CountingReads(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, counting)), "worker-a", 30.0)
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat):
        pass  # a redelivered turn, answered already
    assert (await ConversationStore(kv).get(CONVERSATION)).holder is None
    reads = counting.reads
    await one_turn(lease, 1)
    assert counting.reads == reads, "remembered what the release wrote"


async def test_a_turn_that_kept_the_lease_for_more_gives_it_back_on_its_way_out(
    store: ConversationStore,
) -> None:
    lease = TurnLease(store, "worker-a", 30.0)
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat) as held:
        await lease.write(held, record_turns(3, VOICE_ROUTE, []), release=False)
        assert (await holder(store)).owner == held.owner  # type: ignore[union-attr]
    assert await holder(store) is None


async def test_a_holder_whose_lease_was_taken_over_still_records_its_turn(
    kv: KeyValue, store: ConversationStore
) -> None:
    """Its reply went out: the history keeps it, and the lease stays with the new holder."""
    stalled, taken = await taken_over(kv, store)
    line = TranscriptLine(role="agent", text="your order ships today", turn=4)
    await TurnLease(store, "worker-a", 30.0).write(
        stalled, record_turns(4, VOICE_ROUTE, [line]), release=True
    )
    state = await store.get(CONVERSATION)
    assert state.history == [line] and state.last_turn_seq == 4
    assert state.holder is not None and state.holder.owner == taken.owner


async def test_held_waits_for_the_holder_and_keeps_the_message_alive(
    store: ConversationStore,
) -> None:
    first, second, held = await held_by_the_first_of_two(store)
    heartbeats = 0
    inside = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal heartbeats
        heartbeats += 1

    async def take_turn() -> None:
        async with second.held(CONVERSATION, wait_seconds=10.0, heartbeat=heartbeat) as mine:
            inside.set()
            assert (await holder(store)).owner == mine.owner  # type: ignore[union-attr]

    waiting = asyncio.create_task(take_turn())
    await until(lambda: heartbeats >= 2)
    assert not inside.is_set(), "entered while another worker held the conversation"
    await first.release(held)
    await asyncio.wait_for(waiting, 5.0)
    assert inside.is_set()
    assert await holder(store) is None, "released on the way out"


async def test_held_gives_up_after_its_wait(kv: KeyValue, store: ConversationStore) -> None:
    await stored_with(kv, TurnHolder(owner="busy-worker/1", expires=FAR_FUTURE))
    lease = TurnLease(store, "worker-b", 30.0)
    with pytest.raises(LeaseTimeout):
        async with lease.held(CONVERSATION, wait_seconds=0.05, heartbeat=no_heartbeat):
            pytest.fail("entered a conversation another worker holds")


async def test_held_renews_the_lease_while_the_turn_runs(store: ConversationStore) -> None:
    lease = TurnLease(store, "worker-a", 1.0)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        beats += 1

    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=heartbeat) as held:
        taken = await store.get(CONVERSATION)
        assert taken.holder is not None
        renewed = await eventually(
            lambda: store.get(CONVERSATION),
            lambda state: state.holder is not None and state.holder.expires > taken.holder.expires,  # type: ignore[union-attr]
        )
        assert renewed.holder is not None and renewed.holder.owner == held.owner
        renewed_at = renewed.holder.expires - 1.0
        assert renewed_at < taken.holder.expires, "renewed only after the lease had run out"
        await until(lambda: beats >= 1)
    assert await holder(store) is None


class TimesOutOnce:
    """The bucket, except that its first update (the first renewal of a new conversation's
    lease, taken with a create) times out, as while a NATS server restarts."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.timed_out = False

    async def create(self, key: str, value: bytes) -> int:
        return await self._kv.create(key, value)

    async def get(self, key: str) -> KeyValue.Entry:
        return await self._kv.get(key)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        if not self.timed_out:
            self.timed_out = True
            raise nats.errors.TimeoutError
        return await self._kv.update(key, value, last=last)


async def test_a_renewal_that_fails_is_tried_again_while_the_turn_runs(
    kv: KeyValue, store: ConversationStore
) -> None:
    """One failed renewal must not leave the rest of a long turn without a lease."""
    flaky = TimesOutOnce(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, flaky)), "worker-a", 1.0)
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat) as held:
        taken = held.state.holder
        assert taken is not None
        await until(lambda: flaky.timed_out)
        renewed = await eventually(
            lambda: store.get(CONVERSATION),
            lambda state: state.holder is not None and state.holder.expires > taken.expires,
        )
        assert renewed.holder is not None and renewed.holder.owner == held.owner
    assert await holder(store) is None


async def test_renewals_during_a_long_turn_cost_one_write_each_and_no_read(kv: KeyValue) -> None:
    """Each renewal writes from the revision the last write left; none makes the turn's fail."""
    counting = CountingReads(kv)
    lease = TurnLease(ConversationStore(cast(KeyValue, counting)), "worker-a", 0.4)
    async with lease.held(CONVERSATION, wait_seconds=1.0, heartbeat=no_heartbeat) as held:
        reads, taken = counting.reads, held.revision
        assert taken is not None
        await eventually(lambda: kv.get(CONVERSATION), lambda entry: entry.revision >= taken + 2)
        renewed = held.revision
        await lease.write(held, record_turns(5, VOICE_ROUTE, []), release=True)
        assert counting.reads == reads, "renewals and the turn's write read nothing"
    entry = await kv.get(CONVERSATION)
    assert renewed is not None and entry.revision > renewed
    state = ConversationState.model_validate_json(entry.value or b"")
    assert state.holder is None and state.last_turn_seq == 5


async def test_a_holder_taken_over_stops_before_answering_more(
    kv: KeyValue, store: ConversationStore
) -> None:
    """It records what it answered, then leaves the rest to the new holder."""
    stalled, taken = await taken_over(kv, store)
    with pytest.raises(LeaseLost):
        await TurnLease(store, "worker-a", 30.0).write(
            stalled, record_turns(4, VOICE_ROUTE, []), release=False
        )
    state = await store.get(CONVERSATION)
    assert state.last_turn_seq == 4
    assert state.holder is not None and state.holder.owner == taken.owner
