"""What a message handler needs that exists only once the service has started.

A handler's closure holds it, rather than FastStream's context: a ``Context()`` parameter
is resolved in a worker thread for every message, a thread hop per turn or reply.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Started(Generic[T]):
    def __init__(self, what: str) -> None:
        self._what = what
        self._value: T | None = None

    def set(self, value: T) -> None:
        self._value = value

    def get(self) -> T:
        if self._value is None:
            raise RuntimeError(f"{self._what} used before the service started")
        return self._value
