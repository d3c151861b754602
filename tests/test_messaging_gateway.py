"""messaging_gateway webhooks: signed input only, one turn per message, over real HTTP and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from libs.contracts.conversation import ConversationState, ConversationStatus
from libs.contracts.messages import Channel, CustomerTurn
from libs.contracts.subjects import CONVERSATIONS_BUCKET, TURNS_STREAM
from libs.platform.conversation_store import ConversationStore
from services.messaging_gateway.main import create_app
from services.messaging_gateway.settings import MessagingGatewaySettings
from tests.support.servers import serve
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    CUSTOMER,
    OUR_NUMBER,
    post_signed_form,
    post_signed_json,
    sid,
    twilio_env,
)

PUBLIC = "https://baton.example.test"


@pytest.fixture
async def gateway(nats_url: str, js: JetStreamContext) -> AsyncIterator[str]:
    settings = MessagingGatewaySettings(
        **twilio_env(nats_url, public_base_url=PUBLIC, twilio_api_base_url="http://127.0.0.1:9")
    )
    async with serve(create_app(settings)) as url:
        yield url


async def stored_turns(js: JetStreamContext) -> int:
    return (await js.stream_info(TURNS_STREAM)).state.messages


def sms_params(body: str, message_sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": message_sid or sid("SM"),
        "AccountSid": ACCOUNT_SID,
        "From": CUSTOMER,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


async def test_signed_sms_becomes_one_turn(gateway: str, js: JetStreamContext) -> None:
    async with httpx.AsyncClient() as client:
        response = await post_signed_form(
            client,
            f"{gateway}/messaging/sms",
            sms_params("where is my order?"),
            public_url=f"{PUBLIC}/messaging/sms",
        )
    assert response.status_code == 200
    assert response.text.startswith("<?xml") and "<Response" in response.text
    assert await stored_turns(js) == 1
    raw = await js.get_msg(TURNS_STREAM, seq=1)
    turn = CustomerTurn.model_validate_json(raw.data or b"")
    assert turn.text == "where is my order?"
    assert turn.route.channel is Channel.SMS
    assert turn.route.customer_address == CUSTOMER
    assert CUSTOMER not in turn.conversation_id
    assert raw.headers and "traceparent" in raw.headers


@pytest.mark.parametrize("signature", ["forged", None])
async def test_forged_or_missing_signature_is_refused(
    gateway: str, js: JetStreamContext, signature: str | None
) -> None:
    params = sms_params("hello")
    async with httpx.AsyncClient() as client:
        if signature is None:
            response = await client.post(f"{gateway}/messaging/sms", data=params)
        else:
            response = await post_signed_form(
                client, f"{gateway}/messaging/sms", params, signature="bm90LWEtc2lnbmF0dXJl"
            )
    assert response.status_code == 403
    assert await stored_turns(js) == 0


async def test_signature_over_another_url_is_refused(gateway: str, js: JetStreamContext) -> None:
    async with httpx.AsyncClient() as client:
        response = await post_signed_form(
            client,
            f"{gateway}/messaging/sms",
            sms_params("hello"),
            public_url="https://attacker.example.test/messaging/sms",
        )
    assert response.status_code == 403
    assert await stored_turns(js) == 0


async def test_duplicated_webhook_is_one_turn(gateway: str, js: JetStreamContext) -> None:
    params = sms_params("I need help", message_sid=sid("SM"))
    token = "idem-" + sid("XX")
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            response = await post_signed_form(
                client,
                f"{gateway}/messaging/sms",
                params,
                public_url=f"{PUBLIC}/messaging/sms",
                idempotency_token=token,
            )
            assert response.status_code == 200
    assert await stored_turns(js) == 1


async def test_duplicate_delivered_to_another_replica_is_one_turn(
    nats_url: str, js: JetStreamContext, gateway: str
) -> None:
    settings = MessagingGatewaySettings(**twilio_env(nats_url, public_base_url=PUBLIC))
    params = sms_params("same message, two replicas")
    async with serve(create_app(settings)) as second, httpx.AsyncClient() as client:
        for url in (gateway, second):
            response = await post_signed_form(
                client, f"{url}/messaging/sms", params, public_url=f"{PUBLIC}/messaging/sms"
            )
            assert response.status_code == 200
    assert await stored_turns(js) == 1


async def test_conversations_message_added(gateway: str, js: JetStreamContext) -> None:
    conversation = sid("CH")
    params = {
        "AccountSid": ACCOUNT_SID,
        "EventType": "onMessageAdded",
        "Source": "SMS",
        "ConversationSid": conversation,
        "MessageSid": sid("IM"),
        "Index": "0",
        "Body": "hi there",
        "Author": CUSTOMER,
        "ParticipantSid": sid("MB"),
        "Attributes": "{}",
    }
    async with httpx.AsyncClient() as client:
        ok = await post_signed_form(
            client,
            f"{gateway}/messaging/conversations",
            params,
            public_url=f"{PUBLIC}/messaging/conversations",
        )
        own = await post_signed_form(
            client,
            f"{gateway}/messaging/conversations",
            {**params, "MessageSid": sid("IM"), "Author": "baton-agent"},
            public_url=f"{PUBLIC}/messaging/conversations",
        )
    assert ok.status_code == 200 and own.status_code == 200
    assert await stored_turns(js) == 1
    raw = await js.get_msg(TURNS_STREAM, seq=1)
    turn = CustomerTurn.model_validate_json(raw.data or b"")
    assert turn.conversation_id == conversation
    assert turn.route.twilio_conversation_id == conversation


def communication(conversation_id: str, text: str) -> dict[str, object]:
    return {
        "eventType": "COMMUNICATION_CREATED",
        "data": {
            "id": "comm_" + sid("")[:20],
            "conversationId": conversation_id,
            "accountId": ACCOUNT_SID,
            "author": {"address": CUSTOMER, "channel": "SMS", "participantId": "p1"},
            "content": {"type": "TEXT", "text": text},
            "recipients": [{"address": OUR_NUMBER, "channel": "SMS"}],
            "channelId": sid("CH"),
        },
    }


async def test_orchestrator_json_is_checked_with_body_hash(
    gateway: str, js: JetStreamContext
) -> None:
    async with httpx.AsyncClient() as client:
        good = await post_signed_json(
            client,
            f"{gateway}/messaging/orchestrator",
            communication("conv_alpha", "hello"),
            public_url=f"{PUBLIC}/messaging/orchestrator",
        )
        unsigned = await client.post(
            f"{gateway}/messaging/orchestrator", json=communication("conv_beta", "hello")
        )
    assert good.status_code == 200
    assert unsigned.status_code == 403
    assert await stored_turns(js) == 1
    raw = await js.get_msg(TURNS_STREAM, seq=1)
    turn = CustomerTurn.model_validate_json(raw.data or b"")
    assert turn.route.channel is Channel.ORCHESTRATOR
    assert turn.route.medium == "SMS"


async def test_orchestrator_tampered_body_is_refused(gateway: str, js: JetStreamContext) -> None:
    body = communication("conv_gamma", "hello")
    async with httpx.AsyncClient() as client:
        signed = await post_signed_json(
            client,
            f"{gateway}/messaging/orchestrator",
            body,
            public_url=f"{PUBLIC}/messaging/orchestrator",
        )
        assert signed.status_code == 200
        query = str(signed.request.url).split("?", 1)[1]
        tampered = await client.post(
            f"{gateway}/messaging/orchestrator?{query}",
            content=b'{"eventType":"COMMUNICATION_CREATED","data":{}}',
            headers={
                "X-Twilio-Signature": signed.request.headers["X-Twilio-Signature"],
                "Content-Type": "application/json",
            },
        )
    assert tampered.status_code == 403
    assert await stored_turns(js) == 1


async def test_health_and_readiness(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{gateway}/healthz")).status_code == 200
        ready = await client.get(f"{gateway}/readyz")
    assert ready.status_code == 200 and ready.json()["nats"] is True


async def test_hand_back_needs_a_signature(gateway: str) -> None:
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            f"{gateway}/messaging/handback", json={"conversationId": "conv_alpha"}
        )
        signed = await post_signed_json(
            client,
            f"{gateway}/messaging/handback",
            {"conversationId": "conv_alpha"},
            public_url=f"{PUBLIC}/messaging/handback",
        )
    assert forged.status_code == 403
    assert signed.status_code == 200 and signed.json()["status"] == "active"


async def test_orchestrator_closing_a_handed_off_conversation_releases_it(
    gateway: str, js: JetStreamContext
) -> None:
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))

    def handed_off(state: ConversationState) -> ConversationState:
        state.status = ConversationStatus.HANDED_OFF
        return state

    await store.apply("conv_closing", handed_off)
    async with httpx.AsyncClient() as client:
        response = await post_signed_json(
            client,
            f"{gateway}/messaging/orchestrator",
            {
                "eventType": "CONVERSATION_UPDATED",
                "data": {"id": "conv_closing", "status": "CLOSED"},
            },
            public_url=f"{PUBLIC}/messaging/orchestrator",
        )
    assert response.json() == {"status": "closed"}
    state = await store.get("conv_closing")
    assert (state.status, state.epoch) == (ConversationStatus.ACTIVE, 1)


async def test_orchestrator_events_of_another_configuration_are_ignored(
    nats_url: str, js: JetStreamContext
) -> None:
    """Only events of ``TWILIO_CONVERSATION_CONFIGURATION_ID`` act (TAC filters the same way)."""
    settings = MessagingGatewaySettings(
        **twilio_env(
            nats_url,
            public_base_url=PUBLIC,
            twilio_api_base_url="http://127.0.0.1:9",
            twilio_conversation_configuration_id="conv_configuration_ours",
        )
    )
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))

    def handed_off(state: ConversationState) -> ConversationState:
        state.status = ConversationStatus.HANDED_OFF
        return state

    await store.apply("conv_other", handed_off)
    async with serve(create_app(settings)) as gateway, httpx.AsyncClient() as client:

        async def closed(configuration: str) -> dict[str, str]:
            data = {"id": "conv_other", "status": "CLOSED", "configurationId": configuration}
            response = await post_signed_json(
                client,
                f"{gateway}/messaging/orchestrator",
                {"eventType": "CONVERSATION_UPDATED", "data": data},
                public_url=f"{PUBLIC}/messaging/orchestrator",
            )
            answer: dict[str, str] = response.json()
            return answer

        assert await closed("conv_configuration_theirs") == {"status": "ignored"}
        assert (await store.get("conv_other")).status is ConversationStatus.HANDED_OFF
        assert await closed("conv_configuration_ours") == {"status": "closed"}
    assert (await store.get("conv_other")).status is ConversationStatus.ACTIVE


async def test_an_attachment_is_named_in_the_turn(gateway: str, js: JetStreamContext) -> None:
    params = {**sms_params(""), "NumMedia": "1", "MediaContentType0": "image/jpeg"}
    params["MediaUrl0"] = "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME"
    async with httpx.AsyncClient() as client:
        response = await post_signed_form(
            client, f"{gateway}/messaging/sms", params, public_url=f"{PUBLIC}/messaging/sms"
        )
    assert response.status_code == 200
    raw = await js.get_msg(TURNS_STREAM, seq=1)
    turn = CustomerTurn.model_validate_json(raw.data or b"")
    assert (
        turn.text
        == "[The customer sent 1 attachment (image/jpeg), which the assistant cannot open.]"
    )
