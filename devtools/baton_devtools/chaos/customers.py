"""Customers texting the stack through the emulator, as people do: one message, then the wait.

Each customer asks a few different FAQ questions (so every answer is recognisable), waiting
for each answer; some then ask for a person and, once the goodbye arrived, text once more (the
bot must stay silent). A webhook Twilio got no 2xx for is a message the customer would never
hear back about: Twilio calls the number's Fallback URL, and the customer texts it again a
little later, as a new message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.agent_worker.knowledge import DEFAULT_FAQ
from services.agent_worker.policy_agent import (
    ALREADY_HANDING_OFF,
    HANDOFF_FAILED,
    HANDOFF_GOODBYE,
)

QUESTIONS = (
    ("what are your opening hours?", DEFAULT_FAQ["hours"]),
    ("how can I track my order?", DEFAULT_FAQ["order"]),
    ("how do returns work?", DEFAULT_FAQ["return"]),
    ("I forgot my password", DEFAULT_FAQ["password"]),
)
ASK_FOR_A_PERSON = "I want to talk to a human please"
PERSON_ANSWERS = (HANDOFF_GOODBYE, ALREADY_HANDING_OFF, HANDOFF_FAILED)
"""What the bot may answer a request for a person: a goodbye, or that it could not ask."""
AFTER_HANDOFF = "hello? is anyone there?"
RESEND_AFTER_SECONDS = 2.0
MAX_SENDS = 30


@dataclass
class Sent:
    text: str
    message_sid: str
    status: int | None
    at: float

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Customer:
    number: str
    questions: int
    wants_person: bool
    sent: list[Sent] = field(default_factory=list)

    @property
    def script(self) -> list[str]:
        texts = [question for question, _ in QUESTIONS[: self.questions]]
        return [*texts, ASK_FOR_A_PERSON] if self.wants_person else texts

    def accepted(self, text: str) -> bool:
        return any(sent.accepted for sent in self.sent if sent.text == text)

    @property
    def refused(self) -> list[Sent]:
        return [sent for sent in self.sent if not sent.accepted]


class Emulator:
    """The emulator's admin API: a customer's phone and what reached it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=f"{url}/_emulator", timeout=30)

    async def text(self, number: str, body: str) -> tuple[str, int | None]:
        response = await self.http.post("/sms", json={"from": number, "body": body})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return str(result["message_sid"]), result.get("status_code")

    async def inbox(self, number: str) -> list[str]:
        """What the customer's phone received from us, in order."""
        response = await self.http.get("/outbox", params={"to": number, "channel": "sms"})
        response.raise_for_status()
        return [str(entry["body"]) for entry in response.json()]

    async def executions(self) -> list[dict[str, Any]]:
        response = await self.http.get("/executions")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def fault(self, **spec: Any) -> None:
        (await self.http.post("/faults", json=spec)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.http.delete("/faults")).raise_for_status()

    async def aclose(self) -> None:
        await self.http.aclose()


async def send(emulator: Emulator, customer: Customer, text: str) -> bool:
    """Text until a webhook is accepted (a refusal is texted again); True once accepted."""
    for _ in range(MAX_SENDS):
        try:
            sid, status = await emulator.text(customer.number, text)
        except httpx.HTTPError:
            await asyncio.sleep(RESEND_AFTER_SECONDS)
            continue
        customer.sent.append(Sent(text, sid, status, time.monotonic()))
        if customer.sent[-1].accepted:
            return True
        await asyncio.sleep(RESEND_AFTER_SECONDS)
    return False


def answers_to(text: str) -> tuple[str, ...]:
    """The replies that answer ``text``."""
    for question, answer in QUESTIONS:
        if question == text:
            return (answer,)
    return PERSON_ANSWERS


async def wait_for_answer(emulator: Emulator, customer: Customer, text: str, wait: float) -> bool:
    """Wait until the answer to ``text`` is on the customer's phone."""
    answers = answers_to(text)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if any(body in answers for body in await emulator.inbox(customer.number)):
            return True
        await asyncio.sleep(0.3)
    return False


async def converse(emulator: Emulator, customer: Customer, reply_wait: float) -> None:
    """The customer's whole conversation, each message after the previous answer."""
    for text in customer.script:
        if await send(emulator, customer, text):
            await wait_for_answer(emulator, customer, text, reply_wait)
    if customer.wants_person and customer.accepted(ASK_FOR_A_PERSON):
        await asyncio.sleep(1.0)
        await send(emulator, customer, AFTER_HANDOFF)
