"""Inbound Twilio messaging webhooks, normalized into ``CustomerTurn``s on the turn stream.

Every route checks ``X-Twilio-Signature`` first: a forged request gets 403 and nothing is
published. The body is parsed by its pydantic model (a wrong shape is a 400), turned into a
turn by the source's builder (:mod:`services.messaging_gateway.inbound_turns`; a webhook
lacking what a turn needs is a 400 too, see ``main.py``) and stored
with its natural key, so a webhook delivered twice, to the same or another replica, becomes
one turn. The webhook is answered 2xx only after JetStream stored the turn. While NATS is
unreachable the request waits (below Twilio's webhook timeout) for it to come back; then it
is answered 503, and nothing was stored or left buffered to be stored later: Twilio calls
the number's Fallback URL, if one is set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from faststream.nats import NatsBroker
from nats.errors import MaxPayloadError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from twilio.twiml.messaging_response import MessagingResponse

from libs.contracts.conversation import give_back_to_bot
from libs.contracts.messages import CustomerTurn
from libs.platform.publishing import publish_turn
from libs.platform.twilio_signature import TwilioSignature
from services.messaging_gateway.dependencies import StoreDep
from services.messaging_gateway.inbound_turns import (
    Skipped,
    conversations_turn,
    orchestrator_turn,
    sms_turn,
)
from services.messaging_gateway.orchestrator_api import (
    AGENT_TYPES,
    HUMAN_AGENT,
    OrchestratorApi,
    OurAddresses,
)
from services.messaging_gateway.settings import TWILIO_WEBHOOK_TIMEOUT_SECONDS
from services.messaging_gateway.webhook_models import (
    Communication,
    CommunicationCreated,
    ConversationsEvent,
    ConversationUpdated,
    InboundSms,
    OrchestratorEvent,
)

log = logging.getLogger("baton.messaging_gateway.webhooks")

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
Model = TypeVar("Model", bound=BaseModel)
ORCHESTRATOR_EVENT = TypeAdapter[OrchestratorEvent](
    Annotated[OrchestratorEvent, Field(union_mode="left_to_right")]
)


def parsed(model: type[Model], form: Mapping[str, Any]) -> Model:
    try:
        return model.model_validate(dict(form))
    except ValidationError as error:
        raise HTTPException(status_code=400, detail=_fields(error)) from error


def _fields(error: ValidationError) -> str:
    names = sorted({str(item["loc"][0]) for item in error.errors() if item["loc"]})
    return f"invalid or missing: {', '.join(names)}" if names else "invalid body"


def message_key(request: Request, sid: str) -> str:
    """The message's SID, else Twilio's idempotency token (the same on Twilio's retries)."""
    return sid or request.headers.get(IDEMPOTENCY_HEADER, "")


CONVERSATIONS_WEBHOOK_TIMEOUT_SECONDS = 5.0
"""Conversations (classic) gives up on a webhook after 5 s."""
ANSWER_MARGIN_SECONDS = 1.0
NO_REPLY_TWIML = str(MessagingResponse())
"""An empty ``<Response/>``: the reply goes out later through the REST API (built once)."""


@dataclass
class TurnPublisher:
    broker: NatsBroker
    store_seconds: float = 10.0
    """How long a webhook may wait for NATS to store its turn."""

    async def accept(
        self,
        outcome: CustomerTurn | Skipped,
        twilio_waits: float = TWILIO_WEBHOOK_TIMEOUT_SECONDS,
    ) -> dict[str, str]:
        """Store a turn once (a duplicate is acknowledged too); report a skipped webhook."""
        if isinstance(outcome, Skipped):
            return {"status": outcome.status}
        within = min(self.store_seconds, twilio_waits - ANSWER_MARGIN_SECONDS)
        try:
            ack = await publish_turn(self.broker, outcome, within_seconds=within)
        except MaxPayloadError as error:
            log.warning("turn %s larger than NATS accepts: refused", outcome.message_id)
            raise HTTPException(status_code=413, detail="turn too large") from error
        except Exception as error:
            log.error("could not store turn %s: %r", outcome.message_id, error)
            raise HTTPException(status_code=503, detail="turn not stored, retry") from error
        if ack.duplicate:
            log.info("duplicate webhook for %s ignored", outcome.message_id)
        return {"status": "accepted"}


async def author_skipped(
    communication: Communication, orchestrator: OrchestratorApi
) -> Skipped | None:
    """Our own and a human agent's messages are no customer turn (by participant type)."""
    author = communication.author
    if not author.participant_id:
        return None
    kind = await orchestrator.participant_type(communication.conversation_id, author.participant_id)
    if kind in AGENT_TYPES:
        return Skipped("own message")
    if kind == HUMAN_AGENT:
        return Skipped("human agent message")
    return None


def messaging_router(
    signature: TwilioSignature,
    publisher: TurnPublisher,
    *,
    account_sid: str,
    addresses: OurAddresses,
    orchestrator: OrchestratorApi,
    configuration_id: str | None,
) -> APIRouter:
    router = APIRouter(prefix="/messaging", tags=["messaging"])
    bot_identity = addresses.bot_identity

    @router.post("/sms")
    async def inbound_sms(request: Request) -> Response:
        """Programmable Messaging inbound SMS; the reply goes out later through the REST API."""
        sms = parsed(InboundSms, await signature.signed_form(request))
        key = message_key(request, sms.message_sid)
        await publisher.accept(sms_turn(sms, key, account_sid))
        return Response(NO_REPLY_TWIML, media_type="application/xml")

    @router.post("/conversations")
    async def conversations_event(request: Request) -> dict[str, str]:
        """Conversations (classic) ``onMessageAdded``; the bot's own messages are skipped."""
        event = parsed(ConversationsEvent, await signature.signed_form(request))
        key = message_key(request, event.message_sid)
        turn = conversations_turn(event, key, bot_identity)
        return await publisher.accept(turn, twilio_waits=CONVERSATIONS_WEBHOOK_TIMEOUT_SECONDS)

    @router.post("/orchestrator")
    async def orchestrator_event(request: Request, store: StoreDep) -> dict[str, str]:
        """Conversation Orchestrator JSON events (signed with ``bodySHA256``)."""
        body = await signature.signed_json_body(request)
        try:
            event = ORCHESTRATOR_EVENT.validate_json(body)
        except ValidationError as error:
            raise HTTPException(status_code=400, detail="not an Orchestrator event") from error
        if isinstance(event, CommunicationCreated):
            data = event.data
            key = message_key(request, data.id)
            written_to = [recipient.address for recipient in data.recipients]
            agent = addresses.agent_address(data.author.channel, written_to)
            turn = orchestrator_turn(data, key, addresses.all, agent)
            if not isinstance(turn, Skipped):
                turn = await author_skipped(data, orchestrator) or turn
            return await publisher.accept(turn)
        if isinstance(event, ConversationUpdated) and configuration_id not in (
            None,
            event.data.configuration_id,
        ):
            return {"status": "ignored"}
        if isinstance(event, ConversationUpdated) and event.data.status == "CLOSED":
            if not event.data.id:
                return {"status": "noted"}
            state = (await store.apply(event.data.id, give_back_to_bot())).state
            log.info("orchestrator closed %s (epoch %s)", event.data.id, state.epoch)
            return {"status": "closed"}
        return {"status": "noted" if isinstance(event, ConversationUpdated) else "ignored"}

    return router
