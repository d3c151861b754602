"""Studio REST API v2: Executions, their Context and Steps.

Digital handoff is a form POST of ``To``, ``From`` and ``Parameters`` (a JSON string that the
flow reads as ``{{flow.data.*}}``). Studio keeps one active Execution per contact (the ``To``
address) on a flow, whatever the ``From``, and answers a second create with 409/20409 — the
rule that makes a duplicate handoff visible. Lists are newest first, paged with
``meta.next_page_url`` and narrowed by ``DateCreatedFrom``/``DateCreatedTo``. Any well-formed
flow SID is accepted; its flow comes into being on first use. An execution of a flow with a
definition (deployed with ``/v2/Flows``, or the shipped handoff flow) runs it from its
``incomingRequest`` trigger before the answer is sent (see ``flow_runner``).
``POST /v2/Flows``, ``POST /v2/Flows/{FW}`` and ``POST /v2/Flows/Validate`` take a definition
as Studio does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from emulator.auth import require_twilio_auth
from emulator.dependencies import Settings, State
from emulator.errors import CONFLICT, TwilioError, missing, not_found
from emulator.executions import execution_context, new_execution
from emulator.flow_definitions import definition_for, first_widget, known_flow, parse_definition
from emulator.flow_runner import FlowRun
from emulator.settings import EmulatorSettings
from emulator.store import DeployedFlow, EmulatorState, Execution, ExecutionStep
from emulator.tracing import incoming_context, tracer
from emulator.wire import form_fields, is_sid, iso, meta_page, new_sid, utc_now

TO_FROM_LIMIT_BYTES = 300
TRIGGER_EVENT = "incomingRequest"

router = APIRouter(prefix="/v2/Flows", dependencies=[Depends(require_twilio_auth)])


def execution_url(settings: EmulatorSettings, execution: Execution) -> str:
    return f"{settings.public_url}/v2/Flows/{execution.flow_sid}/Executions/{execution.sid}"


def execution_json(
    settings: EmulatorSettings, execution: Execution, initiated_by: str | None = None
) -> dict[str, Any]:
    url = execution_url(settings, execution)
    return {
        "sid": execution.sid,
        "account_sid": settings.twilio_account_sid,
        "flow_sid": execution.flow_sid,
        "contact_sid": execution.contact_sid,
        "contact_channel_address": execution.to,
        "flow_version": 1,
        "status": execution.status,
        "context": execution_context(execution),
        "initiated_by": initiated_by or settings.twilio_account_sid,
        "date_created": iso(execution.date_created),
        "date_updated": iso(execution.date_updated),
        "url": url,
        "links": {"steps": f"{url}/Steps", "execution_context": f"{url}/Context"},
    }


def step_json(
    settings: EmulatorSettings, execution: Execution, step: ExecutionStep
) -> dict[str, Any]:
    url = f"{execution_url(settings, execution)}/Steps/{step.sid}"
    return {
        "sid": step.sid,
        "account_sid": settings.twilio_account_sid,
        "flow_sid": execution.flow_sid,
        "execution_sid": execution.sid,
        "parent_step_sid": None,
        "name": step.name,
        "context": step.context,
        "transitioned_from": step.transitioned_from,
        "transitioned_to": step.transitioned_to,
        "type": step.type,
        "date_created": iso(step.date_created),
        "date_updated": iso(step.date_created),
        "url": url,
        "links": {"step_context": f"{url}/Context"},
    }


def _flow(state: EmulatorState, settings: EmulatorSettings, request: Request, flow_sid: str) -> str:
    if not is_sid(flow_sid, "FW") or not known_flow(state, settings, flow_sid):
        raise not_found(request.url.path)
    return flow_sid


def _execution(state: EmulatorState, request: Request, flow_sid: str, sid: str) -> Execution:
    execution = state.executions.get(sid)
    if execution is None or execution.flow_sid != flow_sid:
        raise not_found(request.url.path)
    return execution


def _step(execution: Execution, request: Request, step_sid: str) -> ExecutionStep:
    for step in execution.steps:
        if step.sid == step_sid:
            return step
    raise not_found(request.url.path)


def _parameters(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parameters = json.loads(raw)
    except ValueError as error:
        raise TwilioError(400, "Parameters must be a valid JSON string") from error
    if not isinstance(parameters, dict):
        raise TwilioError(400, "Parameters must be a JSON object")
    return parameters


def _date_filter(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise TwilioError(400, f"{name} must be an ISO 8601 date-time") from error


def flow_json(settings: EmulatorSettings, flow: DeployedFlow) -> dict[str, Any]:
    url = f"{settings.public_url}/v2/Flows/{flow.sid}"
    return {
        "sid": flow.sid,
        "account_sid": settings.twilio_account_sid,
        "friendly_name": flow.friendly_name,
        "definition": flow.definition,
        "status": flow.status,
        "revision": flow.revision,
        "commit_message": None,
        "valid": True,
        "errors": [],
        "warnings": [],
        "date_created": iso(flow.date_created),
        "date_updated": iso(flow.date_updated),
        "webhook_url": f"https://webhooks.twilio.com/v1/Accounts/{settings.twilio_account_sid}"
        f"/Flows/{flow.sid}",
        "url": url,
        "links": {"revisions": f"{url}/Revisions", "executions": f"{url}/Executions"},
    }


async def _flow_form(request: Request) -> tuple[str, str, dict[str, Any]]:
    form = await form_fields(request)
    for name in ("FriendlyName", "Status", "Definition"):
        if not form.get(name):
            raise missing(name)
    if form["Status"] not in ("draft", "published"):
        raise TwilioError(400, "Status must be draft or published")
    parse_definition(form["Definition"])
    return form["FriendlyName"], form["Status"], json.loads(form["Definition"])


@router.post("/Validate")
async def validate_flow(request: Request) -> dict[str, bool]:
    """Studio's flow validator: 200 ``{"valid": true}``, or 400 naming the problem."""
    await _flow_form(request)
    return {"valid": True}


