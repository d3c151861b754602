"""One agent's results: as the JSON of ``bench-results/eval.json`` and as a printed table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from baton_devtools.escalation_eval.dataset import LANGUAGES
from baton_devtools.escalation_eval.scoring import (
    LABELS,
    PRECISION_TARGET,
    RECALL_TARGET,
    TRIGGER_F1_TARGET,
    Outcome,
    Rates,
    by_language,
    by_trigger,
    confusion,
    handoff_rates,
    missed_targets,
)
from baton_devtools.escalation_eval.summary_facts import SummaryScore, score_summaries


@dataclass(frozen=True)
class Report:
    agent: str
    outcomes: Sequence[Outcome]

    @property
    def wrong(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.correct]

    @property
    def summaries(self) -> SummaryScore:
        return score_summaries(self.outcomes)

    @property
    def missed_targets(self) -> list[str]:
        return missed_targets(self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "items": len(self.outcomes),
            "targets": {
                "precision": PRECISION_TARGET,
                "recall": RECALL_TARGET,
                "trigger_f1": TRIGGER_F1_TARGET,
                "missed": self.missed_targets,
            },
            "handoff": handoff_rates(self.outcomes).as_dict(),
            "languages": {lang: r.as_dict() for lang, r in by_language(self.outcomes).items()},
            "triggers": {label: r.as_dict() for label, r in by_trigger(self.outcomes).items()},
            "confusion": confusion(self.outcomes),
            "summaries": self.summaries.as_dict(),
            "wrong": [
                {
                    "id": o.item.id,
                    "expected": o.expected,
                    "decided": o.decided,
                    "text": o.item.latest,
                    "evidence": o.evidence,
                }
                for o in self.wrong
            ],
        }

    def lines(self) -> list[str]:
        out = [f"Escalation decisions of the {self.agent} agent on {len(self.outcomes)} items"]
        out += ["", f"{'handoff or not':<16}{'precision':>10}{'recall':>8}{'F1':>7}{'items':>7}"]
        scopes = {"all": self.outcomes} | {
            lang: [o for o in self.outcomes if o.item.lang == lang] for lang in LANGUAGES
        }
        rates = {"all": handoff_rates(self.outcomes), **by_language(self.outcomes)}
        out += [_row(scope, rates[scope], len(scopes[scope])) for scope in scopes]
        out += ["", f"{'trigger':<16}{'precision':>10}{'recall':>8}{'F1':>7}{'items':>7}"]
        out += [_row(label, r, r.tp + r.fn) for label, r in by_trigger(self.outcomes).items()]
        out += ["", "confusion (rows: expected, columns: decided)"]
        short = {label: label[:8] for label in LABELS}
        out.append(" " * 17 + "".join(f"{short[c]:>9}" for c in LABELS))
        for row, columns in confusion(self.outcomes).items():
            out.append(f"{row:<17}" + "".join(f"{columns[c]:>9}" for c in LABELS))
        out += ["", *self._summary_lines(), "", f"wrong items: {len(self.wrong)}"]
        for o in self.wrong:
            text = " ".join(o.item.latest.split())
            out.append(f"  {o.item.id} expected {o.expected}, decided {o.decided}: {text[:90]}")
        missed = self.missed_targets
        out += ["", "targets met" if not missed else "targets missed: " + "; ".join(missed)]
        return out

    def _summary_lines(self) -> list[str]:
        score = self.summaries
        kinds = ", ".join(f"{k} {score.kept[k]}/{score.total[k]}" for k in score.kept)
        return [
            f"summaries: {score.summaries} of {score.conversations} conversations; facts kept "
            f"{sum(score.kept.values())}/{sum(score.total.values())} ({score.rate:.0%}): {kinds}",
            f"  within {score.as_dict()['limit']} characters: {score.within_limit}/"
            f"{score.summaries} (longest {score.longest})",
        ]


def _row(name: str, rates: Rates, items: int) -> str:
    return f"{name:<16}{rates.precision:>10.3f}{rates.recall:>8.3f}{rates.f1:>7.3f}{items:>7}"
