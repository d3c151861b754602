"""Each service's consumer settles a failed message as its policy says, on a real stream.

A transient failure is NAKed and the message handled again; a permanent one goes to the
dead-letter stream at once with the reason and is not redelivered. Each "not redelivered"
is checked on the consumer itself (nothing pending, nothing redelivered) once the dead letter
has arrived, i.e. after the only event that could have led to a second try.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from libs.contracts.messages import AgentReply, CustomerTurn, ReplyKind, Route
from libs.contracts.subjects import (
    AGENT_WORKER_DURABLE,
    DEAD_LETTER_STREAM,
    HANDOFF_DISPATCHER_DURABLE,
    HANDOFF_STREAM,
    MESSAGING_REPLIES_DURABLE,
    REPLIES,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
)
from libs.platform.consuming import PermanentFailure, TransientFailure
from services.agent_worker.agent import TurnContext, TurnTools
from tests.agent.fakes import SMS_ROUTE
from tests.support.digital_stack import DigitalStack, start_digital_stack
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, FLOW_SID, OUR_NUMBER
from tests.support.waits import eventually

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"


@dataclass
class FailingAgent:
    """Fails the first ``failures`` turns with ``error``, then answers; hands off on "human"."""

    error: Exception
    failures: int = 1
    asked: list[str] = field(default_factory=list)

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        self.asked.append(turn.text)
        if len(self.asked) <= self.failures:
            raise self.error
        if "human" in turn.text:
            await tools.request_handoff("the customer asked for a human")
            yield "Connecting you now."
            return
        yield "We open at nine."


async def say(js: JetStreamContext, conversation: str, text: str) -> None:
    turn = CustomerTurn(
        conversation_id=conversation, message_id=f"{conversation}-1", route=SMS_ROUTE, text=text
    )
    await js.publish(
        TURNS.subject(conversation), turn.model_dump_json().encode(), stream=TURNS_STREAM
    )


async def dead_letters(js: JetStreamContext) -> list[tuple[str, str]]:
    """(subject, reason) of every dead letter."""
    count = (await js.stream_info(DEAD_LETTER_STREAM)).state.messages
    letters = [await js.get_msg(DEAD_LETTER_STREAM, seq=n + 1) for n in range(count)]
    return [(m.subject, (m.headers or {}).get("Baton-Error", "")) for m in letters]


async def settled_consumer(js: JetStreamContext, stream: str, durable: str) -> ConsumerInfo:
    """The consumer once nothing it was given is waiting for an ack or a redelivery."""
    return await eventually(
        lambda: js.consumer_info(stream, durable),
        lambda info: info.num_ack_pending == 0 and info.delivered.stream_seq >= 1,
    )


async def replies_of(js: JetStreamContext, conversation: str) -> list[AgentReply]:
    count = (await js.stream_info(REPLIES_STREAM)).state.messages
    found = [await js.get_msg(REPLIES_STREAM, seq=n + 1) for n in range(count)]
    return [
        AgentReply.model_validate_json(m.data or b"")
        for m in found
        if m.subject == REPLIES.subject(conversation)
    ]


async def test_a_turn_that_failed_transiently_is_answered_on_its_redelivery(
    nats_url: str, js: JetStreamContext
) -> None:
    agent = FailingAgent(TransientFailure("model busy"))
    async with AsyncExitStack() as stack:
        await start_digital_stack(stack, nats_url, dispatcher=False, agent=agent)
        await say(js, "sms-flaky", "when do you open?")
        [reply] = await eventually(lambda: replies_of(js, "sms-flaky"), bool)
        info = await settled_consumer(js, TURNS_STREAM, AGENT_WORKER_DURABLE)
    assert reply.text == "We open at nine."
    assert agent.asked == ["when do you open?", "when do you open?"]
    assert (info.delivered.consumer_seq, await dead_letters(js)) == (2, [])


async def test_a_turn_that_failed_permanently_is_dead_lettered_at_once(
    nats_url: str, js: JetStreamContext
) -> None:
    agent = FailingAgent(PermanentFailure("turn cannot be read"), failures=5)
    async with AsyncExitStack() as stack:
        await start_digital_stack(stack, nats_url, dispatcher=False, agent=agent)
        await say(js, "sms-broken", "when do you open?")
        [(subject, reason)] = await eventually(lambda: dead_letters(js), bool)
        info = await settled_consumer(js, TURNS_STREAM, AGENT_WORKER_DURABLE)
    assert subject == f"baton.dlq.{AGENT_WORKER_DURABLE}"
    assert reason == "permanent failure: PermanentFailure('turn cannot be read')"
    assert agent.asked == ["when do you open?"], "a permanent failure is not retried"
    assert (info.num_pending, info.delivered.consumer_seq) == (0, 1)


async def test_a_reply_twilio_refuses_is_dead_lettered_after_one_post(
    nats_url: str, js: JetStreamContext
) -> None:
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(stack, nats_url, dispatcher=False)
        await digital.admin("POST", "/faults", json={"path_prefix": MESSAGES, "status": 400})
        reply = AgentReply(
            conversation_id="sms-refused",
            reply_id="sms-refused:1",
            route=Route(
                channel=SMS_ROUTE.channel, customer_address=CUSTOMER, agent_address=OUR_NUMBER
            ),
            text="We open at nine.",
            epoch=0,
            kind=ReplyKind.ANSWER,
        )
        await js.publish(
            REPLIES.subject("sms-refused"), reply.model_dump_json().encode(), stream=REPLIES_STREAM
        )
        [(subject, reason)] = await eventually(lambda: dead_letters(js), bool)
        info = await settled_consumer(js, REPLIES_STREAM, MESSAGING_REPLIES_DURABLE)
        posts = await digital.admin(
            "GET", "/requests", params={"path_prefix": MESSAGES, "method": "POST"}
        )
    assert subject == f"baton.dlq.{MESSAGING_REPLIES_DURABLE}"
    assert reason.startswith("permanent failure: PermanentFailure('Twilio refused the reply: 400 ")
    assert [post["status"] for post in posts] == [400]
    assert (info.num_pending, info.delivered.consumer_seq) == (0, 1)


async def studio_posts(digital: DigitalStack) -> list[Any]:
    found: list[Any] = await digital.admin(
        "GET", "/requests", params={"path_prefix": EXECUTIONS, "method": "POST"}
    )
    return [post["status"] for post in found]


async def test_a_handoff_whose_outcome_is_unknown_is_redelivered_and_delivered_once(
    nats_url: str, js: JetStreamContext
) -> None:
    """Studio fails the POST and cannot be asked whether it acted: NAK, then a second try."""
    agent = FailingAgent(TransientFailure("unused"), failures=0)
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(
            stack, nats_url, agent=agent, dispatcher_overrides={"baton_studio_max_attempts": 1}
        )
        await digital.admin("POST", "/faults", json={"path_prefix": EXECUTIONS, "status": 500})
        await digital.admin(
            "POST", "/faults", json={"path_prefix": EXECUTIONS, "status": 500, "method": "GET"}
        )
        await say(js, "sms-unsure", "a human please")
        await eventually(lambda: studio_posts(digital), lambda posts: posts == [500, 201])
        info = await settled_consumer(js, HANDOFF_STREAM, HANDOFF_DISPATCHER_DURABLE)
        executions = await digital.executions()
    assert (info.num_pending, info.delivered.consumer_seq) == (0, 2), "delivered twice"
    assert len(executions) == 1
    assert await dead_letters(js) == []
