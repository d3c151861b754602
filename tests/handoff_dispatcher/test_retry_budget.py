"""How long the dispatcher waits before the next Studio POST."""

from __future__ import annotations

import pytest

from services.handoff_dispatcher.studio import RetryBudget

BUDGET = RetryBudget(max_attempts=4, backoff_seconds=0.5, max_retry_after_seconds=30.0)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("2", 2.0),
        ("1.5", 1.5),
        ("30", 30.0),
        ("0", 0.0),
        ("3600", 30.0),
        ("31", 30.0),
    ],
)
def test_retry_after_is_honoured_up_to_the_cap(retry_after: str, expected: float) -> None:
    assert BUDGET.delay(1, retry_after) == expected
    assert BUDGET.delay(3, retry_after) == expected, "Retry-After wins over the backoff"


@pytest.mark.parametrize("retry_after", [None, "", "soon", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_without_a_usable_retry_after_the_backoff_doubles(retry_after: str | None) -> None:
    assert [BUDGET.delay(attempt, retry_after) for attempt in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_no_backoff_means_no_wait() -> None:
    budget = RetryBudget(max_attempts=3, backoff_seconds=0.0, max_retry_after_seconds=0.0)
    assert [budget.delay(1, None), budget.delay(2, "12")] == [0.0, 0.0]
