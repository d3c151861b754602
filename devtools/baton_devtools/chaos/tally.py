"""What the customers of one scenario got, counted from the emulator and the streams.

Every answer is recognisable (each customer asks different questions), so a reply missing
for an accepted message is lost, a reply seen twice is doubled, and anything after the
goodbye of a delivered handoff is the bot speaking to a customer a person now holds.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nats.js import JetStreamContext

from baton_devtools.chaos.customers import (
    AFTER_HANDOFF,
    ASK_FOR_A_PERSON,
    QUESTIONS,
    Customer,
)
from baton_devtools.chaos.stack import FAILED_MESSAGE
from emulator import fake_account
from libs.contracts.messages import CustomerTurn, HandoffResult
from libs.contracts.subjects import (
    DEAD_LETTER_STREAM,
    HANDOFF_RESULT,
    HANDOFF_STREAM,
    TURNS,
    TURNS_STREAM,
)
from libs.platform.streams import stored_messages
from services.agent_worker.policy_agent import ALREADY_HANDING_OFF, HANDOFF_FAILED, HANDOFF_GOODBYE
from services.messaging_gateway.inbound_turns import sms_conversation_id

GOODBYES = (HANDOFF_GOODBYE, ALREADY_HANDING_OFF)
FAILURE_NOTICES = (FAILED_MESSAGE, HANDOFF_FAILED)
"""The dispatcher's notice, and the agent's own when the request could not be stored."""
ZERO_GOALS = (
    "turns_lost",
    "replies_doubled",
    "handoffs_unsettled",
    "handoffs_0_executions",
    "handoffs_2plus_executions",
    "told_failed_with_task",
    "bot_replies_after_handoff",
    "dead_letters",
    "refused_but_stored",
)
"""The lines that must read 0."""


@dataclass
class Figures:
    scenario: str
    conversations: int = 0
    turns_sent: int = 0
    turns_refused: int = 0
    """Webhooks answered 5xx (Twilio calls the Fallback URL; the customer texted again)."""
    refused_but_stored: int = 0
    turns_answered: int = 0
    turns_lost: int = 0
    replies_doubled: int = 0
    handoffs: int = 0
    handoffs_unsettled: int = 0
    """Asked for, but no result by the end: the conversation waits, muted, for nobody."""
    handoffs_0_executions: int = 0
    handoffs_1_execution: int = 0
    handoffs_2plus_executions: int = 0
    handoffs_unverified: int = 0
    told_failed_with_task: int = 0
    bot_replies_after_handoff: int = 0
    dead_letters: int = 0
    handoff_seconds_p50: float | None = None
    handoff_seconds_max: float | None = None
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return all(getattr(self, name) == 0 for name in ZERO_GOALS)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def conversation_of(number: str) -> str:
    return sms_conversation_id(fake_account.ACCOUNT_SID, fake_account.PHONE_NUMBER, number)


async def dead_letter_count(js: JetStreamContext) -> int:
    return int((await js.stream_info(DEAD_LETTER_STREAM)).state.messages)


async def _messages(js: JetStreamContext, stream: str, subject: str) -> list[bytes]:
    return [raw.data or b"" async for raw in stored_messages(js, stream, subject)]


async def handoff_results(js: JetStreamContext, number: str) -> list[HandoffResult]:
    subject = HANDOFF_RESULT.subject(conversation_of(number))
    return [
        HandoffResult.model_validate_json(data)
        for data in await _messages(js, HANDOFF_STREAM, subject)
    ]


async def tally(
    scenario: str,
    customers: Sequence[Customer],
    inboxes: dict[str, list[str]],
    executions: list[dict[str, Any]],
    js: JetStreamContext,
    dead_letters_before: int,
) -> Figures:
    figures = Figures(scenario=scenario, conversations=len(customers))
    per_contact = Counter(str(execution["to"]) for execution in executions)
    latencies: list[float] = []
    for customer in customers:
        inbox = inboxes.get(customer.number, [])
        conversation = conversation_of(customer.number)
        figures.turns_sent += len(customer.sent)
        figures.turns_refused += len(customer.refused)
        stored = {
            CustomerTurn.model_validate_json(data).message_id
            for data in await _messages(js, TURNS_STREAM, TURNS.subject(conversation))
        }
        figures.refused_but_stored += sum(1 for s in customer.refused if s.message_sid in stored)
        expected = Counter(answer for question, answer in QUESTIONS if customer.accepted(question))
        asked_person = customer.wants_person and customer.accepted(ASK_FOR_A_PERSON)
        received = Counter(inbox)
        for answer, count in expected.items():
            figures.turns_answered += min(count, received[answer])
            figures.turns_lost += max(0, count - received[answer])
            figures.replies_doubled += max(0, received[answer] - count)
        goodbyes = sum(received[goodbye] for goodbye in GOODBYES)
        person_answers = goodbyes + received[HANDOFF_FAILED]
        if asked_person:
            figures.turns_answered += min(1, person_answers)
            figures.turns_lost += 0 if person_answers else 1
        figures.replies_doubled += max(0, person_answers - 1)
        if not asked_person:
            continue
        figures.handoffs += 1
        executions_made = per_contact[customer.number]
        if executions_made == 0:
            figures.handoffs_0_executions += 1
        elif executions_made == 1:
            figures.handoffs_1_execution += 1
        else:
            figures.handoffs_2plus_executions += 1
        told_failed = any(notice in inbox for notice in FAILURE_NOTICES)
        if told_failed and executions_made:
            figures.told_failed_with_task += 1
        if executions_made and goodbyes:
            after = inbox[_first_goodbye(inbox) + 1 :]
            figures.bot_replies_after_handoff += sum(
                1 for body in after if body not in GOODBYES and body not in FAILURE_NOTICES
            )
        results = await handoff_results(js, customer.number)
        figures.handoffs_unsettled += 0 if results else 1
        for result in results:
            latencies.append((result.completed_at - result.requested_at).total_seconds())
            figures.handoffs_unverified += 0 if getattr(result, "verified", True) else 1
    figures.dead_letters = await dead_letter_count(js) - dead_letters_before
    if latencies:
        figures.handoff_seconds_p50 = round(statistics.median(latencies), 2)
        figures.handoff_seconds_max = round(max(latencies), 2)
    return figures


def _first_goodbye(inbox: list[str]) -> int:
    return min(inbox.index(goodbye) for goodbye in GOODBYES if goodbye in inbox)


__all__ = ["AFTER_HANDOFF", "ZERO_GOALS", "Figures", "dead_letter_count", "tally"]
