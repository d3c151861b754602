"""One turn's handoff: the summary it carries, one claim per episode, no stranded claim."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace

from libs.contracts.conversation import ConversationStatus
from libs.contracts.messages import HandoffRequested
from libs.contracts.subjects import CONVERSATIONS_BUCKET, HANDOFF_STREAM
from libs.platform.conversation_store import ConversationStore
from services.agent_worker.agent import HandoffStatus, TurnContext
from services.agent_worker.handoff import TurnHandoff
from services.agent_worker.summary import ExtractiveSummarizer, Summarizer
from tests.agent.fakes import turn


class Broker:
    """Records what would be stored in JetStream, or fails like an unreachable NATS."""

    middlewares = ()

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[dict[str, Any]] = []
        self.connection = SimpleNamespace(is_connected=True, jetstream=lambda: self)

    async def publish(self, subject: str, payload: bytes, **options: Any) -> PubAck:
        if self.error is not None:
            raise self.error
        self.published.append(json.loads(payload))
        return PubAck(stream=HANDOFF_STREAM, seq=len(self.published))


SUMMARY_LIMIT = 480
"""The documented limit of the human's summary (docs/agent.md)."""


class Scripted:
    """A summarizer that answers, or fails, as the test says, and counts its calls."""

    def __init__(self, text: str = "", error: Exception | None = None) -> None:
        self.text, self.error, self.calls = text, error, 0

    async def summarize(self, turn: TurnContext, reason: str) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.text


@pytest.fixture
async def store(js: JetStreamContext) -> ConversationStore:
    return ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))


def handoff(
    context: TurnContext,
    store: ConversationStore,
    broker: Broker,
    summarizer: Summarizer | None = None,
) -> TurnHandoff:
    return TurnHandoff(
        context,
        broker=cast(NatsBroker, broker),
        store=store,
        summarizer=summarizer or ExtractiveSummarizer(),
        tracer=trace.get_tracer("test"),
    )


async def test_a_given_summary_is_carried_and_kept_out_of_the_attributes(
    store: ConversationStore,
) -> None:
    broker = Broker()
    summarizer = Scripted("Wants a refund. " * 60)
    answer = await handoff(turn("refund please"), store, broker, summarizer).request(
        "refund", {"queue": "returns"}
    )
    assert answer.status is HandoffStatus.INITIATED
    [published] = broker.published
    request = HandoffRequested.model_validate(published)
    assert request.attributes == {"queue": "returns"}
    assert request.summary.startswith("Wants a refund.") and len(request.summary) <= SUMMARY_LIMIT


async def test_a_request_that_cannot_be_published_releases_the_conversation(
    store: ConversationStore,
) -> None:
    context = turn("I want a human")
    failing = handoff(context, store, Broker(TimeoutError("nats")))
    answer = await failing.request("customer asked for a human agent")
    assert answer.status is HandoffStatus.FAILED and "TimeoutError" in answer.detail
    assert not failing.initiated
    state = await store.get(context.conversation_id)
    assert state.status is ConversationStatus.ACTIVE and state.epoch == 0
    retry = handoff(context, store, Broker())
    assert (await retry.request("again")).status is HandoffStatus.INITIATED


async def test_the_summary_is_written_only_for_the_claiming_call(
    store: ConversationStore,
) -> None:
    summarizer = Scripted("Customer wants a person.")
    context = turn("a human please")
    first = await handoff(context, store, Broker(), summarizer).request("asked")
    second = await handoff(context, store, Broker(), summarizer).request("asked again")
    assert [first.status, second.status] == [
        HandoffStatus.INITIATED,
        HandoffStatus.ALREADY_REQUESTED,
    ]
    assert summarizer.calls == 1


async def test_a_failing_summarizer_falls_back_to_the_extractive_summary(
    store: ConversationStore,
) -> None:
    broker = Broker()
    summarizer = Scripted(error=TimeoutError("model too slow"))
    await handoff(turn("my card was charged twice"), store, broker, summarizer).request("billing")
    [published] = broker.published
    assert "charged twice" in HandoffRequested.model_validate(published).summary
