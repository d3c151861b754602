"""Invariant 3: a dispatcher killed between the Studio POST and its ack posts nothing twice,
and another replica takes the handoff over within seconds (the ack wait is three of the
dispatcher's heartbeats, not a fixed 30 s)."""

from __future__ import annotations

import asyncio
import signal
import time
from contextlib import AsyncExitStack

import pytest
from nats.js import JetStreamContext

from libs.contracts.messages import HandoffOutcome, HandoffResult
from libs.contracts.subjects import HANDOFF_RESULT
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.digital_stack import start_digital_stack
from tests.support.processes import service_env, start_service
from tests.support.streams import HANDOFF_STREAM, wait_for_messages
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER

CUSTOMER = "+15005559001"
TAKEOVER_BUDGET_SECONDS = 6.0


@pytest.mark.slow
async def test_sigkill_after_studio_post_still_one_execution(
    nats_url: str, js: JetStreamContext
) -> None:
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(stack, nats_url, dispatcher=False)
        env = service_env(nats_url, TWILIO_API_BASE_URL=digital.emulator)
        await digital.answer_late("/v2/Flows", 6)
        first = await start_service("handoff-dispatcher", env)
        try:
            await digital.text_in("please get me a human", CUSTOMER)
            for _ in range(200):
                if await digital.executions():
                    break
                await asyncio.sleep(0.05)
            assert len(await digital.executions()) == 1, "Studio never saw the POST"
            second = await start_service("handoff-dispatcher", env)
            first.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            first.process.wait(timeout=10)
        finally:
            first.stop()
        try:
            conversation = sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, CUSTOMER)
            [result] = await wait_for_messages(
                js,
                HANDOFF_STREAM,
                HANDOFF_RESULT.subject(conversation),
                HandoffResult,
                timeout=40,
            )
            taken_over_in = time.monotonic() - killed_at
        finally:
            second.stop()
        assert result.outcome is HandoffOutcome.DELIVERED
        executions = await digital.executions()
        assert len(executions) == 1
        assert result.execution_sid == executions[0]["sid"]
        posts = await digital.admin(
            "GET", "/requests", params={"path_prefix": "/v2/Flows", "method": "POST"}
        )
        assert len(posts) == 1, "the restarted dispatcher posted again"
        assert taken_over_in < TAKEOVER_BUDGET_SECONDS, f"taken over after {taken_over_in:.1f}s"
