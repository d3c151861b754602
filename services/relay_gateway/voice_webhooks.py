"""Twilio's voice webhooks; any replica answers them, the call's owner is reached over NATS."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from faststream.nats import NatsBroker
from opentelemetry import trace
from opentelemetry.trace import Tracer
from twilio.twiml.voice_response import VoiceResponse

from libs.contracts.messages import VoiceHangup
from libs.contracts.subjects import VOICE_CALL
from libs.platform.publishing import publish_core
from libs.platform.span_attributes import CALL_SID
from libs.platform.twilio_signature import TwilioSignature
from services.relay_gateway.relay import LiveCalls
from services.relay_gateway.settings import RelayGatewaySettings
from services.relay_gateway.twiml import ACTION_PATH, connect_twiml, studio_voice_handoff_url

log = logging.getLogger("baton.relay_gateway.webhooks")
ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def xml(twiml: str, status_code: int = 200) -> Response:
    return Response(twiml, media_type="application/xml", status_code=status_code)


def append_handoff_route(
    response: VoiceResponse, settings: RelayGatewaySettings, handoff_data: str
) -> None:
    """Enqueue to TaskRouter with the handoff attributes, or hand the call to the Studio flow."""
    if settings.baton_taskrouter_workflow_sid:
        try:
            data = json.loads(handoff_data)
        except ValueError:
            data = {}
        attributes = dict(data.get("attributes") or {}) if isinstance(data, dict) else {}
        if isinstance(data, dict):
            attributes.update({k: data[k] for k in ("conversationId", "profileId") if k in data})
        enqueue = response.enqueue(workflow_sid=settings.baton_taskrouter_workflow_sid)
        enqueue.task(json.dumps(attributes))
        return
    response.redirect(
        studio_voice_handoff_url(
            settings.twilio_account_sid, settings.twilio_studio_handoff_flow_sid
        )
    )


def voice_router(
    settings: RelayGatewaySettings,
    signature: TwilioSignature,
    broker: NatsBroker,
    live: LiveCalls,
    tracer: Tracer | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/voice", tags=["voice"])
    hangup_tracer = tracer or trace.get_tracer("baton.relay_gateway")

    async def tell_owner_call_ended(call_sid: str) -> None:
        await publish_core(
            broker.connection,
            hangup_tracer,
            VoiceHangup(),
            subject=VOICE_CALL.subject(call_sid),
            template=VOICE_CALL.template,
            attributes={CALL_SID: call_sid, "baton.voice.command": "hangup"},
        )

    @router.post("/incoming")
    async def incoming(request: Request) -> Response:
        """The number's voice webhook: connect the caller to the relay."""
        form = await signature.signed_form(request)
        if live.draining:
            return xml(str(VoiceResponse()), status_code=503)
        parameters = {"callSid": str(form.get("CallSid", ""))}
        return xml(connect_twiml(settings, parameters))

    @router.post(ACTION_PATH.removeprefix("/voice"))
    async def action(request: Request) -> Response:
        """``<Connect action>`` when pointed here: every relay session end, handoff or not."""
        form = await signature.signed_form(request)
        call_sid = str(form.get("CallSid", ""))
        response = VoiceResponse()
        handoff_data = str(form.get("HandoffData", ""))
        if handoff_data:
            log.info("call %s left the relay with HandoffData", call_sid)
            append_handoff_route(response, settings, handoff_data)
        else:
            await tell_owner_call_ended(call_sid)
            response.hangup()
        return xml(str(response))

    @router.post("/status")
    async def status(request: Request) -> dict[str, str]:
        """Call status callback: a finished call's socket owner is told to let it go."""
        form = await signature.signed_form(request)
        if str(form.get("CallStatus", "")) in ENDED_STATUSES:
            await tell_owner_call_ended(str(form.get("CallSid", "")))
        return {"status": "noted"}

    return router
