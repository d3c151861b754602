"""HandoffData as the Agent Handoff template reads it (tac_sdk.md), and the Studio ``From``."""

from __future__ import annotations

import json

import pytest

from libs.contracts.messages import Channel, HandoffRequested, Route
from libs.platform.span_attributes import CALL_SID
from services.handoff_dispatcher.delivery import (
    build_handoff_data,
    dispatch_attributes,
    studio_from_address,
)
from services.handoff_dispatcher.identity import CustomerIdentity

CUSTOMER = "+15005550006"
OURS = "+15005550001"
CONVERSATION = "CH" + "88" * 16


def request(**extra: object) -> HandoffRequested:
    values: dict[str, object] = {
        "conversation_id": "conv-1",
        "epoch": 0,
        "route": Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=OURS),
        "reason": "customer asked for a human",
    }
    values.update(extra)
    return HandoffRequested.model_validate(values)


def test_the_studio_parameters_are_tacs_payload_under_handoff_data() -> None:
    route = Route(
        channel=Channel.CONVERSATIONS,
        customer_address=CUSTOMER,
        agent_address="baton-bot",
        twilio_conversation_id=CONVERSATION,
    )
    identity = CustomerIdentity(CONVERSATION, store_id="mem_store_1", profile_id="mem_profile_1")
    data = build_handoff_data(
        request(route=route, summary="Wants a refund."), {"department": "support"}, identity
    )
    assert data.studio_parameters() == (
        '{"HandoffData":{"conversationId":"CH88888888888888888888888888888888",'
        '"storeId":"mem_store_1","profileId":"mem_profile_1","attributes":'
        '{"department":"support","reason":"customer asked for a human",'
        '"handoffChannel":"conversations","handoffId":"conv-1:0","channelType":"sms",'
        '"conversationId":"CH88888888888888888888888888888888","storeId":"mem_store_1",'
        '"profileId":"mem_profile_1","summary":"Wants a refund."}}}'
    )
    assert (
        json.loads(data.end_frame()["handoffData"])
        == json.loads(data.studio_parameters())["HandoffData"]
    )


def test_the_requests_reason_wins_and_its_attributes_override_the_static_ones() -> None:
    data = build_handoff_data(
        request(attributes={"priority": "high", "reason": "from the app", "department": "vip"}),
        {"department": "support", "reason": "configured", "queue": "main"},
        CustomerIdentity("conv-1"),
    )
    assert data.attributes == {
        "department": "vip",
        "reason": "customer asked for a human",
        "queue": "main",
        "priority": "high",
        "handoffChannel": "sms",
        "handoffId": "conv-1:0",
        "channelType": "sms",
        "conversationId": "conv-1",
        "storeId": "",
        "profileId": "",
    }
    assert "summary" not in data.attributes, "an empty summary is left out"
    assert (data.conversation_id, data.store_id, data.profile_id) == ("conv-1", "", "")


def test_a_long_summary_is_cut_to_fit_send_to_flex_1024_characters() -> None:
    summary = "The customer was double charged for order 1234. " * 60
    identity = CustomerIdentity("conv-1", store_id="mem_store_1")
    data = build_handoff_data(request(summary=summary), {"department": "support"}, identity)
    encoded = json.dumps(data.attributes)
    assert 1000 <= len(encoded) <= 1024, len(encoded)
    kept = data.attributes["summary"]
    assert summary.startswith(kept) and len(kept) < len(summary)
    assert data.attributes["reason"] == "customer asked for a human", "the reason is never cut"


@pytest.mark.parametrize("over", [0, 1, 7])
def test_a_summary_is_cut_by_exactly_what_overflows(over: int) -> None:
    """Attributes of 1,024 characters fit as they are; each character over is cut from the
    summary, so the whole budget is used."""
    identity = CustomerIdentity("conv-1")
    empty = len(json.dumps(build_handoff_data(request(summary="x"), {}, identity).attributes)) - 1
    summary = "y" * (1024 - empty + over)
    data = build_handoff_data(request(summary=summary), {}, identity)
    assert len(json.dumps(data.attributes)) == 1024
    assert data.attributes["summary"] == summary[: len(summary) - over]


