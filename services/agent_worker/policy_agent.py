"""The embedded policy agent: deterministic answers and escalation, no model needed.

It is the agent of ``make up`` and of the tests, and follows the same escalation rules
the LLM's system prompt states.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from services.agent_worker.agent import TurnContext, TurnTools

ASKS_FOR_HUMAN = re.compile(
    r"\b(human|real person|a person|someone real|representative|operator|live agent|"
    r"talk to (an |a )?agent|speak (to|with) (an |a )?agent)\b",
    re.IGNORECASE,
)

DEFAULT_FAQ = {
    "hours": "We're open Monday to Friday, 8am to 8pm, and Saturday 9am to 5pm.",
    "order": "You can track any order from the link in your confirmation message.",
    "return": "Returns are free within 30 days; reply with your order number to start one.",
    "password": "You can reset your password from the sign-in page with 'Forgot password'.",
}
GREETING = "I can help with orders, returns, opening hours and passwords. What do you need?"
HANDOFF_GOODBYE = "I'm connecting you with a member of our team now. Please hold on."
ALREADY_HANDING_OFF = "You're already on your way to a member of our team."
HANDOFF_FAILED = (
    "I'm sorry, I couldn't reach a member of our team just now. I'm still here to help."
)


class PolicyAgent:
    def __init__(self, faq: dict[str, str] | None = None) -> None:
        self._faq = faq if faq is not None else DEFAULT_FAQ

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        reply = await self._decide(turn, tools)
        for token in re.findall(r"\S+\s*", reply):
            yield token

    async def _decide(self, turn: TurnContext, tools: TurnTools) -> str:
        if ASKS_FOR_HUMAN.search(turn.text):
            result = await tools.request_handoff("customer asked for a human agent")
            if result["status"] == "handoff_initiated":
                return HANDOFF_GOODBYE
            if result["status"] == "handoff_already_requested":
                return ALREADY_HANDING_OFF
            return HANDOFF_FAILED
        lowered = turn.text.lower()
        for keyword, answer in self._faq.items():
            if keyword in lowered:
                return answer
        return GREETING
