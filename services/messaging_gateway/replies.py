"""Sending agent replies back to the customer through the Twilio API of their channel.

A reply is sent only while the conversation may still hear the bot (invariant 4): once a
handoff starts, only its goodbye goes out, and a reply written in an earlier epoch is stale.
"""

from __future__ import annotations

import logging

import httpx

from libs.contracts.messages import AgentReply, Channel
from libs.platform.consuming import PermanentFailure
from libs.platform.conversation_store import ConversationStore
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient

log = logging.getLogger("baton.messaging_gateway.replies")


class TwilioUnavailable(Exception):
    """429, 5xx or a timeout: worth another try."""


def send_message_action(reply: AgentReply) -> dict[str, object]:
    """``SEND_MESSAGE`` from our sender on the customer's channel; ``channelSettings.channelId``
    (required for chat) is the ``channelId`` the customer's message came with."""
    route = reply.route
    medium = route.medium or "SMS"
    payload: dict[str, object] = {
        "from": {"address": route.agent_address, "channel": medium},
        "to": [{"address": route.customer_address, "channel": medium}],
        "content": {"text": reply.text},
    }
    if route.channel_id:
        payload["channelSettings"] = {"channelId": route.channel_id}
    return {"type": "SEND_MESSAGE", "payload": payload}


class ReplySender:
    def __init__(self, rest: TwilioRestClient, account_sid: str, bot_identity: str) -> None:
        self._rest = rest
        self._account_sid = account_sid
        self._bot_identity = bot_identity

    async def send(self, reply: AgentReply) -> None:
        try:
            response = await self._post(reply)
        except httpx.TransportError as error:
            raise TwilioUnavailable(repr(error)) from error
        if response.status_code == 429 or response.status_code >= 500:
            raise TwilioUnavailable(f"Twilio answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentFailure(
                f"Twilio refused the reply: {response.status_code} {response.text}"
            )

    async def _post(self, reply: AgentReply) -> httpx.Response:
        route = reply.route
        if route.channel is Channel.SMS:
            return await self._rest.post_form(
                "messages.create",
                TwilioProduct.API,
                f"/2010-04-01/Accounts/{self._account_sid}/Messages.json",
                {"To": route.customer_address, "From": route.agent_address, "Body": reply.text},
            )
        if route.channel is Channel.CONVERSATIONS:
            return await self._rest.post_form(
                "conversations.message.create",
                TwilioProduct.CONVERSATIONS,
                f"/v1/Conversations/{route.twilio_conversation_id}/Messages",
                {"Author": self._bot_identity, "Body": reply.text},
            )
        if route.channel is Channel.ORCHESTRATOR:
            return await self._rest.send_json(
                "orchestrator.action.create",
                "POST",
                TwilioProduct.CONVERSATIONS,
                f"/v2/Conversations/{route.twilio_conversation_id}/Actions",
                send_message_action(reply),
            )
        raise PermanentFailure(f"no digital reply path for channel {route.channel}")


class ReplyDelivery:
    """Sends a reply unless the conversation is handed off (invariant 4)."""

    def __init__(self, sender: ReplySender, store: ConversationStore) -> None:
        self._sender = sender
        self._store = store

    async def deliver(self, reply: AgentReply) -> None:
        state = await self._store.get(reply.conversation_id)
        if not state.may_deliver(reply):
            log.info("reply %s muted: conversation is %s", reply.reply_id, state.status)
            return
        await self._sender.send(reply)
