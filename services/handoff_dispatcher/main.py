"""handoff_dispatcher: delivers each handoff exactly once and reports how it went.

Run with ``baton run handoff-dispatcher --port 8083``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI
from faststream import AckPolicy, Context
from faststream.nats import JStream, NatsMessage, PullSub

from libs.contracts.messages import HandoffRequested
from libs.contracts.subjects import (
    CONVERSATIONS_BUCKET,
    DEAD_LETTER_STREAM,
    HANDOFF_DISPATCHER_DURABLE,
    HANDOFF_REQUESTED,
    HANDOFF_STREAM,
    HANDOFFS_BUCKET,
)
from libs.platform.admin import admin_app, attach_admin, public_app
from libs.platform.connection import bucket, connect_broker, create_broker, jetstream
from libs.platform.consumer_lag import ConsumerLag, DurableConsumer
from libs.platform.consuming import RedeliveryPolicy, settled
from libs.platform.conversation_store import ConversationStore
from libs.platform.health import Readiness, broker_running, health_router
from libs.platform.settings import load_settings
from libs.platform.tracing import instrument_app, service_tracer
from libs.platform.twilio_rest import TwilioRestClient
from services.handoff_dispatcher.delivery import HandoffDelivery
from services.handoff_dispatcher.identity import IdentityResolver
from services.handoff_dispatcher.records import DeliveryRecords
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from services.handoff_dispatcher.studio import RetryBudget, StudioExecutions
from services.handoff_dispatcher.voice_end import VoiceEndSender

SERVICE_NAME = "handoff-dispatcher"
DELIVERY_CONTEXT = "delivery"
"""The FastStream context key of the started :class:`HandoffDelivery`."""


def create_app(settings: HandoffDispatcherSettings | None = None) -> FastAPI:
    settings = settings or load_settings(HandoffDispatcherSettings)
    broker = create_broker(settings, SERVICE_NAME)
    readiness = Readiness(broker)
    rest = TwilioRestClient.for_api_key(settings, settings.baton_studio_timeout_seconds)
    studio = StudioExecutions(
        rest,
        settings.twilio_studio_handoff_flow_sid,
        RetryBudget(
            max_attempts=settings.baton_studio_max_attempts,
            backoff_seconds=settings.baton_studio_backoff_seconds,
            max_retry_after_seconds=settings.baton_studio_max_retry_after_seconds,
        ),
    )
    policy = RedeliveryPolicy.heartbeating(
        HANDOFF_DISPATCHER_DURABLE, settings.baton_dispatcher_heartbeat_seconds
    )
    tracer = service_tracer(SERVICE_NAME)
    lag = ConsumerLag(
        broker,
        [DurableConsumer(HANDOFF_STREAM, HANDOFF_DISPATCHER_DURABLE)],
        streams=[DEAD_LETTER_STREAM],
    )

    @broker.subscriber(
        HANDOFF_REQUESTED.wildcard,
        stream=JStream(HANDOFF_STREAM, declare=False),
        durable=HANDOFF_DISPATCHER_DURABLE,
        pull_sub=PullSub(batch_size=10, timeout=1.0),
        max_workers=32,
        config=policy.consumer_config(),
        ack_policy=AckPolicy.MANUAL,
    )
    async def on_handoff(
        request: HandoffRequested,
        message: NatsMessage,
        delivery: Annotated[HandoffDelivery, Context(DELIVERY_CONTEXT)],
    ) -> None:
        final_try = message.raw_message.metadata.num_delivered >= policy.max_deliver
        async with settled(message, policy, broker):
            await delivery.dispatch(request, final_try=final_try)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await connect_broker(broker, settings)
        js = jetstream(broker)
        broker.context.set_global(
            DELIVERY_CONTEXT,
            HandoffDelivery(
                broker=broker,
                store=ConversationStore(await bucket(js, CONVERSATIONS_BUCKET)),
                records=DeliveryRecords(await bucket(js, HANDOFFS_BUCKET)),
                studio=studio,
                voice=VoiceEndSender(
                    broker.connection, settings.baton_voice_end_wait_seconds, tracer
                ),
                static_attributes=settings.baton_handoff_attributes,
                identity=IdentityResolver(
                    rest,
                    settings.twilio_conversation_configuration_id or "",
                    settings.twilio_memory_store_id,
                ),
                phone_number=settings.twilio_phone_number,
                failed_message=settings.baton_handoff_failed_message,
                tracer=tracer,
            ),
        )
        async with broker_running(broker, readiness, lag=lag, closers=[rest.aclose]):
            yield

    app = public_app("Baton handoff dispatcher", settings, lifespan)
    attach_admin(app, admin_app("Baton handoff dispatcher", readiness))
    instrument_app(app, SERVICE_NAME, log_sensitive=settings.baton_log_sensitive)
    app.include_router(health_router(readiness))
    return app
