"""The agent desktop's page and JSON: served without a build step, and honest about what the
agent may do with each task."""

from __future__ import annotations

import json

from tests.emulator.harness import Emulator
from tests.support.twilio_fakes import ACCOUNT_SID, CUSTOMER, FLOW_SID, OUR_NUMBER


async def test_page_and_assets_are_served(emulator: Emulator) -> None:
    page = await emulator.admin.get("/desktop")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/desktop/desktop.js"' in page.text
    script = await emulator.admin.get("/desktop/desktop.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/_emulator/desktop/tasks" in script.text and "innerHTML" not in script.text
    style = await emulator.admin.get("/desktop/desktop.css")
    assert style.headers["content-type"].startswith("text/css")
    assert (await emulator.admin.get("/desktop/secrets.py")).status_code == 404
    empty = await emulator.get("/_emulator/desktop/tasks")
    assert empty == {"agent": "flex-agent", "tasks": []}


async def test_voice_task_shows_the_transcript_handoff_data_carried(emulator: Emulator) -> None:
    data = {
        "conversationId": "CA" + "44" * 16,
        "attributes": {"reason": "asked for a person"},
        "transcript": [
            {"role": "user", "text": "my router is broken"},
            {"role": "assistant", "text": "Let me get someone for you."},
        ],
    }
    async with emulator.rest() as rest:
        answer = await rest.post(
            f"/v1/Accounts/{ACCOUNT_SID}/Flows/{FLOW_SID}?Trigger=incomingCall",
            data={"CallSid": data["conversationId"], "From": CUSTOMER, "To": OUR_NUMBER}
            | {"HandoffData": json.dumps(data)},
        )
    assert answer.status_code == 200
    (task,) = (await emulator.get("/_emulator/desktop/tasks"))["tasks"]
    assert [(line["role"], line["body"]) for line in task["transcript"]] == [
        ("customer", "my router is broken"),
        ("bot", "Let me get someone for you."),
    ]
    assert (task["canAccept"], task["canReply"], task["canComplete"]) == (True, False, False)

    early = await emulator.admin.post(f"/_emulator/desktop/tasks/{task['sid']}/complete")
    assert early.status_code == 409
    accepted = await emulator.post(f"/_emulator/desktop/tasks/{task['sid']}/accept", {})
    assert accepted["status"] == "assigned" and accepted["canReply"] is False
    no_line = await emulator.admin.post(
        f"/_emulator/desktop/tasks/{task['sid']}/reply", json={"body": "hello"}
    )
    assert no_line.status_code == 409, "nobody is on the line to hear the agent"
    done = await emulator.post(f"/_emulator/desktop/tasks/{task['sid']}/complete", {})
    assert (done["status"], done["canHandBack"]) == ("completed", False)
    missing = await emulator.admin.post(f"/_emulator/desktop/tasks/WT{'0' * 32}/accept")
    assert missing.status_code == 404
