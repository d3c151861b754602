"""The conversation's state machine: every allowed and every refused transition, in one table.

Each row starts from a stored state (status, epoch 3) and applies one named transition;
``None`` means the transition is refused and nothing would be written.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from libs.contracts.conversation import (
    ConversationState,
    ConversationStatus,
    Transition,
    TurnHolder,
    claim_handoff,
    cut_reply,
    give_back_to_bot,
    hold_turns,
    record_turns,
    release_claim,
    release_hold,
    renew_hold,
    settle_delivery,
    stored_form,
)
from libs.contracts.messages import AgentReply, Channel, ReplyKind, Route, TranscriptLine
from libs.contracts.subjects import CONVERSATIONS_BUCKET
from libs.platform.conversation_store import ConversationStore

ACTIVE = ConversationStatus.ACTIVE
PENDING = ConversationStatus.HANDOFF_PENDING
HANDED_OFF = ConversationStatus.HANDED_OFF
EPOCH = 3
RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ROUTE = Route(channel=Channel.SMS, customer_address="+15005550006", agent_address="+15005550001")

TRANSITIONS: dict[str, Transition] = {
    "claim (this epoch)": claim_handoff(EPOCH, "billing dispute", RECEIVED),
    "claim (stale epoch)": claim_handoff(EPOCH - 1, "billing dispute", RECEIVED),
    "release (this epoch)": release_claim(EPOCH),
    "release (stale epoch)": release_claim(EPOCH - 1),
    "settle delivered (this epoch)": settle_delivery(EPOCH, delivered=True),
    "settle delivered (stale epoch)": settle_delivery(EPOCH - 1, delivered=True),
    "settle failed (this epoch)": settle_delivery(EPOCH, delivered=False),
    "settle failed (stale epoch)": settle_delivery(EPOCH - 1, delivered=False),
    "give back to bot": give_back_to_bot(),
}

# (starting status, transition) -> (status, epoch) after it, or None when refused.
TABLE: dict[tuple[ConversationStatus, str], tuple[ConversationStatus, int] | None] = {
    (ACTIVE, "claim (this epoch)"): (PENDING, EPOCH),
    (PENDING, "claim (this epoch)"): None,
    (HANDED_OFF, "claim (this epoch)"): None,
    (ACTIVE, "claim (stale epoch)"): None,
    (PENDING, "claim (stale epoch)"): None,
    (HANDED_OFF, "claim (stale epoch)"): None,
    (ACTIVE, "release (this epoch)"): None,
    (PENDING, "release (this epoch)"): (ACTIVE, EPOCH),
    (HANDED_OFF, "release (this epoch)"): None,
    (ACTIVE, "release (stale epoch)"): None,
    (PENDING, "release (stale epoch)"): None,
    (HANDED_OFF, "release (stale epoch)"): None,
    (ACTIVE, "settle delivered (this epoch)"): None,
    (PENDING, "settle delivered (this epoch)"): (HANDED_OFF, EPOCH),
    (HANDED_OFF, "settle delivered (this epoch)"): (HANDED_OFF, EPOCH),
    (ACTIVE, "settle delivered (stale epoch)"): None,
    (PENDING, "settle delivered (stale epoch)"): None,
    (HANDED_OFF, "settle delivered (stale epoch)"): None,
    (ACTIVE, "settle failed (this epoch)"): None,
    (PENDING, "settle failed (this epoch)"): (ACTIVE, EPOCH + 1),
    (HANDED_OFF, "settle failed (this epoch)"): (ACTIVE, EPOCH + 1),
    (ACTIVE, "settle failed (stale epoch)"): None,
    (PENDING, "settle failed (stale epoch)"): None,
    (HANDED_OFF, "settle failed (stale epoch)"): None,
    (ACTIVE, "give back to bot"): None,
    (PENDING, "give back to bot"): (ACTIVE, EPOCH + 1),
    (HANDED_OFF, "give back to bot"): (ACTIVE, EPOCH + 1),
}


def stored(status: ConversationStatus) -> ConversationState:
    return ConversationState(
        conversation_id="conv-table",
        status=status,
        epoch=EPOCH,
        handoff_reason="" if status is ACTIVE else "earlier reason",
        handoff_turn_received_at=None if status is ACTIVE else RECEIVED,
    )


def test_the_table_covers_every_status_and_transition() -> None:
    assert set(TABLE) == {(s, t) for s in ConversationStatus for t in TRANSITIONS}


@pytest.mark.parametrize(("status", "name"), sorted(TABLE), ids=lambda v: str(v))
def test_transition(status: ConversationStatus, name: str) -> None:
    expected = TABLE[(status, name)]
    after = TRANSITIONS[name](stored(status))
    if expected is None:
        assert after is None, f"{name} must be refused in {status}"
        return
    assert after is not None, f"{name} must apply in {status}"
    assert (after.status, after.epoch) == expected
    if after.status is ACTIVE:
        assert after.handoff_reason == "" and after.handoff_turn_received_at is None
    if after.status is PENDING:
        assert after.handoff_reason == "billing dispute"
        assert after.handoff_turn_received_at == RECEIVED


@pytest.mark.parametrize("status", list(ConversationStatus))
def test_turns_are_recorded_in_every_status(status: ConversationStatus) -> None:
    state = stored(status)
    state.last_turn_seq = 9
    line = TranscriptLine(role="customer", text="hello")
    after = record_turns(7, ROUTE, [line])(state)
    assert after.status is status and after.epoch == EPOCH
    assert after.last_turn_seq == 9, "a late record never moves the log position back"
    assert after.history[-1] == line and after.route == ROUTE
    after = record_turns(12, ROUTE, [])(after)
    assert after.last_turn_seq == 12


def test_history_is_bounded() -> None:
    state = stored(ACTIVE)
    many = [TranscriptLine(role="customer", text=str(i)) for i in range(75)]
    after = record_turns(1, ROUTE, many)(state)
    assert [line.text for line in after.history] == [str(i) for i in range(15, 75)]


async def test_concurrent_writers_lose_nothing(js: JetStreamContext) -> None:
    """Compare-and-set: many writers at once, every record and one claim survive."""
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    lines = [TranscriptLine(role="customer", text=f"message {i}") for i in range(20)]
    writes = [store.apply("conv-race", record_turns(i + 1, ROUTE, [lines[i]])) for i in range(20)]
    claims = [store.apply("conv-race", claim_handoff(0, f"reason {i}", None)) for i in range(5)]
    results = await asyncio.gather(*writes, *claims)
    assert sum(1 for change in results[20:] if change.applied) == 1, "one claim per episode"
    final = await store.get("conv-race")
    assert sorted(line.text for line in final.history) == sorted(line.text for line in lines)
    assert final.last_turn_seq == 20 and final.status is PENDING


class WriterBetweenReadAndWrite:
    """A bucket where another writer's change lands after each read and before the write."""

    def __init__(self, kv: KeyValue, other_writer: Transition, times: int = 1) -> None:
        self._kv = kv
        self._other = ConversationStore(kv)
        self._other_writer = other_writer
        self._left = times
        self.reads = 0

    async def get(self, key: str) -> KeyValue.Entry:
        self.reads += 1
        return await self._kv.get(key)

    async def _interleave(self, key: str) -> None:
        if self._left:
            self._left -= 1
            await self._other.apply(key, self._other_writer)

    async def update(self, key: str, value: bytes, last: int) -> int:
        await self._interleave(key)
        return await self._kv.update(key, value, last=last)

    async def create(self, key: str, value: bytes) -> int:
        await self._interleave(key)
        return await self._kv.create(key, value)

    async def put(self, key: str, value: bytes) -> int:
        await self._interleave(key)
        return await self._kv.put(key, value)


