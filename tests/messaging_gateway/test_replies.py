"""Replies back to the customer: the exact Twilio request per channel, what each answer means,
which replies a conversation's state lets through (invariant 4), and sending each once.

Requests go to the emulator over HTTP, which records each one as sent; the conversation state
and the sending records are in the real buckets, the state changed only through the state
machine's transitions. ``deliver`` is awaited, so a muted reply is checked by reading the
emulator's request log after the one call that could have sent it. A send whose outcome is
unknown is reproduced by the emulator acting on the POST and answering after the client's
timeout; the next delivery must look the message up before it sends again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import nats.errors
import pytest
from fastapi import FastAPI, Response
from nats.aio.client import Client
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from libs.contracts.conversation import claim_handoff, release_claim, settle_delivery
from libs.contracts.messages import AgentReply, Channel, ReplyKind, Route
from libs.platform.consuming import PermanentFailure
from libs.platform.conversation_store import ConversationStore
from libs.platform.twilio_rest import TwilioRestClient
from services.messaging_gateway.replies import ReplyDelivery, ReplySender, TwilioUnavailable
from services.messaging_gateway.reply_lookup import ReplyLookup
from services.messaging_gateway.reply_records import ReplyRecords, SendingRecord, SendingState
from tests.emulator.harness import Emulator, orchestrator_conversation
from tests.support.servers import serve
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
            "form": {
                "Author": "baton-bot",
                "Body": "Happy to help.",
                "Attributes": '{"batonReplyId": "conv-1:Happy to help."}',
            },
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


@pytest.mark.parametrize(
    ("status", "retry_after", "maybe_sent", "wait"),
    [
        (429, 7, False, 7.0),
        (429, None, False, 1.0),
        (500, None, True, None),
        (503, 30, True, 30.0),
    ],
)
async def test_rate_limits_and_outages_are_worth_another_try(
    emulator: Emulator,
    sender: ReplySender,
    status: int,
    retry_after: int | None,
    maybe_sent: bool,
    wait: float | None,
) -> None:
    """Only a 429 is documented as never processed; a 5xx may come after Twilio acted. The
    emulator answers a 429 with ``Retry-After: 1`` unless told otherwise."""
    fault: dict[str, Any] = {"path_prefix": MESSAGES, "status": status}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    await emulator.post("/_emulator/faults", fault)
    with pytest.raises(TwilioUnavailable, match=f"Twilio answered {status}") as raised:
        await sender.send(reply())
    assert (raised.value.maybe_sent, raised.value.retry_after_seconds) == (maybe_sent, wait)


@pytest.mark.parametrize(
    ("status", "header", "wait"),
    [(429, None, None), (429, "soon", None), (429, "-5", 0.0), (503, None, None)],
)
async def test_a_missing_or_unusable_retry_after_leaves_the_wait_to_the_backoff(
    status: int, header: str | None, wait: float | None
) -> None:
    """Twilio may answer 429 without ``Retry-After``; the emulator always sends one."""
    app = FastAPI()

    @app.post(MESSAGES)
    async def refuse() -> Response:
        headers = {"Retry-After": header} if header is not None else {}
        return Response('{"code": 20429}', status_code=status, headers=headers)

    async with serve(app) as url, rest_client(url) as client:
        with pytest.raises(TwilioUnavailable) as raised:
            await ReplySender(client, ACCOUNT_SID, BOT).send(reply())
    assert raised.value.retry_after_seconds == wait


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
        with pytest.raises(TwilioUnavailable, match="ConnectError") as raised:
            await ReplySender(client, ACCOUNT_SID, BOT).send(reply())
    assert raised.value.maybe_sent is False, "a connection never opened sent nothing"


async def test_a_timeout_is_worth_another_try(emulator: Emulator) -> None:
    await emulator.post(
        "/_emulator/faults", {"path_prefix": MESSAGES, "status": 503, "delay_seconds": 0.5}
    )
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        with pytest.raises(TwilioUnavailable, match="ReadTimeout") as raised:
            await ReplySender(client, ACCOUNT_SID, BOT).send(reply())
    assert raised.value.maybe_sent is True, "the request went out: Twilio may have acted"


# --- which replies the conversation's state lets through ---------------------------------


@pytest.fixture
async def store(js: JetStreamContext) -> ConversationStore:
    return ConversationStore(await js.key_value("baton-conversations"))


@pytest.fixture
async def records(js: JetStreamContext) -> ReplyRecords:
    return ReplyRecords(await js.key_value("baton-replies"))


def reply_delivery(
    rest: TwilioRestClient, store: ConversationStore, records: ReplyRecords
) -> ReplyDelivery:
    lookup = ReplyLookup(rest, ACCOUNT_SID, records)
    return ReplyDelivery(ReplySender(rest, ACCOUNT_SID, BOT), store, records, lookup)


@pytest.fixture
def delivery(
    emulator_rest: TwilioRestClient, store: ConversationStore, records: ReplyRecords
) -> ReplyDelivery:
    return reply_delivery(emulator_rest, store, records)


async def texts_sent(emulator: Emulator) -> list[str]:
    posts = await emulator.get("/_emulator/requests", method="POST")
    return [str(r["form"]["Body"]) for r in posts]


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


# --- once: the sending record, and the lookup before a resend ------------------------------


async def sms_calls(emulator: Emulator) -> list[str]:
    """``POST`` (a send) or ``GET`` (a lookup) for each Messages request, in order."""
    return [r["method"] for r in await emulator.get("/_emulator/requests", path_prefix=MESSAGES)]


async def outbox(emulator: Emulator) -> list[str]:
    return [entry["body"] for entry in await emulator.get("/_emulator/outbox", to=CUSTOMER)]


async def answer_late(emulator: Emulator, path_prefix: str) -> None:
    """Twilio acts on the next POST but answers only after the client gave up (0.1 s)."""
    await emulator.post(
        "/_emulator/faults",
        {
            "path_prefix": path_prefix,
            "status": 0,
            "delay_seconds": 0.5,
            "create_before_delay": True,
        },
    )


@pytest.fixture
async def impatient(
    emulator: Emulator, store: ConversationStore, records: ReplyRecords
) -> AsyncIterator[ReplyDelivery]:
    """A delivery whose Twilio client gives up after 0.1 s."""
    async with rest_client(emulator.url, timeout_seconds=0.1) as client:
        yield reply_delivery(client, store, records)


async def classic_conversation(emulator: Emulator, *, bot_said_with: str) -> Route:
    """A Conversations (classic) conversation where the bot already said "Happy to help.",
    with these ``Attributes``."""
    async with emulator.rest(API_KEY, API_SECRET) as client:
        conversation = (await client.post("/v1/Conversations", data={})).json()["sid"]
        earlier = {"Author": BOT, "Body": "Happy to help.", "Attributes": bot_said_with}
        await client.post(f"/v1/Conversations/{conversation}/Messages", data=earlier)
    return Route(
        channel=Channel.CONVERSATIONS,
        customer_address=CUSTOMER,
        agent_address=BOT,
        twilio_conversation_id=conversation,
    )


async def orchestrator_route(emulator: Emulator) -> Route:
    """The route of an Orchestrator conversation the customer opened by texting in."""
    conversation = await orchestrator_conversation(emulator, CUSTOMER, "SMS")
    return Route(
        channel=Channel.ORCHESTRATOR,
        customer_address=CUSTOMER,
        agent_address=OURS,
        twilio_conversation_id=conversation,
    )


async def test_a_sent_reply_is_recorded_and_never_sent_again(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords
) -> None:
    first = reply("Hello!")
    await delivery.deliver(first)
    await delivery.deliver(first)
    assert await sms_calls(emulator) == ["POST"], "the redelivery neither sent nor looked up"
    [message] = await emulator.get("/_emulator/requests", path_prefix=MESSAGES)
    record = await records.get(first.reply_id)
    assert record is not None
    assert (record.state, record.maybe_sent, record.attempts) == (SendingState.SENT, False, 1)
    assert record.twilio_id is not None and record.twilio_id.startswith("SM")
    assert message["status"] == 201


async def test_a_first_attempt_creates_its_record_in_one_write(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords, nats_client: Client
) -> None:
    """Four NATS requests in all: the state read, the record created (not read, then
    written), then the sent message claimed and the record marked sent."""
    before = nats_client.stats["out_msgs"]
    await delivery.deliver(reply("Hello!"))
    assert nats_client.stats["out_msgs"] - before == 4
    assert await sms_calls(emulator) == ["POST"]
    record = await records.get(reply("Hello!").reply_id)
    assert record is not None and (record.state, record.attempts) == (SendingState.SENT, 1)


async def test_a_muted_reply_leaves_no_record_and_goes_out_when_the_bot_may_speak_again(
    emulator: Emulator, delivery: ReplyDelivery, store: ConversationStore, records: ReplyRecords
) -> None:
    """A record says an attempt may have reached Twilio, which a muted reply never did: once
    the claim is released, the redelivered reply is sent, not looked up first."""
    await store.apply("conv-1", claim_handoff(0, "asked for a person", None))
    await delivery.deliver(reply())
    assert await records.get(reply().reply_id) is None
    await store.apply("conv-1", release_claim(0))
    await delivery.deliver(reply())
    assert await sms_calls(emulator) == ["POST"]


async def test_a_reply_twilio_took_before_the_timeout_is_found_not_sent_again(
    emulator: Emulator, impatient: ReplyDelivery, records: ReplyRecords
) -> None:
    answer = reply("Your order ships today.")
    await answer_late(emulator, MESSAGES)
    with pytest.raises(TwilioUnavailable, match="ReadTimeout"):
        await impatient.deliver(answer)
    record = await records.get(answer.reply_id)
    assert record is not None
    assert (record.state, record.maybe_sent, record.attempts) == (SendingState.SENDING, True, 1)

    await impatient.deliver(answer)

    assert await sms_calls(emulator) == ["POST", "GET"]
    assert await outbox(emulator) == ["Your order ships today."]
    [lookup] = await emulator.get("/_emulator/requests", path_prefix=MESSAGES, method="GET")
    assert lookup["query"] == {"To": CUSTOMER, "From": OURS, "PageSize": "50"}
    found = await records.get(answer.reply_id)
    assert found is not None and found.state is SendingState.SENT
    async with emulator.rest(API_KEY, API_SECRET) as client:
        [sent] = (await client.get(MESSAGES)).json()["messages"]
    assert found.twilio_id == sent["sid"]


async def test_a_reply_a_5xx_may_have_sent_is_looked_up_then_sent(
    emulator: Emulator, delivery: ReplyDelivery
) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": 503})
    with pytest.raises(TwilioUnavailable):
        await delivery.deliver(reply())
    await delivery.deliver(reply())
    assert await sms_calls(emulator) == ["POST", "GET", "POST"]
    assert await outbox(emulator) == ["Your order ships today."]


async def test_a_rate_limited_reply_is_sent_again_without_a_lookup(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords
) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": 429})
    with pytest.raises(TwilioUnavailable):
        await delivery.deliver(reply())
    record = await records.get(reply().reply_id)
    assert record is not None and (record.maybe_sent, record.attempts) == (False, 1)
    await delivery.deliver(reply())
    assert await sms_calls(emulator) == ["POST", "POST"]


async def test_a_refused_reply_is_known_not_sent(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords
) -> None:
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": 400})
    with pytest.raises(PermanentFailure):
        await delivery.deliver(reply())
    record = await records.get(reply().reply_id)
    assert record is not None
    assert (record.state, record.maybe_sent) == (SendingState.SENDING, False)


async def test_a_reply_is_not_sent_while_its_lookup_fails(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords
) -> None:
    await records.put(reply().reply_id, SendingRecord(attempts=1))
    await emulator.post(
        "/_emulator/faults", {"path_prefix": MESSAGES, "status": 503, "method": "GET"}
    )
    with pytest.raises(TwilioUnavailable, match="lookup failed") as raised:
        await delivery.deliver(reply())
    assert raised.value.maybe_sent is True
    assert await sms_calls(emulator) == ["GET"]


async def test_a_message_claimed_by_another_reply_is_not_taken_for_this_one(
    emulator: Emulator, delivery: ReplyDelivery
) -> None:
    """Two replies with the same text: the second, whose send may have happened, finds the
    first's message, which the first's record claims, and is sent itself."""
    first = AgentReply(
        conversation_id="conv-1", reply_id="conv-1:t1", route=SMS_ROUTE, text="Thanks!", epoch=0
    )
    second = first.model_copy(update={"reply_id": "conv-1:t2"})
    await delivery.deliver(first)
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": 503})
    with pytest.raises(TwilioUnavailable):
        await delivery.deliver(second)
    await delivery.deliver(second)
    assert await sms_calls(emulator) == ["POST", "POST", "GET", "POST"]
    assert await outbox(emulator) == ["Thanks!", "Thanks!"]


@pytest.mark.parametrize(("sent_minutes_before", "found"), [(0.5, True), (2.0, False)])
async def test_the_lookup_reaches_a_minute_before_sending_began(
    emulator: Emulator,
    delivery: ReplyDelivery,
    records: ReplyRecords,
    sent_minutes_before: float,
    found: bool,
) -> None:
    """Twilio's clock may differ from ours by a minute; an older message is not this reply's."""
    async with emulator.rest(API_KEY, API_SECRET) as client:
        created = await client.post(
            MESSAGES, data={"To": CUSTOMER, "From": OURS, "Body": "Your order ships today."}
        )
    message = emulator.app.state.emulator.sms_messages[created.json()["sid"]]
    message.date_created -= timedelta(minutes=sent_minutes_before)
    await records.put(reply().reply_id, SendingRecord(attempts=1))
    await delivery.deliver(reply())
    assert await sms_calls(emulator) == (["POST", "GET"] if found else ["POST", "GET", "POST"])


async def test_a_conversations_reply_is_found_by_its_reply_id(
    emulator: Emulator, impatient: ReplyDelivery
) -> None:
    route = await classic_conversation(emulator, bot_said_with="{}")
    answer = reply("Happy to help.", route=route)
    messages = f"/v1/Conversations/{route.twilio_conversation_id}/Messages"
    await answer_late(emulator, messages)
    with pytest.raises(TwilioUnavailable):
        await impatient.deliver(answer)
    await impatient.deliver(answer)
    calls = await emulator.get("/_emulator/requests", path_prefix=messages)
    assert [(r["method"], r["query"]) for r in calls] == [
        ("POST", {}),
        ("POST", {}),
        ("GET", {"Order": "desc", "PageSize": "50"}),
    ], "found by its batonReplyId, not sent again"
    async with emulator.rest(API_KEY, API_SECRET) as client:
        listed = (await client.get(messages)).json()["messages"]
    assert [m["attributes"] for m in listed] == ["{}", '{"batonReplyId": "conv-1:Happy to help."}']


async def test_a_conversations_message_of_another_reply_is_not_taken_for_this_one(
    emulator: Emulator, delivery: ReplyDelivery
) -> None:
    """The bot said the same words earlier (another reply id); this reply's send failed
    with a 503 before Twilio acted: the lookup must not take the earlier message."""
    route = await classic_conversation(emulator, bot_said_with='{"batonReplyId": "conv-1:earlier"}')
    answer = reply("Happy to help.", route=route)
    messages = f"/v1/Conversations/{route.twilio_conversation_id}/Messages"
    await emulator.post("/_emulator/faults", {"path_prefix": messages, "status": 503})
    with pytest.raises(TwilioUnavailable):
        await delivery.deliver(answer)
    await delivery.deliver(answer)
    calls = await emulator.get("/_emulator/requests", path_prefix=messages)
    assert [(r["method"], r["status"]) for r in calls] == [
        ("POST", 201),
        ("POST", 503),
        ("GET", 200),
        ("POST", 201),
    ]


async def test_an_orchestrator_reply_is_found_by_its_author_and_text(
    emulator: Emulator, impatient: ReplyDelivery
) -> None:
    route = await orchestrator_route(emulator)
    conversation = route.twilio_conversation_id
    answer = reply("On its way.", route=route)
    actions = f"/v2/Conversations/{conversation}/Actions"
    await answer_late(emulator, actions)
    with pytest.raises(TwilioUnavailable):
        await impatient.deliver(answer)
    await impatient.deliver(answer)
    calls = await emulator.get(
        "/_emulator/requests", path_prefix=f"/v2/Conversations/{conversation}"
    )
    assert [(r["method"], r["path"].rsplit("/", 1)[1]) for r in calls] == [
        ("POST", "Actions"),
        ("GET", "Communications"),
    ]
    assert await outbox(emulator) == ["On its way."]


async def test_an_orchestrator_reply_repeating_an_earlier_ones_text_is_still_sent(
    emulator: Emulator, impatient: ReplyDelivery
) -> None:
    """The first reply's message is claimed by its record, so the second, whose send may
    have happened, must not take it for its own."""
    route = await orchestrator_route(emulator)
    conversation = route.twilio_conversation_id
    first = AgentReply(
        conversation_id="conv-1", reply_id="conv-1:t1", route=route, text="Thanks!", epoch=0
    )
    second = first.model_copy(update={"reply_id": "conv-1:t2"})
    await impatient.deliver(first)
    await emulator.post(
        "/_emulator/faults", {"path_prefix": f"/v2/Conversations/{conversation}", "status": 503}
    )
    with pytest.raises(TwilioUnavailable):
        await impatient.deliver(second)
    await impatient.deliver(second)
    assert await outbox(emulator) == ["Thanks!", "Thanks!"]


async def test_a_message_is_claimed_by_the_reply_that_sent_it_and_no_other(
    records: ReplyRecords,
) -> None:
    twilio_id = "SM" + "31" * 16
    assert not await records.claimed_by_another(twilio_id, "conv-1:a"), "nobody claimed it yet"
    await records.sent("conv-1:a", SendingRecord(), twilio_id)
    assert not await records.claimed_by_another(twilio_id, "conv-1:a")
    assert await records.claimed_by_another(twilio_id, "conv-1:b")


class StateReadFailsOnce(ConversationStore):
    """The conversations bucket times out on the first read (a NATS hiccup)."""

    def __init__(self, store: ConversationStore) -> None:
        super().__init__(store._kv)
        self.failures = 1

    async def get(self, conversation_id: str) -> Any:
        if self.failures:
            self.failures -= 1
            await asyncio.sleep(0.05)  # anything written meanwhile lands first
            raise nats.errors.TimeoutError
        return await super().get(conversation_id)


async def test_a_reply_never_posted_is_not_taken_for_an_earlier_message_with_its_text(
    emulator: Emulator,
    emulator_rest: TwilioRestClient,
    store: ConversationStore,
    records: ReplyRecords,
) -> None:
    """The first delivery fails reading the state, before any POST: its redelivery must
    send, not look up a message by text and adopt one it never sent (the reply is lost)."""
    async with emulator.rest(API_KEY, API_SECRET) as client:  # e.g. a person on our number
        await client.post(MESSAGES, data={"To": CUSTOMER, "From": OURS, "Body": "Thanks!"})
    delivery = reply_delivery(emulator_rest, StateReadFailsOnce(store), records)
    with pytest.raises(nats.errors.TimeoutError):
        await delivery.deliver(reply("Thanks!"))
    assert await sms_calls(emulator) == ["POST"], "nothing of this reply went to Twilio"
    await delivery.deliver(reply("Thanks!"))
    assert await outbox(emulator) == ["Thanks!", "Thanks!"], "the reply was never sent"


async def test_a_reply_never_posted_does_not_wait_for_a_lookup(
    emulator: Emulator,
    emulator_rest: TwilioRestClient,
    store: ConversationStore,
    records: ReplyRecords,
) -> None:
    """Nothing was POSTed, so nothing needs looking up: a failing Messages list must not
    hold the reply back (retried until its max age, then dead-lettered)."""
    delivery = reply_delivery(emulator_rest, StateReadFailsOnce(store), records)
    with pytest.raises(nats.errors.TimeoutError):
        await delivery.deliver(reply())
    await emulator.post(
        "/_emulator/faults", {"path_prefix": MESSAGES, "status": 503, "method": "GET"}
    )
    await delivery.deliver(reply())
    assert await outbox(emulator) == ["Your order ships today."]


class RecordGoneAfterCreate(ReplyRecords):
    """An earlier attempt's record is found by the create, then has expired by the read."""

    async def create(self, reply_id: str, record: SendingRecord) -> bool:
        return False

    async def get(self, reply_id: str) -> SendingRecord | None:
        return None


