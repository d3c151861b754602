"""What one language contributes to escalation: its word lists and rules, per concern.

Each ``languages/<code>.py`` module builds one :class:`Lexicon`. Rules are named (the name
becomes the decision's evidence) and written as templates (see ``patterns``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from services.agent_worker.escalation.patterns import (
    Rules,
    Template,
    compile_rule,
    compile_template,
)
from services.agent_worker.escalation.triggers import Trigger

Compiled = tuple[tuple[str, tuple[Template, ...]], ...]


@dataclass(frozen=True)
class Lexicon:
    language: str
    words: Mapping[str, str]
    """Word lists for templates: ``{"human": "person|human|agent"}``."""
    negators: str
    """A negating word (a regular expression matched against whole words)."""
    fillers: str
    """Words skipped when looking back for a negator: "I'm not *really* angry"."""
    past: str
    """Past-tense "was": a feeling in the past ("I *was* fed up with my old one") is not now."""
    others: str
    """Someone else whose feelings these are ("*my cat* is furious the box was small")."""
    asked_for_human: Rules
    account_security: Rules
    billing_dispute: Rules
    frustration: Rules
    """Clear frustration or dissatisfaction: enough on its own."""
    impatience: Rules
    """Milder signs ("seriously?", "that's not what I asked"): two, across turns, are enough."""
    not_a_request: tuple[str, ...]
    """Sentences that ask whether a person is needed instead of asking for one."""
    hypothetical: tuple[str, ...]
    """Questions about a topic ("how do you protect…", "what if…"): not reports."""
    still_unresolved: Rules
    """The customer says the last answer did not solve it ("still", "same thing")."""
    non_answer: tuple[str, ...]
    """An agent's reply that admits it has no answer."""
    greeting: tuple[str, ...]
    closing: tuple[str, ...]
    """Thanks and goodbyes: the customer is done."""

    @cached_property
    def triggers(self) -> dict[Trigger, Compiled]:
        """The worded triggers' rules, compiled ("unresolved" needs the conversation)."""
        return {
            Trigger.ASKED_FOR_HUMAN: self.compiled(self.asked_for_human),
            Trigger.ACCOUNT_SECURITY: self.compiled(self.account_security),
            Trigger.BILLING_DISPUTE: self.compiled(self.billing_dispute),
            Trigger.FRUSTRATION: self.compiled(self.frustration),
        }

    @cached_property
    def filler_words(self) -> frozenset[str]:
        return frozenset(self.fillers.split())

    @cached_property
    def impatience_rules(self) -> Compiled:
        return self.compiled(self.impatience)

    @cached_property
    def still_unresolved_rules(self) -> Compiled:
        return self.compiled(self.still_unresolved)

    @cached_property
    def sentence_filters(self) -> dict[str, tuple[Template, ...]]:
        """``not_a_request``, ``hypothetical``, ``non_answer``, ``greeting``, ``closing``."""
        return {
            name: tuple(compile_template(t, self.words) for t in getattr(self, name))
            for name in ("not_a_request", "hypothetical", "non_answer", "greeting", "closing")
        }

    def compiled(self, rules: Rules) -> Compiled:
        return tuple((name, compile_rule(rule, self.words)) for name, rule in rules.items())
