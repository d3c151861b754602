"""Creating the Studio execution for a digital handoff, with bounded, honest retries.

429, 5xx and timeouts are retried with backoff, honouring ``Retry-After``. A 409 (20409,
one active execution per contact) is checked: if the active execution carries our
conversation it is ours and the handoff counts as delivered. Everything else is a typed
failure the caller can report. Each POST is an HTTP client span; each retry is an event on the
dispatch span, with the failure and the delay chosen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace

from libs.contracts.messages import HandoffFailure
from libs.platform.consuming import Heartbeat, while_in_progress
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient
from services.handoff_dispatcher.outcome import DeliveryOutcome


@dataclass(frozen=True)
class RetryBudget:
    max_attempts: int
    backoff_seconds: float
    max_retry_after_seconds: float

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_retry_after_seconds)
            except ValueError:
                pass
        return float(self.backoff_seconds * 2.0 ** (attempt - 1))


class StudioExecutions:
    def __init__(self, rest: TwilioRestClient, flow_sid: str, budget: RetryBudget) -> None:
        self._rest = rest
        self._flow_sid = flow_sid
        self._budget = budget
        self._path = f"/v2/Flows/{flow_sid}/Executions"

    async def create(
        self, *, to: str, from_: str, parameters: str, conversation_id: str, heartbeat: Heartbeat
    ) -> DeliveryOutcome:
        failure = HandoffFailure.STUDIO_UNAVAILABLE
        detail = ""
        for attempt in range(1, self._budget.max_attempts + 1):
            retry_after: str | None = None
            try:
                response = await self._rest.post_form(
                    "studio.execution.create",
                    TwilioProduct.STUDIO,
                    self._path,
                    {"To": to, "From": from_, "Parameters": parameters},
                )
            except httpx.TransportError as error:
                failure, detail = HandoffFailure.STUDIO_UNAVAILABLE, repr(error)
            else:
                status = response.status_code
                if status in (200, 201):
                    return DeliveryOutcome(str(response.json()["sid"]), None, "created", attempt)
                if status == 409:
                    ours = await self.find_active(to, conversation_id)
                    if ours:
                        return DeliveryOutcome(ours, None, "already active for us", attempt)
                    return DeliveryOutcome(None, HandoffFailure.CONFLICT, response.text, attempt)
                detail = f"{status} {response.text[:300]}"
                if status == 429:
                    failure, retry_after = (
                        HandoffFailure.RATE_LIMITED,
                        response.headers.get("Retry-After"),
                    )
                elif status >= 500:
                    failure = HandoffFailure.STUDIO_UNAVAILABLE
                else:
                    return DeliveryOutcome(None, HandoffFailure.STUDIO_REJECTED, detail, attempt)
            if attempt < self._budget.max_attempts:
                delay = self._budget.delay(attempt, retry_after)
                trace.get_current_span().add_event(
                    "studio.retry",
                    {"attempt": attempt, "failure": failure.value, "delay_s": delay},
                )
                await while_in_progress(asyncio.sleep(delay), heartbeat)
        return DeliveryOutcome(None, failure, detail, self._budget.max_attempts)

    async def find_active(self, to: str, conversation_id: str) -> str | None:
        """The active execution for this contact whose HandoffData names our conversation."""
        response = await self._rest.get(
            "studio.execution.list", TwilioProduct.STUDIO, self._path, {"PageSize": "50"}
        )
        if response.status_code != 200:
            return None
        for execution in response.json().get("executions", []):
            if execution.get("status") != "active":
                continue
            if execution.get("contact_channel_address") not in (to, None):
                continue
            sid = str(execution["sid"])
            if await self._names_conversation(sid, conversation_id):
                return sid
        return None

    async def _names_conversation(self, execution_sid: str, conversation_id: str) -> bool:
        response = await self._rest.get(
            "studio.execution.context.fetch",
            TwilioProduct.STUDIO,
            f"{self._path}/{execution_sid}/Context",
        )
        if response.status_code != 200:
            return False
        context: dict[str, Any] = response.json().get("context") or {}
        data = (context.get("flow") or {}).get("data") or {}
        handoff = data.get("HandoffData") or {}
        return bool(handoff.get("conversationId") == conversation_id)
