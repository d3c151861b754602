"""Whether one customer message shows a trigger clearly, in any of the five languages.

Each lexicon's rules run over each sentence. A match counts unless:

* one of the two meaningful words before it negates it, in any of the languages ("I'm
  *not* frustrated", "je ne veux pas…"), looking back no further than a comma;
* for a request for a person, the person is negated ("ich brauche *keinen* Mitarbeiter"),
  or the sentence only asks whether one is needed ("do I need to speak to someone to…?"),
  whether the agent is one ("are you a real person?") or mentions someone's agent;
* for security and billing, it follows a question about the topic ("how do you protect
  my account against fraud?", "what if someone…");
* for frustration, it follows a past-tense "was" ("I was fed up with my old one") or
  someone else ("my cat is furious…").

A rule made of several templates needs all of them in the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from services.agent_worker.escalation.evidence import Evidence
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.lexicon import Lexicon
from services.agent_worker.escalation.patterns import SCREEN, Template
from services.agent_worker.escalation.text import Sentence, sentences, words
from services.agent_worker.escalation.triggers import WORDED_TRIGGERS, Trigger

_SCOPE_BREAK = re.compile(r"[,:;(]|\s[-–—]\s")
_TOPICAL = (Trigger.ACCOUNT_SECURITY, Trigger.BILLING_DISPUTE)
_NEGATOR = re.compile("|".join(f"(?:{lexicon.negators})" for lexicon in LEXICONS))
"""A negator of any of the languages: a rule can match words of another language."""
_PAST = re.compile("|".join(f"(?:{lexicon.past})" for lexicon in LEXICONS))
_OTHERS = re.compile(
    r"(?<!\w)(?:" + "|".join(f"(?:{lexicon.others})" for lexicon in LEXICONS) + r")(?!\w)"
)
_DEGREE = frozenset(
    words("so really very too such quite tan muy tres vraiment si echt total ganz muito bem tao de")
)


def find(message: str, triggers: Iterable[Trigger] = WORDED_TRIGGERS) -> Evidence | None:
    """The first of ``triggers`` the message shows, with the rule and words that show it."""
    parts = list(sentences(message))
    for trigger in triggers:
        for lexicon in LEXICONS:
            rules = lexicon.triggers.get(trigger, ())
            if not rules:
                continue
            scope = _requests(lexicon, parts) if trigger is Trigger.ASKED_FOR_HUMAN else parts
            possible = _candidates(scope)
            for name, patterns in rules:
                if not possible.issuperset(patterns):
                    continue
                found = [_first(lexicon, trigger, pattern, scope) for pattern in patterns]
                if all(found):
                    return Evidence(trigger, f"{lexicon.language}: {name}", " … ".join(found))
    return None


def possible(message: str) -> frozenset[Template]:
    """The templates that may match somewhere in ``message``: only those need running."""
    return _candidates(sentences(message))


def _candidates(parts: Sequence[Sentence]) -> frozenset[Template]:
    """The templates that may match one of the sentences (see ``literals``)."""
    if len(parts) == 1:
        return SCREEN.candidates(parts[0].text)
    return frozenset().union(*(SCREEN.candidates(sentence.text) for sentence in parts))


def _requests(lexicon: Lexicon, parts: Sequence[Sentence]) -> list[Sentence]:
    """The sentences that may ask for a person: not "do I need to…?", "are you a person?"."""
    return [sentence for sentence in parts if not _any(lexicon, "not_a_request", sentence.text)]


def matches(
    lexicon: Lexicon,
    pattern: Template,
    message: str,
    *,
    trigger: Trigger | None = None,
    negatable: bool = True,
) -> str:
    """The words of ``message`` that ``pattern`` matches (not negated); ``""`` if none."""
    parts = list(sentences(message))
    if trigger is Trigger.ASKED_FOR_HUMAN:
        parts = _requests(lexicon, parts)
    return _first(lexicon, trigger, pattern, parts, negatable=negatable)


def _first(
    lexicon: Lexicon,
    trigger: Trigger | None,
    pattern: Template,
    parts: Sequence[Sentence],
    *,
    negatable: bool = True,
) -> str:
    for sentence in parts:
        for match in pattern.finditer(sentence.text):
            if negatable and _negated(lexicon, sentence.text[: match.start()]):
                continue
            if (
                trigger is Trigger.ASKED_FOR_HUMAN
                and pattern.has_gap
                and _person_negated(lexicon, sentence.text, match)
            ):
                continue
            if trigger in _TOPICAL and _topic_question(lexicon, sentence.text, match.start()):
                continue
            if trigger is Trigger.FRUSTRATION and _not_ours(sentence.text[: match.start()]):
                continue
            return sentence.original[match.start() : match.end()]
    return ""


def _any(lexicon: Lexicon, concern: str, text: str) -> bool:
    return any(pattern.search(text) for pattern in lexicon.sentence_filters[concern])


def _negated(lexicon: Lexicon, before: str) -> bool:
    scope = _SCOPE_BREAK.split(before)[-1]
    meaningful = [word for word in words(scope) if word not in lexicon.filler_words]
    return any(_NEGATOR.fullmatch(word) for word in meaningful[-2:])


def _person_negated(lexicon: Lexicon, text: str, match: re.Match[str]) -> bool:
    """ "I need *no* agent", "ich brauche *keinen* Mitarbeiter": the person itself is negated."""
    last = text.rfind(" ", match.start(), match.end())
    return last > match.start() and _negated(lexicon, text[match.start() : last])


def _not_ours(before: str) -> bool:
    """ "I *was* fed up with…", "*my cat* is furious": another time's or someone else's."""
    if _OTHERS.search(before):
        return True
    recent = words(_SCOPE_BREAK.split(before)[-1])
    while recent and recent[-1] in _DEGREE:
        recent.pop()
    return bool(recent) and _PAST.fullmatch(recent[-1]) is not None


def _topic_question(lexicon: Lexicon, text: str, start: int) -> bool:
    return any(
        (found := pattern.search(text)) is not None and found.start() <= start
        for pattern in lexicon.sentence_filters["hypothetical"]
    )