async def test_a_write_that_lost_the_race_is_applied_again_on_the_new_state(
    js: JetStreamContext,
) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    await ConversationStore(kv).apply("conv-cas", record_turns(1, ROUTE, [line("first")]))
    racing = WriterBetweenReadAndWrite(kv, record_turns(2, ROUTE, [line("second")]))
    store = ConversationStore(cast(KeyValue, racing))

    change = await store.apply("conv-cas", record_turns(3, ROUTE, [line("third")]))

    assert change.applied and racing.reads == 2, "read, lost the race, read again"
    final = await ConversationStore(kv).get("conv-cas")
    assert [entry.text for entry in final.history] == ["first", "second", "third"]
    assert final.last_turn_seq == 3


async def test_a_claim_that_lost_the_race_to_another_claim_is_not_applied(
    js: JetStreamContext,
) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    await ConversationStore(kv).apply("conv-cas-claim", record_turns(1, ROUTE, []))
    racing = WriterBetweenReadAndWrite(kv, claim_handoff(0, "the other worker's reason", None))
    store = ConversationStore(cast(KeyValue, racing))

    change = await store.apply("conv-cas-claim", claim_handoff(0, "this worker's reason", None))

    assert not change.applied, "one claim per episode"
    final = await ConversationStore(kv).get("conv-cas-claim")
    assert (final.status, final.handoff_reason) == (PENDING, "the other worker's reason")


