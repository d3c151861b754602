"""The trigger behind a model's own handoff, read from the ``reason`` it gave the tool."""

from __future__ import annotations

import re

from services.agent_worker.escalation.detector import find
from services.agent_worker.escalation.triggers import PRECEDENCE, Trigger

_KEYWORDS = {
    Trigger.ACCOUNT_SECURITY: r"secur|hack|fraud|compromis|unauthori[sz]ed access|phish",
    Trigger.BILLING_DISPUTE: r"billing|charge|dispute|invoice|refund|overcharg",
    Trigger.ASKED_FOR_HUMAN: r"(asks?|asked|asking|wants?|request\w*|prefers?) (for |to "
    r"(speak|talk|chat) (to|with) )?(an? )?(human|person|agent|representative|someone|manager)",
    Trigger.FRUSTRATION: r"frustrat|angry|upset|dissatisf|unhappy|annoyed|impatien",
    Trigger.UNRESOLVED: r"unresolv|not resolved|unable to (resolve|help|answer)|(cannot|can't|"
    r"could not|couldn't) (resolve|help|answer)|two attempts|repeated attempts",
}
_COMPILED = {trigger: re.compile(pattern) for trigger, pattern in _KEYWORDS.items()}


def classify_reason(reason: str) -> Trigger | None:
    """The trigger a reason names ("customer asked for a human"), or ``None``."""
    lowered = reason.lower()
    for trigger in PRECEDENCE:
        if _COMPILED[trigger].search(lowered):
            return trigger
    evidence = find(reason)
    return evidence.trigger if evidence is not None else None
