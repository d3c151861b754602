"""Delivering a handoff exactly once, and settling the conversation either way.

Delivered: the conversation is marked handed off (the bot stays silent). Failed after the
retry budget: the customer is told, and the conversation goes back to the bot in a new
epoch instead of being left stranded. Either way a ``HandoffResult`` is published.

The delivery record is written ``posting`` before anything leaves for Twilio, so a
redelivered request (the dispatcher died, or the outcome was unknown) looks for what the
earlier attempt achieved before it sends again. A delivery Twilio holds but Baton cannot see
is settled as delivered, unverified: counted, logged, and never told to the customer as a
failure.

Each dispatch is a ``handoff.dispatch`` span in the customer's trace, carrying the outcome,
the typed failure and the attempts; a fresh delivery is counted in the handoff SLIs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from faststream.nats import NatsBroker
from opentelemetry import trace
from opentelemetry.trace import Tracer

from libs.contracts.conversation import settle_delivery
from libs.contracts.messages import (
    AgentReply,
    Channel,
    HandoffData,
    HandoffFailure,
    HandoffOutcome,
    HandoffRequested,
    HandoffResult,
    ReplyKind,
)
from libs.contracts.subjects import HANDOFF_RESULT, HANDOFF_STREAM
from libs.platform.conversation_store import ConversationStore
from libs.platform.publishing import publish_once, publish_reply
from libs.platform.span_attributes import (
    CALL_SID,
    CHANNEL,
    CONVERSATION_ID,
    EXECUTION_SID,
    HANDOFF_ID,
)
from services.handoff_dispatcher.identity import CustomerIdentity, IdentityResolver
from services.handoff_dispatcher.metrics import HANDOFF_UNVERIFIED
from services.handoff_dispatcher.outcome import DeliveryOutcome, OutcomeUnknown
from services.handoff_dispatcher.records import DeliveryRecord, DeliveryRecords, DeliveryState
from services.handoff_dispatcher.slis import record_handoff_slis
from services.handoff_dispatcher.studio import ExecutionRequest, StudioExecutions
from services.handoff_dispatcher.voice_end import VoiceEndSender

log = logging.getLogger("baton.handoff_dispatcher")

SEND_TO_FLEX_ATTRIBUTES_LIMIT = 1024
"""Studio's SendToFlex widget takes at most 1,024 characters of attributes JSON."""


def flex_channel_type(request: HandoffRequested) -> str:
    """The Flex Interactions channel type of the customer's channel."""
    route = request.route
    if route.channel is Channel.VOICE:
        return "voice"
    medium = route.medium.upper()
    address = route.customer_address
    if medium == "WHATSAPP" or address.startswith("whatsapp:"):
        return "whatsapp"
    if medium == "CHAT" or not (address.startswith(("+", "rcs:")) or medium in ("SMS", "RCS")):
        return "chat"
    return "sms"


def handoff_summary(request: HandoffRequested, identity: CustomerIdentity) -> str:
    """The model's summary, then what Memory recalls about the customer."""
    parts = [request.summary] if request.summary else []
    if identity.memories:
        parts.append("Known about the customer: " + "; ".join(identity.memories) + ".")
    return " ".join(parts)


def build_handoff_data(
    request: HandoffRequested, static_attributes: dict[str, Any], identity: CustomerIdentity
) -> HandoffData:
    """HandoffData as TAC builds it; the request's ``reason`` always wins, as in TAC.

    The identifiers are repeated in ``attributes``: the template shows only ``attributes`` on
    the Flex task, and the human (and a hand-back) needs the conversation they name.
    ``attributes.handoffId`` names the episode, so the execution of this handoff can be told
    apart from an earlier one of the same conversation when it is looked up.
    """
    attributes: dict[str, Any] = {**static_attributes, **request.attributes}
    attributes["reason"] = request.reason
    attributes["handoffChannel"] = request.route.channel.value
    attributes["handoffId"] = request.handoff_id
    attributes["channelType"] = flex_channel_type(request)
    attributes["conversationId"] = identity.conversation_id
    attributes["storeId"] = identity.store_id
    attributes["profileId"] = identity.profile_id
    if identity.customer_name:
        attributes["customerName"] = identity.customer_name
    summary = handoff_summary(request, identity)
    if summary:
        attributes["summary"] = summary
        overflow = len(json.dumps(attributes)) - SEND_TO_FLEX_ATTRIBUTES_LIMIT
        if overflow > 0:
            attributes["summary"] = summary[: max(0, len(summary) - overflow)]
    return HandoffData(
        conversation_id=identity.conversation_id,
        store_id=identity.store_id,
        profile_id=identity.profile_id,
        attributes=attributes,
    )


def studio_from_address(request: HandoffRequested, phone_number: str) -> str:
    """The agent's address for the contact pair; a chat identity falls back to our number."""
    agent = request.route.agent_address
    if agent.startswith(("+", "whatsapp:", "rcs:", "messenger:")):
        return agent
    return phone_number


