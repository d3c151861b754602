"""What the messaging gateway asks Conversation Orchestrator, and tells it on a hand-back.

- Whose message is this? A communication's author is recognised by the participant's type
  (``AI_AGENT``/``AGENT`` is the bot, ``HUMAN_AGENT`` a person in Flex), as TAC does, after the
  fast path on our own addresses; only a ``CUSTOMER`` (or unknown) author makes a turn.
- Which call is this? A call's Orchestrator conversation names its ``CallSid`` as the VOICE
  address's ``channelId``; Baton keys a call by its ``CallSid``.
- Hand-back: the conversation ACTIVE again, its status callbacks pointing back at the gateway
  (the dispatcher cleared them when a human took over, as TAC does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from libs.platform.settings import TwilioApiKeySettings
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient, segment

log = logging.getLogger("baton.messaging_gateway.orchestrator")

AGENT_TYPES = frozenset({"AI_AGENT", "AGENT"})
HUMAN_AGENT = "HUMAN_AGENT"
ORCHESTRATOR_PATH = "/messaging/orchestrator"


@dataclass(frozen=True)
class OurAddresses:
    """Our senders per Orchestrator channel (default first) and the chat identity."""

    by_channel: dict[str, list[str]]
    bot_identity: str

    @classmethod
    def from_settings(cls, settings: TwilioApiKeySettings, bot_identity: str) -> OurAddresses:
        channels = ("SMS", "WHATSAPP", "RCS")
        by_channel = {channel: settings.senders(channel) for channel in channels}
        by_channel["CHAT"] = [bot_identity]
        return cls(by_channel, bot_identity)

    @property
    def all(self) -> frozenset[str]:
        return frozenset(a for addresses in self.by_channel.values() for a in addresses)

    def agent_address(self, channel: str, written_to: list[str]) -> str:
        """The address the customer wrote to, if ours; else our default on that channel."""
        ours = self.by_channel.get(channel.upper()) or self.by_channel["SMS"]
        return next((address for address in written_to if address in ours), ours[0])


class OrchestratorApi:
    def __init__(self, rest: TwilioRestClient, public_base_url: str) -> None:
        self._rest = rest
        self._callback = f"{public_base_url}{ORCHESTRATOR_PATH}"

    async def _participants(self, conversation_id: str) -> list[dict[str, object]]:
        response = await self._rest.get(
            "orchestrator.participant.list",
            TwilioProduct.CONVERSATIONS,
            f"/v2/Conversations/{segment(conversation_id)}/Participants",
        )
        if not response.is_success:
            return []
        found = response.json().get("participants", [])
        return found if isinstance(found, list) else []

    async def participant_type(self, conversation_id: str, participant_id: str) -> str | None:
        """The author's participant type; ``None`` when Twilio cannot say."""
        try:
            participants = await self._participants(conversation_id)
        except httpx.HTTPError as error:
            log.warning("participants of %s unavailable: %r", conversation_id, error)
            return None
        for participant in participants:
            if participant.get("id") == participant_id:
                return str(participant.get("type") or "") or None
        return None

    async def call_sid(self, conversation_id: str) -> str | None:
        """The ``CallSid`` of a call's conversation (its VOICE ``channelId``)."""
        try:
            participants = await self._participants(conversation_id)
        except httpx.HTTPError:
            return None
        for participant in participants:
            addresses = participant.get("addresses")
            for address in addresses if isinstance(addresses, list) else []:
                if address.get("channel") == "VOICE" and address.get("channelId"):
                    return str(address["channelId"])
        return None

    async def return_to_bot(self, conversation_id: str) -> None:
        """ACTIVE again, reporting to the gateway again."""
        path = f"/v2/Conversations/{segment(conversation_id)}"
        callbacks = {"statusCallbacks": [{"url": self._callback, "method": "POST"}]}
        try:
            await self._rest.send_json(
                "orchestrator.conversation.update",
                "PUT",
                TwilioProduct.CONVERSATIONS,
                path,
                {"status": "ACTIVE"},
            )
            await self._rest.send_json(
                "orchestrator.conversation.patch",
                "PATCH",
                TwilioProduct.CONVERSATIONS,
                path,
                {"configuration": callbacks},
            )
        except httpx.HTTPError as error:
            log.warning("conversation %s not returned to the bot: %r", conversation_id, error)
