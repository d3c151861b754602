"""The policy agent escalates on the guide's four triggers, and not on near-misses.

The evaluation set (``make eval``, ``test_escalation_eval.py``) measures the rules at scale;
these cases pin the agent's behaviour around them.
"""

from __future__ import annotations

import pytest

from services.agent_worker.decision import EVIDENCE_ATTRIBUTE
from services.agent_worker.escalation import Trigger, detect
from services.agent_worker.knowledge import Faq
from services.agent_worker.policy_agent import (
    CLOSING,
    ESCALATION_ATTRIBUTE,
    FALLBACKS,
    GREETING,
    HANDOFF_FAILED,
    HANDOFF_GOODBYE,
    SECURE_HANDOFF_GOODBYE,
    PolicyAgent,
)
from tests.agent.fakes import FakeHandoff, lines, reply, tac, turn
from tests.support.expected import FAQ_ANSWERS

ESCALATE = {
    Trigger.ASKED_FOR_HUMAN: [
        "Can I talk to a human?",
        "I want to speak with a real person",
        "agent please",
        "Representative!",
        "Get me a live agent now",
        "transfer me to someone",
        "I'd like to speak to your supervisor",
        "Is there a human I can talk to?",
        "I don't know, just get me a human",
    ],
    Trigger.ACCOUNT_SECURITY: [
        "I think my account was hacked",
        "someone logged into my account from another country",
        "I got a verification code I didn't request",
        "There's suspicious activity on my account",
        "someone changed my password",
        "my identity was stolen",
    ],
    Trigger.BILLING_DISPUTE: [
        "I want to dispute a charge",
        "You charged me twice for the same order",
        "I was overcharged last month",
        "there's a charge on my card I don't recognize",
        "my bill is wrong",
    ],
    Trigger.FRUSTRATION: [
        "This is ridiculous",
        "I'm so frustrated",
        "I'm fed up with this service",
        "I'm really disappointed with the service",
        "this is a waste of my time",
        "I can't believe how useless this is",
        "not happy with this at all",
    ],
}
NEAR_MISSES = [
    "my agent Smith said I'd get a refund",
    "is a human needed to reset my password?",
    "do I need to speak to a person to change my address?",
    "I'm a human, not a robot",
    "are you a real person?",
    "I spoke to an agent yesterday about my order",
    "I don't want to talk to a human, just tell me your hours",
    "how do I reset my password?",
    "what security features do you offer?",
    "I wasn't hacked, I just forgot my password",
    "any life hacks for packing returns?",
    "when is my bill due?",
    "I'm not disputing anything, I just want a copy of my invoice",
    "is there a charge for returns?",
    "worst case, can I return it next week?",
    "I hate to bother you, but what are your hours?",
    "I'm not frustrated, just curious about returns",
    "that's terribly kind of you",
    "no complaints, thanks!",
    "sorry, stupid question: do you ship abroad?",
]


@pytest.mark.parametrize(
    ("trigger", "text"), [(t, text) for t, texts in ESCALATE.items() for text in texts]
)
async def test_each_trigger_escalates(trigger: Trigger, text: str) -> None:
    handoff = FakeHandoff()
    tokens = await reply(PolicyAgent(tac()), turn(text), handoff.tools())
    [(reason, attributes)] = handoff.calls
    assert reason == trigger.reason
    assert attributes[ESCALATION_ATTRIBUTE] == trigger.value
    assert attributes[EVIDENCE_ATTRIBUTE].startswith("en: "), "the rule that decided"
    goodbye = SECURE_HANDOFF_GOODBYE if trigger is Trigger.ACCOUNT_SECURITY else HANDOFF_GOODBYE
    assert "".join(tokens) == goodbye
    assert len(tokens) > 1, "the reply is streamed word by word"


@pytest.mark.parametrize(
    ("text", "trigger", "evidence"),
    [
        ("Necesito hablar con una persona", Trigger.ASKED_FOR_HUMAN, 'es: talk to a person: "'),
        ("je veux parler à un humain", Trigger.ASKED_FOR_HUMAN, 'fr: talk to a person: "'),
        ("Mein Konto wurde gehackt", Trigger.ACCOUNT_SECURITY, 'de: hacked: "gehackt"'),
        ("Fui cobrado duas vezes", Trigger.BILLING_DISPUTE, "pt: charged twice"),
        ("Estoy harta de su servicio", Trigger.FRUSTRATION, 'es: fed up: "harta"'),
    ],
)
async def test_other_languages_escalate_with_their_evidence(
    text: str, trigger: Trigger, evidence: str
) -> None:
    handoff = FakeHandoff()
    await reply(PolicyAgent(tac()), turn(text), handoff.tools())
    [(reason, attributes)] = handoff.calls
    assert reason == trigger.reason
    assert attributes[EVIDENCE_ATTRIBUTE].startswith(evidence)


