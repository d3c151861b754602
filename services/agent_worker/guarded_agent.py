"""A guardrail beside the model: clear escalations do not depend on its judgement.

Before the model runs, the guardrail assesses the turn with the policy's rules (the
customer's words and the conversation before them). When it finds a clear trigger it
hands off through the same tool and says goodbye itself; the model never sees the turn, so
no prompt ("ignore your rules") can talk it out of the handoff. Every other turn goes to
the model, whose own call of the handoff tool is honoured: the guardrail only adds what
triggered it (read from the model's reason) to the task's attributes and the span.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.agent_worker.agent import Agent, Handoff, HandoffAnswer, TurnContext, TurnTools
from services.agent_worker.decision import Decision, Source
from services.agent_worker.escalation import assess
from services.agent_worker.policy_agent import escalate, speak
from services.agent_worker.tac.handoff import TAC, ConversationSession


class GuardedAgent:
    def __init__(self, inner: Agent, tac: TAC, *, attributes: dict[str, Any] | None = None) -> None:
        self._inner = inner
        self._tac = tac
        self._attributes = dict(attributes or {})

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        evidence = assess(turn.text, turn.history)
        if evidence is None:
            async for token in self._inner.respond(turn, annotated(tools)):
                yield token
            return
        session = ConversationSession.from_turn(turn, tools)
        reply = await escalate(self._tac, session, evidence, self._attributes, Source.GUARDRAIL)
        for token in speak(reply):
            yield token


@dataclass(frozen=True)
class ModelDecidedHandoff:
    """The turn's handoff, with the model's own call recorded as its decision."""

    inner: Handoff

    async def request(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer:
        decision = Decision.by_model(reason)
        decision.record()
        return await self.inner.request(
            reason, {**(attributes or {}), **decision.task_attributes()}
        )

    @property
    def initiated(self) -> bool:
        return self.inner.initiated


def annotated(tools: TurnTools) -> TurnTools:
    """The turn's tools, with the model's handoff recorded as its decision."""
    return TurnTools(handoff=ModelDecidedHandoff(tools.handoff), voice=tools.voice)
