"""Replies back to the customer: the exact Twilio request per channel, what each answer means,
and which replies a conversation's state lets through (invariant 4).

Requests go to the emulator over HTTP, which records each one as sent; the conversation state
is in the real conversations bucket, changed only through the state machine's transitions.
``deliver`` is awaited, so a muted reply is checked by reading the emulator's request log
after the one call that could have sent it.
"""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from libs.contracts.conversation import claim_handoff, settle_delivery
from libs.contracts.messages import AgentReply, Channel, ReplyKind, Route
from libs.platform.consuming import PermanentFailure
from libs.platform.conversation_store import ConversationStore
from libs.platform.twilio_rest import TwilioRestClient
from services.messaging_gateway.replies import ReplyDelivery, ReplySender, TwilioUnavailable
from tests.emulator.harness import Emulator, orchestrator_conversation
from tests.support.twilio_fakes import ACCOUNT_SID, API_KEY, API_SECRET
from tests.support.twilio_rest import rest_client

CUSTOMER = "+15005550006"
OURS = "+15005550001"
BOT = "baton-bot"
MESSAGES = "/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json"
SMS_ROUTE = Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=OURS)


@pytest.fixture
def sender(emulator_rest: TwilioRestClient) -> ReplySender:
    return ReplySender(emulator_rest, ACCOUNT_SID, BOT)


def reply(
    text: str = "Your order ships today.",
    *,
    route: Route = SMS_ROUTE,
    epoch: int = 0,
    kind: ReplyKind = ReplyKind.ANSWER,
    conversation_id: str = "conv-1",
) -> AgentReply:
    return AgentReply(
        conversation_id=conversation_id,
        reply_id=f"{conversation_id}:{text}",
        route=route,
        text=text,
        epoch=epoch,
        kind=kind,
    )


async def sent(emulator: Emulator) -> list[dict[str, Any]]:
    """Every Twilio request the emulator answered, without the admin calls."""
    found: list[dict[str, Any]] = await emulator.get("/_emulator/requests")
    return [{key: r[key] for key in ("method", "path", "form", "json", "status")} for r in found]


async def test_an_sms_reply_is_a_messages_post(emulator: Emulator, sender: ReplySender) -> None:
    await sender.send(reply())
    assert await sent(emulator) == [
        {
            "method": "POST",
            "path": MESSAGES,
            "form": {"To": CUSTOMER, "From": OURS, "Body": "Your order ships today."},
            "json": None,
            "status": 201,
        }
    ]
    [request] = await emulator.get("/_emulator/requests")
    assert request["auth"] == {"kind": "api_key", "username": API_KEY}


async def test_a_conversations_reply_is_a_message_by_the_bot(
    emulator: Emulator, sender: ReplySender
) -> None:
    async with emulator.rest(API_KEY, API_SECRET) as client:
        conversation = (await client.post("/v1/Conversations", data={})).json()["sid"]
    route = Route(
        channel=Channel.CONVERSATIONS,
        customer_address=CUSTOMER,
        agent_address=BOT,
        twilio_conversation_id=conversation,
    )
    await sender.send(reply("Happy to help.", route=route))
    assert (await sent(emulator))[1:] == [
        {
            "method": "POST",
            "path": f"/v1/Conversations/{conversation}/Messages",
            "form": {"Author": "baton-bot", "Body": "Happy to help."},
            "json": None,
            "status": 201,
        }
    ]


@pytest.mark.parametrize(
    ("customer", "ours", "medium", "channel"),
    [
        ("whatsapp:+15005550006", "whatsapp:+15005550001", "WHATSAPP", "WHATSAPP"),
        (CUSTOMER, OURS, "", "SMS"),
    ],
)
async def test_an_orchestrator_reply_is_a_send_message_action(
    emulator: Emulator, sender: ReplySender, customer: str, ours: str, medium: str, channel: str
) -> None:
    conversation = await orchestrator_conversation(emulator, customer, channel)
    route = Route(
        channel=Channel.ORCHESTRATOR,
        customer_address=customer,
        agent_address=ours,
        twilio_conversation_id=conversation,
        medium=medium,
    )
    await sender.send(reply("On its way.", route=route))
    [request] = await sent(emulator)
    assert request == {
        "method": "POST",
        "path": f"/v2/Conversations/{conversation}/Actions",
        "form": None,
        "json": {
            "type": "SEND_MESSAGE",
            "payload": {
                "from": {"address": ours, "channel": channel},
                "to": [{"address": customer, "channel": channel}],
                "content": {"text": "On its way."},
            },
        },
        "status": 202,
    }