async def test_a_record_gone_before_it_is_read_counts_as_no_attempt(
    emulator: Emulator,
    emulator_rest: TwilioRestClient,
    store: ConversationStore,
    js: JetStreamContext,
) -> None:
    """Nothing says an attempt reached Twilio, so the reply is sent without a lookup first."""
    records = RecordGoneAfterCreate(await js.key_value("baton-replies"))
    await reply_delivery(emulator_rest, store, records).deliver(reply())
    assert await sms_calls(emulator) == ["POST"]


async def test_a_retry_whose_outcome_is_unknown_is_looked_up_before_a_third_try(
    emulator: Emulator, impatient: ReplyDelivery, records: ReplyRecords
) -> None:
    """Rate limited (known not sent), then a POST Twilio acted on but answered too late: the
    second attempt is recorded as maybe sent, so the third looks it up and sends nothing."""
    await emulator.post("/_emulator/faults", {"path_prefix": MESSAGES, "status": 429})
    with pytest.raises(TwilioUnavailable):
        await impatient.deliver(reply())
    await answer_late(emulator, MESSAGES)
    with pytest.raises(TwilioUnavailable, match="ReadTimeout"):
        await impatient.deliver(reply())
    record = await records.get(reply().reply_id)
    assert record is not None and (record.maybe_sent, record.attempts) == (True, 2)
    await impatient.deliver(reply())
    assert await sms_calls(emulator) == ["POST", "POST", "GET"]
    assert await outbox(emulator) == ["Your order ships today."]


