"""The dispatcher's durable consumer, as the server holds it once the service has started.

A crashed dispatcher's handoff is redelivered when its ack wait runs out; the handler
heartbeats while it works, so the ack wait is three heartbeats, not a fixed 30 s.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from libs.contracts.subjects import HANDOFF_DISPATCHER_DURABLE, HANDOFF_STREAM
from services.handoff_dispatcher.main import create_app
from services.handoff_dispatcher.settings import HandoffDispatcherSettings
from tests.support.servers import serve
from tests.support.twilio_fakes import twilio_env


async def test_the_ack_wait_is_three_heartbeats(nats_url: str, js: JetStreamContext) -> None:
    settings = HandoffDispatcherSettings(
        **twilio_env(nats_url), baton_dispatcher_heartbeat_seconds=0.4
    )
    async with serve(create_app(settings)):
        info = await js.consumer_info(HANDOFF_STREAM, HANDOFF_DISPATCHER_DURABLE)
    assert (info.config.ack_wait, info.config.max_deliver) == (1.2, 5)
