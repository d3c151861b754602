"""A human agent hands the conversation back to the bot (the Flex side's notice).

The notice is signed like Twilio's JSON webhooks (``bodySHA256`` in the URL); its
``conversationId`` is the one Baton put in HandoffData. The conversation returns to the
bot in a new epoch, so nothing written before the handoff is delivered late.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request

from libs.conversation_state import ConversationState, ConversationStatus, ConversationStore
from libs.twilio_signature import TwilioSignature

log = logging.getLogger("baton.messaging_gateway.handback")


def handback_router(
    signature: TwilioSignature, store: Callable[[], ConversationStore]
) -> APIRouter:
    router = APIRouter(prefix="/messaging", tags=["messaging"])

    @router.post("/handback")
    async def hand_back(request: Request) -> dict[str, str | int]:
        body = await signature.signed_json_body(request)
        try:
            conversation_id = str(json.loads(body)["conversationId"])
        except (ValueError, KeyError, TypeError) as error:
            raise HTTPException(status_code=400, detail="conversationId is required") from error
        if not conversation_id:
            raise HTTPException(status_code=400, detail="conversationId is required")

        def to_bot(state: ConversationState) -> ConversationState | None:
            if state.status is ConversationStatus.ACTIVE:
                return None
            state.give_back_to_bot()
            return state

        state = await store().update(conversation_id, to_bot)
        log.info("conversation %s handed back (epoch %s)", conversation_id, state.epoch)
        return {"status": state.status.value, "epoch": state.epoch}

    return router
