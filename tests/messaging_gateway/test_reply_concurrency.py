"""Replies go out in parallel across conversations and one at a time, in order, within one.

The gateway consumes the real replies stream and sends to a Twilio the test controls: each
``Messages`` POST is held until the test lets it through, so how many are in flight at once
is observed, not timed. Every reply is answered once: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI, Request
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from libs.contracts.messages import AgentReply, Channel, Route
from libs.platform.publishing import publish_reply
from services.messaging_gateway.main import create_app as create_gateway
from services.messaging_gateway.settings import MessagingGatewaySettings
from tests.support.servers import serve
from tests.support.twilio_fakes import OUR_NUMBER, twilio_env

WAIT_SECONDS = 20.0


@dataclass
class HeldTwilio:
    """A Twilio whose answers to ``Messages`` POSTs wait until released."""

    released: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: int = 0
    most_in_flight_per_customer: int = 0
    received: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    sids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{account}/Messages.json", status_code=201)
        async def create(account: str, request: Request) -> dict[str, str]:
            form = await request.form()
            to, body = str(form["To"]), str(form["Body"])
            async with self.changed:
                self.received.append((to, body))
                self.in_flight[to] += 1
                self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
                self.most_in_flight_per_customer = max(
                    self.most_in_flight_per_customer, self.in_flight[to]
                )
                self.changed.notify_all()
            try:
                await self.released.wait()
            finally:
                async with self.changed:
                    self.in_flight[to] -= 1
                    self.changed.notify_all()
            return {"sid": f"SM{next(self.sids):032x}", "status": "queued"}

        return app

    async def until(self, condition: str, check: Callable[[], bool]) -> None:
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(check), WAIT_SECONDS)
            except TimeoutError:
                raise AssertionError(f"never {condition}: {self.received}") from None


@pytest.fixture
async def twilio(js: JetStreamContext, nats_url: str) -> AsyncIterator[HeldTwilio]:
    held = HeldTwilio()
    async with AsyncExitStack() as stack:
        twilio_url = await stack.enter_async_context(serve(held.app()))
        port = free_port()
        settings = MessagingGatewaySettings(
            **twilio_env(nats_url, twilio_api_base_url=twilio_url),
            public_base_url=f"http://127.0.0.1:{port}",
            baton_reply_concurrency=8,
        )
        await stack.enter_async_context(serve(create_gateway(settings), port))
        yield held
        held.released.set()


@pytest.fixture
async def broker(nats_url: str) -> AsyncIterator[NatsBroker]:
    broker = NatsBroker(nats_url)
    await broker.connect()
    yield broker
    await broker.stop()


def sms_reply(customer: str, text: str) -> AgentReply:
    return AgentReply(
        conversation_id=f"conv-{customer}",
        reply_id=f"conv-{customer}:{text}",
        route=Route(channel=Channel.SMS, customer_address=customer, agent_address=OUR_NUMBER),
        text=text,
        epoch=0,
    )


async def test_replies_to_different_conversations_are_sent_side_by_side(
    twilio: HeldTwilio, broker: NatsBroker
) -> None:
    customers = [f"+1415555{n:04d}" for n in range(8)]
    for customer in customers:
        await publish_reply(broker, sms_reply(customer, "Our hours are 9 to 5."))

    await twilio.until("all eight in flight", lambda: twilio.most_in_flight == 8)
    twilio.released.set()
    await twilio.until("all answered", lambda: sum(twilio.in_flight.values()) == 0)
    assert sorted(to for to, _ in twilio.received) == customers


async def test_more_conversations_than_slots_are_all_answered_once(
    twilio: HeldTwilio, broker: NatsBroker
) -> None:
    customers = [f"+1415666{n:04d}" for n in range(12)]
    for customer in customers:
        await publish_reply(broker, sms_reply(customer, "Hello!"))

    await twilio.until("eight in flight", lambda: twilio.most_in_flight >= 8)
    twilio.released.set()
    await twilio.until("every reply", lambda: len(twilio.received) == 12)
    assert sorted(to for to, _ in twilio.received) == customers


async def test_one_conversations_replies_go_out_one_at_a_time_in_order(
    twilio: HeldTwilio, broker: NatsBroker
) -> None:
    texts = [f"part {n}" for n in range(10)]
    others = [f"+1415777{n:04d}" for n in range(5)]
    for index, text in enumerate(texts):
        await publish_reply(broker, sms_reply("+14155550100", text))
        if index < len(others):
            await publish_reply(broker, sms_reply(others[index], "meanwhile"))

    await twilio.until("others in flight", lambda: twilio.most_in_flight == 6)
    twilio.released.set()
    await twilio.until("every reply", lambda: len(twilio.received) == 15)
    ours = [body for to, body in twilio.received if to == "+14155550100"]
    assert ours == texts, "in order, each once"
    assert twilio.most_in_flight_per_customer == 1
    assert Counter(to for to, _ in twilio.received)["+14155550100"] == 10
