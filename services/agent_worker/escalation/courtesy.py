"""What a message is besides a request: a greeting, a thank-you, an agent's non-answer."""

from __future__ import annotations

from services.agent_worker.escalation.impatience import still_unresolved
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.text import sentences


def _said(concern: str, message: str) -> bool:
    parts = [sentence.text for sentence in sentences(message)]
    return any(
        pattern.search(part)
        for lexicon in LEXICONS
        for pattern in lexicon.sentence_filters[concern]
        for part in parts
    )


def is_greeting(message: str) -> bool:
    """Only a greeting ("hi there", "hola", "bonjour")."""
    return _said("greeting", message)


def is_closing(message: str) -> bool:
    """A thank-you or a goodbye without "it still doesn't work": the customer is done."""
    return _said("closing", message) and not still_unresolved(message)


def is_non_answer(reply: str) -> bool:
    """An agent's reply that admits it has no answer ("I'm not sure I understood…")."""
    return _said("non_answer", reply)
