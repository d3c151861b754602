"""Conversation Orchestrator JSON API: status changes and SEND_MESSAGE actions."""

from __future__ import annotations

import asyncio

from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Emulator
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, OUR_NUMBER


def send_message(text: str) -> dict[str, object]:
    return {
        "type": "SEND_MESSAGE",
        "payload": {
            "from": {"address": OUR_NUMBER, "channel": "SMS"},
            "to": [{"address": CUSTOMER, "channel": "SMS"}],
            "content": {"text": text},
        },
    }


async def test_send_message_is_accepted_and_delivered(emulator: Emulator) -> None:
    async with emulator.rest() as rest:
        response = await rest.post(
            "/v2/Conversations/conv_alpha/Actions", json=send_message("On it!")
        )
    assert response.status_code == 202
    action = response.json()
    assert action["type"] == "SEND_MESSAGE" and action["status"] == "COMPLETED"
    assert action["conversationId"] == "conv_alpha" and action["id"]
    (entry,) = await emulator.get("/_emulator/outbox")
    assert entry["channel"] == "orchestrator" and entry["conversation"] == "conv_alpha"
    assert (entry["to"], entry["from"], entry["body"]) == (CUSTOMER, OUR_NUMBER, "On it!")
    (record,) = await emulator.get("/_emulator/requests", path_prefix="/v2/Conversations")
    assert record["json"] == send_message("On it!") and record["auth"]["kind"] == "account"


async def test_status_changes_and_closed_is_terminal(emulator: Emulator) -> None:
    async with emulator.rest() as rest:
        fetched = (await rest.get("/v2/Conversations/conv_beta")).json()
        assert fetched["status"] == "ACTIVE" and fetched["accountId"] == ACCOUNT_SID
        inactive = await rest.put("/v2/Conversations/conv_beta", json={"status": "INACTIVE"})
        assert inactive.status_code == 200 and inactive.json()["status"] == "INACTIVE"
        patched = await rest.patch(
            "/v2/Conversations/conv_beta", json={"configuration": {"statusCallbacks": []}}
        )
        assert patched.json()["configuration"] == {"statusCallbacks": []}
        assert (await rest.get("/v2/Conversations/conv_beta")).json()["status"] == "INACTIVE"
        invalid = await rest.put("/v2/Conversations/conv_beta", json={"status": "PAUSED"})
        assert invalid.status_code == 400 and invalid.json()["code"] == 20001
        closed = await rest.put("/v2/Conversations/conv_beta", json={"status": "CLOSED"})
        assert closed.json()["status"] == "CLOSED"
        reopened = await rest.put("/v2/Conversations/conv_beta", json={"status": "ACTIVE"})
        assert reopened.status_code == 409 and reopened.json()["code"] == 20409
        silenced = await rest.post(
            "/v2/Conversations/conv_beta/Actions", json=send_message("hello?")
        )
        assert silenced.status_code == 409
    assert await emulator.get("/_emulator/outbox") == []


async def test_bad_actions(emulator: Emulator) -> None:
    async with emulator.rest() as rest:
        unknown = await rest.post("/v2/Conversations/c/Actions", json={"type": "DANCE"})
        empty = await rest.post(
            "/v2/Conversations/c/Actions", json={"type": "SEND_MESSAGE", "payload": {}}
        )
        not_json = await rest.post("/v2/Conversations/c/Actions", content=b"nope")
    assert [unknown.status_code, empty.status_code, not_json.status_code] == [400, 400, 400]


async def test_status_timeouts_make_a_quiet_conversation_inactive_then_closed(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(
        emulator_orchestrator_inactive_seconds=0.3, emulator_orchestrator_closed_seconds=0.3
    )
    async with emulator.rest() as rest:
        response = await rest.put("/v2/Conversations/conv_timers", json={"status": "ACTIVE"})
        assert response.json()["status"] == "ACTIVE"

        async def status() -> str:
            fetched = await rest.get("/v2/Conversations/conv_timers")
            return str(fetched.json()["status"])

        assert await status() == "ACTIVE"
        await asyncio.sleep(0.35)
        assert await status() == "INACTIVE"
        await asyncio.sleep(0.35)
        assert await status() == "CLOSED"
