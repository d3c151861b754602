"""Who the customer is, as Twilio resolved it: the Orchestrator conversation, its customer's
Memory profile and the configuration's store, resolved the way TAC does.

With ``TWILIO_CONVERSATION_CONFIGURATION_ID`` set, every channel is one Orchestrator
conversation: a digital turn names it already; a call is found by its ``CallSid``
(``GET /v2/Conversations?channelId=…&status=ACTIVE``, as TAC polls). ``profileId`` is the
CUSTOMER participant's; ``storeId`` is the configuration's ``memoryStoreId`` (read once per
process; ``TWILIO_MEMORY_STORE_ID`` overrides it). The profile's name and a few recalled
observations are read from Memory for the human. Anything Twilio does not answer leaves that
part empty: a handoff is never held back for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from libs.contracts.messages import Channel, HandoffRequested
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient, segment

log = logging.getLogger("baton.handoff_dispatcher.identity")

MEMORIES_SHOWN = 3


@dataclass(frozen=True)
class CustomerIdentity:
    conversation_id: str
    """The id HandoffData carries: the Orchestrator conversation's when there is one."""
    store_id: str = ""
    profile_id: str = ""
    orchestrated: bool = False
    """``conversation_id`` is an Orchestrator conversation (its status follows the handoff)."""
    customer_name: str = ""
    memories: list[str] = field(default_factory=list)


def profile_name(traits: dict[str, Any]) -> str:
    """A one-line name from the traits (``Contact.firstName``/``lastName``, or ``name``)."""
    for group in traits.values():
        if not isinstance(group, dict):
            continue
        full = " ".join(str(group[key]) for key in ("firstName", "lastName") if group.get(key))
        if full or group.get("name"):
            return full or str(group["name"])
    return ""


class IdentityResolver:
    def __init__(self, rest: TwilioRestClient, configuration_id: str, store_override: str) -> None:
        self._rest = rest
        self._configuration_id = configuration_id
        self._store_override = store_override
        self._configured_store: str | None = None

    async def resolve(self, request: HandoffRequested) -> CustomerIdentity:
        route = request.route
        fallback = route.twilio_conversation_id or request.conversation_id
        if not self._configuration_id:
            return CustomerIdentity(fallback, store_id=self._store_override)
        try:
            conversation_id = await self._orchestrator_conversation(request)
            if conversation_id is None:
                log.warning("no Orchestrator conversation for %s", request.conversation_id)
                return CustomerIdentity(fallback, store_id=await self._store())
            store_id = await self._store()
            profile_id = await self._customer_profile(conversation_id)
            name, memories = await self._profile(store_id, profile_id)
        except httpx.HTTPError as error:
            log.warning("identity of %s not resolved: %r", request.conversation_id, error)
            return CustomerIdentity(fallback, store_id=self._store_override)
        return CustomerIdentity(
            conversation_id, store_id, profile_id, True, customer_name=name, memories=memories
        )

    async def _orchestrator_conversation(self, request: HandoffRequested) -> str | None:
        route = request.route
        if route.channel is Channel.ORCHESTRATOR:
            return route.twilio_conversation_id or request.conversation_id
        if route.channel is not Channel.VOICE:
            return None
        response = await self._rest.get(
            "orchestrator.conversation.list",
            TwilioProduct.CONVERSATIONS,
            "/v2/Conversations",
            {"channelId": route.call_sid or request.conversation_id, "status": "ACTIVE"},
        )
        found = response.json().get("conversations", []) if response.is_success else []
        return str(found[0]["id"]) if len(found) == 1 else None

    async def _store(self) -> str:
        if self._store_override:
            return self._store_override
        if self._configured_store is None:
            response = await self._rest.get(
                "orchestrator.configuration.fetch",
                TwilioProduct.CONVERSATIONS,
                f"/v2/ControlPlane/Configurations/{segment(self._configuration_id)}",
            )
            response.raise_for_status()
            self._configured_store = str(response.json().get("memoryStoreId") or "")
        return self._configured_store

    async def _customer_profile(self, conversation_id: str) -> str:
        response = await self._rest.get(
            "orchestrator.participant.list",
            TwilioProduct.CONVERSATIONS,
            f"/v2/Conversations/{segment(conversation_id)}/Participants",
        )
        response.raise_for_status()
        for participant in response.json().get("participants", []):
            if participant.get("type") == "CUSTOMER":
                return str(participant.get("profileId") or "")
        return ""

    async def _profile(self, store_id: str, profile_id: str) -> tuple[str, list[str]]:
        """The customer's name and a few things Memory recalls about them."""
        if not (store_id and profile_id):
            return "", []
        base = f"/v1/Stores/{segment(store_id)}/Profiles/{segment(profile_id)}"
        profile = await self._rest.get("memory.profile.fetch", TwilioProduct.MEMORY, base)
        name = profile_name(profile.json().get("traits") or {}) if profile.is_success else ""
        recalled = await self._rest.send_json(
            "memory.recall",
            "POST",
            TwilioProduct.MEMORY,
            f"{base}/Recall",
            {"observationsLimit": MEMORIES_SHOWN, "summariesLimit": 0, "communicationsLimit": 0},
        )
        observations = recalled.json().get("observations", []) if recalled.is_success else []
        memories = [str(item.get("content")) for item in observations if item.get("content")]
        return name, memories[:MEMORIES_SHOWN]

    async def hand_to_humans(self, identity: CustomerIdentity) -> None:
        """After a delivered handoff, as TAC: the conversation INACTIVE and its status callbacks
        cleared, so Twilio stops reporting the customer's messages to the bot."""
        if not identity.orchestrated:
            return
        path = f"/v2/Conversations/{segment(identity.conversation_id)}"
        try:
            await self._rest.send_json(
                "orchestrator.conversation.update",
                "PUT",
                TwilioProduct.CONVERSATIONS,
                path,
                {"status": "INACTIVE"},
            )
            await self._rest.send_json(
                "orchestrator.conversation.patch",
                "PATCH",
                TwilioProduct.CONVERSATIONS,
                path,
                {"configuration": {"statusCallbacks": []}},
            )
        except httpx.HTTPError as error:
            log.warning("conversation %s status not changed: %r", identity.conversation_id, error)