async def test_the_first_write_of_a_new_conversation_is_a_create_that_can_lose_too(
    js: JetStreamContext,
) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    racing = WriterBetweenReadAndWrite(kv, record_turns(1, ROUTE, [line("from the other")]))
    store = ConversationStore(cast(KeyValue, racing))

    await store.apply("conv-cas-new", record_turns(2, ROUTE, [line("from this one")]))

    final = await ConversationStore(kv).get("conv-cas-new")
    assert [entry.text for entry in final.history] == ["from the other", "from this one"]


def held_by(owner: str, expires: float) -> ConversationState:
    return ConversationState(
        conversation_id="conv-held", holder=TurnHolder(owner=owner, expires=expires)
    )


@pytest.mark.parametrize("status", list(ConversationStatus))
def test_a_free_conversation_is_held_in_every_status(status: ConversationStatus) -> None:
    before = time.time()
    after = hold_turns("worker-a/1", 2.0)(stored(status))
    assert after is not None and after.status is status and after.holder is not None
    assert after.holder.owner == "worker-a/1"
    assert before + 2.0 <= after.holder.expires <= time.time() + 2.0


def test_a_running_lease_is_not_taken_and_an_expired_one_is() -> None:
    running = held_by("worker-a/1", time.time() + 5)
    assert hold_turns("worker-b/1", 2.0)(running) is None
    assert hold_turns("worker-a/2", 2.0)(running) is None, "a second turn of the same worker too"
    taken = hold_turns("worker-b/1", 2.0)(held_by("worker-a/1", time.time() - 0.01))
    assert taken is not None and taken.holder is not None and taken.holder.owner == "worker-b/1"


def test_only_the_holder_renews_or_releases() -> None:
    state = held_by("worker-a/1", time.time() + 0.5)
    assert renew_hold("worker-b/1", 2.0)(state) is None
    assert release_hold("worker-b/1")(state) is None
    assert renew_hold("worker-a/1", 2.0)(ConversationState(conversation_id="c")) is None
    assert release_hold("worker-a/1")(ConversationState(conversation_id="c")) is None
    renewed = renew_hold("worker-a/1", 2.0)(state)
    assert renewed is not None and renewed.holder is not None
    assert renewed.holder.owner == "worker-a/1" and renewed.holder.expires > time.time() + 1.5
    released = release_hold("worker-a/1")(renewed)
    assert released is not None and released.holder is None


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_every_other_transition_keeps_the_holder(name: str) -> None:
    for status in ConversationStatus:
        state = stored(status)
        state.holder = TurnHolder(owner="worker-a/1", expires=time.time() + 5)
        holder = state.holder.model_copy()
        after = TRANSITIONS[name](state)
        assert after is None or after.holder == holder


