"""A conversation's state and every way it may change: the state machine in one place.

The state says whether the bot may speak (``status``), which handoff episode the
conversation is in (``epoch``), how far the agent has read the turn log
(``last_turn_seq``) and a bounded history. It lives in a NATS key-value bucket shared by
every replica (:mod:`libs.platform.conversation_store`), changed only through the named
transitions below, each applied with compare-and-set::

    active ──claim_handoff──▶ handoff_pending ──settle_delivery(delivered)──▶ handed_off
      ▲                            │  │                                          │
      │◀──release_claim (same epoch)┘  └─settle_delivery(failed)─▶ active, epoch+1 │
      └───────────────────────── give_back_to_bot: active, epoch+1 ◀──────────────┘

``record_turns`` applies in every status: turns are logged even while a human holds the
conversation. A transition that does not apply returns ``None`` and nothing is written.

The state also names the worker answering the conversation's turns (``holder``, a lease
that expires): ``hold_turns``, ``renew_hold`` and ``release_hold`` take, extend and give it
back, in any status, so the lease and the state the turn starts from are one read.

:func:`stored_form` is the state as the bucket keeps it. A turn writes its conversation's
state twice (taking the lease, then recording the turn), each time with nearly the same
history, so each history line is serialized once and remembered by its content.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from libs.contracts.messages import (
    AgentReply,
    ReplyKind,
    Route,
    Speaker,
    TranscriptLine,
    utc_now,
)

HISTORY_LIMIT = 60
"""Turns kept per conversation; older ones fall off (the turn log keeps them for 72 h)."""
CUTS_LIMIT = 8
"""Interruptions remembered for replies not recorded yet (a reply is recorded within a turn)."""
REMEMBERED_LINES = 4_096
"""Serialized history lines kept by :func:`stored_form`: the full histories of about 70
conversations, more than a worker's turns in flight, each of which writes its state twice
within the turn (2–15 MiB, with lines of 100 to 1,600 characters)."""


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    """The AI agent answers."""
    HANDOFF_PENDING = "handoff_pending"
    """The agent asked for a human; only the handoff goodbye may still reach the customer."""
    HANDED_OFF = "handed_off"
    """A human owns the conversation; the bot is silent until it is handed back."""


class TurnHolder(BaseModel):
    """The worker answering the conversation's turns, until ``expires`` (Unix seconds)."""

    owner: str
    expires: float


class ConversationState(BaseModel):
    model_config = ConfigDict(extra="allow")
    """A field a newer release adds survives this release's writes: rollouts mix versions."""

    conversation_id: str
    status: ConversationStatus = ConversationStatus.ACTIVE
    epoch: int = 0
    """Incremented whenever the bot gets the conversation back (failed handoff or hand-back)."""
    last_turn_seq: int = 0
    """Stream sequence of the last customer turn the agent has consumed."""
    route: Route | None = None
    history: list[TranscriptLine] = Field(default_factory=list)
    heard: dict[int, str] = Field(default_factory=dict)
    """What the caller heard of a reply they interrupted, by turn, until that reply is recorded."""
    handoff_reason: str = ""
    handoff_turn_received_at: datetime | None = None
    """When the customer turn that led to the current handoff arrived (turn → task latency)."""
    holder: TurnHolder | None = None
    """The worker answering its turns now; another waits until it lets go or its lease expires."""
    updated_at: datetime = Field(default_factory=utc_now)

    @property
    def bot_may_answer(self) -> bool:
        return self.status is ConversationStatus.ACTIVE

    def may_deliver(self, reply: AgentReply) -> bool:
        """Invariant 4: once a handoff starts, only its goodbye still reaches the customer.

        A reply written in an earlier epoch (before a failed handoff or a hand-back) is stale.
        """
        if reply.epoch != self.epoch:
            return False
        if reply.kind is ReplyKind.HANDOFF_NOTICE:
            return True
        return self.bot_may_answer


Transition = Callable[[ConversationState], ConversationState | None]
"""Returns the new state, or ``None`` when the transition does not apply (nothing written)."""


def stored_form(state: ConversationState) -> bytes:
    """``state.model_dump_json()``, with each history line's JSON remembered across writes.

    The lines are the bulk of a state and their timestamps cost the most to serialize; a
    line is looked up by its content and its time's offset (equal instants in two offsets
    are equal datetimes), so one changed in place (a cut reply) is serialized afresh. The
    history comes last in the object rather than in field order.
    """
    head = state.model_dump_json(exclude={"history"})
    lines = ",".join(
        _line_json(line.role, line.text, line.at, line.at.utcoffset(), line.turn)
        for line in state.history
    )
    return f'{head[:-1]},"history":[{lines}]}}'.encode()


