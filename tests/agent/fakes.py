"""Turns and a handoff for agents under test, without NATS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libs.contracts.messages import Channel, Route, TranscriptLine
from services.agent_worker.agent import (
    Agent,
    HandoffAnswer,
    HandoffStatus,
    TurnContext,
    TurnTools,
)
from services.agent_worker.tac.handoff import TAC, TACConfig
from tests.support.twilio_fakes import CUSTOMER, FLOW_SID, OUR_NUMBER

SMS_ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=OUR_NUMBER)


def turn(text: str, history: list[TranscriptLine] | None = None) -> TurnContext:
    return TurnContext(
        conversation_id="CONV-test", epoch=0, route=SMS_ROUTE, text=text, history=history or []
    )


def lines(*pairs: tuple[str, str]) -> list[TranscriptLine]:
    """``("customer", "hi"), ("agent", "hello")`` as history."""
    return [TranscriptLine(role=role, text=text) for role, text in pairs]


def tac() -> TAC:
    return TAC(TACConfig(studio_handoff_flow_sid=FLOW_SID))


@dataclass
class FakeHandoff:
    """A turn's handoff as an agent sees it: the first request of an episode claims it."""

    failure: str | None = None
    """When set, every request fails with this detail (the request could not be stored)."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[HandoffAnswer] = field(default_factory=list)

    async def request(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer:
        self.calls.append((reason, dict(attributes or {})))
        if self.failure is not None:
            answer = HandoffAnswer(HandoffStatus.FAILED, "SMS", self.failure)
        elif len(self.calls) > 1:
            answer = HandoffAnswer(HandoffStatus.ALREADY_REQUESTED, "SMS", "pending")
        else:
            answer = HandoffAnswer(HandoffStatus.INITIATED, "SMS")
        self.answers.append(answer)
        return answer

    @property
    def initiated(self) -> bool:
        return any(a.status is HandoffStatus.INITIATED for a in self.answers)

    def tools(self) -> TurnTools:
        return TurnTools(handoff=self)


async def reply(agent: Agent, context: TurnContext, tools: TurnTools) -> list[str]:
    """The tokens the agent streams for one turn."""
    return [token async for token in agent.respond(context, tools)]
