"""Creating the Studio execution for a digital handoff exactly once, with honest retries.

Only what is known not to have happened is retried blindly: a 429 (never processed) or a
connection that could not be opened. A POST whose outcome is unknown (a read timeout, a
dropped connection, a 5xx, a dispatcher that died after posting) is looked up first: the
executions created since sending began, newest first, page after page (``DateCreatedFrom``),
whose context carries our handoff. A 409 (20409, one active execution per contact) is looked
up the same way; when our execution cannot be found there, another one holds the contact and
the handoff is presumed delivered, unverified (never reported to the customer as failed).
Each POST is an HTTP client span; each retry is an event on the dispatch span.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from opentelemetry import trace

from libs.contracts.messages import HandoffFailure
from libs.platform.twilio_rest import (
    TwilioProduct,
    TwilioRestClient,
    outcome_unknown,
    reached_twilio,
    segment,
)
from services.handoff_dispatcher.outcome import DeliveryOutcome, OutcomeUnknown

log = logging.getLogger("baton.handoff_dispatcher.studio")

CLOCK_SKEW = timedelta(minutes=2)
"""How far Twilio's clock may be from ours: the lookup starts this much before sending did."""
PAGE_SIZE = "50"


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


@dataclass(frozen=True)
class ExecutionRequest:
    """One handoff's execution: who, what, and how to recognise it afterwards."""

    to: str
    from_: str
    parameters: str
    handoff_id: str
    conversation_id: str
    sending_since: datetime


class StudioExecutions:
    def __init__(self, rest: TwilioRestClient, flow_sid: str, budget: RetryBudget) -> None:
        self._rest = rest
        self._flow_sid = flow_sid
        self._budget = budget
        self._path = f"/v2/Flows/{segment(flow_sid)}/Executions"

    async def create(self, request: ExecutionRequest, *, unsure: bool) -> DeliveryOutcome:
        """Our execution, created at most once; ``unsure``: an earlier POST may have landed."""
        failure = HandoffFailure.STUDIO_UNAVAILABLE
        detail = ""
        for attempt in range(1, self._budget.max_attempts + 1):
            if unsure:
                found = await self.find_ours(request)
                if found:
                    return DeliveryOutcome(found, None, "found after an unknown outcome", attempt)
            retry_after: str | None = None
            try:
                response = await self._rest.post_form(
                    "studio.execution.create",
                    TwilioProduct.STUDIO,
                    self._path,
                    {"To": request.to, "From": request.from_, "Parameters": request.parameters},
                )
            except httpx.TransportError as error:
                failure, detail = HandoffFailure.STUDIO_UNAVAILABLE, repr(error)
                unsure = unsure or reached_twilio(error)
            else:
                status = response.status_code
                if status in (200, 201):
                    return DeliveryOutcome(str(response.json()["sid"]), None, "created", attempt)
                if status == 409:
                    return await self._conflict(request, response, attempt)
                detail = f"{status} {response.text[:300]}"
                if status == 429:
                    failure = HandoffFailure.RATE_LIMITED
                    retry_after = response.headers.get("Retry-After")
                elif outcome_unknown(response):
                    failure, unsure = HandoffFailure.STUDIO_UNAVAILABLE, True
                else:
                    return DeliveryOutcome(None, HandoffFailure.STUDIO_REJECTED, detail, attempt)
            if attempt < self._budget.max_attempts:
                delay = self._budget.delay(attempt, retry_after)
                trace.get_current_span().add_event(
                    "studio.retry",
                    {"attempt": attempt, "failure": failure.value, "delay_s": delay},
                )
                await asyncio.sleep(delay)
        if unsure:
            found = await self.find_ours(request)
            if found:
                return DeliveryOutcome(found, None, "found after an unknown outcome", attempt)
        return DeliveryOutcome(None, failure, detail, self._budget.max_attempts)

    async def _conflict(
        self, request: ExecutionRequest, response: httpx.Response, attempt: int
    ) -> DeliveryOutcome:
        """Another execution is active for the contact: ours, or one we cannot see."""
        ours = await self.find_ours(request)
        if ours:
            return DeliveryOutcome(ours, None, "already active for us", attempt)
        log.warning(
            "handoff %s: Studio holds an active execution for the contact that is not ours "
            "(%s); presumed delivered, unverified",
            request.handoff_id,
            response.text[:200],
        )
        return DeliveryOutcome(
            None, None, f"unverified: 409 {response.text[:200]}", attempt, verified=False
        )

    async def find_ours(self, request: ExecutionRequest) -> str | None:
        """The execution created for this handoff since sending began, whatever its status.

        Raises :class:`OutcomeUnknown` when Studio cannot be asked.
        """
        since = request.sending_since - CLOCK_SKEW
        params = {"DateCreatedFrom": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "PageSize": PAGE_SIZE}
        try:
            pages = self._rest.pages(
                "studio.execution.list", TwilioProduct.STUDIO, self._path, params
            )
            async for page in pages:
                for execution in page.get("executions", []):
                    if execution.get("contact_channel_address") not in (request.to, None):
                        continue
                    sid = str(execution["sid"])
                    if await self._carries(sid, request):
                        return sid
        except httpx.HTTPError as error:
            raise OutcomeUnknown(f"Studio executions could not be listed: {error!r}") from error
        return None

    async def _carries(self, execution_sid: str, request: ExecutionRequest) -> bool:
        """Whether the execution's ``flow.data.HandoffData`` is this handoff's."""
        response = await self._rest.get(
            "studio.execution.context.fetch",
            TwilioProduct.STUDIO,
            f"{self._path}/{execution_sid}/Context",
        )
        response.raise_for_status()
        context: dict[str, Any] = response.json().get("context") or {}
        data = (context.get("flow") or {}).get("data") or {}
        handoff = data.get("HandoffData") or {}
        marked = (handoff.get("attributes") or {}).get("handoffId")
        if marked is not None:
            return bool(marked == request.handoff_id)
        return bool(handoff.get("conversationId") == request.conversation_id)
