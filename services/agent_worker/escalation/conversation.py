"""Triggers that need the conversation: frustration that builds up, and two failed attempts.

The conversation is the history the worker passes with every turn (``TurnContext.history``),
so the state is the same on every replica. Counting starts after the last line a human
agent (or the system) wrote: a conversation handed back to the bot starts afresh.

* Frustration: a clear expression of it, or two signs of impatience ("seriously?",
  "that's not what I asked", shouting), in this message or in this one and a recent one.
* Unresolved: the agent's last two replies admitted they had no answer and the customer
  writes again (not to greet or thank); or the agent has tried twice since the customer
  last said it was sorted, and the customer says it still isn't.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from libs.contracts.messages import TranscriptLine
from services.agent_worker.escalation.courtesy import is_closing, is_greeting, is_non_answer
from services.agent_worker.escalation.detector import find
from services.agent_worker.escalation.evidence import Evidence
from services.agent_worker.escalation.impatience import impatience, still_unresolved
from services.agent_worker.escalation.triggers import PRECEDENCE, Trigger

ATTEMPTS = 2
RECENT_CUSTOMER_TURNS = 3
NON_ANSWERS_RULE = "two replies without an answer"
STILL_UNRESOLVED_RULE = "still unresolved after two answers"


def assess(
    message: str, history: Sequence[TranscriptLine], triggers: Iterable[Trigger] = PRECEDENCE
) -> Evidence | None:
    """The first of ``triggers`` (in order of precedence) this turn calls for, if any."""
    wanted = set(triggers)
    for trigger in (t for t in PRECEDENCE if t in wanted):
        if trigger is Trigger.FRUSTRATION:
            evidence = frustration(message, history)
        elif trigger is Trigger.UNRESOLVED:
            evidence = unresolved(message, history)
        else:
            evidence = find(message, (trigger,))
        if evidence is not None:
            return evidence
    return None


def since_last_human(history: Sequence[TranscriptLine]) -> list[TranscriptLine]:
    for index in range(len(history) - 1, -1, -1):
        if history[index].role not in ("customer", "agent"):
            return list(history[index + 1 :])
    return list(history)


def frustration(message: str, history: Sequence[TranscriptLine]) -> Evidence | None:
    clear = find(message, (Trigger.FRUSTRATION,))
    if clear is not None:
        return clear
    signs = impatience(message)
    if len(signs) >= 2:
        return _impatience_evidence(signs)
    if not signs:
        return None
    earlier = [line.text for line in since_last_human(history) if line.role == "customer"]
    for text in earlier[-RECENT_CUSTOMER_TURNS:]:
        if impatience(text) or find(text, (Trigger.FRUSTRATION,)):
            return _impatience_evidence(signs, across_turns=True)
    return None


def _impatience_evidence(signs: list[tuple[str, str]], *, across_turns: bool = False) -> Evidence:
    rule = "impatience" + (" across turns" if across_turns else "")
    names = ", ".join(name for name, _ in signs)
    return Evidence(Trigger.FRUSTRATION, f"{rule} ({names})", " … ".join(w for _, w in signs))


def non_answers(history: Sequence[TranscriptLine]) -> int:
    """How many of the agent's latest replies in a row admitted they had no answer."""
    count = 0
    for line in reversed(since_last_human(history)):
        if line.role != "agent":
            continue
        if not is_non_answer(line.text):
            break
        count += 1
    return count


def attempts(history: Sequence[TranscriptLine]) -> int:
    """The agent's replies since the customer last said it was sorted (greetings aside)."""
    count = 0
    previous = ""
    for line in since_last_human(history):
        if line.role == "customer":
            if is_closing(line.text):
                count = 0
            previous = line.text
        elif not is_greeting(previous):
            count += 1
    return count


def unresolved(message: str, history: Sequence[TranscriptLine]) -> Evidence | None:
    still = still_unresolved(message)
    if not still and (is_greeting(message) or is_closing(message)):
        return None
    if non_answers(history) >= ATTEMPTS:
        return Evidence(Trigger.UNRESOLVED, NON_ANSWERS_RULE)
    if still and attempts(history) >= ATTEMPTS:
        return Evidence(Trigger.UNRESOLVED, STILL_UNRESOLVED_RULE, still)
    return None
