"""How much of what a human needs a handoff summary keeps: issue, tries, last words, reason.

A fact is a list of terms; the summary keeps it when it contains every term (``a|b``: either
one), compared without case or accents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from baton_devtools.escalation_eval.dataset import FACT_KINDS
from baton_devtools.escalation_eval.scoring import Outcome
from services.agent_worker.summary import SUMMARY_LIMIT


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def keeps(summary: str, terms: Sequence[str]) -> bool:
    folded = fold(summary)
    return all(any(fold(option) in folded for option in term.split("|")) for term in terms)


@dataclass
class SummaryScore:
    conversations: int = 0
    """Conversations of the set that carry facts (each should be handed off)."""
    summaries: int = 0
    within_limit: int = 0
    longest: int = 0
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FACT_KINDS, 0))
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FACT_KINDS, 0))
    lost: list[tuple[str, str, str]] = field(default_factory=list)
    """``(item id, fact kind, summary)`` for each fact a summary dropped."""

    @property
    def rate(self) -> float:
        total = sum(self.total.values())
        return sum(self.kept.values()) / total if total else 1.0

    def as_dict(self) -> dict[str, object]:
        return {
            "conversations": self.conversations,
            "summaries": self.summaries,
            "facts_kept": sum(self.kept.values()),
            "facts": sum(self.total.values()),
            "rate": round(self.rate, 4),
            "by_fact": {kind: [self.kept[kind], self.total[kind]] for kind in FACT_KINDS},
            "within_limit": self.within_limit,
            "limit": SUMMARY_LIMIT,
            "longest": self.longest,
        }


def score_summaries(outcomes: Sequence[Outcome]) -> SummaryScore:
    """Facts kept by the summaries of the conversations that were handed off."""
    score = SummaryScore()
    for outcome in outcomes:
        facts = outcome.item.facts
        if facts is None:
            continue
        score.conversations += 1
        if outcome.summary is None:
            continue
        summary = outcome.summary
        score.summaries += 1
        score.within_limit += len(summary) <= SUMMARY_LIMIT
        score.longest = max(score.longest, len(summary))
        for kind, terms in facts.by_kind().items():
            score.total[kind] += 1
            if keeps(summary, terms):
                score.kept[kind] += 1
            else:
                score.lost.append((outcome.item.id, kind, summary))
    return score
