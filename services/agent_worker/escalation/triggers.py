"""The escalation triggers of Twilio's handoff guide, and the reason the human sees for each."""

from __future__ import annotations

from enum import StrEnum


class Trigger(StrEnum):
    ACCOUNT_SECURITY = "account_security"
    BILLING_DISPUTE = "billing_dispute"
    ASKED_FOR_HUMAN = "asked_for_human"
    FRUSTRATION = "frustration"
    UNRESOLVED = "unresolved"

    @property
    def reason(self) -> str:
        """The handoff ``reason`` the human sees first."""
        return REASONS[self]


REASONS = {
    Trigger.ACCOUNT_SECURITY: "account security concern",
    Trigger.BILLING_DISPUTE: "billing dispute",
    Trigger.ASKED_FOR_HUMAN: "customer asked for a human agent",
    Trigger.FRUSTRATION: "customer is frustrated or dissatisfied",
    Trigger.UNRESOLVED: "issue unresolved after two attempts",
}

NON_NEGOTIABLE = (Trigger.ACCOUNT_SECURITY, Trigger.BILLING_DISPUTE, Trigger.ASKED_FOR_HUMAN)
"""Escalated whatever a model decides, in this order of precedence."""
WORDED_TRIGGERS = (*NON_NEGOTIABLE, Trigger.FRUSTRATION)
"""The triggers a customer's message shows by itself; "unresolved" needs the conversation."""
PRECEDENCE = (*WORDED_TRIGGERS, Trigger.UNRESOLVED)
