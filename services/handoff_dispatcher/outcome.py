"""What one way of delivering a handoff achieved: a Studio execution, or a voice ``end``."""

from __future__ import annotations

from dataclasses import dataclass

from libs.contracts.messages import HandoffFailure


@dataclass(frozen=True)
class DeliveryOutcome:
    execution_sid: str | None
    """The Studio execution (digital channels); ``None`` for a voice ``end``."""
    failure: HandoffFailure | None
    detail: str
    attempts: int

    @property
    def delivered(self) -> bool:
        return self.failure is None
