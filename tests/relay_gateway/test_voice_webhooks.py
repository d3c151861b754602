"""Where a call goes when it leaves the relay with HandoffData (``/voice/action``), exactly.

TaskRouter reads the ``<Task>`` JSON as the task's attributes (twilio_wire.md §1.5), so the
handoff attributes, ``conversationId`` and ``profileId`` must all be in it.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from twilio.twiml.voice_response import VoiceResponse

from services.relay_gateway.voice_webhooks import append_handoff_route
from tests.relay_gateway.expected_twiml import XML_HEAD, relay_settings

WORKFLOW_SID = "WW" + "44" * 16


def handoff_route(handoff_data: str) -> str:
    response = VoiceResponse()
    append_handoff_route(response, WORKFLOW_SID, handoff_data)
    return str(response)


def test_the_action_on_the_gateway_needs_a_workflow_to_enqueue_to() -> None:
    """A bare ``<Redirect>`` to the flow would start it afresh without HandoffData."""
    with pytest.raises(ValidationError, match="BATON_TASKROUTER_WORKFLOW_SID"):
        relay_settings(baton_voice_action="gateway")


def test_with_a_workflow_the_call_is_enqueued_with_the_handoff_attributes() -> None:
    data = (
        '{"conversationId":"CA1","storeId":"mem_1","profileId":"mem_profile_1",'
        '"attributes":{"reason":"billing & refunds","department":"billing"}}'
    )
    assert handoff_route(data) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}">'
        '<Task>{"conversationId": "CA1", "storeId": "mem_1", "profileId": "mem_profile_1",'
        ' "reason": "billing &amp; refunds", "department": "billing"}</Task>'
        "</Enqueue></Response>"
    )


@pytest.mark.parametrize(
    "unreadable",
    ["not json", "[1, 2]", '"text"', '{"attributes": 5}', '{"attributes": "vip"}'],
)
def test_unreadable_handoff_data_still_enqueues_with_empty_attributes(unreadable: str) -> None:
    assert handoff_route(unreadable) == (
        XML_HEAD + "<Response>"
        f'<Enqueue workflowSid="{WORKFLOW_SID}"><Task>{{}}</Task></Enqueue>'
        "</Response>"
    )