async def test_an_orchestrator_reply_whose_communication_is_not_found_keeps_its_action_id(
    emulator: Emulator, delivery: ReplyDelivery, records: ReplyRecords
) -> None:
    """The action was taken; a failing lookup of the message it made only leaves the record
    with the action's id instead of the communication's."""
    route = await orchestrator_route(emulator)
    communications = f"/v2/Conversations/{route.twilio_conversation_id}/Communications"
    await emulator.post(
        "/_emulator/faults", {"path_prefix": communications, "status": 503, "method": "GET"}
    )
    answer = reply("On its way.", route=route)
    await delivery.deliver(answer)
    record = await records.get(answer.reply_id)
    assert record is not None and record.state is SendingState.SENT
    assert (record.twilio_id or "").startswith("action_"), "the id Twilio gave the action"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(399, None), (400, PermanentFailure), (499, PermanentFailure), (500, TwilioUnavailable)],
)
async def test_a_4xx_is_refused_and_a_5xx_worth_another_try(
    status: int, outcome: type[Exception] | None
) -> None:
    """The edges of Twilio's answers: below 400 the message was created."""
    app = FastAPI()

    @app.post(MESSAGES)
    async def answer() -> Response:
        return Response('{"sid": "SM0123"}', status_code=status)

    async with serve(app) as url, rest_client(url) as client:
        sender = ReplySender(client, ACCOUNT_SID, BOT)
        if outcome is None:
            assert await sender.send(reply()) == "SM0123"
        else:
            with pytest.raises(outcome):
                await sender.send(reply())
