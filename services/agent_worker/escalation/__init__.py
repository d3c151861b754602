"""When a customer must reach a human: the escalation triggers of Twilio's handoff guide.

The guide escalates when the customer asks for a human, on account security or billing
disputes, on frustration or dissatisfaction, and when the issue is unresolved after two
attempts. ``assess`` decides a turn from the customer's message and the conversation
before it; every decision carries :class:`Evidence` (the rule and the words it saw).

The rules act on clear intent, not on topics: a request for a person (not a mention of
one), a report of a break-in or fraud (not a question about security), a dispute of a
charge (not a question about billing). Each language keeps its rules in its own module
under ``languages/``.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.agent_worker.escalation.conversation import (
    NON_ANSWERS_RULE,
    assess,
    non_answers,
)
from services.agent_worker.escalation.courtesy import is_closing, is_greeting, is_non_answer
from services.agent_worker.escalation.detector import find
from services.agent_worker.escalation.evidence import Evidence
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.patterns import SCREEN
from services.agent_worker.escalation.triggers import (
    NON_NEGOTIABLE,
    PRECEDENCE,
    REASONS,
    WORDED_TRIGGERS,
    Trigger,
)

__all__ = [
    "NON_ANSWERS_RULE",
    "NON_NEGOTIABLE",
    "PRECEDENCE",
    "REASONS",
    "WORDED_TRIGGERS",
    "Evidence",
    "Trigger",
    "assess",
    "detect",
    "find",
    "is_closing",
    "is_greeting",
    "is_non_answer",
    "non_answers",
    "warm_up",
]


def detect(text: str, triggers: Iterable[Trigger] = WORDED_TRIGGERS) -> Trigger | None:
    """The first of ``triggers`` one message shows on its own, or ``None``."""
    evidence = find(text, triggers)
    return evidence.trigger if evidence is not None else None


def warm_up() -> None:
    """Compile every language's rules and the literal screen now, at start-up.

    They compile on first use otherwise: a quarter of a second in which the first customer
    waits and every other conversation on the worker stalls.
    """
    for lexicon in LEXICONS:
        _ = lexicon.triggers, lexicon.impatience_rules, lexicon.still_unresolved_rules
        _ = lexicon.sentence_filters
    SCREEN.candidates("")