@pytest.mark.parametrize("text", NEAR_MISSES)
async def test_near_misses_do_not_escalate(text: str) -> None:
    handoff = FakeHandoff()
    await reply(PolicyAgent(tac()), turn(text), handoff.tools())
    assert handoff.calls == [], detect(text)


async def test_answers_from_the_faq() -> None:
    handoff = FakeHandoff()
    tokens = await reply(PolicyAgent(tac()), turn("what are your opening hours?"), handoff.tools())
    assert "".join(tokens) == FAQ_ANSWERS["hours"]
    custom = Faq.from_config({"pets": {"answer": "Dogs are welcome.", "keywords": ["dog"]}})
    agent = PolicyAgent(tac(), faq=custom)
    tokens = await reply(agent, turn("can I bring my dog?"), handoff.tools())
    assert "".join(tokens) == "Dogs are welcome."


async def test_unresolved_after_two_attempts() -> None:
    agent = PolicyAgent(tac())
    handoff = FakeHandoff()
    first = "".join(await reply(agent, turn("my blender makes a weird noise"), handoff.tools()))
    assert first == FALLBACKS[0]
    history = lines(("customer", "my blender makes a weird noise"), ("agent", first))
    second = "".join(await reply(agent, turn("it rattles when on", history), handoff.tools()))
    assert second == FALLBACKS[1]
    assert handoff.calls == []
    history += lines(("customer", "it rattles when on"), ("agent", second))
    third = "".join(await reply(agent, turn("it still rattles", history), handoff.tools()))
    assert third == HANDOFF_GOODBYE
    [(reason, attributes)] = handoff.calls
    assert reason == Trigger.UNRESOLVED.reason
    assert attributes[ESCALATION_ATTRIBUTE] == "unresolved"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks, that's all", CLOSING),
        ("what are your hours?", FAQ_ANSWERS["hours"]),
        ("hello", GREETING),
    ],
)
async def test_two_fallbacks_then_no_issue_does_not_escalate(text: str, expected: str) -> None:
    history = lines(
        ("customer", "blender noise"),
        ("agent", FALLBACKS[0]),
        ("customer", "it rattles"),
        ("agent", FALLBACKS[1]),
    )
    handoff = FakeHandoff()
    tokens = await reply(PolicyAgent(tac()), turn(text, history), handoff.tools())
    assert "".join(tokens) == expected
    assert handoff.calls == []


async def test_a_goodbye_in_any_language_after_two_fallbacks_is_not_escalated() -> None:
    history = lines(
        ("customer", "mi cafetera hace ruido"),
        ("agent", FALLBACKS[0]),
        ("customer", "al calentar"),
        ("agent", FALLBACKS[1]),
    )
    handoff = FakeHandoff()
    text = "bueno, da igual, ya lo encontré. gracias"
    tokens = await reply(PolicyAgent(tac()), turn(text, history), handoff.tools())
    assert "".join(tokens) == CLOSING and handoff.calls == []


async def test_still_unresolved_after_two_answers_is_escalated() -> None:
    history = lines(
        ("customer", "how do I reset my password"),
        ("agent", FAQ_ANSWERS["password"]),
        ("customer", "there's no forgot password link"),
        ("agent", "It is under the sign-in button."),
    )
    handoff = FakeHandoff()
    await reply(PolicyAgent(tac()), turn("still can't find it", history), handoff.tools())
    [(reason, attributes)] = handoff.calls
    assert reason == Trigger.UNRESOLVED.reason
    assert attributes[EVIDENCE_ATTRIBUTE].startswith("still unresolved after two answers")


async def test_an_answer_between_fallbacks_resets_the_count() -> None:
    history = lines(
        ("customer", "blender noise"),
        ("agent", FALLBACKS[0]),
        ("customer", "what are your hours?"),
        ("agent", FAQ_ANSWERS["hours"]),
        ("customer", "and the blender?"),
        ("agent", FALLBACKS[0]),
    )
    handoff = FakeHandoff()
    text = "".join(await reply(PolicyAgent(tac()), turn("it rattles", history), handoff.tools()))
    assert text == FALLBACKS[1] and handoff.calls == []


async def test_a_failed_handoff_is_told_to_the_customer() -> None:
    handoff = FakeHandoff(failure="the handoff could not be requested (ConnectionError)")
    tokens = await reply(PolicyAgent(tac()), turn("I want a human"), handoff.tools())
    assert "".join(tokens) == HANDOFF_FAILED
