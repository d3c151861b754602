"""The TwiML that connects a call to the relay, exactly.

Expected documents are written out in full (twilio_wire.md §1, tac_sdk.md §1): Twilio reads
attribute names and the ``action`` URL literally, so a renamed attribute or a lost query
string must fail here.
"""

from __future__ import annotations

from services.relay_gateway.twiml import connect_twiml
from tests.relay_gateway.expected_twiml import STUDIO_WEBHOOK, XML_HEAD, relay_settings

CALL_URL = "wss://voice.example.test/voice/relay/CA1/1800000000/mac"


def test_the_studio_action_is_the_flows_incoming_call_webhook() -> None:
    assert connect_twiml(relay_settings(), {"callSid": "CA1"}, CALL_URL) == (
        XML_HEAD + "<Response>"
        f'<Connect action="{STUDIO_WEBHOOK}">'
        '<ConversationRelay dtmfDetection="true" interruptible="any" language="en-US"'
        ' partialPrompts="false" url="wss://voice.example.test/voice/relay/CA1/1800000000/mac"'
        ' welcomeGreeting="Hello! How can I assist you today?">'
        '<Parameter name="callSid" value="CA1" />'
        "</ConversationRelay></Connect></Response>"
    )


def test_the_gateway_action_and_every_relay_option() -> None:
    configured = relay_settings(
        public_base_url="https://voice.example.test/baton",
        baton_voice_action="gateway",
        baton_taskrouter_workflow_sid="WW" + "44" * 16,
        baton_tts_voice="en-US-Journey-O",
        baton_voice_interruptible="speech",
        baton_dtmf_detection=False,
        baton_partial_prompts=True,
        baton_relay_parameters='{"tenant": "acme", "callSid": "configured"}',
        baton_voice_language="es-MX",
        baton_welcome_greeting="Hola",
    )
    assert connect_twiml(configured, {"callSid": "CA1"}, CALL_URL) == (
        XML_HEAD + "<Response>"
        '<Connect action="https://voice.example.test/baton/voice/action">'
        '<ConversationRelay dtmfDetection="false" interruptible="speech" language="es-MX"'
        ' partialPrompts="true" url="wss://voice.example.test/voice/relay/CA1/1800000000/mac"'
        ' voice="en-US-Journey-O" welcomeGreeting="Hola">'
        '<Parameter name="tenant" value="acme" />'
        '<Parameter name="callSid" value="CA1" />'
        "</ConversationRelay></Connect></Response>"
    ), "the call's own parameters win over configured ones of the same name"