async def test_a_field_of_a_newer_release_survives_this_releases_writes(
    js: JetStreamContext,
) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    newer = {**ConversationState(conversation_id="conv-newer").model_dump(mode="json")}
    await kv.create("conv-newer", json.dumps({**newer, "sentiment": {"score": -0.4}}).encode())
    await ConversationStore(kv).apply("conv-newer", record_turns(3, ROUTE, [line("hello")]))
    stored = json.loads((await kv.get("conv-newer")).value or b"{}")
    assert stored["sentiment"] == {"score": -0.4} and stored["last_turn_seq"] == 3


async def test_a_write_returns_the_revision_it_wrote(js: JetStreamContext) -> None:
    kv = await js.key_value(CONVERSATIONS_BUCKET)
    store = ConversationStore(kv)
    created = await store.apply("conv-rev", record_turns(1, ROUTE, []))
    assert created.revision == (await kv.get("conv-rev")).revision
    refused = await store.apply("conv-rev", release_claim(EPOCH))
    assert not refused.applied and refused.revision == created.revision
    updated = await store.apply("conv-rev", record_turns(2, ROUTE, []))
    assert updated.revision == (await kv.get("conv-rev")).revision != created.revision


def line(text: str) -> TranscriptLine:
    return TranscriptLine(role="customer", text=text)


def agent(text: str, turn: int) -> TranscriptLine:
    return TranscriptLine(role="agent", text=text, turn=turn)


def test_a_cut_replaces_only_that_turns_recorded_reply() -> None:
    state = ConversationState(conversation_id="CA-cut")
    customer = TranscriptLine(role="customer", text="tell me more", turn=7)
    state = record_turns(7, ROUTE, [agent("Earlier answer.", 5), customer, agent("Long.", 7)])(
        state
    )
    cut = cut_reply(7, "Lo")(state)
    assert [line.text for line in cut.history] == ["Earlier answer.", "tell me more", "Lo"]
    assert cut.heard == {}, "nothing is kept for later when the reply is recorded already"


def test_a_cut_finds_its_turns_reply_behind_later_lines() -> None:
    state = ConversationState(conversation_id="CA-cut")
    later = TranscriptLine(role="customer", text="and?", turn=8)
    state = record_turns(9, ROUTE, [agent("Long.", 7), later, agent("Later.", 9)])(state)
    cut = cut_reply(7, "Lo")(state)
    assert [line.text for line in cut.history] == ["Lo", "and?", "Later."]


def test_a_cut_before_the_reply_is_recorded_is_applied_when_it_is() -> None:
    state = cut_reply(9, "Sure, the")(ConversationState(conversation_id="CA-cut"))
    assert state.heard == {9: "Sure, the"}
    customer = TranscriptLine(role="customer", text="hours?", turn=9)
    state = record_turns(9, ROUTE, [customer, agent("Sure, the shop opens at nine.", 9)])(state)
    assert [line.text for line in state.history] == ["hours?", "Sure, the"]
    assert state.heard == {}


def test_at_most_eight_cuts_wait_for_their_replies() -> None:
    state = ConversationState(conversation_id="CA-cuts")
    for turn in range(1, 11):
        state = cut_reply(turn, f"heard {turn}")(state)
    assert sorted(state.heard) == [3, 4, 5, 6, 7, 8, 9, 10]


LINES = st.builds(
    TranscriptLine,
    role=st.sampled_from(["customer", "agent", "human", "system"]),
    text=st.text(max_size=40),
    at=st.datetimes(timezones=st.just(UTC)),
    turn=st.none() | st.integers(min_value=0, max_value=10**9),
)


