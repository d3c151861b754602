"""The worker's handoff request: the summary it carries, and no stranded claim on failure."""

from __future__ import annotations

from typing import Any, cast

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import PubAck

from libs.contracts.conversation import ConversationStatus
from libs.contracts.messages import HandoffRequested
from libs.contracts.subjects import CONVERSATIONS_BUCKET, HANDOFF_STREAM
from libs.platform.conversation_store import ConversationStore
from services.agent_worker.handoff_request import HandoffRequester
from services.agent_worker.summary import SUMMARY_LIMIT
from tests.agent.fakes import turn


class Broker:
    """Records what would be published, or fails like an unreachable NATS."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[dict[str, Any]] = []

    async def publish(self, message: dict[str, Any], *args: Any, **kwargs: Any) -> PubAck:
        if self.error is not None:
            raise self.error
        self.published.append(message)
        return PubAck(stream=HANDOFF_STREAM, seq=len(self.published))


@pytest.fixture
async def store(js: JetStreamContext) -> ConversationStore:
    return ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))


async def test_a_given_summary_is_carried_and_kept_out_of_the_attributes(
    store: ConversationStore,
) -> None:
    broker = Broker()
    requester = HandoffRequester(cast(NatsBroker, broker), store)

    async def summarize() -> str:
        return "Wants a refund. " * 60

    result = await requester.request(
        turn("refund please"), "refund", {"queue": "returns"}, summarize
    )
    assert result["status"] == "handoff_initiated"
    [published] = broker.published
    request = HandoffRequested.model_validate(published)
    assert request.attributes == {"queue": "returns"}
    assert request.summary.startswith("Wants a refund.") and len(request.summary) <= SUMMARY_LIMIT


async def test_a_request_that_cannot_be_published_releases_the_conversation(
    store: ConversationStore,
) -> None:
    context = turn("I want a human")
    requester = HandoffRequester(cast(NatsBroker, Broker(TimeoutError("nats"))), store)
    with pytest.raises(TimeoutError):
        await requester.request(context, "customer asked for a human agent")
    state = await store.get(context.conversation_id)
    assert state.status is ConversationStatus.ACTIVE and state.epoch == 0
    retry = HandoffRequester(cast(NatsBroker, Broker()), store)
    assert (await retry.request(context, "again"))["status"] == "handoff_initiated"


async def test_the_summary_is_written_only_for_the_claiming_call(
    store: ConversationStore,
) -> None:
    written: list[str] = []

    async def summarize() -> str:
        written.append("summary")
        return "Customer wants a person."

    requester = HandoffRequester(cast(NatsBroker, Broker()), store)
    context = turn("a human please")
    first = await requester.request(context, "asked", None, summarize)
    second = await requester.request(context, "asked again", None, summarize)
    assert [first["status"], second["status"]] == ["handoff_initiated", "handoff_already_requested"]
    assert written == ["summary"]


async def test_a_failing_summarizer_falls_back_to_the_extractive_summary(
    store: ConversationStore,
) -> None:
    async def summarize() -> str:
        raise TimeoutError("model too slow")

    broker = Broker()
    requester = HandoffRequester(cast(NatsBroker, broker), store)
    await requester.request(turn("my card was charged twice"), "billing", None, summarize)
    [published] = broker.published
    assert "charged twice" in HandoffRequested.model_validate(published).summary
