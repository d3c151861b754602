"""Inspection and control for tests (``/_emulator``, no auth): what reached customers, what
Studio received, which requests came in, and re-sending a webhook as a Twilio retry would.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from emulator.dependencies import State, Webhooks
from emulator.errors import TwilioError
from emulator.messaging import take_twiml_replies
from emulator.wire import iso

router = APIRouter(prefix="/_emulator", tags=["emulator admin"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/outbox")
async def outbox(state: State, channel: str | None = None, to: str | None = None) -> list[Any]:
    """Every message delivered to a customer, in order."""
    return [
        entry.as_json()
        for entry in state.outbox
        if (channel is None or entry.channel == channel) and (to is None or entry.to == to)
    ]


@router.get("/executions")
async def executions(state: State) -> list[dict[str, Any]]:
    """Every Studio execution, oldest first, with its ``Parameters`` already parsed."""
    return [
        {
            "sid": execution.sid,
            "flow_sid": execution.flow_sid,
            "to": execution.to,
            "from": execution.from_,
            "status": execution.status,
            "parameters": execution.parameters,
            "steps": [step.transitioned_to for step in execution.steps],
            "date_created": iso(execution.date_created),
            "date_updated": iso(execution.date_updated),
        }
        for execution in sorted(state.executions.values(), key=lambda e: e.date_created)
    ]


@router.get("/requests")
async def requests(
    state: State, path_prefix: str = "", method: str | None = None
) -> list[dict[str, Any]]:
    """Twilio REST requests in arrival order: fields as sent, credential kind, status answered."""
    return [
        record.as_json()
        for record in state.requests
        if record.path.startswith(path_prefix) and (method is None or record.method == method)
    ]


@router.get("/webhooks")
async def webhooks(state: State) -> list[dict[str, Any]]:
    """The last delivery of each webhook the emulator sent, keyed by message."""
    return [delivery.as_json() for delivery in state.webhooks.values()]


class Replay(BaseModel):
    message_sid: str = Field(min_length=1)


@router.post("/replay")
async def replay(body: Replay, state: State, sender: Webhooks) -> dict[str, Any]:
    """Re-send a webhook with the same bytes, signature and idempotency token."""
    delivery = await sender.replay(body.message_sid)
    if delivery is None:
        raise TwilioError(404, f"No webhook was sent for {body.message_sid}")
    if delivery.kind == "sms":
        take_twiml_replies(state, delivery)
    return {
        "message_sid": delivery.message_sid,
        "status_code": delivery.status_code,
        "idempotency_token": delivery.idempotency_token,
        "attempts": delivery.attempts,
        "error": delivery.error,
    }


@router.post("/reset")
async def reset(state: State) -> dict[str, bool]:
    """Forget every resource, message, request, fault and webhook."""
    state.reset()
    return {"reset": True}
