"""Callers' interruptions reach the turn speaking on their call: one subscription per worker.

A subscription per voice turn cost a ``SUB`` and an ``UNSUB`` on every turn (two writes to
NATS, and interest spread through the cluster), for a message that comes only when a caller
talks over the bot. Instead each worker subscribes once to every call's cancel subject and
hands a cancel to the turn speaking on that call, if this worker has one; others are dropped.
The subscription exists before the first turn is taken, and nats-py restores it after a
reconnect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from libs.contracts.messages import VoiceCancel
from libs.contracts.subjects import VOICE_CANCEL, subject_token

CancelListener = Callable[[VoiceCancel], None]


class VoiceCancels:
    def __init__(self) -> None:
        self._listeners: dict[str, list[CancelListener]] = {}
        self._subscription: Subscription | None = None

    async def start(self, connection: Client) -> None:
        self._subscription = await connection.subscribe(VOICE_CANCEL.wildcard, cb=self._on_cancel)
        await connection.flush()  # the server has the interest before the first turn is taken

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    @contextlib.contextmanager
    def listening(self, call_sid: str, listener: CancelListener) -> Iterator[None]:
        """Hand ``listener`` the call's cancels while the block runs."""
        call = subject_token(call_sid)
        listeners = self._listeners.setdefault(call, [])
        listeners.append(listener)
        try:
            yield
        finally:
            listeners.remove(listener)
            if not listeners:
                self._listeners.pop(call, None)

    def deliver(self, call_sid: str, cancel: VoiceCancel) -> None:
        """Hand ``cancel`` to the turns speaking on ``call_sid`` here (none: dropped)."""
        for listener in list(self._listeners.get(subject_token(call_sid), ())):
            listener(cancel)

    async def _on_cancel(self, message: Msg) -> None:
        call = message.subject.removeprefix(VOICE_CANCEL.prefix + ".")
        if call in self._listeners:
            self.deliver(call, VoiceCancel.model_validate_json(message.data))
