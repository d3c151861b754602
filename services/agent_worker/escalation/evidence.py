"""Why a conversation is handed over: the trigger, the rule that fired and the words it saw."""

from __future__ import annotations

from dataclasses import dataclass

from services.agent_worker.escalation.triggers import Trigger


@dataclass(frozen=True)
class Evidence:
    trigger: Trigger
    rule: str
    """Which rule decided, with its language: ``"es: talk to a person"``."""
    words: str = ""
    """The customer's words the rule matched."""
