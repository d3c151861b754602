"""The evaluation set is well formed and covers what the decisions must get right."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from baton_devtools.escalation_eval.dataset import LANGUAGES, load
from services.agent_worker.escalation import Trigger

ITEMS = load()
WORDED = (
    Trigger.ASKED_FOR_HUMAN,
    Trigger.ACCOUNT_SECURITY,
    Trigger.BILLING_DISPUTE,
    Trigger.FRUSTRATION,
)


def test_at_least_400_items_in_five_languages() -> None:
    assert len(ITEMS) >= 400
    per_language = Counter(item.lang for item in ITEMS)
    assert set(per_language) == set(LANGUAGES)
    assert min(per_language.values()) >= 80, per_language


def test_every_language_has_every_trigger_and_its_near_misses() -> None:
    positives = Counter((item.lang, item.trigger) for item in ITEMS if item.trigger)
    near = Counter((item.lang, item.near_miss) for item in ITEMS if item.near_miss)
    for lang in LANGUAGES:
        for trigger in Trigger:
            assert positives[lang, trigger] >= 5, (lang, trigger)
        for trigger in WORDED:
            assert near[lang, trigger] >= 5, (lang, trigger)
        assert near[lang, Trigger.UNRESOLVED] >= 2, lang
        assert sum(1 for i in ITEMS if i.lang == lang and not i.handoff) >= 30, lang


def test_every_language_has_conversations_with_the_facts_a_human_needs() -> None:
    for lang in LANGUAGES:
        conversations = [i for i in ITEMS if i.lang == lang and i.conversation]
        assert len(conversations) >= 12, lang
        assert sum(1 for i in conversations if not i.handoff) >= 3, lang
        handed = [i for i in conversations if i.handoff]
        assert {i.trigger for i in handed} == set(Trigger), lang
        assert all(i.facts is not None for i in handed)


@pytest.mark.parametrize(
    ("text", "handoff"),
    [
        ("How do you protect my account against fraud?", False),
        ("What is your chargeback policy?", False),
        ("Can I dispute a charge online myself?", False),
        ("I need a person to sign for the delivery?", False),
        ("Necesito hablar con una persona", True),
        ("je veux parler à un humain", True),
    ],
)
def test_the_reported_cases_are_in_the_set(text: str, handoff: bool) -> None:
    [item] = [item for item in ITEMS if item.latest == text]
    assert item.handoff is handoff


GOOD: dict[str, Any] = {"id": "en-001", "lang": "en", "text": "agent", "handoff": True,
                        "trigger": "asked_for_human"}  # fmt: skip
CONVERSATION = [
    {"role": "customer", "text": "my blender is loud"},
    {"role": "agent", "text": "Could you tell me more?"},
    {"role": "customer", "text": "it rattles"},
]
FACTS = {"issue": ["blender"], "tried": ["more"], "last_words": ["rattles"], "reason": ["x"]}


@pytest.mark.parametrize(
    "changes",
    [
        {"trigger": None},
        {"handoff": False},
        {"near_miss": "frustration"},
        {"lang": "it"},
        {"text": None},
        {"turns": CONVERSATION},
        {"trigger": "unresolved"},
        {"facts": FACTS},
        {"text": None, "turns": CONVERSATION},
        {"text": None, "turns": [*CONVERSATION, {"role": "agent", "text": "hm"}], "facts": FACTS},
        {"surprise": 1},
    ],
)
def test_malformed_items_are_rejected(tmp_path: Path, changes: dict[str, Any]) -> None:
    row = {key: value for key, value in {**GOOD, **changes}.items() if value is not None}
    if changes.get("trigger", "") is None:
        row["trigger"] = None
    (tmp_path / "xx.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"xx\.jsonl:1"):
        load(tmp_path)


def test_a_well_formed_conversation_loads_and_ids_are_unique(tmp_path: Path) -> None:
    conversation = {**GOOD, "text": None, "turns": CONVERSATION, "facts": FACTS}
    rows = [GOOD, {key: value for key, value in conversation.items() if value is not None}]
    (tmp_path / "xx.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match="duplicate id en-001"):
        load(tmp_path)
    rows[1]["id"] = "en-002"
    (tmp_path / "xx.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    [single, talk] = load(tmp_path)
    assert single.latest == "agent" and single.history == []
    assert talk.latest == "it rattles" and [line.role for line in talk.history] == [
        "customer",
        "agent",
    ]
