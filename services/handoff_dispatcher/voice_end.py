"""Delivering a voice handoff: the replica that owns the call sends the ``end`` frame.

The dispatcher asks over core NATS (request/reply on the call's subject). The gateway
answers once ``end`` went out after the goodbye's final ``last:true`` frame, or with
``caller_gone`` when the caller hung up first; asked again, it answers ``sent`` while it
holds the call (``end`` goes out once per call). No responder means no replica holds the
call any more: the caller is gone too, unless an earlier request of this handoff may have
had ``end`` sent (``resent``), in which case Twilio ended the socket itself and the handoff
is presumed delivered, unverified. Each attempt is a ``send`` span whose context the
gateway continues, so the trace reaches the moment ``end`` left for Twilio.
"""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace
from opentelemetry.trace import Tracer

from libs.contracts.messages import HandoffData, HandoffFailure, VoiceEnd, VoiceEndAnswer
from libs.contracts.subjects import VOICE_CALL
from libs.platform.propagation import inject_trace_headers, send_span
from libs.platform.span_attributes import CALL_SID, TURN_SEQUENCE
from services.handoff_dispatcher.outcome import DeliveryOutcome

log = logging.getLogger("baton.handoff_dispatcher.voice")

ATTEMPTS = 3


class VoiceEndSender:
    def __init__(
        self, connection: Client, wait_seconds: float, tracer: Tracer | None = None
    ) -> None:
        self._connection = connection
        self._wait = wait_seconds
        self._tracer = tracer or trace.get_tracer("baton.handoff_dispatcher")

    async def send(
        self, *, call_sid: str, turn: int, handoff_id: str, data: HandoffData, resent: bool
    ) -> DeliveryOutcome:
        command = VoiceEnd(
            turn=turn, handoff_id=handoff_id, handoff_data=data.end_frame()["handoffData"]
        )
        subject = VOICE_CALL.subject(call_sid)
        for attempt in range(1, ATTEMPTS + 1):
            span = send_span(
                self._tracer,
                subject,
                VOICE_CALL.template,
                {
                    CALL_SID: call_sid,
                    TURN_SEQUENCE: turn,
                    "baton.voice.command": "end",
                    "baton.voice.end_attempt": attempt,
                },
            )
            with trace.use_span(span, end_on_exit=True):
                try:
                    reply = await self._connection.request(
                        subject,
                        command.model_dump_json().encode(),
                        timeout=self._wait,
                        headers=inject_trace_headers(),
                    )
                except NoRespondersError:
                    span.set_attribute("baton.voice.end_answer", "no_responders")
                    if resent:
                        detail = "unverified: the call's socket is gone after an earlier request"
                        return DeliveryOutcome(None, None, detail, attempt, verified=False)
                    return DeliveryOutcome(
                        None, HandoffFailure.CALLER_GONE, "no gateway holds the call", attempt
                    )
                except NatsTimeoutError:
                    span.set_attribute("baton.voice.end_answer", "timeout")
                    log.warning("call %s: end not confirmed (attempt %s)", call_sid, attempt)
                    continue
                answer = VoiceEndAnswer.model_validate_json(reply.data)
                span.set_attribute("baton.voice.end_answer", answer.status)
            if answer.status == "sent":
                return DeliveryOutcome(None, None, "end sent after the final reply", attempt)
            return DeliveryOutcome(None, HandoffFailure.CALLER_GONE, "caller hung up", attempt)
        return DeliveryOutcome(
            None, HandoffFailure.CALLER_GONE, "the call's gateway never confirmed end", ATTEMPTS
        )
