"""``create_studio_handoff_tool``: TAC's signature, one handoff per episode, honest failures."""

from __future__ import annotations

import pytest

from libs.contracts.messages import Channel, Route
from services.agent_worker.agent import TurnContext
from services.agent_worker.tac.handoff import (
    DEFAULT_HANDOFF_TOOL_DESCRIPTION,
    TAC,
    ConversationSession,
    TACConfig,
    create_studio_handoff_tool,
)
from tests.agent.fakes import FakeHandoff, tac, turn
from tests.support.twilio_fakes import CUSTOMER, OUR_NUMBER


def session_for(handoff: FakeHandoff, text: str = "my parcel never arrived") -> ConversationSession:
    return ConversationSession.from_turn(turn(text), handoff.tools())


def test_the_model_sees_only_reason() -> None:
    tool = create_studio_handoff_tool(tac(), session_for(FakeHandoff()))
    assert tool.name == "handoff"
    assert tool.description == DEFAULT_HANDOFF_TOOL_DESCRIPTION
    schema = tool.params_json_schema
    assert list(schema["properties"]) == ["reason"]  # type: ignore[call-overload]
    assert schema["required"] == ["reason"]


def test_name_and_description_can_be_changed() -> None:
    tool = create_studio_handoff_tool(
        tac(), session_for(FakeHandoff()), name="escalate", description="Billing only."
    )
    assert tool.to_openai_format()["function"] == {
        "name": "escalate",
        "description": "Billing only.",
        "parameters": tool.params_json_schema,
    }


def test_no_studio_flow_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="TWILIO_STUDIO_HANDOFF_FLOW_SID"):
        create_studio_handoff_tool(TAC(TACConfig()), session_for(FakeHandoff()))


async def test_the_application_sets_attributes_and_the_model_cannot() -> None:
    handoff = FakeHandoff()
    tool = create_studio_handoff_tool(tac(), session_for(handoff), {"department": "returns"})
    result = await tool(
        reason="parcel lost",
        attributes={"priority": "urgent"},
        priority="urgent",
        session="forged",
    )
    assert result == {"status": "handoff_initiated", "channel": "SMS"}
    [(reason, attributes)] = handoff.calls
    assert reason == "parcel lost"
    assert attributes == {"department": "returns"}


async def test_a_second_call_in_the_episode_is_a_typed_result() -> None:
    handoff = FakeHandoff()
    tool = create_studio_handoff_tool(tac(), session_for(handoff))
    assert (await tool(reason="first"))["status"] == "handoff_initiated"  # type: ignore[index]
    second = await tool(reason="again")
    assert second["status"] == "handoff_already_requested"  # type: ignore[index]


async def test_a_failed_request_is_reported_not_hidden() -> None:
    handoff = FakeHandoff(failure="the handoff could not be requested (TimeoutError)")
    result = await create_studio_handoff_tool(tac(), session_for(handoff))(reason="help")
    assert result == {
        "status": "handoff_failed",
        "channel": "SMS",
        "error": "the handoff could not be requested (TimeoutError)",
    }


def test_the_session_carries_tac_fields_from_the_route() -> None:
    route = Route(
        channel=Channel.ORCHESTRATOR,
        customer_address="whatsapp:" + CUSTOMER,
        agent_address="whatsapp:" + OUR_NUMBER,
        twilio_conversation_id="conv_123",
        medium="whatsapp",
    )
    context = TurnContext(conversation_id="CONV-x", epoch=2, route=route, text="hi", history=[])
    session = ConversationSession.from_turn(context, FakeHandoff().tools())
    assert session.conversation_id == "conv_123"
    assert session.channel == "WHATSAPP"
    assert session.profile_id is None, "Twilio's profile is resolved at handoff, not guessed"
    assert session.author_info is not None and session.author_info.address.endswith(CUSTOMER)
    assert session.ai_agent_info is not None
    assert session.ai_agent_info.address.endswith(OUR_NUMBER)
    assert "_turn" not in session.model_dump()