@router.post("", status_code=201)
async def create_flow(request: Request, state: State, settings: Settings) -> dict[str, Any]:
    name, status, definition = await _flow_form(request)
    now = utc_now()
    flow = DeployedFlow(new_sid("FW"), name, status, definition, 1, now, now)
    state.flows.add(flow.sid)
    state.flows_deployed[flow.sid] = flow
    return flow_json(settings, flow)


@router.get("/{flow_sid}")
async def fetch_flow(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    flow = state.flows_deployed.get(flow_sid)
    if flow is None:
        raise not_found(request.url.path)
    return flow_json(settings, flow)


@router.post("/{flow_sid}")
async def update_flow(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """A new revision of a flow; the emulator accepts any well-formed SID as an existing flow."""
    _flow(state, settings, request, flow_sid)
    name, status, definition = await _flow_form(request)
    now = utc_now()
    previous = state.flows_deployed.get(flow_sid)
    state.flows_deployed[flow_sid] = DeployedFlow(
        flow_sid,
        name,
        status,
        definition,
        previous.revision + 1 if previous else 1,
        previous.date_created if previous else now,
        now,
    )
    return flow_json(settings, state.flows_deployed[flow_sid])


@router.post("/{flow_sid}/Executions", status_code=201)
async def create_execution(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _flow(state, settings, request, flow_sid)
    form = await form_fields(request)
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        raise missing("To")
    if not from_:
        raise missing("From")
    if len(to.encode()) + len(from_.encode()) > TO_FROM_LIMIT_BYTES:
        raise TwilioError(400, "To and From together must not exceed 300 bytes", 81023)
    parameters = _parameters(form.get("Parameters"))
    for existing in state.executions.values():
        if (existing.flow_sid, existing.to, existing.status) == (flow_sid, to, "active"):
            raise TwilioError(
                409, f"Execution {existing.sid} is already active for this contact", CONFLICT
            )
    trigger = {"request": {"to": to, "from": from_, "parameters": parameters}}
    definition = definition_for(state, settings, flow_sid)
    execution = new_execution(
        state,
        flow_sid,
        to=to,
        from_=from_,
        parameters=parameters,
        trigger=trigger,
        event=TRIGGER_EVENT,
        first_widget=first_widget(definition, TRIGGER_EVENT),
    )
    if definition is not None:
        with tracer.start_as_current_span(
            "studio.flow.run",
            context=incoming_context(request.headers),
            attributes={"studio.flow_sid": flow_sid, "studio.execution_sid": execution.sid},
        ):
            await FlowRun(request.app, state, settings, execution, definition).run(TRIGGER_EVENT)
    return execution_json(settings, execution)


@router.get("/{flow_sid}/Executions")
async def list_executions(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _flow(state, settings, request, flow_sid)
    status = request.query_params.get("Status") or request.query_params.get("status")
    created_from = _date_filter(request, "DateCreatedFrom")
    created_to = _date_filter(request, "DateCreatedTo")
    chosen = [
        execution
        for execution in state.executions.values()
        if execution.flow_sid == flow_sid
        and (not status or execution.status == status)
        and (created_from is None or execution.date_created >= created_from)
        and (created_to is None or execution.date_created <= created_to)
    ]
    chosen.sort(key=lambda execution: execution.date_created, reverse=True)
    records = [execution_json(settings, execution) for execution in chosen]
    return meta_page(request, settings.public_url, "executions", records)


@router.get("/{flow_sid}/Executions/{execution_sid}")
async def fetch_execution(
    flow_sid: str, execution_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    return execution_json(settings, _execution(state, request, flow_sid, execution_sid))


@router.post("/{flow_sid}/Executions/{execution_sid}")
async def update_execution(
    flow_sid: str, execution_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    """The only update Studio allows: ``Status=ended``."""
    execution = _execution(state, request, flow_sid, execution_sid)
    status = (await form_fields(request)).get("Status")
    if not status:
        raise missing("Status")
    if status != "ended":
        raise TwilioError(400, f"Invalid Status '{status}': the only allowed value is 'ended'")
    execution.status = "ended"
    execution.date_updated = utc_now()
    return execution_json(settings, execution)


@router.delete("/{flow_sid}/Executions/{execution_sid}", status_code=204)
async def delete_execution(
    flow_sid: str, execution_sid: str, request: Request, state: State
) -> Response:
    execution = _execution(state, request, flow_sid, execution_sid)
    del state.executions[execution.sid]
    return Response(status_code=204)


@router.get("/{flow_sid}/Executions/{execution_sid}/Context")
async def fetch_execution_context(
    flow_sid: str, execution_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    execution = _execution(state, request, flow_sid, execution_sid)
    return {
        "account_sid": settings.twilio_account_sid,
        "context": execution_context(execution),
        "flow_sid": flow_sid,
        "execution_sid": execution.sid,
        "url": f"{execution_url(settings, execution)}/Context",
    }


@router.get("/{flow_sid}/Executions/{execution_sid}/Steps")
async def list_steps(
    flow_sid: str, execution_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    execution = _execution(state, request, flow_sid, execution_sid)
    records = [step_json(settings, execution, step) for step in execution.steps]
    return meta_page(request, settings.public_url, "steps", records)


@router.get("/{flow_sid}/Executions/{execution_sid}/Steps/{step_sid}")
async def fetch_step(
    flow_sid: str,
    execution_sid: str,
    step_sid: str,
    request: Request,
    state: State,
    settings: Settings,
) -> dict[str, Any]:
    execution = _execution(state, request, flow_sid, execution_sid)
    return step_json(settings, execution, _step(execution, request, step_sid))


@router.get("/{flow_sid}/Executions/{execution_sid}/Steps/{step_sid}/Context")
async def fetch_step_context(
    flow_sid: str,
    execution_sid: str,
    step_sid: str,
    request: Request,
    state: State,
    settings: Settings,
) -> dict[str, Any]:
    execution = _execution(state, request, flow_sid, execution_sid)
    step = _step(execution, request, step_sid)
    return {
        "account_sid": settings.twilio_account_sid,
        "context": step.context,
        "execution_sid": execution.sid,
        "flow_sid": flow_sid,
        "step_sid": step.sid,
        "url": f"{execution_url(settings, execution)}/Steps/{step.sid}/Context",
    }
