"""agent_worker: runs the agent over each conversation's turns; any number of replicas.

Run with ``baton run agent-worker --port 8082``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub

from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import (
    AGENT_WORKER_DURABLE,
    CONVERSATIONS_BUCKET,
    TURNS,
    TURNS_STREAM,
)
from libs.platform.admin import admin_app, attach_admin, public_app
from libs.platform.connection import bucket, connect_broker, create_broker, jetstream
from libs.platform.consumer_lag import ConsumerLag, DurableConsumer
from libs.platform.consuming import RedeliveryPolicy, delivered_message, settled
from libs.platform.conversation_store import ConversationStore
from libs.platform.health import Readiness, broker_running, health_router
from libs.platform.settings import load_settings
from libs.platform.started import Started
from libs.platform.tracing import instrument_app, service_tracer
from services.agent_worker.agent import Agent
from services.agent_worker.agent_turn import AgentRunner
from services.agent_worker.escalation import warm_up
from services.agent_worker.guarded_agent import GuardedAgent
from services.agent_worker.llm_agent import LlmAgent, create_openai_client
from services.agent_worker.policy_agent import PolicyAgent
from services.agent_worker.settings import AgentWorkerSettings
from services.agent_worker.summary import ExtractiveSummarizer, ModelSummarizer, Summarizer
from services.agent_worker.tac import TAC
from services.agent_worker.turn_lease import TurnLease
from services.agent_worker.turn_log import TurnLog
from services.agent_worker.turns import Delivery, TurnProcessor
from services.agent_worker.voice_cancels import VoiceCancels

SERVICE_NAME = "agent-worker"


@dataclass(frozen=True)
class AgentSetup:
    agent: Agent
    summarizer: Summarizer
    """Writes the human's note at handoff time: the model's when one is configured."""


def default_setup(settings: AgentWorkerSettings, agent: Agent | None = None) -> AgentSetup:
    """No ``OPENAI_API_KEY``: the embedded policy agent. With one: the model, guarded by it."""
    tac = TAC()
    if settings.openai_api_key is None:
        return AgentSetup(agent or PolicyAgent(tac, faq=settings.faq), ExtractiveSummarizer())
    client = create_openai_client(settings)
    summarizer = ModelSummarizer(
        client,
        settings.baton_llm_model,
        timeout_seconds=settings.baton_summary_timeout_seconds,
        voice_timeout_seconds=settings.baton_voice_summary_timeout_seconds,
    )
    model = GuardedAgent(LlmAgent.from_settings(settings, client=client, tac=tac), tac)
    return AgentSetup(agent or model, summarizer)


async def turn_processor(
    broker: NatsBroker, settings: AgentWorkerSettings, setup: AgentSetup
) -> TurnProcessor:
    """The processor, bound to the declared buckets of a connected broker."""
    warm_up()
    js = jetstream(broker)
    store = ConversationStore(await bucket(js, CONVERSATIONS_BUCKET))
    lease = TurnLease(
        store, settings.baton_instance_id, lease_seconds=settings.baton_turn_lease_seconds
    )
    cancels = VoiceCancels()
    await cancels.start(broker.connection)
    runner = AgentRunner(
        agent=setup.agent,
        broker=broker,
        store=store,
        summarizer=setup.summarizer,
        tracer=service_tracer(SERVICE_NAME),
        voice_cancels=cancels,
        voice_flush_seconds=settings.baton_voice_flush_ms / 1000,
    )
    return TurnProcessor(
        log_reader=TurnLog(js),
        lease=lease,
        runner=runner,
        wait_seconds=settings.baton_turn_wait_seconds,
    )


def create_app(settings: AgentWorkerSettings | None = None, agent: Agent | None = None) -> FastAPI:
    settings = settings or load_settings(AgentWorkerSettings)
    setup = default_setup(settings, agent)
    broker = create_broker(settings, SERVICE_NAME)
    readiness = Readiness(broker)
    policy = RedeliveryPolicy(
        consumer=AGENT_WORKER_DURABLE,
        max_deliver=5,
        ack_wait_seconds=max(1.0, settings.baton_turn_lease_seconds),
    )
    lag = ConsumerLag(broker, [DurableConsumer(TURNS_STREAM, AGENT_WORKER_DURABLE)])
    started: Started[TurnProcessor] = Started("the turn processor")

    @broker.subscriber(
        TURNS.wildcard,
        stream=JStream(TURNS_STREAM, declare=False),
        durable=AGENT_WORKER_DURABLE,
        pull_sub=PullSub(batch_size=settings.baton_turn_concurrency, timeout=1.0),
        max_workers=settings.baton_turn_concurrency,
        config=policy.consumer_config(max_ack_pending=10_000),
        ack_policy=AckPolicy.MANUAL,
    )
    async def on_turn(turn: CustomerTurn) -> None:
        message = delivered_message(broker)
        async with settled(message, policy, broker):
            await started.get().handle(turn, Delivery.of(message))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await connect_broker(broker, settings)
        started.set(await turn_processor(broker, settings, setup))
        async with broker_running(broker, readiness, lag=lag):
            yield

    app = public_app("Baton agent worker", settings, lifespan)
    attach_admin(app, admin_app("Baton agent worker", readiness))
    instrument_app(app, SERVICE_NAME, log_sensitive=settings.baton_log_sensitive)
    app.include_router(health_router(readiness))
    return app
