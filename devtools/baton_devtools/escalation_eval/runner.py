"""Runs an agent over the set as the worker would: one turn per item, its history before it.

The handoff is recorded instead of published: the recorder answers as the worker's handoff
does when the episode is claimed, and asks the agent's summarizer for the summary, as the
worker does once the claim succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baton_devtools.escalation_eval.dataset import Item
from baton_devtools.escalation_eval.scoring import Outcome
from emulator.fake_account import CUSTOMER_NUMBER, PHONE_NUMBER
from libs.contracts.messages import Channel, Route
from services.agent_worker.agent import (
    Agent,
    HandoffAnswer,
    HandoffStatus,
    TurnContext,
    TurnTools,
)
from services.agent_worker.decision import ESCALATION_ATTRIBUTE, EVIDENCE_ATTRIBUTE
from services.agent_worker.summary import ExtractiveSummarizer, Summarizer, write_summary

ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER_NUMBER, agent_address=PHONE_NUMBER)


@dataclass
class HandoffRecorder:
    """The turn's handoff, kept in memory: the first request claims the episode and has the
    summary written, as the worker's does."""

    turn: TurnContext
    summarizer: Summarizer
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    summary: str | None = None

    async def request(
        self, reason: str, attributes: Mapping[str, Any] | None = None
    ) -> HandoffAnswer:
        self.calls.append((reason, dict(attributes or {})))
        if len(self.calls) > 1:
            return HandoffAnswer(HandoffStatus.ALREADY_REQUESTED, "SMS", "pending")
        self.summary = await write_summary(self.summarizer, self.turn, reason)
        return HandoffAnswer(HandoffStatus.INITIATED, "SMS")

    @property
    def initiated(self) -> bool:
        return bool(self.calls)


def turn_for(item: Item) -> TurnContext:
    return TurnContext(
        conversation_id=f"eval-{item.id}",
        epoch=0,
        route=ROUTE,
        text=item.latest,
        history=list(item.history),
    )


async def run_item(agent: Agent, summarizer: Summarizer, item: Item) -> Outcome:
    turn = turn_for(item)
    recorder = HandoffRecorder(turn, summarizer)
    tokens = [token async for token in agent.respond(turn, TurnTools(recorder))]
    if not recorder.calls:
        return Outcome(item, handoff=False, trigger=None, reply="".join(tokens))
    reason, attributes = recorder.calls[0]
    trigger = attributes.get(ESCALATION_ATTRIBUTE)
    return Outcome(
        item,
        handoff=True,
        trigger=str(trigger) if trigger is not None else None,
        reason=reason,
        evidence=str(attributes.get(EVIDENCE_ATTRIBUTE, "")),
        summary=recorder.summary,
        reply="".join(tokens),
    )


async def run(
    agent: Agent,
    items: Sequence[Item],
    *,
    summarizer: Summarizer | None = None,
    concurrency: int = 1,
) -> list[Outcome]:
    """Every item's outcome, in the set's order; ``concurrency`` items at a time."""
    gate = asyncio.Semaphore(max(1, concurrency))
    writer = summarizer or ExtractiveSummarizer()

    async def bounded(item: Item) -> Outcome:
        async with gate:
            return await run_item(agent, writer, item)

    return list(await asyncio.gather(*(bounded(item) for item in items)))
