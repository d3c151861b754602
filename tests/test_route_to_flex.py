"""The whole route, started from the emulator: a texter and a caller reach a Flex task through
all four services, the human agent answers them, and the bot says nothing after the handoff."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from baton_devtools.console import place_call
from libs.platform.metrics import REGISTRY
from services.messaging_gateway.inbound_turns import sms_conversation_id
from tests.support.digital_stack import ATTRIBUTES
from tests.support.quiescence import quiescent
from tests.support.route_stack import RouteStack, start_route_stack
from tests.support.twilio_fakes import ACCOUNT_SID, OUR_NUMBER
from tests.support.waits import at_least

CHROMIUM = os.environ.get("BATON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AGENT_REPLY = "Hi, this is Sam from support. I can help with that."


@pytest.fixture
async def route(nats_url: str, js: JetStreamContext) -> AsyncIterator[RouteStack]:
    async with AsyncExitStack() as stack:
        yield await start_route_stack(stack, nats_url)


def lines(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["role"], line["body"]) for line in task["transcript"]]


async def handoff_data_posted(route: RouteStack) -> dict[str, Any]:
    (post,) = await route.admin("GET", "/requests", params={"path_prefix": "/v2/Flows"})
    data: dict[str, Any] = json.loads(post["form"]["Parameters"])["HandoffData"]
    return data


def assert_routing(task: dict[str, Any], data: dict[str, Any], channel: str) -> None:
    """The task carries the handoff: reason, static routing attributes and the summary."""
    attributes = task["attributes"]
    assert task["reason"] == data["attributes"]["reason"] and task["reason"]
    assert task["summary"] == data["attributes"]["summary"] and task["summary"]
    for key, value in ATTRIBUTES.items():
        assert attributes[key] == value
    assert attributes["conversationId"] == data["conversationId"]
    assert (task["channel"], attributes["channel"]) == (channel, channel)


async def texted_into_flex(route: RouteStack, number: str) -> dict[str, Any]:
    """A customer asks a question, then for a human; returns their pending task."""
    await route.admin("POST", "/sms", json={"from": number, "body": "what are your opening hours?"})
    await route.eventually(lambda: route.outbox(number), lambda found: len(found) == 1)
    await route.admin("POST", "/sms", json={"from": number, "body": "I want to talk to a human"})
    await route.eventually(lambda: route.outbox(number), lambda found: len(found) == 2)
    task = await route.task_for(number)
    assert task is not None, "no Flex task for the texter"
    return task


async def test_sms_reaches_flex_and_the_agent_answers(
    route: RouteStack, js: JetStreamContext
) -> None:
    number = "+15005550201"
    task = await texted_into_flex(route, number)
    data = await handoff_data_posted(route)
    assert_routing(task, data, "sms")
    assert data["conversationId"] == sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number)
    assert task["customer"] == number and task["status"] == "pending"
    said = lines(task)
    assert said[0] == ("customer", "what are your opening hours?")
    assert ("customer", "I want to talk to a human") in said
    assert [role for role, _ in said].count("bot") == 2

    await route.admin("POST", "/sms", json={"from": number, "body": "hello? anyone there?"})
    await quiescent(js, sms_conversation_id(ACCOUNT_SID, OUR_NUMBER, number))
    assert len(await route.outbox(number)) == 2, "the bot spoke after the handoff"
    task = await route.task_for(number) or {}
    assert lines(task)[-1] == ("customer", "hello? anyone there?")

    await route.admin("POST", f"/desktop/tasks/{task['sid']}/accept")
    await route.admin("POST", f"/desktop/tasks/{task['sid']}/reply", json={"body": AGENT_REPLY})
    *_, answer = await at_least(lambda: route.outbox(number), 3)
    assert (answer["body"], answer["author"], answer["to"]) == (AGENT_REPLY, "flex-agent", number)
    assert len(await route.outbox(number)) == 3
    assert len(await route.admin("GET", "/executions")) == 1


async def test_call_reaches_flex_and_the_agent_answers(route: RouteStack) -> None:
    caller = "+15005550202"
    placed = await route.admin(
        "POST",
        "/calls",
        json={"from": caller, "prompts": ["what are your opening hours?", "I want a human"]},
    )
    sid = placed["call_sid"]
    call = await route.eventually(
        lambda: route.admin("GET", f"/calls/{sid}"), lambda found: found["state"] == "in-queue"
    )
    assert call["state"] == "in-queue", call
    task = await route.task_for(caller)
    assert task is not None, "no Flex task for the caller"
    data = json.loads(call["handoff_data"])
    assert_routing(task, data, "voice")
    assert data["conversationId"] == sid and task["callSid"] == sid
    assert f"/voice/relay/{sid}/" in call["twiml"][0], "the socket URL is the call's own"
    flows = await route.admin("GET", "/requests", params={"path_prefix": "/v1/Accounts"})
    assert [r["query"] for r in flows] == [{"Trigger": "incomingCall"}]
    said = lines(task)
    assert ("customer", "I want a human") in said
    assert [role for role, _ in said].count("bot") == 3

    assert call["protocol_errors"] == [], "end must follow the goodbye's last:true frame"
    await route.admin("POST", f"/calls/{sid}/say", json={"text": "hello? are you there?"})
    task = await route.eventually(
        lambda: route.task_for(caller),
        lambda found: bool(found) and lines(found)[-1][1] == "hello? are you there?",
    )
    assert lines(task)[-1] == ("customer", "hello? are you there?")
    await route.admin("POST", f"/desktop/tasks/{task['sid']}/accept")
    await route.admin("POST", f"/desktop/tasks/{task['sid']}/reply", json={"body": AGENT_REPLY})
    heard = await route.admin("GET", f"/calls/{sid}")
    assert heard["state"] == "with-agent"
    assert heard["transcript"][-1]["role"] == "agent"
    assert heard["transcript"][-1]["text"] == AGENT_REPLY
    await route.admin("POST", f"/desktop/tasks/{task['sid']}/complete")
    ended = await route.eventually(
        lambda: route.admin("GET", f"/calls/{sid}"), lambda found: found["state"] == "completed"
    )
    assert ended["state"] == "completed"


async def test_baton_call_prints_the_bot_until_the_handoff(route: RouteStack) -> None:
    out = io.StringIO()
    state = await asyncio.to_thread(
        place_call,
        ["what are your opening hours?", "I want to talk to a human"],
        emulator=route.emulator,
        caller="+15005550204",
        out=out,
        poll_seconds=0.05,
    )
    printed = out.getvalue().splitlines()
    assert state == "in-queue", printed
    assert printed[1] == "bot> Hello! How can I assist you today?"
    assert sum(line.startswith("bot> ") for line in printed) == 3
    assert "(on hold for an agent)" in printed
    assert printed[-2].startswith("(handed off: waiting for a human agent, task WT")
    assert printed[-1] == f"(answer it at {route.emulator}/desktop)"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed")
async def test_agent_desktop_in_a_browser(route: RouteStack, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    number = "+15005550203"
    task = await texted_into_flex(route, number)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            await page.goto(f"{route.emulator}/desktop")
            card = page.locator(f'button.task[data-sid="{task["sid"]}"]')
            await card.wait_for(timeout=5000)
            await card.click()
            assert await page.locator("#reason").inner_text() == task["reason"]
            assert await page.locator("#summary").inner_text() == task["summary"]
            assert await page.locator("#customer").inner_text() == number
            transcript = page.locator("#transcript")
            await transcript.get_by_text("what are your opening hours?").wait_for()
            assert await page.locator("#send").is_disabled()

            await page.locator("#accept").click()
            await page.locator("#send:enabled").wait_for(timeout=5000)
            await page.locator("#reply-body").fill(AGENT_REPLY)
            await page.locator("#send").click()
            await transcript.locator(".line.agent").get_by_text(AGENT_REPLY).wait_for()
            await page.screenshot(path=str(tmp_path / "agent-desktop.png"))
            keep = os.environ.get("BATON_SCREENSHOT_DIR")
            if keep:
                await page.screenshot(path=str(Path(keep) / "agent-desktop.png"))
        finally:
            await browser.close()
    *_, answer = await route.outbox(number)
    assert (answer["body"], answer["to"]) == (AGENT_REPLY, number)


async def test_handed_back_conversation_gets_the_bot_again(route: RouteStack) -> None:
    number = "+15005550209"
    task = await texted_into_flex(route, number)
    await route.admin("POST", f"/desktop/tasks/{task['sid']}/accept")
    handed = await route.admin("POST", f"/desktop/tasks/{task['sid']}/handback")
    assert handed["handback"]["status_code"] == 200, handed
    await route.admin("POST", "/sms", json={"from": number, "body": "how do returns work?"})
    replies = await route.eventually(lambda: route.outbox(number), lambda found: len(found) == 3)
    assert "30 days" in replies[-1]["body"], "the bot stayed silent after the hand-back"


async def test_turn_to_task_latency_is_measured_from_taskrouter_events(route: RouteStack) -> None:
    def measured() -> float:
        count = REGISTRY.get_sample_value(
            "baton_handoff_turn_to_task_seconds_count", {"channel": "sms"}
        )
        return count or 0.0

    before = measured()
    await texted_into_flex(route, "+15005550210")
    for _ in range(100):
        if measured() > before:
            break
        await asyncio.sleep(0.05)
    assert measured() == before + 1
