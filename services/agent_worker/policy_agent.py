"""The embedded policy agent: deterministic answers and escalation, no model needed.

It is the agent of ``make up`` without ``OPENAI_API_KEY`` and of the tests. It escalates
on the triggers of Twilio's handoff guide (``escalation.assess``) through the same handoff
tool the model uses, so both paths produce the same events, and otherwise answers from the
FAQ. After two fallbacks a question the FAQ answers is answered, not escalated.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from services.agent_worker.agent import HandoffStatus, TurnContext, TurnTools
from services.agent_worker.decision import ESCALATION_ATTRIBUTE as ESCALATION_ATTRIBUTE
from services.agent_worker.decision import Decision, Source
from services.agent_worker.escalation import (
    NON_ANSWERS_RULE,
    Evidence,
    Trigger,
    assess,
    is_closing,
    is_greeting,
    non_answers,
)
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


async def escalate(
    tac: TAC,
    session: ConversationSession,
    evidence: Evidence,
    attributes: dict[str, Any],
    source: Source,
) -> str:
    """Call the handoff tool as the model would; the reply tells the customer what happened."""
    decision = Decision.of(evidence, source)
    decision.record()
    tool = create_studio_handoff_tool(tac, session, {**attributes, **decision.task_attributes()})
    result = await tool(reason=evidence.trigger.reason)
    status = HandoffStatus(result["status"]) if isinstance(result, dict) else HandoffStatus.FAILED
    if status is HandoffStatus.INITIATED:
        secure = evidence.trigger is Trigger.ACCOUNT_SECURITY
        return SECURE_HANDOFF_GOODBYE if secure else HANDOFF_GOODBYE
    if status is HandoffStatus.ALREADY_REQUESTED:
        return ALREADY_HANDING_OFF
    return HANDOFF_FAILED


def speak(reply: str) -> list[str]:
    """A reply as the word tokens an agent streams."""
    return re.findall(r"\S+\s*", reply)


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
        evidence = assess(turn.text, turn.history)
        if evidence is not None and not self._answers_instead(evidence, turn.text):
            session = ConversationSession.from_turn(turn, tools)
            return await escalate(self._tac, session, evidence, self._attributes, Source.POLICY)
        entry = self._faq.match(turn.text)
        if entry is not None:
            return entry.answer
        if is_greeting(turn.text):
            return GREETING
        if is_closing(turn.text):
            return CLOSING
        return FALLBACKS[min(non_answers(turn.history), len(FALLBACKS) - 1)]

    def _answers_instead(self, evidence: Evidence, text: str) -> bool:
        """After two fallbacks, a question the FAQ answers gets its answer."""
        return evidence.rule == NON_ANSWERS_RULE and self._faq.match(text) is not None
