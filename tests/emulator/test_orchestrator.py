"""Conversation Orchestrator JSON API: status changes and SEND_MESSAGE actions."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Emulator
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, OUR_NUMBER
from tests.support.waits import eventually

CONFIGURATION = "conv_configuration_01"


async def open_conversation(emulator: Emulator) -> str:
    return await emulator.open_conversation(CUSTOMER, OUR_NUMBER)


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> Emulator:
    return await start_emulator(twilio_conversation_configuration_id=CONFIGURATION)


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
    conv_alpha = await open_conversation(emulator)
    async with emulator.rest() as rest:
        response = await rest.post(
            f"/v2/Conversations/{conv_alpha}/Actions", json=send_message("On it!")
        )
    assert response.status_code == 202
    action = response.json()
    assert action["type"] == "SEND_MESSAGE" and action["status"] == "COMPLETED"
    assert action["conversationId"] == conv_alpha and action["id"]
    (entry,) = await emulator.get("/_emulator/outbox")
    assert entry["channel"] == "orchestrator" and entry["conversation"] == conv_alpha
    assert (entry["to"], entry["from"], entry["body"]) == (CUSTOMER, OUR_NUMBER, "On it!")
    (_, record) = await emulator.get("/_emulator/requests", path_prefix="/v2/Conversations")
    assert record["json"] == send_message("On it!") and record["auth"]["kind"] == "account"


async def test_unknown_conversations_and_strangers_are_refused(emulator: Emulator) -> None:
    """No conversation comes into being by being named; only participants send and receive."""
    conv = await open_conversation(emulator)
    stranger = {"address": "+15005550999", "channel": "SMS"}
    async with emulator.rest() as rest:
        unknown = await rest.get("/v2/Conversations/conv_nobody")
        participants = await rest.get("/v2/Conversations/CA" + "1" * 32 + "/Participants")
        wrong_from = await rest.post(
            f"/v2/Conversations/{conv}/Actions",
            json={
                **send_message("hi"),
                "payload": {**send_message("hi")["payload"], "from": stranger},
            },
        )
    assert [unknown.status_code, participants.status_code] == [404, 404]
    assert unknown.json()["code"] == 20404
    assert wrong_from.status_code == 400


async def test_status_changes_and_closed_is_terminal(emulator: Emulator) -> None:
    conv_beta = await open_conversation(emulator)
    async with emulator.rest() as rest:
        fetched = (await rest.get(f"/v2/Conversations/{conv_beta}")).json()
        assert fetched["status"] == "ACTIVE" and fetched["accountId"] == ACCOUNT_SID
        inactive = await rest.put(f"/v2/Conversations/{conv_beta}", json={"status": "INACTIVE"})
        assert inactive.status_code == 200 and inactive.json()["status"] == "INACTIVE"
        patched = await rest.patch(
            f"/v2/Conversations/{conv_beta}", json={"configuration": {"statusCallbacks": []}}
        )
        assert patched.json()["configuration"] == {"statusCallbacks": []}
        assert (await rest.get(f"/v2/Conversations/{conv_beta}")).json()["status"] == "INACTIVE"
        invalid = await rest.put(f"/v2/Conversations/{conv_beta}", json={"status": "PAUSED"})
        assert invalid.status_code == 400 and invalid.json()["code"] == 20001
        closed = await rest.put(f"/v2/Conversations/{conv_beta}", json={"status": "CLOSED"})
        assert closed.json()["status"] == "CLOSED"
        reopened = await rest.put(f"/v2/Conversations/{conv_beta}", json={"status": "ACTIVE"})
        assert reopened.status_code == 409 and reopened.json()["code"] == 20409
        silenced = await rest.post(
            f"/v2/Conversations/{conv_beta}/Actions", json=send_message("hello?")
        )
        assert silenced.status_code == 409
    assert await emulator.get("/_emulator/outbox") == []


async def test_bad_actions(emulator: Emulator) -> None:
    conv = await open_conversation(emulator)
    async with emulator.rest() as rest:
        unknown = await rest.post(f"/v2/Conversations/{conv}/Actions", json={"type": "DANCE"})
        empty = await rest.post(
            f"/v2/Conversations/{conv}/Actions", json={"type": "SEND_MESSAGE", "payload": {}}
        )
        not_json = await rest.post(f"/v2/Conversations/{conv}/Actions", content=b"nope")
    assert [unknown.status_code, empty.status_code, not_json.status_code] == [400, 400, 400]


async def test_status_timeouts_make_a_quiet_conversation_inactive_then_closed(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(
        emulator_orchestrator_inactive_seconds=0.3,
        emulator_orchestrator_closed_seconds=0.3,
        twilio_conversation_configuration_id=CONFIGURATION,
    )
    conv_timers = await open_conversation(emulator)
    async with emulator.rest() as rest:
        response = await rest.put(f"/v2/Conversations/{conv_timers}", json={"status": "ACTIVE"})
        assert response.json()["status"] == "ACTIVE"

        async def status() -> str:
            fetched = await rest.get(f"/v2/Conversations/{conv_timers}")
            return str(fetched.json()["status"])

        assert await status() == "ACTIVE"
        assert await eventually(status, lambda found: found != "ACTIVE") == "INACTIVE"
        assert await eventually(status, lambda found: found != "INACTIVE") == "CLOSED"
