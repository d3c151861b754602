"""What ``make mutate`` mutates, and which fast tests must notice each change.

Each group pairs invariant modules with the unit tests that guard them: a mutant is run only
against its group's tests, so a run stays within minutes. Operators that only produce noise
here are left out: ``|`` in type annotations (``str | None``), arithmetic swaps no code in
these modules could tell apart from a crash, and comparison swaps beyond the boundary and
negation cases.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS = (
    Group(
        "conversation state",
        ("libs/contracts/conversation.py", "libs/platform/conversation_store.py"),
        ("tests/test_conversation_state_machine.py",),
    ),
    Group(
        "consuming",
        ("libs/platform/consuming.py",),
        ("tests/platform/test_consuming.py", "tests/test_dead_letters.py"),
    ),
    Group(
        "turn lease",
        ("services/agent_worker/turn_lease.py",),
        ("tests/agent/test_turn_lease.py",),
    ),
    Group(
        "turn processor",
        ("services/agent_worker/turns.py",),
        ("tests/agent/test_turn_reads.py", "tests/agent/test_turn_silence.py"),
    ),
    Group(
        "relay call session",
        ("services/relay_gateway/calls.py",),
        ("tests/relay_gateway/test_call_session.py",),
    ),
    Group(
        "reply records",
        (
            "services/messaging_gateway/reply_records.py",
            "services/messaging_gateway/replies.py",
        ),
        ("tests/messaging_gateway/test_replies.py",),
    ),
    Group(
        "handoff delivery",
        (
            "services/handoff_dispatcher/delivery.py",
            "services/handoff_dispatcher/outcome.py",
            "services/handoff_dispatcher/records.py",
        ),
        (
            "tests/handoff_dispatcher/test_handoff_data.py",
            "tests/handoff_dispatcher/test_delivery.py",
            "tests/handoff_dispatcher/test_records.py",
        ),
    ),
    Group(
        "Retry-After",
        ("services/handoff_dispatcher/studio.py",),
        (
            "tests/handoff_dispatcher/test_retry_budget.py",
            "tests/handoff_dispatcher/test_studio_executions.py",
        ),
    ),
)

KEPT_COMPARISONS = [
    *("Eq_NotEq", "NotEq_Eq", "Is_IsNot", "IsNot_Is", "In_NotIn", "NotIn_In"),
    *("Lt_LtE", "LtE_Lt", "Gt_GtE", "GtE_Gt", "Lt_GtE", "GtE_Lt", "Gt_LtE", "LtE_Gt"),
]
KEPT_ARITHMETIC = ["Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Mul", "Pow_Mul", "Mod_Mul"]
KEPT_UNARY = ["Delete_Not", "Not_Delete", "USub_Delete", "Delete_USub"]


def _all_but(prefix: str, kept: list[str]) -> str:
    return f"core/{prefix}_(?!(?:{'|'.join(kept)})$)"


EXCLUDED_OPERATORS = (
    _all_but("ReplaceComparisonOperator", KEPT_COMPARISONS),
    _all_but("ReplaceBinaryOperator", KEPT_ARITHMETIC),
    _all_but("ReplaceUnaryOperator", KEPT_UNARY),
    "core/RemoveDecorator",
)
"""cosmic-ray operator names (regular expressions) never applied."""

TIMEOUT_SECONDS = 90.0
"""A mutant whose tests run longer than this counts as killed (it hung)."""