async def test_a_voice_reply_has_no_digital_path(emulator: Emulator, sender: ReplySender) -> None:
    route = Route(channel=Channel.VOICE, customer_address=CUSTOMER, agent_address=OURS)
    with pytest.raises(PermanentFailure):
        await sender.send(reply(route=route))
    assert await sent(emulator) == []


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_outages_are_worth_another_try(
    emulator: Emulator, sender: ReplySender, status: int
) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": status})
    with pytest.raises(TwilioUnavailable, match=f"Twilio answered {status}"):
        await sender.send(reply())


@pytest.mark.parametrize("status", [400, 403])
async def test_a_refused_reply_is_a_permanent_failure(
    emulator: Emulator, sender: ReplySender, status: int
) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": status})
    with pytest.raises(PermanentFailure, match=f"Twilio refused the reply: {status} "):
        await sender.send(reply())


async def test_a_reply_to_an_unknown_conversation_is_a_permanent_failure(
    emulator: Emulator, sender: ReplySender
) -> None:
    route = Route(
        channel=Channel.CONVERSATIONS,
        customer_address=CUSTOMER,
        agent_address=BOT,
        twilio_conversation_id="CH" + "99" * 16,
    )
    with pytest.raises(PermanentFailure, match="404"):
        await sender.send(reply(route=route))


async def test_an_unreachable_twilio_is_worth_another_try() -> None:
    async with rest_client(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(TwilioUnavailable, match="ConnectError"):
            await ReplySender(client, ACCOUNT_SID, BOT).send(reply())


async def test_a_timeout_is_worth_another_try(emulator: Emulator) -> None:
    await emulator.post(
        "/_emulator/faults", {"path_prefix": MESSAGES, "status": 503, "delay_seconds": 0.5}
    )
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        with pytest.raises(TwilioUnavailable, match="ReadTimeout"):
            await ReplySender(client, ACCOUNT_SID, BOT).send(reply())


# --- which replies the conversation's state lets through ---------------------------------


@pytest.fixture
async def store(js: JetStreamContext) -> ConversationStore:
    return ConversationStore(await js.key_value("baton-conversations"))


@pytest.fixture
def delivery(sender: ReplySender, store: ConversationStore) -> ReplyDelivery:
    return ReplyDelivery(sender, store)


async def texts_sent(emulator: Emulator) -> list[str]:
    return [str(r["form"]["Body"]) for r in await emulator.get("/_emulator/requests")]


async def test_an_active_conversation_gets_the_bots_answer(
    emulator: Emulator, delivery: ReplyDelivery
) -> None:
    await delivery.deliver(reply("Hello!"))
    assert await texts_sent(emulator) == ["Hello!"]


async def test_a_pending_handoff_mutes_answers_but_sends_the_goodbye(
    emulator: Emulator, delivery: ReplyDelivery, store: ConversationStore
) -> None:
    await store.apply("conv-1", claim_handoff(0, "asked for a human", None))
    await delivery.deliver(reply("Anything else?"))
    await delivery.deliver(reply("Connecting you to a person.", kind=ReplyKind.HANDOFF_NOTICE))
    assert await texts_sent(emulator) == ["Connecting you to a person."]


async def test_a_handed_off_conversation_mutes_answers_but_sends_the_goodbye(
    emulator: Emulator, delivery: ReplyDelivery, store: ConversationStore
) -> None:
    await store.apply("conv-1", claim_handoff(0, "asked for a human", None))
    await store.apply("conv-1", settle_delivery(0, delivered=True))
    await delivery.deliver(reply("Anything else?"))
    assert await texts_sent(emulator) == []
    await delivery.deliver(reply("Connecting you to a person.", kind=ReplyKind.HANDOFF_NOTICE))
    assert await texts_sent(emulator) == ["Connecting you to a person."]


async def test_replies_of_an_earlier_epoch_are_muted_even_when_the_bot_may_answer(
    emulator: Emulator, delivery: ReplyDelivery, store: ConversationStore
) -> None:
    """The handoff failed: the bot answers again in epoch 1; epoch 0's replies are stale."""
    await store.apply("conv-1", claim_handoff(0, "asked for a human", None))
    await store.apply("conv-1", settle_delivery(0, delivered=False))
    await delivery.deliver(reply("Stale answer.", epoch=0))
    await delivery.deliver(reply("Stale goodbye.", epoch=0, kind=ReplyKind.HANDOFF_NOTICE))
    assert await texts_sent(emulator) == []
    await delivery.deliver(reply("Nobody is free.", epoch=1, kind=ReplyKind.FAILURE_NOTICE))
    await delivery.deliver(reply("How else can I help?", epoch=1))
    assert await texts_sent(emulator) == ["Nobody is free.", "How else can I help?"]


async def test_a_reply_from_a_later_epoch_than_the_state_is_muted(
    emulator: Emulator, delivery: ReplyDelivery
) -> None:
    await delivery.deliver(reply("From the future.", epoch=1))
    assert await texts_sent(emulator) == []
