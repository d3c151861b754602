"""When a customer must reach a human: the escalation triggers of Twilio's handoff guide.

The guide's system prompt escalates when the customer asks for a human, when the issue is
unresolved after two attempts, on billing disputes or account security, and on
frustration or dissatisfaction. This module recognises four of them in the customer's
words; "unresolved" depends on the conversation and lives in the policy agent.

Rules, applied to each clause of the turn (split at ``.,;!?``, new lines and "but"):

* A phrase only counts when it is a request or a statement, not a mention: "talk to a
  human", "get me a person", "transfer me", "I want a representative", or a message that is
  only "agent" / "human please". "My agent Smith said" and "are you a human?" are mentions.
* A question about whether a human is needed ("is a human needed to reset?", "do I need
  to speak to a person?") is not a request for one.
* A negator among the two words before a phrase, ignoring filler words, cancels it:
  "I'm not frustrated", "I don't want to talk to a human", "I wasn't hacked".
* Idioms that only look like frustration do not count: "worst case", "hate to bother you".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
"""Escalated whatever the model decides (see ``GuardedAgent``), in this order of precedence."""
WORDED_TRIGGERS = (*NON_NEGOTIABLE, Trigger.FRUSTRATION)

_HUMAN = (
    r"(?:(?:a|an|the|your|some|one|to)\s+)?"
    r"(?:(?:real|live|actual)\s+(?:person|human|agent|people)|human(?:\s+(?:being|agent))?|"
    r"person|representative|rep|operator|supervisor|manager|someone|somebody|"
    r"(?:member|members)\s+of\s+(?:your|the)\s+(?:team|staff)|team\s+member|agent)\b"
)
_WANTED_HUMAN = (
    r"(?:(?:a|an|the|your|some)\s+)?"
    r"(?:(?:real|live|actual|human)\s+(?:person|human|agent)|human(?:\s+being)?|person|"
    r"representative|operator|supervisor|manager)\b|an\s+agent\b"
)
_PATTERNS: dict[Trigger, tuple[str, ...]] = {
    Trigger.ASKED_FOR_HUMAN: (
        rf"\b(?:talk|speak|chat)(?:ing)?\s+(?:to|with)\s+{_HUMAN}",
        rf"\b(?:get|give|find)\s+me\s+{_HUMAN}",
        r"\b(?:transfer|connect)\s+me\b",
        r"\bput\s+me\s+through\b",
        rf"\b(?:want|need|prefer|request|(?:would|i'd|we'd)\s+like)\s+(?:to\s+(?:have|get)\s+)?"
        rf"(?:{_WANTED_HUMAN})",
        r"\b(?:human|person|representative|agent|someone)\s+(?:i|we)\s+(?:can|could)\s+"
        r"(?:talk|speak|chat)\b",
        r"\bis\s+there\s+(?:a|an|any)\s+(?:real\s+person|human|live\s+agent|representative)\b",
        r"\bescalate\b",
        r"^(?:a\s+|an\s+)?(?:human|agent|representative|rep|operator|person|real\s+person|"
        r"live\s+agent|human\s+agent|customer\s+service)(?:\s+(?:please|pls|now))*$",
    ),
    Trigger.ACCOUNT_SECURITY: (
        r"\bhack(?:ed|er|ers|ing)\b",
        r"\b(?:compromised|breached|hijacked)\b",
        r"\b(?:someone|somebody|a\s+stranger)\s+(?:else\s+)?(?:has\s+)?"
        r"(?:logged|signed|got|broke|been)\s+in(?:to)?\b",
        r"\b(?:someone|somebody)\s+(?:has\s+)?(?:changed|reset)\s+my\s+"
        r"(?:password|email|phone|number|pin)\b",
        r"\bunauthori[sz]ed\s+(?:access|log\s*-?\s*ins?|sign\s*-?\s*ins?|use|activity|user)\b",
        r"\bsuspicious\s+(?:activity|log\s*-?\s*ins?|sign\s*-?\s*ins?|emails?|texts?|"
        r"messages?|calls?|transactions?)\b",
        r"\b(?:identity|account|password|card|details)\s+(?:was\s+|were\s+|has\s+been\s+|"
        r"have\s+been\s+|got\s+|is\s+)?stolen\b",
        r"\bstole\s+my\b",
        r"\bidentity\s+theft\b",
        r"\bfraud\w*\b",
        r"\bphish\w*\b",
        r"\baccount\s+(?:was\s+|has\s+been\s+|got\s+)?taken\s+over\b",
        r"\b(?:verification|security|login|2fa|one[- ]time)\s+(?:code|pin)s?\b[^.?!]{0,40}?"
        r"\b(?:didn't|did\s+not|never)\s+(?:request|ask)",
    ),
    Trigger.BILLING_DISPUTE: (
        r"\bdisput\w*",
        r"\bcharge\s*-?\s*backs?\b",
        r"\b(?:double|twice)[- ]?(?:charged|billed)\b",
        r"\b(?:charged|billed)\s+(?:me\s+)?(?:twice|double|two\s+times|again)\b",
        r"\bover\s*-?\s*(?:charged|billed|charging|billing)\b",
        r"\b(?:wrong|incorrect|unauthori[sz]ed|unknown|bogus|duplicate|unexpected|fraudulent)\s+"
        r"(?:charges?|bills?|billing|payments?|transactions?|fees?|amounts?)\b",
        r"\b(?:charge|payment|transaction)s?\b[^.?!]{0,40}?\b(?:don't|do\s+not|didn't|did\s+not|"
        r"never)\s+(?:recogni[sz]e|authori[sz]e|make|made|agree)",
        r"\bcharged\s+(?:me\s+)?for\b[^.?!]{0,40}?\b(?:didn't|did\s+not|never)\b",
        r"\b(?:bill|invoice|statement)\s+(?:is|was|looks)\s+(?:wrong|incorrect)\b",
    ),
    Trigger.FRUSTRATION: (
        r"\bfrustrat\w*",
        r"\bannoy(?:ed|ing)\b",
        r"\b(?:angry|furious|livid|outraged)\b",
        r"\bmad\s+at\b",
        r"\b(?:ridiculous|unacceptable|useless|pointless|pathetic|absurd)\b",
        r"\bstupid\b(?!\s+question)",
        r"\b(?:terrible|horrible|awful|appalling|dreadful)\b",
        r"\bworst\b(?!\s+case)",
        r"\bfed\s+up\b",
        r"\bsick\s+(?:and\s+tired\s+)?of\b",
        r"\bhad\s+enough\b",
        r"\bwast(?:e|ing)\s+(?:of\s+)?(?:my\s+)?time\b",
        r"\b(?:not|isn't|wasn't|is\s+not|was\s+not)\s+(?:very\s+)?(?:helpful|helping|happy|"
        r"satisfied|good\s+enough)\b",
        r"\b(?:didn't|doesn't|does\s+not|did\s+not|won't)\s+help\b",
        r"\bunhelpful\b",
        r"\bdisappoint\w*",
        r"\bdissatisf\w*",
        r"\bunhappy\b",
        r"\bhate\s+(?!to\b)\w+",
        r"\bcomplain\w*",
        r"\b(?:going|go|went)\s+(?:round|around)\s+in\s+circles\b",
        r"\bwaiting\s+(?:forever|for\s+ages|for\s+hours)\b",
        r"\b(?:this|that|it)\s+is\s+a\s+joke\b",
    ),
}
_COMPILED = {
    trigger: tuple(re.compile(pattern) for pattern in patterns)
    for trigger, patterns in _PATTERNS.items()
}

_CLAUSES = re.compile(r"[.,;!?\n]+|\s+but\s+|\s+however\s+")
_NEGATORS = {"not", "no", "never", "without", "nor", "neither", "hardly", "nothing", "nobody"}
_FILLERS = {
    "really", "very", "so", "too", "at", "all", "that", "even", "ever", "a", "an", "the",
    "be", "been", "being", "am", "is", "are", "was", "were", "feeling", "getting", "i",
    "i'm", "im", "it", "it's", "this", "to", "just", "actually", "any", "more",
}  # fmt: skip
_NECESSITY_QUESTION = re.compile(
    r"^(?:do|does|did|is|are|will|would|should|must)\b.*\b(?:need|needs|needed|have\s+to|"
    r"has\s+to|required|require|necessary)\b"
)


def normalize(text: str) -> str:
    return text.lower().replace("’", "'").replace("‘", "'")


def clauses(text: str) -> list[str]:
    return [part.strip() for part in _CLAUSES.split(normalize(text)) if part.strip()]


def _negated(clause: str, start: int) -> bool:
    """A negator among the two meaningful words before ``start``."""
    before = [word for word in clause[:start].split() if word not in _FILLERS]
    return any(word in _NEGATORS or word.endswith("n't") for word in before[-2:])


def _matches(trigger: Trigger, clause: str) -> bool:
    if trigger is Trigger.ASKED_FOR_HUMAN and _NECESSITY_QUESTION.search(clause):
        return False
    return any(
        not _negated(clause, match.start())
        for pattern in _COMPILED[trigger]
        for match in pattern.finditer(clause)
    )


def detect(text: str, triggers: Iterable[Trigger] = WORDED_TRIGGERS) -> Trigger | None:
    """The first of ``triggers`` the customer's words call for, or ``None``."""
    parts = clauses(text)
    for trigger in triggers:
        if trigger in _COMPILED and any(_matches(trigger, clause) for clause in parts):
            return trigger
    return None