@dataclass
class HandoffDelivery:
    broker: NatsBroker
    store: ConversationStore
    records: DeliveryRecords
    studio: StudioExecutions
    voice: VoiceEndSender
    static_attributes: dict[str, Any]
    identity: IdentityResolver
    phone_number: str
    failed_message: str
    tracer: Tracer = field(default_factory=lambda: trace.get_tracer("baton.handoff_dispatcher"))

    async def dispatch(
        self, request: HandoffRequested, *, final_try: bool = False
    ) -> HandoffResult:
        """Deliver (or settle again) one handoff; ``final_try``: no redelivery will follow, so
        an outcome that cannot be found out is reported as a failure."""
        with self.tracer.start_as_current_span(
            "handoff.dispatch", attributes=dispatch_attributes(request)
        ) as span:
            previous = await self.records.get(request.conversation_id, request.epoch)
            fresh = previous is None or previous.state is DeliveryState.POSTING
            if previous is None or previous.state is DeliveryState.POSTING:
                record = await self._deliver(request, previous, final_try)
            else:  # a redelivery after the outcome was recorded: settle again, count nothing
                record = previous
                log.info("handoff %s already %s", request.handoff_id, record.state)
            result = self._result(request, record)
            span.set_attributes(
                {
                    "baton.handoff.outcome": result.outcome.value,
                    "baton.handoff.failure": result.failure.value if result.failure else "none",
                    "baton.handoff.attempts": result.attempts,
                    "baton.handoff.redelivered": not fresh,
                }
            )
            if result.execution_sid:
                span.set_attribute(EXECUTION_SID, result.execution_sid)
            if fresh:
                record_handoff_slis(request, result)
            await self._settle_conversation(request, result)
            await self._announce(request, result)
            return result

    def _result(self, request: HandoffRequested, record: DeliveryRecord) -> HandoffResult:
        return HandoffResult(
            conversation_id=request.conversation_id,
            epoch=request.epoch,
            channel=request.route.channel,
            outcome=(
                HandoffOutcome.DELIVERED
                if record.state is DeliveryState.DELIVERED
                else HandoffOutcome.FAILED
            ),
            failure=record.failure,
            detail=record.detail,
            execution_sid=record.execution_sid,
            verified=record.verified,
            attempts=record.attempts,
            requested_at=request.requested_at,
        )

    async def _deliver(
        self, request: HandoffRequested, previous: DeliveryRecord | None, final_try: bool
    ) -> DeliveryRecord:
        identity = await self.identity.resolve(request)
        data = build_handoff_data(request, self.static_attributes, identity)
        posting = DeliveryRecord(state=DeliveryState.POSTING)
        if previous is not None:  # something may have left before a crash or a lost answer
            posting.sending_since, posting.attempts = previous.sending_since, previous.attempts
        await self.records.put(request.conversation_id, request.epoch, posting)
        try:
            outcome = await self._send(
                request, data, since=posting.sending_since, resent=previous is not None
            )
        except OutcomeUnknown as error:
            if not final_try:
                raise
            outcome = DeliveryOutcome(None, HandoffFailure.STUDIO_UNAVAILABLE, str(error), 0)
        record = DeliveryRecord(
            state=DeliveryState.DELIVERED if outcome.delivered else DeliveryState.FAILED,
            execution_sid=outcome.execution_sid,
            verified=outcome.verified,
            failure=outcome.failure,
            detail=outcome.detail,
            attempts=posting.attempts + outcome.attempts,
            sending_since=posting.sending_since,
        )
        await self.records.put(request.conversation_id, request.epoch, record)
        if outcome.delivered:
            await self.identity.hand_to_humans(identity)
        if not outcome.verified:
            HANDOFF_UNVERIFIED.inc(channel=request.route.channel.value)
        log.info(
            "handoff %s %s%s after %s attempt(s)",
            request.handoff_id,
            record.state,
            "" if outcome.verified else " (unverified)",
            record.attempts,
        )
        return record

    async def _send(
        self, request: HandoffRequested, data: HandoffData, *, since: datetime, resent: bool
    ) -> DeliveryOutcome:
        if request.route.channel is Channel.VOICE:
            return await self.voice.send(
                call_sid=request.route.call_sid or request.conversation_id,
                turn=request.turn_sequence,
                handoff_id=request.handoff_id,
                data=data,
                resent=resent,
            )
        execution = ExecutionRequest(
            to=request.route.customer_address,
            from_=studio_from_address(request, self.phone_number),
            parameters=data.studio_parameters(),
            handoff_id=request.handoff_id,
            conversation_id=data.conversation_id,
            sending_since=since,
        )
        return await self.studio.create(execution, unsure=resent)

    async def _settle_conversation(self, request: HandoffRequested, result: HandoffResult) -> None:
        delivered = result.outcome is HandoffOutcome.DELIVERED

        await self.store.apply(
            request.conversation_id, settle_delivery(request.epoch, delivered=delivered)
        )
        if not delivered and request.route.channel.is_digital:
            await self._tell_customer(request)

    async def _tell_customer(self, request: HandoffRequested) -> None:
        notice = AgentReply(
            conversation_id=request.conversation_id,
            reply_id=f"{request.handoff_id}:failed",
            route=request.route,
            text=self.failed_message,
            epoch=request.epoch + 1,
            kind=ReplyKind.FAILURE_NOTICE,
        )
        await publish_reply(self.broker, notice)

    async def _announce(self, request: HandoffRequested, result: HandoffResult) -> None:
        await publish_once(
            self.broker,
            result,
            subject=HANDOFF_RESULT.subject(request.conversation_id),
            stream=HANDOFF_STREAM,
            message_id=f"result:{request.handoff_id}",
        )


def dispatch_attributes(request: HandoffRequested) -> dict[str, str | int]:
    """What names a handoff in a trace; never the customer's address."""
    attributes: dict[str, str | int] = {
        CONVERSATION_ID: request.conversation_id,
        HANDOFF_ID: request.handoff_id,
        CHANNEL: request.route.channel.value,
        "baton.handoff.epoch": request.epoch,
        "baton.handoff.reason": request.reason[:200],
    }
    if request.route.call_sid:
        attributes[CALL_SID] = request.route.call_sid
    return attributes
