"""Precision, recall and F1 of escalation decisions: "handoff or not", and per trigger.

"Handoff or not" counts a handoff as right whatever trigger it names; the per-trigger
figures also need the right trigger. A handoff whose trigger the evaluation cannot name
(a model's own reason) is labelled ``other``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from baton_devtools.escalation_eval.dataset import LANGUAGES, Item
from services.agent_worker.escalation import Trigger

NONE = "none"
OTHER = "other"
LABELS = (NONE, *(trigger.value for trigger in Trigger), OTHER)

PRECISION_TARGET = 0.97
RECALL_TARGET = 0.95
TRIGGER_F1_TARGET = 0.9


@dataclass(frozen=True)
class Outcome:
    """What an agent did with one item."""

    item: Item
    handoff: bool
    trigger: str | None
    """The ``escalation`` attribute of the handoff, when there was one."""
    reason: str = ""
    evidence: str = ""
    summary: str | None = None
    reply: str = ""

    @property
    def expected(self) -> str:
        return self.item.trigger.value if self.item.trigger is not None else NONE

    @property
    def decided(self) -> str:
        if not self.handoff:
            return NONE
        return self.trigger if self.trigger in LABELS[1:-1] else OTHER

    @property
    def correct(self) -> bool:
        return self.expected == self.decided


@dataclass(frozen=True)
class Rates:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """No handoff decided at all counts as precise; recall then says what was missed."""
        decided = self.tp + self.fp
        return self.tp / decided if decided else 1.0

    @property
    def recall(self) -> float:
        expected = self.tp + self.fn
        return self.tp / expected if expected else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def handoff_rates(outcomes: Iterable[Outcome]) -> Rates:
    pairs = [(o.item.handoff, o.handoff) for o in outcomes]
    return Rates(
        tp=sum(1 for expected, decided in pairs if expected and decided),
        fp=sum(1 for expected, decided in pairs if decided and not expected),
        fn=sum(1 for expected, decided in pairs if expected and not decided),
    )


def by_language(outcomes: Sequence[Outcome]) -> dict[str, Rates]:
    return {
        language: handoff_rates(o for o in outcomes if o.item.lang == language)
        for language in LANGUAGES
    }


def by_trigger(outcomes: Sequence[Outcome]) -> dict[str, Rates]:
    rates = {}
    for trigger in Trigger:
        label = trigger.value
        rates[label] = Rates(
            tp=sum(1 for o in outcomes if o.expected == label and o.decided == label),
            fp=sum(1 for o in outcomes if o.expected != label and o.decided == label),
            fn=sum(1 for o in outcomes if o.expected == label and o.decided != label),
        )
    return rates


def confusion(outcomes: Iterable[Outcome]) -> dict[str, dict[str, int]]:
    """Counts by expected label (rows) and decided label (columns)."""
    counts = Counter((o.expected, o.decided) for o in outcomes)
    return {row: {column: counts[row, column] for column in LABELS} for row in LABELS[:-1]}


def missed_targets(outcomes: Sequence[Outcome]) -> list[str]:
    """Each target the outcomes miss, in words; empty when all are met."""
    missed = []
    scopes = {"all": handoff_rates(outcomes), **by_language(outcomes)}
    for scope, rates in scopes.items():
        if rates.precision < PRECISION_TARGET:
            missed.append(f"{scope}: precision {rates.precision:.3f} < {PRECISION_TARGET}")
        if rates.recall < RECALL_TARGET:
            missed.append(f"{scope}: recall {rates.recall:.3f} < {RECALL_TARGET}")
    for label, rates in by_trigger(outcomes).items():
        if rates.f1 < TRIGGER_F1_TARGET:
            missed.append(f"{label}: F1 {rates.f1:.3f} < {TRIGGER_F1_TARGET}")
    return missed
