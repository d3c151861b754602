"""messaging_gateway: Twilio messaging webhooks in, agent replies out.

Run with ``baton run messaging-gateway --port 8081``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.nats import JStream, PullSub

from libs.contracts.messages import AgentReply
from libs.contracts.subjects import (
    CONVERSATIONS_BUCKET,
    MESSAGING_REPLIES_DURABLE,
    REPLIES,
    REPLIES_BUCKET,
    REPLIES_STREAM,
)
from libs.platform.admin import admin_app, attach_admin, public_app
from libs.platform.connection import bucket, connect_broker, create_broker, jetstream
from libs.platform.consumer_lag import ConsumerLag, DurableConsumer
from libs.platform.consuming import RedeliveryPolicy, RetryByAge, delivered_message, settled
from libs.platform.conversation_store import ConversationStore
from libs.platform.health import Readiness, broker_running, health_router
from libs.platform.keyed_concurrency import KeyedConcurrency
from libs.platform.settings import load_settings
from libs.platform.started import Started
from libs.platform.tracing import instrument_app
from libs.platform.twilio_rest import TwilioRestClient
from libs.platform.twilio_signature import TwilioSignature
from services.messaging_gateway.dependencies import GatewayRuntime
from services.messaging_gateway.flex_events import flex_router
from services.messaging_gateway.inbound_turns import IncompleteWebhook
from services.messaging_gateway.orchestrator_api import OrchestratorApi, OurAddresses
from services.messaging_gateway.replies import ReplyDelivery, ReplySender
from services.messaging_gateway.reply_lookup import ReplyLookup
from services.messaging_gateway.reply_records import ReplyRecords
from services.messaging_gateway.settings import MessagingGatewaySettings
from services.messaging_gateway.webhooks import TurnPublisher, messaging_router

SERVICE_NAME = "messaging-gateway"
REPLY_HEARTBEAT_SECONDS = 1.0
"""A reply being sent is kept in progress this often; a crashed gateway's replies are
redelivered after three missed heartbeats."""
REPLY_BATCH = 16
WAITING_PER_SLOT = 2
"""Replies taken from JetStream per send slot: those beyond the slots wait (heartbeating)
behind their conversation's earlier reply or for a free slot."""



async def incomplete_webhook(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=400)


def create_app(settings: MessagingGatewaySettings | None = None) -> FastAPI:
    settings = settings or load_settings(MessagingGatewaySettings)
    broker = create_broker(settings, SERVICE_NAME)
    readiness = Readiness(broker)
    rest = TwilioRestClient.for_api_key(
        settings, settings.baton_reply_timeout_seconds, settings.baton_reply_concurrency
    )
    sender = ReplySender(rest, settings.twilio_account_sid, settings.baton_bot_identity)
    policy = RedeliveryPolicy.heartbeating(
        MESSAGING_REPLIES_DURABLE,
        REPLY_HEARTBEAT_SECONDS,
        by_age=RetryByAge(
            max_age_seconds=settings.baton_reply_max_age_seconds,
            first_delay_seconds=settings.baton_reply_first_retry_seconds,
            max_delay_seconds=settings.baton_reply_max_retry_seconds,
        ),
    )
    lag = ConsumerLag(broker, [DurableConsumer(REPLIES_STREAM, MESSAGING_REPLIES_DURABLE)])
    started: Started[ReplyDelivery] = Started("the reply delivery")
    conversations = KeyedConcurrency(settings.baton_reply_concurrency)

    @broker.subscriber(
        REPLIES.wildcard,
        stream=JStream(REPLIES_STREAM, declare=False),
        durable=MESSAGING_REPLIES_DURABLE,
        pull_sub=PullSub(batch_size=REPLY_BATCH, timeout=1.0),
        max_workers=settings.baton_reply_concurrency * WAITING_PER_SLOT,
        config=policy.consumer_config(),
        ack_policy=AckPolicy.MANUAL,
    )
    async def send_reply(reply: AgentReply) -> None:
        """In parallel across conversations, in arrival order within one."""
        turn = conversations.reserve(reply.conversation_id)
        try:
            async with settled(delivered_message(broker), policy, broker), turn:
                await started.get().deliver(reply)
        finally:
            turn.abandon()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_broker(broker, settings)
        js = jetstream(broker)
        store = ConversationStore(await bucket(js, CONVERSATIONS_BUCKET))
        records = ReplyRecords(await bucket(js, REPLIES_BUCKET))
        lookup = ReplyLookup(rest, settings.twilio_account_sid, records)
        app.state.runtime = GatewayRuntime(store=store)
        started.set(ReplyDelivery(sender, store, records, lookup))
        async with broker_running(broker, readiness, lag=lag, closers=[rest.aclose]):
            yield

    app = public_app("Baton messaging gateway", settings, lifespan)
    attach_admin(app, admin_app("Baton messaging gateway", readiness))
    instrument_app(app, SERVICE_NAME, log_sensitive=settings.baton_log_sensitive)
    app.add_exception_handler(IncompleteWebhook, incomplete_webhook)
    app.include_router(health_router(readiness))
    signature = TwilioSignature(
        settings.twilio_auth_token.get_secret_value(),
        settings.public_base_url,
        settings.baton_webhook_max_bytes,
    )
    orchestrator = OrchestratorApi(rest, settings.public_base_url)
    app.include_router(flex_router(signature, orchestrator))
    app.include_router(
        messaging_router(
            signature,
            TurnPublisher(broker, settings.baton_webhook_store_seconds),
            account_sid=settings.twilio_account_sid,
            addresses=OurAddresses.from_settings(settings, settings.baton_bot_identity),
            orchestrator=orchestrator,
            configuration_id=settings.twilio_conversation_configuration_id,
        )
    )
    return app
