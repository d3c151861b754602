"""Work run in parallel across keys and one at a time, in arrival order, within a key.

A consumer takes a place in its key's line the moment a message arrives (:meth:`reserve`,
synchronous, so arrival order is the order of the line), then waits for the work ahead of
it under the same key and for one of ``limit`` global slots. A conversation's replies
therefore go out in order while a thousand conversations' replies go out side by side.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class KeyedConcurrency:
    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[str, asyncio.Future[None]] = {}
        self.running = 0
        """Work items holding a global slot now (observable by tests and metrics)."""

    def reserve(self, key: str) -> Turn:
        """A place at the end of ``key``'s line; enter it with ``async with``."""
        ahead = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        return Turn(self, key, ahead, mine)

    @property
    def keys_waiting_or_running(self) -> int:
        return len(self._tails)

    def _done(self, key: str, mine: asyncio.Future[None]) -> None:
        if not mine.done():
            mine.set_result(None)
        if self._tails.get(key) is mine:
            del self._tails[key]


class Turn:
    """One place in a key's line: entered once the work ahead is done and a slot is free."""

    def __init__(
        self,
        owner: KeyedConcurrency,
        key: str,
        ahead: asyncio.Future[None] | None,
        mine: asyncio.Future[None],
    ) -> None:
        self._owner = owner
        self._key = key
        self._ahead = ahead
        self._mine = mine
        self._slot = False

    async def __aenter__(self) -> None:
        try:
            if self._ahead is not None:
                await asyncio.shield(self._ahead)
            await self._owner._slots.acquire()
        except BaseException:
            self._leave_after_ahead()
            raise
        self._slot = True
        self._owner.running += 1

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._slot:
            self._slot = False
            self._owner.running -= 1
            self._owner._slots.release()
        self._owner._done(self._key, self._mine)

    def abandon(self) -> None:
        """Give up a place never entered; work behind it still waits for the work ahead."""
        self._leave_after_ahead()

    def _leave_after_ahead(self) -> None:
        ahead = self._ahead
        if ahead is None or ahead.done():
            self._owner._done(self._key, self._mine)
        else:
            ahead.add_done_callback(lambda _: self._owner._done(self._key, self._mine))
