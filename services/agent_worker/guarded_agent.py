"""A guardrail beside the model: the non-negotiable escalations do not depend on its judgement.

Account security, billing disputes and an explicit request for a human are checked on the
customer's words before the model runs. When one applies, the policy hands off through the
same tool and says goodbye itself; the model never sees the turn, so no prompt ("ignore
your rules") can talk it out of the handoff. Every other turn goes to the model, which
follows the same rules from its system prompt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.agent_worker.agent import Agent, TurnContext, TurnTools
from services.agent_worker.escalation import NON_NEGOTIABLE, detect
from services.agent_worker.policy_agent import escalate, speak
from services.agent_worker.tac.handoff import TAC, ConversationSession


class GuardedAgent:
    def __init__(self, inner: Agent, tac: TAC, *, attributes: dict[str, Any] | None = None) -> None:
        self._inner = inner
        self._tac = tac
        self._attributes = dict(attributes or {})

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        trigger = detect(turn.text, NON_NEGOTIABLE)
        if trigger is None:
            async for token in self._inner.respond(turn, tools):
                yield token
            return
        session = ConversationSession.from_turn(turn, tools)
        for token in speak(await escalate(self._tac, session, trigger, self._attributes)):
            yield token
