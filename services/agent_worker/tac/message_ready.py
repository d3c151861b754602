"""TAC's ``on_message_ready`` callback as a Baton agent.

A TAC application registers ``async def handle_message_ready(message, context, memory)`` with
``tac.on_message_ready``; it gets the customer's text and a ``ConversationSession`` and returns
the reply (a string, or an async iterator of tokens to stream a call). ``MessageReadyAgent``
runs that same callback in Baton's worker: one session per turn, built from the turn, with the
handoff going through Baton's exactly-once dispatcher. ``memory`` is ``None``: Memory is read by
the dispatcher for the human (profile name and recollections), not prefetched per turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.tac.handoff import ConversationSession

Reply = str | AsyncIterator[str]
MessageReady = Callable[[str, ConversationSession, Any], Awaitable[Reply]]


class MessageReadyAgent:
    """An ``Agent`` answering with a TAC ``on_message_ready`` callback."""

    def __init__(self, callback: MessageReady) -> None:
        self._callback = callback

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        session = ConversationSession.from_turn(turn, tools)
        reply = await self._callback(turn.text, session, None)
        if isinstance(reply, str):
            if reply:
                yield reply
            return
        async for token in reply:
            yield token
