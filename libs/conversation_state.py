"""Per-conversation state in a NATS key-value bucket, shared by every replica of every service.

The state says whether the bot may speak (``status``), which handoff episode the conversation
is in (``epoch``), how far the agent has read the turn log (``last_turn_seq``) and a bounded
history. Updates are compare-and-set on the key's revision, so concurrent writers never
lose each other's changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from libs.messages import AgentReply, ReplyKind, Route, TranscriptLine, utc_now
from libs.subjects import subject_token

HISTORY_LIMIT = 60
"""Turns kept per conversation; older ones fall off (the turn log keeps them for 72 h)."""


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    """The AI agent answers."""
    HANDOFF_PENDING = "handoff_pending"
    """The agent asked for a human; only the handoff goodbye may still reach the customer."""
    HANDED_OFF = "handed_off"
    """A human owns the conversation; the bot is silent until it is handed back."""


class ConversationState(BaseModel):
    conversation_id: str
    status: ConversationStatus = ConversationStatus.ACTIVE
    epoch: int = 0
    """Incremented whenever the bot gets the conversation back (failed handoff or hand-back)."""
    last_turn_seq: int = 0
    """Stream sequence of the last customer turn the agent has consumed."""
    route: Route | None = None
    history: list[TranscriptLine] = Field(default_factory=list)
    handoff_reason: str = ""
    handoff_turn_sequence: int = 0
    """The customer turn that led to the current handoff (for turn → task latency)."""
    updated_at: datetime = Field(default_factory=utc_now)

    def add_history(self, *lines: TranscriptLine) -> None:
        self.history.extend(lines)
        del self.history[:-HISTORY_LIMIT]

    @property
    def bot_may_answer(self) -> bool:
        return self.status is ConversationStatus.ACTIVE

    def give_back_to_bot(self) -> None:
        """A failed handoff or a human's hand-back: the bot answers again, in a new epoch."""
        self.status = ConversationStatus.ACTIVE
        self.epoch += 1
        self.handoff_reason = ""

    def may_deliver(self, reply: AgentReply) -> bool:
        """Invariant 4: once a handoff starts, only its goodbye still reaches the customer.

        A reply written in an earlier epoch (before a failed handoff or a hand-back) is stale.
        """
        if reply.epoch != self.epoch:
            return False
        if reply.kind is ReplyKind.HANDOFF_NOTICE:
            return True
        return self.bot_may_answer


Mutation = Callable[[ConversationState], ConversationState | None]
"""Returns the new state, or ``None`` to leave the stored state as it is."""


def back_to_bot(state: ConversationState) -> ConversationState | None:
    """Mutation: a human handed back or the conversation was closed; the bot may answer."""
    if state.status is ConversationStatus.ACTIVE:
        return None
    state.give_back_to_bot()
    return state


class ConversationStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def load(self, conversation_id: str) -> tuple[ConversationState, int | None]:
        """The state and its revision (``None`` when the conversation is new)."""
        try:
            entry = await self._kv.get(subject_token(conversation_id))
        except KeyNotFoundError:
            return ConversationState(conversation_id=conversation_id), None
        if entry.value is None:
            return ConversationState(conversation_id=conversation_id), entry.revision
        return ConversationState.model_validate_json(entry.value), entry.revision

    async def get(self, conversation_id: str) -> ConversationState:
        state, _ = await self.load(conversation_id)
        return state

    async def update(self, conversation_id: str, mutate: Mutation) -> ConversationState:
        """Apply ``mutate`` with compare-and-set, retrying on a concurrent write."""
        key = subject_token(conversation_id)
        while True:
            state, revision = await self.load(conversation_id)
            changed = mutate(state)  # parsed afresh for this attempt: no copy needed
            if changed is None:
                return state
            changed.updated_at = utc_now()
            payload = changed.model_dump_json().encode()
            try:
                if revision is None:
                    await self._kv.create(key, payload)
                else:
                    await self._kv.update(key, payload, last=revision)
            except KeyWrongLastSequenceError:
                continue
            return changed
