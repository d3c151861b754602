"""``baton studio deploy`` publishes the shipped flow, and what it published is what runs."""

from __future__ import annotations

import asyncio
import json

import pytest

from baton.cli import main
from tests.emulator.conftest import StartEmulator
from tests.emulator.harness import Emulator
from tests.support.env_settings import VALID, clean_env
from tests.support.twilio_fakes import API_KEY, API_SECRET, CUSTOMER, FLOW_SID, OUR_NUMBER

WORKSPACE = "WS" + "ab" * 16
WORKFLOW = "WW" + "cd" * 16
CONFIGURATION = "conv_configuration_01"


def deploy_env(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, **extra: str) -> None:
    clean_env(
        monkeypatch,
        {
            **VALID,
            "TWILIO_API_KEY": API_KEY,
            "TWILIO_API_SECRET": API_SECRET,
            "TWILIO_API_BASE_URL": emulator.url,
            **extra,
        },
    )


async def test_deploy_publishes_the_flow_that_then_runs(
    start_emulator: StartEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = await start_emulator(twilio_conversation_configuration_id=CONFIGURATION)
    deploy_env(monkeypatch, emulator, TWILIO_CONVERSATION_CONFIGURATION_ID=CONFIGURATION)
    args = ["studio", "deploy", "--workspace", WORKSPACE, "--workflow", WORKFLOW]
    await asyncio.to_thread(main, args)
    assert (
        capsys.readouterr().out.strip()
        == f"published agent-handoff.json to {FLOW_SID} (revision 1)"
    )
    async with emulator.rest() as rest:
        flow = (await rest.get(f"/v2/Flows/{FLOW_SID}")).json()
        channels = (await rest.get(f"/v1/Workspaces/{WORKSPACE}/TaskChannels")).json()
    voice = next(c["sid"] for c in channels["channels"] if c["unique_name"] == "voice")
    states = {state["name"]: state for state in flow["definition"]["states"]}
    assert states["send_call_to_flex"]["properties"]["workflow"] == WORKFLOW
    assert states["send_call_to_flex"]["properties"]["channel"] == voice
    assert CONFIGURATION in states["fetch_configuration"]["properties"]["url"]
    assert "${" not in json.dumps(flow["definition"])

    sent = await emulator.post(
        "/_emulator/orchestrator/communication",
        {"author": CUSTOMER, "text": "a person please", "webhook_url": f"{emulator.url}/nowhere"},
    )
    handoff = {"conversationId": sent["conversation_id"], "storeId": "", "profileId": ""}
    async with emulator.rest() as rest:
        created = await rest.post(
            f"/v2/Flows/{FLOW_SID}/Executions",
            data={
                "To": CUSTOMER,
                "From": OUR_NUMBER,
                "Parameters": json.dumps({"HandoffData": {**handoff, "attributes": handoff}}),
            },
        )
    assert created.status_code == 201
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    async with emulator.rest() as rest:
        record = (await rest.get(f"/v1/Workspaces/{WORKSPACE}/Tasks/{task['sid']}")).json()
    assert record["workflow_sid"] == WORKFLOW, "the deployed definition did not run"


async def test_deploy_names_what_is_missing(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_env(monkeypatch, emulator)
    args = ["studio", "deploy", "--mode", "orchestrator"]
    args += ["--workspace", WORKSPACE, "--workflow", WORKFLOW]
    with pytest.raises(SystemExit) as stopped:
        await asyncio.to_thread(main, args)
    assert (
        str(stopped.value.code) == "baton studio: no value for TWILIO_CONVERSATION_CONFIGURATION_ID"
    )