@given(
    history=st.lists(LINES, max_size=8),
    status=st.sampled_from(list(ConversationStatus)),
    heard=st.dictionaries(st.integers(0, 99), st.text(max_size=10), max_size=3),
    extra=st.dictionaries(st.sampled_from(["sentiment", "locale"]), st.text(max_size=5)),
)
def test_the_stored_form_is_the_states_json(
    history: list[TranscriptLine],
    status: ConversationStatus,
    heard: dict[int, str],
    extra: dict[str, str],
) -> None:
    state = ConversationState.model_validate(
        {"conversation_id": "CA-form", "status": status, "heard": heard, **extra}
    )
    state.history = history
    stored = stored_form(state)
    assert json.loads(stored) == json.loads(state.model_dump_json())
    assert ConversationState.model_validate_json(stored) == state


def test_a_line_cut_in_place_is_stored_with_what_was_heard() -> None:
    """Lines are remembered by content: the same line object, cut, is serialized afresh."""
    state = record_turns(7, ROUTE, [agent("Sure, the shop opens at nine.", 7)])(
        ConversationState(conversation_id="CA-cut-form")
    )
    stored_form(state)
    cut = cut_reply(7, "Sure, the")(state)
    assert json.loads(stored_form(cut))["history"][0]["text"] == "Sure, the"


def test_a_new_conversation_has_read_no_turn_and_the_bot_answers() -> None:
    """The turn log starts at sequence 1: a fresh state has read up to 0."""
    state = ConversationState(conversation_id="conv-new")
    assert (state.status, state.epoch, state.last_turn_seq) == (ACTIVE, 0, 0)
    assert state.heard == {} and state.history == []


@pytest.mark.parametrize(
    ("status", "reply_epoch", "kind", "delivered"),
    [
        (ACTIVE, EPOCH, ReplyKind.ANSWER, True),
        (ACTIVE, EPOCH - 1, ReplyKind.ANSWER, False),
        (ACTIVE, EPOCH + 1, ReplyKind.ANSWER, False),
        (ACTIVE, EPOCH - 1, ReplyKind.HANDOFF_NOTICE, False),
        (PENDING, EPOCH, ReplyKind.ANSWER, False),
        (PENDING, EPOCH, ReplyKind.HANDOFF_NOTICE, True),
        (PENDING, EPOCH - 1, ReplyKind.HANDOFF_NOTICE, False),
        (HANDED_OFF, EPOCH, ReplyKind.ANSWER, False),
        (HANDED_OFF, EPOCH, ReplyKind.FAILURE_NOTICE, False),
        (HANDED_OFF, EPOCH, ReplyKind.HANDOFF_NOTICE, True),
    ],
)
def test_which_replies_a_state_lets_through(
    status: ConversationStatus, reply_epoch: int, kind: ReplyKind, delivered: bool
) -> None:
    state = ConversationState(conversation_id="conv-mute", status=status, epoch=EPOCH)
    reply = AgentReply(
        conversation_id="conv-mute",
        reply_id="conv-mute:1",
        route=ROUTE,
        text="Hello.",
        epoch=reply_epoch,
        kind=kind,
    )
    assert state.may_deliver(reply) is delivered


def test_a_line_is_stored_with_its_own_offset_not_an_equal_lines() -> None:
    """Two lines at the same instant in different offsets are equal (and hash alike); each
    is stored with its own offset, as ``model_dump_json`` writes it."""
    paris = datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    utc = datetime(2026, 1, 1, 12, tzinfo=UTC)
    first = ConversationState(conversation_id="CA-a")
    first.history = [TranscriptLine(role="customer", text="hi", at=paris)]
    second = ConversationState(conversation_id="CA-b")
    second.history = [TranscriptLine(role="customer", text="hi", at=utc)]
    stored_form(first)
    assert json.loads(stored_form(second)) == json.loads(second.model_dump_json())
