"""The literal screen: it skips templates that cannot match a sentence, and only those."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton_devtools.escalation_eval.dataset import load
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.literals import LiteralIndex, required_literals
from services.agent_worker.escalation.patterns import SCREEN, Template
from services.agent_worker.escalation.text import sentences


def every_template() -> list[Template]:
    found: list[Template] = []
    for lexicon in LEXICONS:
        compiled = [*lexicon.triggers.values(), lexicon.impatience_rules]
        compiled.append(lexicon.still_unresolved_rules)
        found += [template for rules in compiled for _, rule in rules for template in rule]
        found += [template for group in lexicon.sentence_filters.values() for template in group]
    return found


ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = every_template()
LITERALS = sorted({literal for t in TEMPLATES for literal in t.needs or ()})


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r"(?:agent|person)\W+now", {"agent", "person"}),  # the longer of two requirements
        (r"a?b", {"b"}),
        (r"(?:x+)yz", {"yz"}),
        (r"(?:refund|charge(?:d|s)?)\b", {"refund", "charge"}),
        (r"[ab]c\d", {"c"}),
        (r"agent|\w+", None),  # one branch needs nothing: nothing can be required
        (r"x*y?", None),
        (r"(?i)agent", None),  # ignoring case, a literal no longer compares as written
        (r"(?i:agent) now", {" now"}),  # the part compared as written
        (r"(?i:agent)", None),
        (r"(?=agent)\w+", None),
    ],
)
def test_required_literals_are_read_off_the_expression(
    pattern: str, needs: set[str] | None
) -> None:
    assert required_literals(re.compile(pattern)) == (None if needs is None else frozenset(needs))


def test_every_template_of_every_lexicon_is_screened() -> None:
    assert len(TEMPLATES) > 300
    assert all(template.needs for template in TEMPLATES)


def test_an_ordinary_question_leaves_few_templates_to_run() -> None:
    text = sentences("What are your opening hours on Saturday?")[0].text
    assert len(SCREEN.candidates(text) & set(TEMPLATES)) < len(TEMPLATES) // 10


def test_the_screen_never_skips_a_template_that_matches_the_evaluation_set() -> None:
    matched = 0
    for item in load():
        texts = [item.text] if item.text else [line.text for line in item.turns or ()]
        for sentence in (s for text in texts for s in sentences(text)):
            candidates = SCREEN.candidates(sentence.text)
            for template in TEMPLATES:
                if template.regex.search(sentence.text):
                    matched += 1
                    assert template in candidates, (template.regex.pattern, sentence.text)
    assert matched > 400  # the set exercises the screen, not only its misses


fragments = st.one_of(
    st.sampled_from(LITERALS), st.text(alphabet="abcdefghijklmnopqrstuvwxyz' ", max_size=6)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fragments, min_size=1, max_size=8), st.sampled_from([" ", "", ", ", " - "]))
def test_any_text_a_template_matches_holds_one_of_its_literals(
    pieces: list[str], separator: str
) -> None:
    text = separator.join(pieces)
    candidates = SCREEN.candidates(text)
    for template in TEMPLATES:
        if template.regex.search(text):
            assert template in candidates, (template.regex.pattern, text)


def test_a_template_added_later_is_screened_in_texts_read_before() -> None:
    index: LiteralIndex[str] = LiteralIndex()
    index.add("refund", frozenset({"refund"}))
    assert index.candidates("i want a refund now") == {"refund"}
    index.add("now", frozenset({"now"}))
    assert index.candidates("i want a refund now") == {"refund", "now"}
    index.add("always", None)
    assert index.candidates("nothing here") == {"always"}


def test_warming_up_compiles_every_rule_and_the_screen_before_the_first_message() -> None:
    """In a fresh process: nothing is compiled on import, everything after ``warm_up``."""
    check = """
from services.agent_worker.escalation import warm_up
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.patterns import SCREEN
NAMES = ("triggers", "impatience_rules", "still_unresolved_rules", "sentence_filters")
def compiled():
    return [name in vars(lexicon) for lexicon in LEXICONS for name in NAMES]
assert not any(compiled()) and not SCREEN.ready
warm_up()
assert all(compiled()) and SCREEN.ready
"""
    subprocess.run([sys.executable, "-c", check], check=True, cwd=ROOT)
