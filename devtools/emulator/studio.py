"""Studio REST API v2: Executions, their Context and Steps.

Digital handoff is a form POST of ``To``, ``From`` and ``Parameters`` (a JSON string that the
flow reads as ``{{flow.data.*}}``). Studio keeps one active Execution per contact (the ``To``
address) on a flow, whatever the ``From``, and answers a second create with 409/20409 — the
rule that makes a duplicate handoff visible. Lists are newest first, paged with
``meta.next_page_url`` and narrowed by ``DateCreatedFrom``/``DateCreatedTo``. Any well-formed
flow SID is accepted; its flow comes into being on first use. An
execution of the handoff flow (``TWILIO_STUDIO_HANDOFF_FLOW_SID``) runs the Agent Handoff
template's messaging branch before the answer is sent (see ``flow_runner``).
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
from emulator.flow_runner import run_messaging_branch
from emulator.settings import EmulatorSettings
from emulator.store import EmulatorState, Execution, ExecutionStep
from emulator.tracing import caller_trace_id, incoming_context, tracer
from emulator.wire import form_fields, is_sid, iso, meta_page, utc_now

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


def _flow(state: EmulatorState, request: Request, flow_sid: str) -> str:
    if not is_sid(flow_sid, "FW"):
        raise not_found(request.url.path)
    state.flows.add(flow_sid)
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


@router.post("/{flow_sid}/Executions", status_code=201)
async def create_execution(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _flow(state, request, flow_sid)
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
    execution = new_execution(
        state,
        flow_sid,
        to=to,
        from_=from_,
        parameters=parameters,
        trigger=trigger,
        event=TRIGGER_EVENT,
    )
    if flow_sid == settings.twilio_studio_handoff_flow_sid:
        with tracer.start_as_current_span(
            "studio.flow.run",
            context=incoming_context(request.headers),
            attributes={"studio.flow_sid": flow_sid, "studio.execution_sid": execution.sid},
        ):
            run_messaging_branch(
                state, settings, execution, trace_id=caller_trace_id(request.headers)
            )
    return execution_json(settings, execution)


@router.get("/{flow_sid}/Executions")
async def list_executions(
    flow_sid: str, request: Request, state: State, settings: Settings
) -> dict[str, Any]:
    _flow(state, request, flow_sid)
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
