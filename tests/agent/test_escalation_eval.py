"""The policy agent meets the escalation targets on the set, and ``make eval`` reports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baton_devtools.escalation_eval.cli import evaluate, main
from baton_devtools.escalation_eval.dataset import LANGUAGES, Item, load
from baton_devtools.escalation_eval.report import Report
from baton_devtools.escalation_eval.scoring import (
    PRECISION_TARGET,
    RECALL_TARGET,
    TRIGGER_F1_TARGET,
    Outcome,
    by_language,
    by_trigger,
    confusion,
    handoff_rates,
)
from services.agent_worker.escalation import Trigger
from tests.agent.conftest import API_KEY
from tests.agent.openai_server import Call, ScriptedModel, Text, ToolCalls

ITEMS = load()


@pytest.fixture(scope="module")
async def policy() -> Report:
    [report] = await evaluate(with_model=False, items=ITEMS)
    return report


def test_handoff_decisions_meet_the_targets_overall_and_in_every_language(policy: Report) -> None:
    scopes = {"all": handoff_rates(policy.outcomes), **by_language(policy.outcomes)}
    assert set(scopes) == {"all", *LANGUAGES}
    for scope, rates in scopes.items():
        assert rates.precision >= PRECISION_TARGET, (scope, rates, policy.wrong)
        assert rates.recall >= RECALL_TARGET, (scope, rates, policy.wrong)


def test_every_trigger_meets_its_f1_target(policy: Report) -> None:
    for trigger, rates in by_trigger(policy.outcomes).items():
        assert rates.tp + rates.fn > 0, trigger
        assert rates.f1 >= TRIGGER_F1_TARGET, (trigger, rates)
    assert policy.missed_targets == []


def test_summaries_keep_what_the_human_needs_within_the_limit(policy: Report) -> None:
    score = policy.summaries
    assert score.conversations >= 60
    assert score.summaries == score.conversations
    assert score.within_limit == score.summaries
    assert score.rate >= 0.9, score.lost[:5]
    assert min(score.kept[kind] / score.total[kind] for kind in score.total) >= 0.8


def outcome(item: Item, decided: str | None) -> Outcome:
    return Outcome(item, handoff=decided is not None, trigger=decided)


def test_rates_count_handoffs_and_triggers_separately() -> None:
    human = next(i for i in ITEMS if i.trigger is Trigger.ASKED_FOR_HUMAN)
    billing = next(i for i in ITEMS if i.trigger is Trigger.BILLING_DISPUTE)
    quiet = next(i for i in ITEMS if not i.handoff)
    outcomes = [
        outcome(human, "asked_for_human"),
        outcome(billing, "frustration"),
        outcome(quiet, "something the model made up"),
        outcome(quiet, None),
    ]
    handoff = handoff_rates(outcomes)
    assert (handoff.tp, handoff.fp, handoff.fn) == (2, 1, 0)
    assert handoff.precision == pytest.approx(2 / 3) and handoff.recall == 1.0
    triggers = by_trigger(outcomes)
    assert triggers["billing_dispute"].recall == 0.0
    assert triggers["frustration"].precision == 0.0
    assert triggers["account_security"].precision == 1.0, "nothing decided, nothing wrong"
    table = confusion(outcomes)
    assert table["none"]["other"] == 1 and table["none"]["none"] == 1
    assert table["billing_dispute"]["frustration"] == 1


def test_make_eval_prints_the_figures_and_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "bench-results" / "eval.json"
    assert main(["--output", str(output)]) == 0
    printed = capsys.readouterr().out
    for heading in ("handoff or not", "trigger", "confusion", "summaries:", "wrong items: 0"):
        assert heading in printed
    assert "targets met" in printed and "model agent was not evaluated" in printed
    [document] = json.loads(output.read_text())["agents"]
    assert document["agent"] == "policy" and document["items"] == len(ITEMS)
    assert set(document["languages"]) == set(LANGUAGES)
    assert set(document["triggers"]) == {t.value for t in Trigger}
    assert document["handoff"]["precision"] >= PRECISION_TARGET
    assert document["summaries"]["facts"] > 0 and document["targets"]["missed"] == []


def model_brain(body: dict[str, Any]) -> Text | ToolCalls:
    """Hands off whenever the customer mentions fraud, in its own words, then says goodbye."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Text.of("Connecting you now.")
    if "fraud" in last["content"].lower():
        return ToolCalls.of(Call("handoff", {"reason": "customer worried about fraud"}))
    return Text.of("Happy to help with that.")


async def test_with_a_model_the_model_agent_is_evaluated_behind_its_guardrail(
    model: ScriptedModel, openai_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_url)
    chosen = {"es-001", "en-072", "en-063"}  # a clear request, a fraud question, a bot question
    items = [item for item in ITEMS if item.id in chosen]
    model.script(*[model_brain] * 6)
    policy, guarded = await evaluate(with_model=True, items=items)
    assert guarded.agent.startswith("model") and len(guarded.outcomes) == 3
    decided = {o.item.id: o.decided for o in guarded.outcomes}
    assert decided == {"es-001": "asked_for_human", "en-072": "account_security", "en-063": "none"}
    [wrong] = guarded.wrong
    assert wrong.item.id == "en-072" and wrong.evidence.startswith("model: handoff tool")
    turns = [request["messages"][-1]["content"] for request in model.streamed]
    assert "Necesito hablar con una persona" not in turns, "the guardrail decided alone"
    assert policy.wrong == []
