"""Where a decision to hand off is recorded: on the current span and in the task's attributes.

Every handoff says what triggered it (``escalation``: a trigger, or ``model_decision`` when
the model's reason names none), who decided (the policy agent, the guardrail or the model)
and on what evidence (the rule and the customer's words, or the model's reason). The task
attributes reach Studio and Flex through ``HandoffData.attributes``; the span carries the
customer's words only when ``BATON_LOG_SENSITIVE`` allows message text in spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opentelemetry import trace

from libs.platform.tracing import sensitive_spans
from services.agent_worker.escalation import Evidence
from services.agent_worker.escalation.reasons import classify_reason

ESCALATION_ATTRIBUTE = "escalation"
"""Routing attribute naming the trigger, so Flex can route security to its own queue."""
EVIDENCE_ATTRIBUTE = "escalation_evidence"
MODEL_DECISION = "model_decision"
EVIDENCE_LIMIT = 120
"""Evidence rides in the task's attributes, inside Studio's 1,024-character limit."""


class Source(StrEnum):
    POLICY = "policy"
    GUARDRAIL = "guardrail"
    MODEL = "model"


@dataclass(frozen=True)
class Decision:
    escalation: str
    source: Source
    rule: str
    words: str = ""

    @classmethod
    def of(cls, evidence: Evidence, source: Source) -> Decision:
        return cls(evidence.trigger.value, source, evidence.rule, evidence.words)

    @classmethod
    def by_model(cls, reason: str) -> Decision:
        trigger = classify_reason(reason)
        escalation = trigger.value if trigger is not None else MODEL_DECISION
        return cls(escalation, Source.MODEL, "model: handoff tool", reason)

    def evidence(self, *, with_words: bool = True) -> str:
        """``rule: "words"``, at most :data:`EVIDENCE_LIMIT` characters."""
        words = " ".join(self.words.split())
        text = f'{self.rule}: "{words}"' if words and with_words else self.rule
        return text if len(text) <= EVIDENCE_LIMIT else text[: EVIDENCE_LIMIT - 1] + "…"

    def task_attributes(self) -> dict[str, str]:
        return {ESCALATION_ATTRIBUTE: self.escalation, EVIDENCE_ATTRIBUTE: self.evidence()}

    def record(self) -> None:
        """The decision on the current span (the agent's turn, or the tool call's)."""
        trace.get_current_span().set_attributes(
            {
                "baton.escalation.trigger": self.escalation,
                "baton.escalation.source": self.source.value,
                "baton.escalation.rule": self.rule,
                "baton.escalation.evidence": self.evidence(with_words=sensitive_spans()),
            }
        )
