"""The Studio flow webhook, ``https://webhooks.twilio.com/v1/Accounts/{AC}/Flows/{FW}``.

Twilio requests it as a voice URL or as ``<Connect action>`` (``?Trigger=incomingCall``, with
the ConversationRelay ``HandoffData``); each request starts an execution of the flow's Incoming
Call path and is answered with the TwiML the call continues with: the flow's definition runs
from its ``incomingCall`` trigger (see ``flow_runner``); a flow without one answers an empty
``<Response/>``. No Basic auth: Twilio calls its own webhook host.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from emulator.dependencies import Settings, State
from emulator.errors import not_found
from emulator.executions import new_execution
from emulator.flow_definitions import definition_for, first_widget, known_flow
from emulator.flow_runner import FlowRun
from emulator.tracing import incoming_context, tracer
from emulator.wire import form_fields

WEBHOOKS_HOST = "webhooks.twilio.com"
TRIGGER_EVENT = "incomingCall"

router = APIRouter(prefix="/v1/Accounts/{account_sid}/Flows", tags=["studio webhook"])


def twiml(body: str) -> Response:
    return Response(body, media_type="application/xml")


@router.post("/{flow_sid}")
async def flow_webhook(
    account_sid: str, flow_sid: str, request: Request, state: State, settings: Settings
) -> Response:
    if account_sid != settings.twilio_account_sid or not known_flow(state, settings, flow_sid):
        raise not_found(request.url.path)
    call = await form_fields(request)
    if request.query_params.get("FlowEvent") == "return":
        return twiml('<?xml version="1.0" encoding="UTF-8"?><Response />')
    definition = definition_for(state, settings, flow_sid)
    execution = new_execution(
        state,
        flow_sid,
        to=call.get("From", ""),
        from_=call.get("To", ""),
        parameters={},
        trigger={"call": call},
        event=TRIGGER_EVENT,
        first_widget=first_widget(definition, TRIGGER_EVENT),
    )
    if definition is None:
        execution.status = "ended"
        return twiml('<?xml version="1.0" encoding="UTF-8"?><Response />')
    run = FlowRun(request.app, state, settings, execution, definition)
    with tracer.start_as_current_span(
        "studio.flow.run",
        context=incoming_context(request.headers),
        attributes={"studio.flow_sid": flow_sid, "studio.execution_sid": execution.sid},
    ):
        await run.run(TRIGGER_EVENT)
    return twiml(run.call_twiml())
