"""What the Flex side tells Baton: a task was created, or a human handed a conversation back.

- ``POST /messaging/taskrouter-events`` is the TaskRouter workspace's Event Callback URL (a
  signed form). ``task.created`` closes the "customer turn → Flex task" measurement.
- ``POST /messaging/handback`` is a signed JSON notice ``{"conversationId": …}``: the
  conversation returns to the bot in a new epoch, so nothing written before the handoff
  is delivered late.

Both name the conversation by the ``conversationId`` Baton put in HandoffData.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from nats.js import JetStreamContext

from libs.contracts.conversation import give_back_to_bot
from libs.platform.conversation_store import ConversationStore
from libs.platform.twilio_signature import TwilioSignature
from services.messaging_gateway.metrics import HANDOFF_TURN_TO_TASK

log = logging.getLogger("baton.messaging_gateway.flex")


def event_time(form: dict[str, str]) -> datetime:
    """TaskRouter's event time (``TimestampMs`` when given), else now."""
    if form.get("TimestampMs", "").isdigit():
        return datetime.fromtimestamp(int(form["TimestampMs"]) / 1000, UTC)
    if form.get("Timestamp", "").isdigit():
        return datetime.fromtimestamp(int(form["Timestamp"]), UTC)
    return datetime.now(UTC)


def flex_router(
    signature: TwilioSignature,
    store: Callable[[], ConversationStore],
    jetstream: Callable[[], JetStreamContext],
) -> APIRouter:
    router = APIRouter(tags=["flex"])

    @router.post("/messaging/taskrouter-events")
    async def taskrouter_event(request: Request) -> dict[str, str]:
        form = {key: str(value) for key, value in (await signature.signed_form(request)).items()}
        if form.get("EventType") != "task.created":
            return {"status": "ignored"}
        try:
            attributes = json.loads(form.get("TaskAttributes") or "{}")
        except ValueError:
            return {"status": "ignored"}
        conversation_id = str(attributes.get("conversationId") or "")
        if not conversation_id:
            return {"status": "not a handoff"}
        state = await store().get(conversation_id)
        received = state.handoff_turn_received_at
        if received is None or state.route is None:
            return {"status": "no turn to measure from"}
        waited = (event_time(form) - received).total_seconds()
        HANDOFF_TURN_TO_TASK.observe(max(waited, 0.0), channel=state.route.channel.value)
        return {"status": "measured"}

    @router.post("/messaging/handback")
    async def hand_back(request: Request) -> dict[str, str | int]:
        body = await signature.signed_json_body(request)
        try:
            conversation_id = str(json.loads(body)["conversationId"])
        except (ValueError, KeyError, TypeError) as error:
            raise HTTPException(status_code=400, detail="conversationId is required") from error
        if not conversation_id:
            raise HTTPException(status_code=400, detail="conversationId is required")
        state = (await store().apply(conversation_id, give_back_to_bot())).state
        log.info("conversation %s handed back (epoch %s)", conversation_id, state.epoch)
        return {"status": state.status.value, "epoch": state.epoch}

    return router
