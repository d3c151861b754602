"""The embedded policy agent: deterministic answers and escalation, no model needed.

It is the agent of ``make up`` without ``OPENAI_API_KEY`` and of the tests. It answers from
the FAQ and escalates on the triggers of Twilio's handoff guide through the same handoff
tool the model uses, so both paths produce the same events.

"Unresolved after two attempts": the agent's previous two answers were both fallbacks (no
FAQ match) and the customer writes again with neither an FAQ topic, a greeting nor a
thank-you. A greeting or an answered question is not an attempt.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from libs.contracts.messages import TranscriptLine
from services.agent_worker.agent import HandoffStatus, TurnContext, TurnTools
from services.agent_worker.escalation import Trigger, detect, normalize
from services.agent_worker.knowledge import DEFAULT_FAQ as DEFAULT_FAQ
from services.agent_worker.knowledge import Faq
from services.agent_worker.tac.handoff import TAC, ConversationSession, create_studio_handoff_tool

GREETING = "Hi! I can help with orders, returns, opening hours and passwords. What do you need?"
CLOSING = "You're welcome! Is there anything else I can help with?"
FALLBACKS = (
    "I'm not sure I understood. I can help with orders, returns, opening hours and "
    "passwords. Could you tell me a bit more?",
    "Sorry, I still don't have an answer for that. Could you put it another way?",
)
"""The answers that count as failed attempts, first then second."""
HANDOFF_GOODBYE = "I'm connecting you with a member of our team now. Please hold on."
SECURE_HANDOFF_GOODBYE = (
    "For your security, I'm connecting you with a member of our team now. Please hold on "
    "and don't share passwords or codes in this chat."
)
ALREADY_HANDING_OFF = "You're already on your way to a member of our team."
HANDOFF_FAILED = (
    "I'm sorry, I couldn't reach a member of our team just now. I'm still here to help."
)
ESCALATION_ATTRIBUTE = "escalation"
"""Routing attribute naming the trigger, so Flex can route security to its own queue."""

_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening))(?:\s+there)?[\s!.,]*$"
)
_CLOSING = re.compile(
    r"\b(?:thanks|thank\s+you|thx|that's\s+all|that\s+is\s+all|never\s*mind|nevermind|"
    r"bye|goodbye|all\s+good|sorted)\b"
)
_STILL_STUCK = re.compile(r"\b(?:still|but|not)\b|n't\b")


async def escalate(
    tac: TAC, session: ConversationSession, trigger: Trigger, attributes: dict[str, Any]
) -> str:
    """Call the handoff tool as the model would; the reply tells the customer what happened."""
    tool = create_studio_handoff_tool(
        tac, session, {**attributes, ESCALATION_ATTRIBUTE: trigger.value}
    )
    result = await tool(reason=trigger.reason)
    status = HandoffStatus(result["status"]) if isinstance(result, dict) else HandoffStatus.FAILED
    if status is HandoffStatus.INITIATED:
        return SECURE_HANDOFF_GOODBYE if trigger is Trigger.ACCOUNT_SECURITY else HANDOFF_GOODBYE
    if status is HandoffStatus.ALREADY_REQUESTED:
        return ALREADY_HANDING_OFF
    return HANDOFF_FAILED


def speak(reply: str) -> list[str]:
    """A reply as the word tokens an agent streams."""
    return re.findall(r"\S+\s*", reply)


def failed_attempts(history: Sequence[TranscriptLine]) -> int:
    """How many of the agent's latest answers in a row were fallbacks."""
    count = 0
    for line in reversed(history):
        if line.role != "agent":
            continue
        if line.text not in FALLBACKS:
            break
        count += 1
    return count


class PolicyAgent:
    def __init__(
        self, tac: TAC, *, faq: Faq | None = None, attributes: dict[str, Any] | None = None
    ) -> None:
        self._tac = tac
        self._faq = faq if faq is not None else DEFAULT_FAQ
        self._attributes = dict(attributes or {})

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        reply = await self._decide(turn, tools)
        for token in speak(reply):
            yield token

    async def _decide(self, turn: TurnContext, tools: TurnTools) -> str:
        session = ConversationSession.from_turn(turn, tools)
        trigger = detect(turn.text)
        if trigger is not None:
            return await escalate(self._tac, session, trigger, self._attributes)
        entry = self._faq.match(turn.text)
        if entry is not None:
            return entry.answer
        text = normalize(turn.text).strip()
        if _GREETING.match(text):
            return GREETING
        if _CLOSING.search(text) and not _STILL_STUCK.search(text):
            return CLOSING
        attempts = failed_attempts(turn.history)
        if attempts >= len(FALLBACKS):
            return await escalate(self._tac, session, Trigger.UNRESOLVED, self._attributes)
        return FALLBACKS[attempts]
