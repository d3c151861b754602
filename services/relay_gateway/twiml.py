"""The TwiML that connects a call to the relay, built with twilio's ``VoiceResponse``."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, VoiceResponse

from services.relay_gateway.settings import RelayGatewaySettings

ACTION_PATH = "/voice/action"


def studio_voice_handoff_url(account_sid: str, flow_sid: str) -> str:
    """Where Twilio posts ``HandoffData`` after ``end``: the Studio flow's Incoming Call path."""
    return f"https://webhooks.twilio.com/v1/Accounts/{account_sid}/Flows/{flow_sid}?Trigger=incomingCall"


def connect_twiml(
    settings: RelayGatewaySettings, parameters: dict[str, str], relay_url: str
) -> str:
    """``<Connect><ConversationRelay>`` to ``relay_url``, the call's own socket URL."""
    if settings.baton_voice_action == "studio":
        action = studio_voice_handoff_url(
            settings.twilio_account_sid, settings.twilio_studio_handoff_flow_sid
        )
    else:
        action = f"{settings.public_base_url}{ACTION_PATH}"
    connect = Connect(action=action)
    relay = connect.conversation_relay(
        url=relay_url,
        welcome_greeting=settings.baton_welcome_greeting,
        language=settings.baton_voice_language,
        voice=settings.baton_tts_voice,
        interruptible=settings.baton_voice_interruptible,
        dtmf_detection=settings.baton_dtmf_detection,
        partial_prompts=settings.baton_partial_prompts,
        conversation_configuration=settings.twilio_conversation_configuration_id,
        **settings.baton_relay_attributes.twiml_kwargs(),
    )
    for language in settings.baton_relay_languages:
        relay.language(**language.twiml_kwargs())
    for name, value in {**settings.baton_relay_parameters, **parameters}.items():
        relay.parameter(name=name, value=str(value))
    response = VoiceResponse()
    response.append(connect)
    return str(response)
