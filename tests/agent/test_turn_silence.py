"""The worker alone keeps the bot silent once a handoff has started (invariant 4).

The messaging gateway mutes replies too; these tests look only at the worker: the agent is
never asked and no reply is written. Each waits until the worker has recorded the turn, so
the silence is checked after the event that could have broken it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from nats.js import JetStreamContext

from libs.contracts.conversation import claim_handoff, settle_delivery
from libs.contracts.messages import CustomerTurn
from libs.contracts.subjects import CONVERSATIONS_BUCKET, REPLIES_STREAM, TURNS, TURNS_STREAM
from libs.platform.conversation_store import ConversationStore
from services.agent_worker.agent import TurnContext, TurnTools
from services.agent_worker.main import create_app
from services.agent_worker.settings import AgentWorkerSettings
from tests.agent.fakes import SMS_ROUTE
from tests.support.servers import serve
from tests.support.waits import eventually


@dataclass
class RecordingAgent:
    asked: list[str] = field(default_factory=list)

    async def respond(self, turn: TurnContext, tools: TurnTools) -> AsyncIterator[str]:
        self.asked.append(turn.text)
        yield "Happy to help."


@pytest.fixture
async def store(js: JetStreamContext) -> ConversationStore:
    return ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))


@pytest.fixture
async def agent(nats_url: str, js: JetStreamContext) -> AsyncIterator[RecordingAgent]:
    recording = RecordingAgent()
    async with serve(create_app(AgentWorkerSettings(nats_url=nats_url), agent=recording)):
        yield recording


async def say(js: JetStreamContext, conversation: str, text: str, number: int) -> int:
    turn = CustomerTurn(
        conversation_id=conversation,
        message_id=f"{conversation}-{number}",
        route=SMS_ROUTE,
        text=text,
    )
    ack = await js.publish(
        TURNS.subject(conversation), turn.model_dump_json().encode(), stream=TURNS_STREAM
    )
    return ack.seq


async def recorded_through(store: ConversationStore, conversation: str, sequence: int) -> None:
    """Wait until the worker has consumed the turn stored at ``sequence``."""
    await eventually(
        lambda: store.get(conversation), lambda state: state.last_turn_seq >= sequence
    )


@pytest.mark.parametrize("delivered", [False, True], ids=["handoff_pending", "handed_off"])
async def test_no_answer_is_written_once_a_handoff_has_started(
    agent: RecordingAgent, js: JetStreamContext, store: ConversationStore, delivered: bool
) -> None:
    conversation = f"sms-silence-{delivered}"
    first = await say(js, conversation, "where is my parcel?", 1)
    await recorded_through(store, conversation, first)
    assert agent.asked == ["where is my parcel?"], "the bot answers while it holds the thread"

    await store.apply(conversation, claim_handoff(0, "asked for a human", None))
    if delivered:
        await store.apply(conversation, settle_delivery(0, delivered=True))
    replies_before = (await js.stream_info(REPLIES_STREAM)).state.messages
    later = await say(js, conversation, "hello? anyone?", 2)
    await recorded_through(store, conversation, later)

    assert agent.asked == ["where is my parcel?"]
    assert (await js.stream_info(REPLIES_STREAM)).state.messages == replies_before
    state = await store.get(conversation)
    assert [line.text for line in state.history] == [
        "where is my parcel?",
        "Happy to help.",
        "hello? anyone?",
    ], "the later turn is kept for the human, with no reply"
