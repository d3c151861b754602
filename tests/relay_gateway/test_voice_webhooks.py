"""Where a call goes when it leaves the relay with HandoffData (``/voice/action``), exactly.

TaskRouter reads the ``<Task>`` JSON as the task's attributes (twilio_wire.md §1.5), so the
handoff attributes, ``conversationId`` and ``profileId`` must all be in it.
"""

from __future__ import annotations

from typing import Any

import pytest
from twilio.twiml.voice_response import VoiceResponse

from services.relay_gateway.voice_webhooks import append_handoff_route
from tests.relay_gateway.expected_twiml import STUDIO_WEBHOOK, XML_HEAD, relay_settings

WORKFLOW_SID = "WW" + "44" * 16


def handoff_route(handoff_data: str, **extra: Any) -> str:
    response = VoiceResponse()
    append_handoff_route(response, relay_settings(**extra), handoff_data)
    return str(response)


def test_without_a_workflow_the_handed_off_call_goes_to_the_studio_flow() -> None:
    assert handoff_route('{"conversationId":"CA1"}') == (
        XML_HEAD + f"<Response><Redirect>{STUDIO_WEBHOOK}</Redirect></Response>"
    )


def test_with_a_workflow_the_call_is_enqueued_with_the_handoff_attributes() -> None:
    data = (
        '{"conversationId":"CA1","storeId":"mem_1","profileId":"mem_profile_1",'
        '"attributes":{"reason":"billing & refunds","department":"billing"}}'
    )
    assert handoff_route(data, baton_taskrouter_workflow_sid=WORKFLOW_SID) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}">'
        '<Task>{"reason": "billing &amp; refunds", "department": "billing",'
        ' "conversationId": "CA1", "profileId": "mem_profile_1"}</Task>'
        "</Enqueue></Response>"
    )


ATTRIBUTES_NOT_AN_OBJECT = pytest.mark.xfail(
    strict=True,
    reason="append_handoff_route calls dict() on HandoffData.attributes without checking it is "
    "an object: a number raises TypeError, a string ValueError, and /voice/action answers 500 "
    "instead of enqueuing the call",
)


@pytest.mark.parametrize(
    "unreadable",
    [
        "not json",
        "[1, 2]",
        '"text"',
        pytest.param('{"attributes": 5}', marks=ATTRIBUTES_NOT_AN_OBJECT),
        pytest.param('{"attributes": "vip"}', marks=ATTRIBUTES_NOT_AN_OBJECT),
    ],
)
def test_unreadable_handoff_data_still_enqueues_with_empty_attributes(unreadable: str) -> None:
    assert handoff_route(unreadable, baton_taskrouter_workflow_sid=WORKFLOW_SID) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}"><Task>{{}}</Task></Enqueue>'
        "</Response>"
    )
