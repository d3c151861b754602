"""What the Flex side tells Baton: a task was created, or a human handed a conversation back.

- ``POST /messaging/taskrouter-events`` is the TaskRouter workspace's Event Callback URL (a
  signed form). ``task.created`` closes the "customer turn → Flex task" measurement.
- ``POST /messaging/handback`` is a signed JSON notice ``{"conversationId": …}``: the
  conversation returns to the bot in a new epoch, so nothing written before the handoff
  is delivered late. An Orchestrator conversation is made ACTIVE again with its status
  callbacks restored; a call's is found by its ``CallSid``.

Both name the conversation by the ``conversationId`` Baton put in HandoffData.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.contracts.conversation import give_back_to_bot
from libs.contracts.identifiers import CONVERSATION_ID_PATTERN
from libs.platform.twilio_signature import TwilioSignature
from services.messaging_gateway.dependencies import StoreDep
from services.messaging_gateway.metrics import HANDOFF_TURN_TO_TASK
from services.messaging_gateway.orchestrator_api import OrchestratorApi

log = logging.getLogger("baton.messaging_gateway.flex")


CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)


class HandBack(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    conversation_id: str = Field(alias="conversationId", pattern=CONVERSATION_ID_PATTERN)


def event_time(form: dict[str, str]) -> datetime:
    """TaskRouter's event time (``TimestampMs`` when given), else now."""
    if form.get("TimestampMs", "").isdigit():
        return datetime.fromtimestamp(int(form["TimestampMs"]) / 1000, UTC)
    if form.get("Timestamp", "").isdigit():
        return datetime.fromtimestamp(int(form["Timestamp"]), UTC)
    return datetime.now(UTC)


def handoff_conversation(form: dict[str, str]) -> str:
    """The ``conversationId`` a ``task.created`` event's task carries, if it is a handoff."""
    if form.get("EventType") != "task.created":
        return ""
    try:
        attributes = json.loads(form.get("TaskAttributes") or "{}")
    except ValueError:
        return ""
    if not isinstance(attributes, dict):
        return ""
    conversation_id = attributes.get("conversationId")
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.match(conversation_id):
        return ""
    return conversation_id


ORCHESTRATOR_ID_PREFIXES = ("CA", "CH", "sms-")
"""Ids Baton keys conversations by itself; any other id a hand-back names is Orchestrator's."""


def flex_router(signature: TwilioSignature, orchestrator: OrchestratorApi) -> APIRouter:
    router = APIRouter(prefix="/messaging", tags=["flex"])

    @router.post("/taskrouter-events")
    async def taskrouter_event(request: Request, store: StoreDep) -> dict[str, str]:
        form = {key: str(value) for key, value in (await signature.signed_form(request)).items()}
        conversation_id = handoff_conversation(form)
        if not conversation_id:
            return {"status": "ignored"}
        state = await store.get(conversation_id)
        received = state.handoff_turn_received_at
        if received is None or state.route is None:
            return {"status": "no turn to measure from"}
        waited = (event_time(form) - received).total_seconds()
        HANDOFF_TURN_TO_TASK.observe(max(waited, 0.0), channel=state.route.channel.value)
        return {"status": "measured"}

    @router.post("/handback")
    async def hand_back(request: Request, store: StoreDep) -> dict[str, str | int]:
        body = await signature.signed_json_body(request)
        try:
            notice = HandBack.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(
            status_code=400, detail="conversationId is required and must be an id"
        ) from error
        key = notice.conversation_id
        if not key.startswith(ORCHESTRATOR_ID_PREFIXES):
            await orchestrator.return_to_bot(key)
            key = await orchestrator.call_sid(key) or key
        state = (await store.apply(key, give_back_to_bot())).state
        log.info("conversation %s handed back (epoch %s)", key, state.epoch)
        return {"status": state.status.value, "epoch": state.epoch}

    return router
