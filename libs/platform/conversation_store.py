"""Conversation state in a NATS key-value bucket, changed by compare-and-set on its revision.

Concurrent writers (two workers, a worker and the dispatcher, a hand-back) never lose each
other's changes: a write that lost the race re-reads the state and applies the transition
again, which may then no longer apply. A writer that has just read the state may offer it
(``read``) so that the first attempt spends no second read; the compare-and-set on its
revision still catches any write in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from libs.contracts.conversation import ConversationState, Transition, stored_form
from libs.contracts.messages import utc_now
from libs.contracts.subjects import subject_token


@dataclass(frozen=True)
class StateChange:
    state: ConversationState
    """The state after the transition, or the stored one when it did not apply."""
    applied: bool
    revision: int | None
    """The revision of ``state`` in the bucket (``None``: a new conversation, not written)."""


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

    async def apply(
        self,
        conversation_id: str,
        transition: Transition,
        *,
        read: tuple[ConversationState, int | None] | None = None,
    ) -> StateChange:
        """Apply ``transition`` with compare-and-set, retrying on a concurrent write.

        ``read`` is a state and revision the caller loaded and no longer uses: the first
        attempt starts from it instead of reading again.
        """
        key = subject_token(conversation_id)
        while True:
            if read is not None:
                (state, revision), read = read, None
            else:
                state, revision = await self.load(conversation_id)
            changed = transition(state)  # this attempt's own copy: no copy needed
            if changed is None:
                return StateChange(state, applied=False, revision=revision)
            changed.updated_at = utc_now()
            payload = stored_form(changed)
            try:
                if revision is None:
                    written = await self._kv.create(key, payload)
                else:
                    written = await self._kv.update(key, payload, last=revision)
            except KeyWrongLastSequenceError:
                continue
            return StateChange(changed, applied=True, revision=written)
