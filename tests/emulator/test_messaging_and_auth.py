"""Programmable Messaging through the twilio client, and Basic auth as Twilio enforces it."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.emulator.harness import Emulator, call
from tests.support.twilio_fakes import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    CUSTOMER,
    FLOW_SID,
    OUR_NUMBER,
)

UNAUTHENTICATED = {
    "code": 20003,
    "message": "Authenticate",
    "more_info": "https://www.twilio.com/docs/errors/20003",
    "status": 401,
}


async def test_send_sms_and_list(emulator: Emulator) -> None:
    client = emulator.twilio()
    message = await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER, body="Hello")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued" and message.direction == "outbound-api"
    assert message.to == CUSTOMER and message.from_ == OUR_NUMBER and message.body == "Hello"
    assert message.account_sid == ACCOUNT_SID
    assert message.date_created is not None and message.date_created.tzinfo is not None

    await call(client.messages.create, to="+15005550009", from_=OUR_NUMBER, body="Second")
    listed = await call(client.messages.list)
    assert [m.body for m in listed] == ["Second", "Hello"]
    only_customer = await call(client.messages.list, to=CUSTOMER)
    assert [m.sid for m in only_customer] == [message.sid]
    fetched = await call(client.messages(message.sid).fetch)
    assert fetched.body == "Hello"

    outbox = await emulator.get("/_emulator/outbox")
    assert outbox[0]["channel"] == "sms" and outbox[0]["to"] == CUSTOMER
    assert outbox[0]["from"] == OUR_NUMBER and outbox[0]["body"] == "Hello"
    assert outbox[0]["conversation"] is None


async def test_sms_validation_codes(emulator: Emulator) -> None:
    client = emulator.twilio()
    with pytest.raises(TwilioRestException) as no_body:
        await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER)
    assert (no_body.value.status, no_body.value.code) == (400, 21602)
    with pytest.raises(TwilioRestException) as too_long:
        await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER, body="x" * 1601)
    assert too_long.value.code == 21617
    assert await emulator.get("/_emulator/outbox") == []


@pytest.mark.parametrize(
    ("sender", "code", "message"),
    [
        (
            "+15005550009",
            21606,
            "The From phone number +15005550009 is not a valid, SMS-capable inbound phone number "
            "or short code for your account.",
        ),
        (
            "whatsapp:+15005550009",
            21606,
            "The From phone number whatsapp:+15005550009 is not a valid, SMS-capable inbound "
            "phone number or short code for your account.",
        ),
        (
            "not a number!",
            21212,
            "The 'From' number not a number! is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
        ),
    ],
)
async def test_messages_are_sent_only_from_the_accounts_senders(
    emulator: Emulator, sender: str, code: int, message: str
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        await call(emulator.twilio().messages.create, to=CUSTOMER, from_=sender, body="Hi")
    assert (refused.value.status, refused.value.code) == (400, code)
    assert refused.value.msg == f"Unable to create record: {message}"
    assert await emulator.get("/_emulator/outbox") == []
    whatsapp = await call(
        emulator.twilio().messages.create,
        to=f"whatsapp:{CUSTOMER}",
        from_=f"whatsapp:{OUR_NUMBER}",
        body="Hi",
    )
    assert whatsapp.status == "queued", "our WhatsApp sender is one of the account's"


async def test_api_key_auth(emulator: Emulator) -> None:
    client = emulator.twilio(API_KEY, API_SECRET)
    message = await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER, body="key")
    assert message.account_sid == ACCOUNT_SID
    (record,) = await emulator.get("/_emulator/requests", path_prefix="/2010-04-01")
    assert record["auth"] == {"kind": "api_key", "username": API_KEY}
    assert record["form"] == {"To": CUSTOMER, "From": OUR_NUMBER, "Body": "key"}
    assert "authorization" not in record["headers"]


@pytest.mark.parametrize(
    ("username", "password"),
    [(ACCOUNT_SID, "wrong"), (API_KEY, AUTH_TOKEN), ("AC" + "00" * 16, AUTH_TOKEN)],
)
async def test_bad_credentials_get_401(emulator: Emulator, username: str, password: str) -> None:
    client = emulator.twilio(username, password)
    with pytest.raises(TwilioRestException) as denied:
        await call(client.studio.v2.flows(FLOW_SID).executions.create, to=CUSTOMER, from_="x")
    assert (denied.value.status, denied.value.code) == (401, 20003)
    assert await emulator.get("/_emulator/executions") == []


async def test_missing_auth_body_and_header(emulator: Emulator) -> None:
    response = await emulator.admin.get(f"/v1/Conversations/CH{'00' * 16}")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    (record,) = await emulator.get("/_emulator/requests")
    assert record["auth"] is None and record["status"] == 401


async def test_unknown_route_is_a_twilio_404(emulator: Emulator) -> None:
    async with emulator.rest() as rest:
        response = await rest.get("/v1/Nothing/Here")
    assert response.status_code == 404 and response.json()["code"] == 20404


async def test_reset_forgets_everything(emulator: Emulator) -> None:
    client = emulator.twilio()
    await call(client.messages.create, to=CUSTOMER, from_=OUR_NUMBER, body="Hello")
    await emulator.post("/_emulator/faults", {"path_prefix": "/v2", "status": 503})
    assert await emulator.post("/_emulator/reset", {}) == {"reset": True}
    assert await emulator.get("/_emulator/outbox") == []
    assert await emulator.get("/_emulator/requests") == []
    assert await emulator.get("/_emulator/faults") == []
    assert await call(client.messages.list) == []
