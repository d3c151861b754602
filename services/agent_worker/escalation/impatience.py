"""Milder signs, weighed across turns: impatience, and "it still doesn't work".

Besides each language's phrases, two signs read the same in every language: shouting (a
word of five or more capital letters) and insistent punctuation (``??``, ``!!``).
"""

from __future__ import annotations

import re

from services.agent_worker.escalation.detector import matches, possible
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.triggers import Trigger

_SHOUTING = re.compile(r"\b[^\W\d_]{5,}\b")
_INSISTENT = re.compile(r"[?!]{2,}")


def impatience(message: str) -> list[tuple[str, str]]:
    """``(sign, words)`` for each distinct sign of impatience in the message."""
    candidates = possible(message)
    signs = [
        (f"{lexicon.language}: {name}", found)
        for lexicon in LEXICONS
        for name, (pattern, *_) in lexicon.impatience_rules
        if pattern in candidates
        and (found := matches(lexicon, pattern, message, trigger=Trigger.FRUSTRATION))
    ]
    shouted = [word for word in _SHOUTING.findall(message) if word.isupper()]
    if shouted and not message.isupper():
        signs.append(("shouting", shouted[0]))
    if insistent := _INSISTENT.search(message):
        signs.append(("insistent punctuation", insistent[0]))
    return signs


def still_unresolved(message: str) -> str:
    """The words saying the last answer did not solve it, or ``""``.

    These phrases are mostly negative themselves ("doesn't have it either"), so a negator
    before them does not cancel them.
    """
    candidates = possible(message)
    for lexicon in LEXICONS:
        for _, (pattern, *_) in lexicon.still_unresolved_rules:
            if pattern in candidates and (
                found := matches(lexicon, pattern, message, negatable=False)
            ):
                return found
    return ""
