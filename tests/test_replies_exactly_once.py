"""Every reply reaches the customer once: through timeouts, crashes and Twilio outages.

A reply whose send may have happened (a read timeout, a gateway killed before its ack) is
looked up before it is sent again; replies are retried by age, honouring ``Retry-After``,
and dead-lettered with the reason only once they are too old.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from baton_devtools.nats_server import free_port
from emulator.app import create_app as create_emulator
from libs.contracts.subjects import (
    DEAD_LETTER_STREAM,
    MESSAGING_REPLIES_DURABLE,
    REPLIES_STREAM,
)
from services.agent_worker.main import create_app as create_worker
from services.agent_worker.settings import AgentWorkerSettings
from tests.support.digital_stack import DigitalStack, emulator_settings, start_digital_stack
from tests.support.expected import FAQ_ANSWERS
from tests.support.processes import service_env, start_service
from tests.support.servers import serve
from tests.support.twilio_fakes import ACCOUNT_SID

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
QUESTION = "what are your opening hours?"


async def eventually(condition: Callable[[], Awaitable[bool]], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return await condition()


@pytest.fixture
async def fast_retries(nats_url: str, js: JetStreamContext) -> AsyncIterator[DigitalStack]:
    async with AsyncExitStack() as stack:
        yield await start_digital_stack(
            stack,
            nats_url,
            dispatcher=False,
            gateway_overrides={
                "baton_reply_first_retry_seconds": 0.2,
                "baton_reply_max_retry_seconds": 0.5,
            },
        )


async def sms_requests(digital: DigitalStack, method: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await digital.admin(
        "GET", "/requests", params={"path_prefix": MESSAGES, "method": method}
    )
    return found


async def test_a_reply_answered_after_the_timeout_is_not_sent_again(
    nats_url: str, js: JetStreamContext
) -> None:
    """Messages acts on the POST but answers after the client's timeout (10 s)."""
    number = "+15005551301"
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(stack, nats_url, dispatcher=False)
        await digital.answer_late(MESSAGES, 11)
        await digital.text_in(QUESTION, number)

        async def tried_again() -> bool:
            return (
                bool(await sms_requests(digital, "GET"))
                or len(await sms_requests(digital, "POST")) >= 2
            )

        assert await eventually(tried_again, within=30), "the reply was never tried again"
        settled = await eventually(lambda: consumer_settled(js), within=10)
        assert settled, "the reply was never settled"
        outbox = await digital.outbox(number)
    assert [m["body"] for m in outbox] == [FAQ_ANSWERS["hours"]], "the reply went out twice"


async def consumer_settled(js: JetStreamContext) -> bool:
    info = await js.consumer_info(REPLIES_STREAM, MESSAGING_REPLIES_DURABLE)
    return info.num_pending == 0 and info.num_ack_pending == 0


@pytest.mark.slow
async def test_a_gateway_killed_between_send_and_ack_sends_once(
    nats_url: str, js: JetStreamContext
) -> None:
    number = "+15005551302"
    gateway_port, emulator_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = service_env(nats_url, TWILIO_API_BASE_URL=emulator_url, PUBLIC_BASE_URL=gateway_url)
    async with AsyncExitStack() as stack:
        emulator = create_emulator(emulator_settings(emulator_url, gateway_url))
        await stack.enter_async_context(serve(emulator, emulator_port))
        worker = create_worker(AgentWorkerSettings(nats_url=nats_url))
        await stack.enter_async_context(serve(worker))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        digital = DigitalStack(emulator_url, gateway_url, http)
        await digital.answer_late(MESSAGES, 5)
        first = await start_service("messaging-gateway", env, port=gateway_port)
        try:
            await digital.text_in(QUESTION, number)
            assert await eventually(lambda: sent_once(digital, number), within=15)
            first.signal(signal.SIGKILL)
            first.process.wait(timeout=10)
        finally:
            first.stop()
        second = await start_service("messaging-gateway", env, port=gateway_port)
        try:
            assert await eventually(lambda: consumer_settled(js), within=45)
        finally:
            second.stop()
        outbox = await digital.outbox(number)
    assert [m["body"] for m in outbox] == [FAQ_ANSWERS["hours"]], "the reply went out twice"


async def sent_once(digital: DigitalStack, number: str) -> bool:
    return len(await digital.outbox(number)) == 1


