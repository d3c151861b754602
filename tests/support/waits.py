"""Waiting on a condition with a bounded timeout, and "exactly one" that looks for a second.

A test never sleeps a fixed time to let something happen: it waits until the condition holds
(or the deadline passes). "Exactly one" keeps looking for a bounded window after the first
match, so a duplicate that arrives a moment later still fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Return once ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(POLL_SECONDS)


async def eventually(
    read: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 5.0
) -> T:
    """The first value ``read()`` returns that ``accept`` takes; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = await read()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"not accepted within {timeout}s: {value!r}")
        await asyncio.sleep(POLL_SECONDS)
        value = await read()
    return value


async def exactly_one(
    read: Callable[[], Awaitable[Sequence[T]]], *, timeout: float = 5.0, window: float = 0.3
) -> T:
    """The one item ``read()`` returns once it appears, if no second follows within ``window``."""
    deadline = time.monotonic() + timeout
    found = await read()
    while not found:
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing arrived within {timeout}s")
        await asyncio.sleep(POLL_SECONDS)
        found = await read()
    quiet_until = time.monotonic() + window
    while time.monotonic() < quiet_until:
        await asyncio.sleep(POLL_SECONDS)
        found = await read()
        assert len(found) == 1, f"expected exactly one, found {len(found)}: {found!r}"
    assert len(found) == 1, f"expected exactly one, found {len(found)}: {found!r}"
    return found[0]


SECOND_MATCH_WINDOW = 0.3
"""How long a count that was reached is watched for one more (a duplicate) before returning."""


async def at_least(
    read: Callable[[], Awaitable[Sequence[T]]],
    count: int,
    *,
    timeout: float = 15.0,
    window: float = SECOND_MATCH_WINDOW,
) -> list[T]:
    """What ``read()`` returns once it holds ``count`` items and ``window`` seconds later.

    A caller unpacking the result (``[reply] = ...``) then fails on a duplicate that arrived a
    moment after the expected item, instead of returning at the first match. After
    ``timeout`` the short list is returned, for the caller's assertion to report.
    """
    deadline = time.monotonic() + timeout
    found = list(await read())
    while len(found) < count:
        if time.monotonic() > deadline:
            return found
        await asyncio.sleep(POLL_SECONDS)
        found = list(await read())
    quiet_until = time.monotonic() + window
    while time.monotonic() < quiet_until and len(found) == count:
        await asyncio.sleep(POLL_SECONDS)
        found = list(await read())
    return found