@functools.lru_cache(maxsize=REMEMBERED_LINES)
def _line_json(
    role: Speaker, text: str, at: datetime, offset: timedelta | None, turn: int | None
) -> str:
    """One line's JSON; ``offset`` only keys the cache (see :func:`stored_form`)."""
    return TranscriptLine.model_construct(role=role, text=text, at=at, turn=turn).model_dump_json()


def claim_handoff(epoch: int, reason: str, turn_received_at: datetime | None) -> Transition:
    """The agent asks for a human: only an active conversation, in the epoch the turn saw."""

    def claim(state: ConversationState) -> ConversationState | None:
        if state.status is not ConversationStatus.ACTIVE or state.epoch != epoch:
            return None
        state.status = ConversationStatus.HANDOFF_PENDING
        state.handoff_reason = reason
        state.handoff_turn_received_at = turn_received_at
        return state

    return claim


def release_claim(epoch: int) -> Transition:
    """The request could not be stored: the bot answers again in the same epoch."""

    def release(state: ConversationState) -> ConversationState | None:
        if state.status is not ConversationStatus.HANDOFF_PENDING or state.epoch != epoch:
            return None
        state.status = ConversationStatus.ACTIVE
        state.handoff_reason = ""
        state.handoff_turn_received_at = None
        return state

    return release


def settle_delivery(epoch: int, *, delivered: bool) -> Transition:
    """The dispatcher knows: a human has the conversation, or the bot gets it back (epoch+1)."""

    def settle(state: ConversationState) -> ConversationState | None:
        if state.epoch != epoch or state.status is ConversationStatus.ACTIVE:
            return None
        if delivered:
            state.status = ConversationStatus.HANDED_OFF
            return state
        return _back_to_bot(state)

    return settle


def give_back_to_bot() -> Transition:
    """A human handed the conversation back, or Twilio closed it: the bot answers, epoch+1."""

    def give_back(state: ConversationState) -> ConversationState | None:
        if state.status is ConversationStatus.ACTIVE:
            return None
        return _back_to_bot(state)

    return give_back


def record_turns(
    through_sequence: int, route: Route, lines: Sequence[TranscriptLine]
) -> Transition:
    """The agent consumed the turns up to ``through_sequence`` (and maybe answered them)."""

    def record(state: ConversationState) -> ConversationState:
        state.last_turn_seq = max(state.last_turn_seq, through_sequence)
        state.route = route
        for line in lines:
            if line.role == "agent" and line.turn in state.heard:
                line = line.model_copy(update={"text": state.heard.pop(line.turn)})
            state.history.append(line)
        del state.history[:-HISTORY_LIMIT]
        return state

    return record


def hold_turns(owner: str, lease_seconds: float) -> Transition:
    """``owner`` answers the turns now: unless another holder's lease is still running."""

    def hold(state: ConversationState) -> ConversationState | None:
        now = time.time()
        if state.holder is not None and state.holder.expires > now:
            return None
        state.holder = TurnHolder(owner=owner, expires=now + lease_seconds)
        return state

    return hold


def renew_hold(owner: str, lease_seconds: float) -> Transition:
    """``owner`` is still answering: its lease runs on, unless another has taken it over."""

    def renew(state: ConversationState) -> ConversationState | None:
        if state.holder is None or state.holder.owner != owner:
            return None
        state.holder.expires = time.time() + lease_seconds
        return state

    return renew


def release_hold(owner: str) -> Transition:
    """``owner`` is done: the next turn may be answered by any worker at once."""

    def release(state: ConversationState) -> ConversationState | None:
        if state.holder is None or state.holder.owner != owner:
            return None
        state.holder = None
        return state

    return release


def cut_reply(turn: int, heard: str) -> Transition:
    """The caller interrupted the reply to ``turn``: the history keeps only what they heard
    (ConversationRelay's ``utteranceUntilInterrupt``), whether or not the reply is recorded yet."""

    def cut(state: ConversationState) -> ConversationState:
        for line in reversed(state.history):
            if line.role == "agent" and line.turn == turn:
                line.text = heard
                return state
        state.heard[turn] = heard
        for stale in sorted(state.heard)[:-CUTS_LIMIT]:
            del state.heard[stale]
        return state

    return cut


def _back_to_bot(state: ConversationState) -> ConversationState:
    state.status = ConversationStatus.ACTIVE
    state.epoch += 1
    state.handoff_reason = ""
    state.handoff_turn_received_at = None
    return state
