"""At most one worker handles a conversation at a time: a lease in a NATS key-value bucket.

The lease is a compare-and-set key holding its owner and expiry. The holder renews it while
it works; a crashed holder's lease expires after ``lease_seconds`` and another worker takes
it over. This is what makes per-conversation order hold for any number of workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from libs.contracts.subjects import subject_token
from libs.platform.publishing import WRONG_LAST_SEQUENCE


class LeaseTimeout(Exception):
    """Another worker held the conversation for longer than this turn may wait."""


class TurnLease:
    def __init__(self, kv: KeyValue, owner: str, lease_seconds: float) -> None:
        self._kv = kv
        self._owner = owner
        self._lease = lease_seconds

    def _value(self) -> bytes:
        return json.dumps({"owner": self._owner, "expires": time.time() + self._lease}).encode()

    async def try_acquire(self, conversation_id: str) -> int | None:
        """The lease's revision if acquired now, else ``None``."""
        key = subject_token(conversation_id)
        try:
            return await self._kv.create(key, self._value())
        except KeyWrongLastSequenceError:
            pass
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        held = json.loads(entry.value or b"{}")
        if float(held.get("expires", 0)) > time.time():
            return None
        try:  # expired: take it over, unless someone else just did
            return await self._kv.update(key, self._value(), last=entry.revision)
        except KeyWrongLastSequenceError:
            return None

    async def renew(self, conversation_id: str, revision: int) -> int:
        return await self._kv.update(subject_token(conversation_id), self._value(), last=revision)

    async def release(self, conversation_id: str, revision: int) -> None:
        """Delete our lease; one another worker took over (or that expired) is left alone."""
        try:
            await self._kv.delete(subject_token(conversation_id), last=revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            pass
        except BadRequestError as error:  # a delete with a stale ``last`` is refused as 10071
            if error.err_code != WRONG_LAST_SEQUENCE:
                raise

    @contextlib.asynccontextmanager
    async def held(
        self,
        conversation_id: str,
        *,
        wait_seconds: float,
        heartbeat: Callable[[], Awaitable[None]],
    ) -> AsyncIterator[None]:
        """Wait for the lease, keep it (and the message, via ``heartbeat``) alive, release it."""
        deadline = time.monotonic() + wait_seconds
        poll = 0.002
        revision = await self.try_acquire(conversation_id)
        while revision is None:
            if time.monotonic() > deadline:
                raise LeaseTimeout(conversation_id)
            await heartbeat()
            await asyncio.sleep(poll)
            poll = min(poll * 2, 0.2)
            revision = await self.try_acquire(conversation_id)
        current = revision

        async def keep_alive() -> None:
            nonlocal current
            while True:
                await asyncio.sleep(self._lease / 4)
                current = await self.renew(conversation_id, current)
                await heartbeat()

        renewer = asyncio.create_task(keep_alive())
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            await self.release(conversation_id, current)