async def test_replies_outlast_more_failures_than_a_count_allowed(
    fast_retries: DigitalStack, js: JetStreamContext
) -> None:
    """Messages fails eight times in a row: the reply still goes out, nothing dead-lettered."""
    number = "+15005551303"
    await fast_retries.admin(
        "POST", "/faults", json={"path_prefix": MESSAGES, "status": 503, "count": 8}
    )
    await fast_retries.text_in(QUESTION, number)
    [reply] = await fast_retries.wait_outbox(number, 1, timeout=30)
    assert reply["body"] == FAQ_ANSWERS["hours"]
    assert len(await sms_requests(fast_retries, "POST")) == 9
    assert (await js.stream_info(DEAD_LETTER_STREAM)).state.messages == 0


async def test_retry_after_is_honoured(fast_retries: DigitalStack) -> None:
    number = "+15005551304"
    await fast_retries.admin(
        "POST", "/faults", json={"path_prefix": MESSAGES, "status": 429, "retry_after": 2}
    )
    await fast_retries.text_in(QUESTION, number)
    await fast_retries.wait_outbox(number, 1, timeout=15)
    posts = await sms_requests(fast_retries, "POST")
    first, second = (datetime.fromisoformat(post["at"]) for post in posts)
    assert (second - first).total_seconds() >= 1.9, "the reply was retried before Retry-After"


async def test_a_reply_too_old_is_dead_lettered_with_the_reason(
    nats_url: str, js: JetStreamContext
) -> None:
    number = "+15005551305"
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(
            stack,
            nats_url,
            dispatcher=False,
            gateway_overrides={
                "baton_reply_max_age_seconds": 2,
                "baton_reply_first_retry_seconds": 0.2,
                "baton_reply_max_retry_seconds": 0.5,
            },
        )
        await digital.admin(
            "POST",
            "/faults",
            json={"path_prefix": MESSAGES, "status": 503, "for_seconds": 60},
        )
        await digital.text_in(QUESTION, number)

        async def dead_lettered() -> bool:
            return bool((await js.stream_info(DEAD_LETTER_STREAM)).state.messages)

        assert await eventually(dead_lettered, within=15)
        letter = await js.get_msg(DEAD_LETTER_STREAM, seq=1)
    assert letter.subject == f"baton.dlq.{MESSAGING_REPLIES_DURABLE}"
    assert letter.headers and letter.headers["Baton-Error"].startswith("gave up after")
    assert "503" in letter.headers["Baton-Error"]
    assert letter.headers["Baton-Original-Subject"].startswith("baton.replies.")


@pytest.mark.parametrize(
    ("channel", "path_prefix"),
    [("conversations", "/v1/Conversations"), ("orchestrator", "/v2/Conversations")],
)
async def test_conversation_replies_are_looked_up_by_their_own_marks(
    nats_url: str, js: JetStreamContext, channel: str, path_prefix: str
) -> None:
    """Conversations (classic): the message's ``batonReplyId`` attribute; Orchestrator: the
    communication our address authored with the reply's text."""
    number = "+15005551306" if channel == "conversations" else "+15005551307"
    async with AsyncExitStack() as stack:
        digital = await start_digital_stack(
            stack,
            nats_url,
            dispatcher=False,
            gateway_overrides={"baton_reply_timeout_seconds": 1},
        )
        await digital.answer_late(path_prefix, 2)
        if channel == "conversations":
            message = {"author": number, "body": QUESTION}
            await digital.admin("POST", "/conversations/message", json=message)
        else:
            await digital.admin(
                "POST",
                "/orchestrator/communication",
                json={"author": number, "channel": "SMS", "text": QUESTION},
            )

        async def looked_up() -> bool:
            found = await digital.admin(
                "GET", "/requests", params={"path_prefix": path_prefix, "method": "GET"}
            )
            return any(r["path"].endswith(("/Messages", "/Communications")) for r in found)

        assert await eventually(looked_up, within=20), "the reply was not looked up"
        assert await eventually(lambda: consumer_settled(js), within=10)
        outbox = await digital.outbox(number)
        posts = await digital.admin(
            "GET", "/requests", params={"path_prefix": path_prefix, "method": "POST"}
        )
    assert [m["body"] for m in outbox] == [FAQ_ANSWERS["hours"]], "the reply went out twice"
    assert len([p for p in posts if p["path"].endswith(("/Messages", "/Actions"))]) == 1
