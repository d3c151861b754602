"""A small FAQ: what the policy agent answers from, and the model's ``knowledge_search`` tool.

``BATON_FAQ`` is a JSON object (inline, or the path of a JSON file) mapping a topic to
its answer, or to ``{"answer": ..., "keywords": [...]}``. A topic's keywords default to
the topic itself. Keywords match whole words, with plural and verb endings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from services.agent_worker.tac.tools import InjectedToolArg, TACTool, function_tool

KNOWLEDGE_TOOL_NAME = "knowledge_search"
KNOWLEDGE_TOOL_DESCRIPTION = (
    "Search the help-center answers (opening hours, orders, returns, passwords and other "
    "topics). Use it before answering a factual question about our service."
)
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class FaqEntry:
    topic: str
    answer: str
    keywords: tuple[str, ...]

    def hits(self, text: str) -> int:
        """How many of the entry's keywords ``text`` mentions."""
        return sum(1 for keyword in self.keywords if _keyword_pattern(keyword).search(text))


class Faq(Mapping[str, str]):
    """Answers by topic (a read-only ``topic → answer`` mapping) with keywords to find them.

    Matching is deterministic: most keyword hits, then FAQ order.
    """

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        self.entries = tuple(entries)
        self._answers = {entry.topic: entry.answer for entry in self.entries}

    def __getitem__(self, topic: str) -> str:
        return self._answers[topic]

    def __iter__(self) -> Iterator[str]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Faq:
        """Build from ``BATON_FAQ``'s shape; raises ``ValueError`` naming a bad topic."""
        entries = []
        for topic, value in config.items():
            if isinstance(value, str):
                answer, keywords = value, [topic]
            elif isinstance(value, Mapping) and isinstance(value.get("answer"), str):
                answer = value["answer"]
                keywords = value.get("keywords") or [topic]
            else:
                raise ValueError(f"FAQ topic {topic!r}: expected an answer or {{answer, keywords}}")
            valid_keywords = isinstance(keywords, list) and all(
                isinstance(k, str) and k.strip() for k in keywords
            )
            if not answer.strip() or not valid_keywords:
                raise ValueError(f"FAQ topic {topic!r}: empty answer or bad keywords")
            entries.append(FaqEntry(topic, answer.strip(), tuple(k.lower() for k in keywords)))
        if not entries:
            raise ValueError("the FAQ has no topics")
        return cls(entries)

    def match(self, text: str) -> FaqEntry | None:
        """The entry ``text`` is most clearly about, if any."""
        lowered = text.lower()
        best: FaqEntry | None = None
        best_hits = 0
        for entry in self.entries:
            hits = entry.hits(lowered)
            if hits > best_hits:
                best, best_hits = entry, hits
        return best

    def search(self, query: str, limit: int = 3) -> list[FaqEntry]:
        """Entries ranked by keyword hits, then by words shared with the query."""
        lowered = query.lower()
        words = {word for word in _WORD.findall(lowered) if len(word) > 3}
        scored = []
        for position, entry in enumerate(self.entries):
            shared = words & set(_WORD.findall(f"{entry.topic} {entry.answer}".lower()))
            score = 3 * entry.hits(lowered) + len(shared)
            if score:
                scored.append((-score, position, entry))
        return [entry for _, _, entry in sorted(scored)[:limit]]


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(keyword)}(?:s|es|ed|ing)?\b")


DEFAULT_FAQ = Faq(
    [
        FaqEntry(
            "hours",
            "We're open Monday to Friday, 8am to 8pm, and Saturday 9am to 5pm.",
            ("hours", "opening", "open", "closed"),
        ),
        FaqEntry(
            "order",
            "You can track any order from the link in your confirmation message.",
            ("order", "track", "tracking", "delivery", "shipping", "package", "parcel"),
        ),
        FaqEntry(
            "return",
            "Returns are free within 30 days; reply with your order number to start one.",
            ("return", "exchange", "send back"),
        ),
        FaqEntry(
            "password",
            "You can reset your password from the sign-in page with 'Forgot password'.",
            ("password", "log in", "login", "sign in", "reset"),
        ),
    ]
)
"""The demo FAQ of ``make up``; ``BATON_FAQ`` replaces it."""


async def knowledge_search(
    query: Annotated[str, Field(description="The customer's question, in a few words")],
    faq: Annotated[Faq, InjectedToolArg],
) -> dict[str, Any]:
    """Search the help-center answers."""
    found = faq.search(query)
    if not found:
        return {"results": [], "note": "No answer on this topic; do not guess."}
    return {"results": [{"topic": entry.topic, "answer": entry.answer} for entry in found]}


def create_knowledge_tool(faq: Faq) -> TACTool:
    """A fresh ``knowledge_search`` tool over ``faq`` (injection is per tool, so never shared)."""
    tool = function_tool(name=KNOWLEDGE_TOOL_NAME, description=KNOWLEDGE_TOOL_DESCRIPTION)(
        knowledge_search
    )
    return tool.configure_injection(faq=faq)
