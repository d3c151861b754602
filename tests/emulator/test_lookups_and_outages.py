"""What a client needs to find out whether its POST took effect, as Twilio offers it.

Studio: newest-first pages with ``meta.next_page_url``, narrowed by ``DateCreatedFrom``.
Messaging: lists filtered by ``To``, ``From`` and ``DateSent`` (a queued message has no
``date_sent`` yet). Orchestrator: a conversation's communications, paged with ``pageToken``.
And an outage: a fault that holds for a time rather than a number of requests.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.emulator.harness import Emulator, call, orchestrator_conversation
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, FLOW_SID, OUR_NUMBER

EXECUTIONS = f"/v2/Flows/{FLOW_SID}/Executions"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_executions_newest_first_paged_and_narrowed_by_date(emulator: Emulator) -> None:
    flow = emulator.twilio().studio.v2.flows(FLOW_SID)
    old = await call(flow.executions.create, to="+15005550201", from_=OUR_NUMBER)
    emulator.app.state.emulator.executions[old.sid].date_created -= timedelta(hours=1)
    created = [
        (await call(flow.executions.create, to=f"+1500555030{n}", from_=OUR_NUMBER)).sid
        for n in range(5)
    ]
    since = datetime.now(UTC) - timedelta(minutes=5)
    seen: list[str] = []
    async with emulator.rest() as rest:
        page: dict[str, Any] = (
            await rest.get(EXECUTIONS, params={"DateCreatedFrom": stamp(since), "PageSize": 2})
        ).json()
        while True:
            seen += [execution["sid"] for execution in page["executions"]]
            following = page["meta"]["next_page_url"]
            if not following:
                break
            assert following.startswith(emulator.url) and "DateCreatedFrom" in following
            page = (await rest.get(following.removeprefix(emulator.url))).json()
    assert seen == list(reversed(created)), "not newest first, or the old one was not filtered"


async def test_messages_filter_by_to_from_and_date_sent(emulator: Emulator) -> None:
    async with emulator.rest() as rest:
        created = await rest.post(MESSAGES, data={"To": CUSTOMER, "From": OUR_NUMBER, "Body": "a"})
        assert created.json()["status"] == "queued" and created.json()["date_sent"] is None
        await rest.post(MESSAGES, data={"To": "+15005550299", "From": OUR_NUMBER, "Body": "b"})
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")

        async def bodies(params: dict[str, str]) -> list[str]:
            listed = (await rest.get(MESSAGES, params=params)).json()
            return [message["body"] for message in listed["messages"]]

        assert await bodies({"To": CUSTOMER, "From": OUR_NUMBER}) == ["a"]
        assert await bodies({"From": OUR_NUMBER}) == ["b", "a"], "newest first"
        assert await bodies({"To": CUSTOMER, "DateSent": today}) == ["a"]
        assert await bodies({"To": CUSTOMER, "DateSent>": today}) == ["a"]
        assert await bodies({"To": CUSTOMER, "DateSent>": tomorrow}) == []
        assert await bodies({"To": CUSTOMER, "DateSent<": today}) == ["a"]
        an_hour_ago = stamp(datetime.now(UTC) - timedelta(hours=1))
        assert await bodies({"To": CUSTOMER, "DateSent>": an_hour_ago}) == ["a"]
        fetched = (await rest.get(created.json()["uri"])).json()
        assert fetched["status"] == "sent" and fetched["date_sent"] is not None
        bad = await rest.get(MESSAGES, params={"DateSent": "yesterday"})
        assert bad.status_code == 400


async def test_orchestrator_communications_are_listed_in_pages(emulator: Emulator) -> None:
    conversation = await orchestrator_conversation(emulator, CUSTOMER, "SMS")
    path = f"/v2/Conversations/{conversation}/Actions"
    async with emulator.rest() as rest:
        for n in range(3):
            action = {
                "type": "SEND_MESSAGE",
                "payload": {
                    "from": {"address": OUR_NUMBER, "channel": "SMS"},
                    "to": [{"address": CUSTOMER, "channel": "SMS"}],
                    "content": {"text": f"reply {n}"},
                },
            }
            assert (await rest.post(path, json=action)).status_code == 202
        listing = f"/v2/Conversations/{conversation}/Communications"
        first = (await rest.get(listing, params={"pageSize": 2})).json()
        token = first["meta"]["nextToken"]
        second = (await rest.get(listing, params={"pageSize": 2, "pageToken": token})).json()
    texts = [c["content"]["text"] for c in first["communications"] + second["communications"]]
    assert texts == ["hi", "reply 0", "reply 1", "reply 2"]
    assert second["meta"]["nextToken"] is None
    ours = first["communications"][1:] + second["communications"]
    assert all(c["author"]["address"] == OUR_NUMBER and c["id"] for c in ours)


async def test_an_outage_holds_for_its_time_not_a_count(emulator: Emulator) -> None:
    fault = await emulator.post(
        "/_emulator/faults", {"path_prefix": "/2010-04-01", "status": 503, "for_seconds": 0.6}
    )
    assert fault["for_seconds"] is not None
    form = {"To": CUSTOMER, "From": OUR_NUMBER, "Body": "hi"}
    async with emulator.rest() as rest:
        during = [(await rest.post(MESSAGES, data=form)).status_code for _ in range(5)]
        deadline = time.monotonic() + 5
        while (await rest.post(MESSAGES, data=form)).status_code != 201:
            assert time.monotonic() < deadline, "the outage never ended"
            await asyncio.sleep(0.05)
    assert during == [503] * 5
    assert await emulator.get("/_emulator/faults") == []
