"""What one way of delivering a handoff achieved: a Studio execution, or a voice ``end``."""

from __future__ import annotations

from dataclasses import dataclass

from libs.contracts.messages import HandoffFailure
from libs.platform.consuming import TransientFailure


@dataclass(frozen=True)
class DeliveryOutcome:
    execution_sid: str | None
    """The Studio execution (digital channels); ``None`` for a voice ``end``."""
    failure: HandoffFailure | None
    detail: str
    attempts: int
    verified: bool = True
    """False when delivery is presumed: Twilio holds one for our contact we could not see."""

    @property
    def delivered(self) -> bool:
        return self.failure is None


class OutcomeUnknown(TransientFailure):
    """A POST may have been acted on and Twilio could not be asked: find out on a later try."""
