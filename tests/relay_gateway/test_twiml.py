"""The TwiML that connects a call to the relay, and where a handed-off call goes next, exactly.

Expected documents are written out in full (twilio_wire.md §1, tac_sdk.md §1): Twilio reads
attribute names and the ``action`` URL literally, so a renamed attribute or a lost query
string must fail here.
"""

from __future__ import annotations

from typing import Any

import pytest
from twilio.twiml.voice_response import VoiceResponse

from services.relay_gateway.settings import RelayGatewaySettings
from services.relay_gateway.twiml import connect_twiml, relay_url
from services.relay_gateway.voice_webhooks import append_handoff_route
from tests.support.twilio_fakes import twilio_env

STUDIO_WEBHOOK = (
    "https://webhooks.twilio.com/v1/Accounts/AC11111111111111111111111111111111"
    "/Flows/FW55555555555555555555555555555555?Trigger=incomingCall"
)
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
WORKFLOW_SID = "WW" + "44" * 16


def settings(**extra: Any) -> RelayGatewaySettings:
    values = twilio_env("nats://127.0.0.1:4222", public_base_url="https://voice.example.test")
    return RelayGatewaySettings(**{**values, **extra})


def test_the_studio_action_is_the_flows_incoming_call_webhook() -> None:
    assert connect_twiml(settings(), {"callSid": "CA1"}) == (
        XML_HEAD + "<Response>"
        f'<Connect action="{STUDIO_WEBHOOK}">'
        '<ConversationRelay dtmfDetection="true" interruptible="any" language="en-US"'
        ' partialPrompts="false" url="wss://voice.example.test/voice/relay"'
        ' welcomeGreeting="Hello! How can I assist you today?">'
        '<Parameter name="callSid" value="CA1" />'
        "</ConversationRelay></Connect></Response>"
    )


def test_the_gateway_action_and_every_relay_option() -> None:
    configured = settings(
        public_base_url="https://voice.example.test/baton",
        baton_voice_action="gateway",
        baton_tts_voice="en-US-Journey-O",
        baton_voice_interruptible="speech",
        baton_dtmf_detection=False,
        baton_partial_prompts=True,
        baton_relay_parameters='{"tenant": "acme", "callSid": "configured"}',
        baton_voice_language="es-MX",
        baton_welcome_greeting="Hola",
    )
    assert connect_twiml(configured, {"callSid": "CA1"}) == (
        XML_HEAD + "<Response>"
        '<Connect action="https://voice.example.test/baton/voice/action">'
        '<ConversationRelay dtmfDetection="false" interruptible="speech" language="es-MX"'
        ' partialPrompts="true" url="wss://voice.example.test/baton/voice/relay"'
        ' voice="en-US-Journey-O" welcomeGreeting="Hola">'
        '<Parameter name="tenant" value="acme" />'
        '<Parameter name="callSid" value="CA1" />'
        "</ConversationRelay></Connect></Response>"
    ), "the call's own parameters win over configured ones of the same name"


@pytest.mark.parametrize(
    ("public_base_url", "expected"),
    [
        ("https://voice.example.test", "wss://voice.example.test/voice/relay"),
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/voice/relay"),
        ("https://voice.example.test/baton/", "wss://voice.example.test/baton/voice/relay"),
        ("https://voice.example.test:8443/?x=1", "wss://voice.example.test:8443/voice/relay"),
    ],
)
def test_relay_url_is_websocket_on_the_public_host_without_a_query(
    public_base_url: str, expected: str
) -> None:
    assert relay_url(public_base_url) == expected


def handoff_route(handoff_data: str, **extra: Any) -> str:
    response = VoiceResponse()
    append_handoff_route(response, settings(**extra), handoff_data)
    return str(response)


def test_without_a_workflow_the_handed_off_call_goes_to_the_studio_flow() -> None:
    assert handoff_route('{"conversationId":"CA1"}') == (
        XML_HEAD + f"<Response><Redirect>{STUDIO_WEBHOOK}</Redirect></Response>"
    )


def test_with_a_workflow_the_call_is_enqueued_with_the_handoff_attributes() -> None:
    data = (
        '{"conversationId":"CA1","storeId":"mem_1","profileId":"mem_profile_1",'
        '"attributes":{"reason":"billing & refunds","department":"billing"}}'
    )
    assert handoff_route(data, baton_taskrouter_workflow_sid=WORKFLOW_SID) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}">'
        '<Task>{"reason": "billing &amp; refunds", "department": "billing",'
        ' "conversationId": "CA1", "profileId": "mem_profile_1"}</Task>'
        "</Enqueue></Response>"
    )


ATTRIBUTES_NOT_AN_OBJECT = pytest.mark.xfail(
    strict=True,
    reason="append_handoff_route calls dict() on HandoffData.attributes without checking it is "
    "an object: a number raises TypeError, a string ValueError, and /voice/action answers 500 "
    "instead of enqueuing the call",
)


@pytest.mark.parametrize(
    "unreadable",
    [
        "not json",
        "[1, 2]",
        '"text"',
        pytest.param('{"attributes": 5}', marks=ATTRIBUTES_NOT_AN_OBJECT),
        pytest.param('{"attributes": "vip"}', marks=ATTRIBUTES_NOT_AN_OBJECT),
    ],
)
def test_unreadable_handoff_data_still_enqueues_with_empty_attributes(unreadable: str) -> None:
    assert handoff_route(unreadable, baton_taskrouter_workflow_sid=WORKFLOW_SID) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}"><Task>{{}}</Task></Enqueue>'
        "</Response>"
    )
