"""Twilio's voice webhooks; any replica answers them, the call's owner is reached over NATS."""

from __future__ import annotations

import json
import logging
import re
import time

from fastapi import APIRouter, HTTPException, Request, Response
from faststream.nats import NatsBroker
from opentelemetry import trace
from opentelemetry.trace import Tracer
from starlette.datastructures import FormData
from twilio.twiml.voice_response import VoiceResponse

from libs.contracts.identifiers import CALL_SID_PATTERN
from libs.contracts.messages import VoiceHangup
from libs.contracts.subjects import VOICE_CALL
from libs.platform.publishing import publish_core
from libs.platform.span_attributes import CALL_SID
from libs.platform.twilio_signature import TwilioSignature
from services.relay_gateway.call_url import RelayUrlSigner
from services.relay_gateway.relay import LiveCalls
from services.relay_gateway.settings import RelayGatewaySettings
from services.relay_gateway.twiml import ACTION_PATH, connect_twiml

log = logging.getLogger("baton.relay_gateway.webhooks")
ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


CALL_SID_SHAPE = re.compile(CALL_SID_PATTERN)


def call_sid_of(form: FormData) -> str:
    """The webhook's ``CallSid``, or 400: nothing is addressed to a call by a malformed id."""
    call_sid = str(form.get("CallSid", ""))
    if not CALL_SID_SHAPE.match(call_sid):
        raise HTTPException(status_code=400, detail="CallSid must be a CA… SID")
    return call_sid


def xml(twiml: str, status_code: int = 200) -> Response:
    return Response(twiml, media_type="application/xml", status_code=status_code)


HANDOFF_IDENTIFIERS = ("conversationId", "storeId", "profileId")


def handoff_task_attributes(handoff_data: str) -> dict[str, object]:
    """``{conversationId, storeId, profileId, ...attributes}``, as teams enqueuing from their
    own action handler build the task; unreadable HandoffData still enqueues the call."""
    try:
        data = json.loads(handoff_data)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return {}
    attributes = {key: data[key] for key in HANDOFF_IDENTIFIERS if key in data}
    extra = data.get("attributes")
    if isinstance(extra, dict):
        attributes.update(extra)
    return attributes


def append_handoff_route(response: VoiceResponse, workflow_sid: str, handoff_data: str) -> None:
    """Enqueue the call to TaskRouter with the handoff attributes (never a bare ``<Redirect>``,
    which would start the flow afresh without ``HandoffData``)."""
    enqueue = response.enqueue(workflow_sid=workflow_sid)
    enqueue.task(json.dumps(handoff_task_attributes(handoff_data)))


def voice_router(
    settings: RelayGatewaySettings,
    signature: TwilioSignature,
    broker: NatsBroker,
    live: LiveCalls,
    relay_urls: RelayUrlSigner,
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
        call_sid = call_sid_of(form)
        try:
            relay_url = relay_urls.url(settings.public_base_url, call_sid, time.time())
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        return xml(connect_twiml(settings, {"callSid": call_sid}, relay_url))

    @router.post(ACTION_PATH.removeprefix("/voice"))
    async def action(request: Request) -> Response:
        """``<Connect action>`` when pointed here: every relay session end, handoff or not."""
        form = await signature.signed_form(request)
        call_sid = call_sid_of(form)
        response = VoiceResponse()
        handoff_data = str(form.get("HandoffData", ""))
        workflow = settings.baton_taskrouter_workflow_sid
        if handoff_data and workflow and form.get("CallStatus", "in-progress") == "in-progress":
            log.info("call %s left the relay with HandoffData", call_sid)
            append_handoff_route(response, workflow, handoff_data)
        else:
            await tell_owner_call_ended(call_sid)
            response.hangup()
        return xml(str(response))

    @router.post("/status")
    async def status(request: Request) -> dict[str, str]:
        """Call status callback: a finished call's socket owner is told to let it go."""
        form = await signature.signed_form(request)
        call_sid = call_sid_of(form)
        if str(form.get("CallStatus", "")) in ENDED_STATUSES:
            await tell_owner_call_ended(call_sid)
        return {"status": "noted"}

    return router