def test_attributes_too_large_for_any_summary_keep_an_empty_one() -> None:
    static = {"notes": "n" * 1100}
    data = build_handoff_data(request(summary="Wants a refund."), static, CustomerIdentity("c"))
    assert data.attributes["summary"] == ""


@pytest.mark.parametrize(
    ("channel", "customer", "medium", "expected"),
    [
        (Channel.VOICE, CUSTOMER, "", "voice"),
        (Channel.SMS, CUSTOMER, "", "sms"),
        (Channel.SMS, "whatsapp:+15005550006", "", "whatsapp"),
        (Channel.ORCHESTRATOR, CUSTOMER, "WHATSAPP", "whatsapp"),
        (Channel.ORCHESTRATOR, "whatsapp:+15005550006", "whatsapp", "whatsapp"),
        (Channel.ORCHESTRATOR, "rcs:+15005550006", "RCS", "sms"),
        (Channel.ORCHESTRATOR, "rcs:+15005550006", "", "sms"),
        (Channel.ORCHESTRATOR, "visitor-42", "CHAT", "chat"),
        (Channel.CONVERSATIONS, "visitor-42", "", "chat"),
        (Channel.ORCHESTRATOR, "visitor-42", "SMS", "sms"),
        (Channel.ORCHESTRATOR, CUSTOMER, "CHAT", "chat"),
    ],
)
def test_the_flex_channel_type_follows_the_customers_channel(
    channel: Channel, customer: str, medium: str, expected: str
) -> None:
    route = Route(channel=channel, customer_address=customer, agent_address=OURS, medium=medium)
    data = build_handoff_data(request(route=route), {}, CustomerIdentity("conv-1"))
    assert data.attributes["channelType"] == expected


def test_a_summary_that_fits_is_kept_whole() -> None:
    summary = "Double charged; wants a refund." * 20
    data = build_handoff_data(request(summary=summary), {}, CustomerIdentity("conv-1"))
    assert data.attributes["summary"] == summary
    assert len(json.dumps(data.attributes)) < 1024


def test_a_summary_of_escaped_characters_still_fits() -> None:
    """``json.dumps`` writes each of these as ``\\uXXXX``: six characters for one."""
    summary = "Zahlungsrückstand – ärgerlich. " * 40
    data = build_handoff_data(request(summary=summary), {}, CustomerIdentity("conv-1"))
    assert len(json.dumps(data.attributes)) <= 1024


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("+15005550009", "+15005550009"),
        ("whatsapp:+15005550009", "whatsapp:+15005550009"),
        ("rcs:baton_agent", "rcs:baton_agent"),
        ("messenger:1234567890", "messenger:1234567890"),
        ("baton-bot", OURS),
        ("", OURS),
    ],
)
def test_studio_from_is_the_agents_address_or_our_number_for_a_chat_identity(
    agent: str, expected: str
) -> None:
    route = Route(channel=Channel.SMS, customer_address=CUSTOMER, agent_address=agent)
    assert studio_from_address(request(route=route), OURS) == expected


def test_the_handoff_id_names_the_episode_whatever_the_attributes_say() -> None:
    """The lookup after an unknown outcome tells this episode's execution apart by it."""
    data = build_handoff_data(
        request(epoch=3, attributes={"handoffId": "from the app"}),
        {"handoffId": "configured"},
        CustomerIdentity("conv-1"),
    )
    assert data.attributes["handoffId"] == "conv-1:3"


def test_what_memory_recalls_follows_the_models_summary() -> None:
    identity = CustomerIdentity("conv-1", memories=["prefers email", "VIP since 2021"])
    data = build_handoff_data(request(summary="Wants a refund."), {}, identity)
    assert data.attributes["summary"] == (
        "Wants a refund. Known about the customer: prefers email; VIP since 2021."
    )


def test_a_handoff_is_named_in_traces_by_its_ids_never_by_the_customers_address() -> None:
    call_sid = "CA" + "11" * 16
    route = Route(
        channel=Channel.VOICE, customer_address=CUSTOMER, agent_address=OURS, call_sid=call_sid
    )
    voice = dispatch_attributes(request(route=route, reason="r" * 300))
    assert voice["baton.handoff.reason"] == "r" * 200
    assert voice[CALL_SID] == call_sid
    sms = dispatch_attributes(request())
    assert CALL_SID not in sms
    assert CUSTOMER not in [*voice.values(), *sms.values()]
