"""The labelled set: customer utterances and short conversations, one JSON object a line.

Each item is either ``text`` (one customer message) or ``turns`` (customer and agent lines
ending with the customer's), with the decision expected on the last customer message:
``handoff`` and ``trigger``. ``near_miss`` names the trigger a non-handoff item resembles.
Conversations that hand off carry ``facts``: the terms a handoff summary should keep
(``a|b`` means either), for the summary measure.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.contracts.messages import TranscriptLine
from services.agent_worker.escalation import Trigger

LANGUAGES = ("en", "es", "fr", "de", "pt")
Language = Literal["en", "es", "fr", "de", "pt"]
FACT_KINDS = ("issue", "tried", "last_words", "reason")


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["customer", "agent"]
    text: str = Field(min_length=1)


class Facts(BaseModel):
    """What the human needs from the summary, each as terms the summary must contain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issue: list[str] = Field(min_length=1)
    tried: list[str] = Field(min_length=1)
    last_words: list[str] = Field(min_length=1)
    reason: list[str] = Field(min_length=1)

    def by_kind(self) -> dict[str, list[str]]:
        return {kind: getattr(self, kind) for kind in FACT_KINDS}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]{2}-\d{3}$")
    lang: Language
    text: str | None = Field(default=None, min_length=1)
    turns: list[Line] | None = Field(default=None, min_length=3)
    handoff: bool
    trigger: Trigger | None
    near_miss: Trigger | None = None
    facts: Facts | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.text is None) == (self.turns is None):
            raise ValueError("give either text or turns")
        if self.turns is not None:
            roles = [line.role for line in self.turns]
            expected = ["customer" if i % 2 == 0 else "agent" for i in range(len(roles))]
            if roles != expected or roles[-1] != "customer":
                raise ValueError("turns alternate customer/agent and end with the customer")
        if self.handoff != (self.trigger is not None):
            raise ValueError("a handoff names its trigger; no handoff, no trigger")
        if self.handoff and self.near_miss is not None:
            raise ValueError("a near-miss does not hand off")
        if self.trigger is Trigger.UNRESOLVED and self.turns is None:
            raise ValueError("'unresolved' needs a conversation")
        if (self.facts is not None) != (self.handoff and self.turns is not None):
            raise ValueError("facts belong to (and are required on) conversations that hand off")
        return self

    @property
    def conversation(self) -> bool:
        return self.turns is not None

    @property
    def latest(self) -> str:
        """The customer message the decision is about."""
        if self.turns is not None:
            return self.turns[-1].text
        return self.text or ""

    @cached_property
    def history(self) -> list[TranscriptLine]:
        """The lines before it, as the worker passes them to the agent."""
        before = (self.turns or [])[:-1]
        return [TranscriptLine(role=line.role, text=line.text) for line in before]


DATA = resources.files(__package__) / "data"


def load(directory: Traversable = DATA) -> list[Item]:
    """Every item of every ``*.jsonl`` file in ``directory``, in file then line order."""
    return list(_items(directory))


def _items(directory: Traversable) -> Iterator[Item]:
    seen: set[str] = set()
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".jsonl"):
            continue
        for number, raw in enumerate(entry.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                item = Item.model_validate_json(raw)
            except ValueError as error:
                raise ValueError(f"{entry.name}:{number}: {error}") from error
            if item.id in seen:
                raise ValueError(f"{entry.name}:{number}: duplicate id {item.id}")
            seen.add(item.id)
            yield item
