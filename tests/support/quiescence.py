"""Waiting until Baton has processed everything a test gave it, before asserting a "never".

"The bot did not answer" only means something once the turn that could have made it answer
has been consumed, and any reply it wrote has been through the gateway. So: wait until the
worker has recorded the conversation's latest stored turn, then until each service's consumer
has nothing left to deliver or to be acked.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.contracts.subjects import (
    AGENT_WORKER_DURABLE,
    CONVERSATIONS_BUCKET,
    HANDOFF_DISPATCHER_DURABLE,
    HANDOFF_STREAM,
    MESSAGING_REPLIES_DURABLE,
    REPLIES_STREAM,
    TURNS,
    TURNS_STREAM,
)
from libs.platform.conversation_store import ConversationStore
from tests.support.waits import eventually

CONSUMERS = (
    (TURNS_STREAM, AGENT_WORKER_DURABLE),
    (REPLIES_STREAM, MESSAGING_REPLIES_DURABLE),
    (HANDOFF_STREAM, HANDOFF_DISPATCHER_DURABLE),
)


async def turns_recorded(js: JetStreamContext, conversation_id: str, timeout: float = 15.0) -> int:
    """Wait until the worker has consumed the newest turn stored for the conversation."""
    latest = (await js.get_last_msg(TURNS_STREAM, TURNS.subject(conversation_id))).seq
    store = ConversationStore(await js.key_value(CONVERSATIONS_BUCKET))
    await eventually(
        lambda: store.get(conversation_id),
        lambda state: state.last_turn_seq >= latest,
        timeout=timeout,
    )
    return latest


async def consumers_caught_up(js: JetStreamContext, timeout: float = 15.0) -> None:
    """Wait until every running service consumer has delivered and settled all it was given."""
    for stream, durable in CONSUMERS:
        try:
            await js.consumer_info(stream, durable)
        except NotFoundError:
            continue  # that service is not part of this test
        await eventually(
            lambda: js.consumer_info(stream, durable),  # noqa: B023 - awaited in this iteration
            lambda info: info.num_pending == 0 and info.num_ack_pending == 0,
            timeout=timeout,
        )


async def quiescent(js: JetStreamContext, conversation_id: str, timeout: float = 15.0) -> None:
    """The conversation's latest turn is processed and nothing it led to is still in flight."""
    await turns_recorded(js, conversation_id, timeout)
    await consumers_caught_up(js, timeout)
