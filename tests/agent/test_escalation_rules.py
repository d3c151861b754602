"""How the escalation rules read a message and a conversation, in the five languages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.agent_worker.escalation import (
    PRECEDENCE,
    Trigger,
    assess,
    find,
    is_closing,
    is_greeting,
    is_non_answer,
    non_answers,
)
from services.agent_worker.escalation.conversation import attempts
from services.agent_worker.escalation.languages import LEXICONS
from services.agent_worker.escalation.text import normalize, sentences
from services.agent_worker.llm_agent import NO_ANSWER
from services.agent_worker.policy_agent import FALLBACKS
from tests.agent.fakes import lines

S, B, H, F, U = PRECEDENCE

CLEAR = [
    ("en", "could you put me through to a real person", H),
    ("es", "quiero hablar con un asesor", H),
    ("fr", "passez-moi un conseiller svp", H),
    ("de", "verbinden Sie mich mit einem Mitarbeiter", H),
    ("pt", "quero falar com um atendente", H),
    ("en", "someone logged into my account from abroad", S),
    ("es", "me han hackeado la cuenta", S),
    ("fr", "mon compte a été piraté", S),
    ("de", "mein Konto wurde gehackt", S),
    ("pt", "minha conta foi invadida", S),
    ("en", "you charged me twice for this", B),
    ("es", "me cobraron dos veces", B),
    ("fr", "j'ai été débité deux fois", B),
    ("de", "Sie haben doppelt abgebucht", B),
    ("pt", "fui cobrado duas vezes", B),
    ("en", "this is ridiculous", F),
    ("es", "estoy harto", F),
    ("fr", "j'en ai marre", F),
    ("de", "ich bin total genervt", F),
    ("pt", "estou de saco cheio", F),
]
TOPICS = [
    "how do you protect my account against fraud?",
    "¿cuál es su política de contracargos?",
    "est-ce que je peux contester un prélèvement en ligne ?",
    "Muss ich mit einem Mitarbeiter sprechen, um die Adresse zu ändern?",
    "você é uma pessoa ou um robô?",
    "my agent Sarah said the refund is on its way",
]


@pytest.mark.parametrize(("language", "text", "trigger"), CLEAR)
def test_a_clear_intent_is_found_with_its_rule_and_words(
    language: str, text: str, trigger: Trigger
) -> None:
    evidence = find(text)
    assert evidence is not None and evidence.trigger is trigger, evidence
    assert evidence.rule.startswith(f"{language}: ")
    assert evidence.words and evidence.words in text, "the customer's own words, accents kept"


@pytest.mark.parametrize("text", TOPICS)
def test_topics_mentions_and_questions_are_not_requests(text: str) -> None:
    assert find(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "I'm not frustrated, just curious",
        "I wasn't hacked, I just forgot my password",
        "No me hackearon, solo me bloqueé",
        "Não fui hackeado",
        "Ich brauche keinen Mitarbeiter, nur die Öffnungszeiten",
        "je ne suis pas fâché",
    ],
)
def test_a_negator_in_any_language_cancels_what_follows(text: str) -> None:
    assert find(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "I was so frustrated with my old kettle, is this one in stock?",
        "estaba harto de mi cafetera vieja",
        "my cat is furious the box was small lol",
        "meine Katze ist sauer, weil der Karton klein war",
    ],
)
def test_feelings_of_another_time_or_someone_else_are_not_frustration(text: str) -> None:
    assert find(text, (F,)) is None


def test_a_price_does_not_split_a_sentence() -> None:
    text = "There's a charge of $89.99 on my statement that I don't recognize"
    assert [s.original for s in sentences(text)] == [text]
    evidence = find(text)
    assert evidence is not None and evidence.trigger is B


@given(st.text())
def test_normalising_keeps_every_character_in_place(text: str) -> None:
    assert len(normalize(text)) == len(text)


def test_every_language_has_rules_for_every_worded_trigger() -> None:
    assert [lexicon.language for lexicon in LEXICONS] == ["en", "es", "fr", "de", "pt"]
    for lexicon in LEXICONS:
        for trigger, rules in lexicon.triggers.items():
            assert len(rules) >= 4, (lexicon.language, trigger)
        for concern, patterns in lexicon.sentence_filters.items():
            assert patterns, (lexicon.language, concern)
        assert lexicon.impatience_rules and lexicon.still_unresolved_rules


def test_the_agents_own_non_answers_are_recognised() -> None:
    assert all(is_non_answer(reply) for reply in (*FALLBACKS, NO_ANSWER))
    assert not is_non_answer("You can track any order from the link in your confirmation.")
    assert is_greeting("hola") and is_greeting("Good morning")
    assert not is_greeting("hi, I need help")
    assert is_closing("merci, c'est tout") and not is_closing("thanks, but it still fails")


def test_one_sign_of_impatience_waits_for_a_second_across_turns() -> None:
    impatient = "seriously, that's not what I asked"
    assert assess("that didn't help at all", []) is None
    history = lines(("customer", impatient), ("agent", "Sorry, could you tell me more?"))
    evidence = assess("that didn't help at all", history)
    assert evidence is not None and evidence.trigger is F
    assert "across turns" in evidence.rule
    handed_back = [*history, *lines(("human", "Sorted, handing you back."))]
    assert assess("that didn't help at all", handed_back) is None, "a human reset the count"


ANSWERS = lines(
    ("customer", "the app crashes on start"),
    ("agent", "Please update the app."),
    ("customer", "updated it"),
    ("agent", "Try logging out and in again."),
)


def test_still_unresolved_after_two_answers_escalates() -> None:
    assert attempts(ANSWERS) == 2
    evidence = assess("still crashes, same thing", ANSWERS)
    assert evidence is not None and evidence.trigger is U and "still" in evidence.words.lower()
    assert assess("still crashes", ANSWERS[:2]) is None, "one answer is one attempt"
    assert assess("thanks, that fixed it", ANSWERS) is None


def test_two_non_answers_escalate_whatever_the_customer_writes_next() -> None:
    history = lines(
        ("customer", "x"), ("agent", FALLBACKS[0]), ("customer", "y"), ("agent", NO_ANSWER)
    )
    assert non_answers(history) == 2
    evidence = assess("it's the model BX-200", history)
    assert evidence is not None and evidence.trigger is U
    assert assess("gracias, ya lo encontré", history) is None
    thanked = [*history[:2], *lines(("customer", "thanks!"), ("agent", FALLBACKS[1]))]
    assert attempts(thanked) == 1


def test_precedence_puts_security_before_a_request_for_a_person() -> None:
    evidence = assess("my account was hacked, let me talk to a person", [])
    assert evidence is not None and evidence.trigger is S
    only_people = assess("my account was hacked, let me talk to a person", [], (H, F))
    assert only_people is not None and only_people.trigger is H
