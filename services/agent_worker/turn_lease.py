"""At most one worker answers a conversation at a time: a lease inside the conversation's state.

The state names the worker answering its turns and when that lease expires
(``ConversationState.holder``). Taking, renewing and giving back the lease are
compare-and-set writes of the state like every other transition, so taking it also reads the
state the turn starts from, and the turn's own final write gives it back. The holder renews
it while it works; a crashed holder's lease expires after ``lease_seconds`` and another
worker takes it over. This is what makes per-conversation order hold for any number of workers.

A worker remembers the state it wrote last for its most recent conversations. When it gets
the conversation's next turn too, it takes the lease with one compare-and-set on that
revision and reads nothing; if anyone wrote in between, that compare-and-set fails and the
state is read afresh. A voice turn on the same worker thus costs two writes and no read.
The holder's own writes (the turn's, each renewal, the release) go one at a time, each from
the revision the last one wrote, so a renewal costs one write and never makes the turn's
write fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from libs.contracts.conversation import (
    ConversationState,
    Transition,
    hold_turns,
    release_hold,
    renew_hold,
)
from libs.platform.conversation_store import ConversationStore, StateChange

log = logging.getLogger("baton.agent_worker.turn_lease")

REMEMBERED_CONVERSATIONS = 512
"""States kept for a next turn on this worker; each is the conversation's bounded history."""


class LeaseTimeout(Exception):
    """Another worker held the conversation for longer than this turn may wait."""


class LeaseLost(Exception):
    """Another worker took the conversation over mid-turn (this one stalled past its lease):
    what is left to read is not this worker's to answer now; the message is tried again."""


@dataclass
class HeldConversation:
    """A conversation this worker holds: the state as last written, and its revision."""

    conversation_id: str
    owner: str
    """Unique to this holding: a renewal or release of an earlier one never touches it."""
    state: ConversationState
    revision: int | None
    released: bool = False
    current: bool = True
    """Whether ``state`` is what ``revision`` holds (not after a write that failed midway)."""
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """The holder's writes (the turn's, renewals, the release) go one at a time, each starting
    from what the last one wrote: none makes another's compare-and-set fail."""


class TurnLease:
    def __init__(self, store: ConversationStore, instance: str, lease_seconds: float) -> None:
        self._store = store
        self._instance = instance
        self._lease = lease_seconds
        self._holdings = itertools.count(1)
        self._written: OrderedDict[str, tuple[ConversationState, int | None]] = OrderedDict()

    async def try_acquire(self, conversation_id: str) -> HeldConversation | None:
        """The conversation, held by this worker now; ``None`` while another holds it."""
        owner = f"{self._instance}/{next(self._holdings)}"
        change = await self._store.apply(
            conversation_id,
            hold_turns(owner, self._lease),
            read=self._written.pop(conversation_id, None),
        )
        if not change.applied:
            return None
        return HeldConversation(conversation_id, owner, change.state, change.revision)

    async def write(
        self, held: HeldConversation, transition: Transition, *, release: bool
    ) -> StateChange:
        """The turn's write; with ``release``, the same write gives the lease back."""

        def and_release(state: ConversationState) -> ConversationState | None:
            changed = transition(state)
            if changed is not None and release:
                changed = release_hold(held.owner)(changed) or changed
            return changed

        change = await self._apply(held, and_release)
        if release and change.applied:
            self._let_go(held, change)
        elif not _holds(held, change.state):
            raise LeaseLost(held.conversation_id)
        return change

    async def renew(self, held: HeldConversation) -> bool:
        """Extend the lease; ``False`` once another worker has taken it over."""
        return (await self._apply(held, renew_hold(held.owner, self._lease))).applied

    async def release(self, held: HeldConversation) -> None:
        """Give the lease back; one another worker took over (or that expired) is left alone."""
        change = await self._apply(held, release_hold(held.owner))
        if change.applied:
            self._let_go(held, change)

    async def _apply(self, held: HeldConversation, transition: Transition) -> StateChange:
        """One write of the holder's, by compare-and-set on the revision it wrote last."""
        async with held.writing:
            read = (held.state, held.revision) if held.current else None
            held.current = False  # the offered state is changed in place until written
            change = await self._store.apply(held.conversation_id, transition, read=read)
            held.state, held.revision, held.current = change.state, change.revision, True
            return change

    def _let_go(self, held: HeldConversation, change: StateChange) -> None:
        held.released = True
        self._written[held.conversation_id] = (change.state, change.revision)
        self._written.move_to_end(held.conversation_id)
        while len(self._written) > REMEMBERED_CONVERSATIONS:
            self._written.popitem(last=False)

    @contextlib.asynccontextmanager
    async def held(
        self,
        conversation_id: str,
        *,
        wait_seconds: float,
        heartbeat: Callable[[], Awaitable[None]],
    ) -> AsyncIterator[HeldConversation]:
        """Wait for the lease, keep it (and the message, via ``heartbeat``) alive, release it."""
        deadline = time.monotonic() + wait_seconds
        poll = 0.002
        held = await self.try_acquire(conversation_id)
        while held is None:
            if time.monotonic() > deadline:
                raise LeaseTimeout(conversation_id)
            await heartbeat()
            await asyncio.sleep(poll)
            poll = min(poll * 2, 0.2)
            held = await self.try_acquire(conversation_id)

        async def keep_alive(held: HeldConversation) -> None:
            while not held.released:
                await asyncio.sleep(self._lease / 4)
                try:
                    if not await self.renew(held):
                        return
                    await heartbeat()
                except Exception as error:  # NATS away for a moment: the next beat tries again
                    log.warning("lease of %s not renewed: %r", conversation_id, error)

        renewer = asyncio.create_task(keep_alive(held))
        try:
            yield held
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            if not held.released:
                await self.release(held)


def _holds(held: HeldConversation, state: ConversationState) -> bool:
    return state.holder is not None and state.holder.owner == held.owner
