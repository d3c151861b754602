"""Sending agent replies back to the customer through the Twilio API of their channel, once.

A reply is sent only while the conversation may still hear the bot (invariant 4): once a
handoff starts, only its goodbye goes out, and a reply written in an earlier epoch is stale.
The sending record is written only once the state lets the reply through, right before the
POST: a first attempt creates it, a write that also finds the record an earlier attempt left.

Every send is preceded by a sending record (:mod:`reply_records`). Only a failure known not
to have reached Twilio (a 429, a connection that could not be opened, a 4xx) is retried
blindly; after one whose outcome is unknown (a read timeout, a dropped connection, a 5xx, a
gateway that died before its ack) the next try first looks the message up
(:mod:`reply_lookup`) and sends only if it is not there.
"""

from __future__ import annotations

import json
import logging

import httpx

from libs.contracts.messages import AgentReply, Channel
from libs.platform.consuming import PermanentFailure, TransientFailure
from libs.platform.conversation_store import ConversationStore
from libs.platform.twilio_rest import (
    TwilioProduct,
    TwilioRestClient,
    outcome_unknown,
    reached_twilio,
    segment,
)
from services.messaging_gateway.reply_lookup import REPLY_ID_ATTRIBUTE, LookupFailed, ReplyLookup
from services.messaging_gateway.reply_records import ReplyRecords, SendingRecord, SendingState

log = logging.getLogger("baton.messaging_gateway.replies")


class TwilioUnavailable(TransientFailure):
    """429, 5xx, a timeout or no connection: worth another try."""

    def __init__(
        self, message: str, *, maybe_sent: bool, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, retry_after_seconds)
        self.maybe_sent = maybe_sent


def retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


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

    async def send(self, reply: AgentReply) -> str:
        """Post the reply; returns the Twilio id of what was created."""
        try:
            response = await self._post(reply)
        except httpx.TransportError as error:
            raise TwilioUnavailable(repr(error), maybe_sent=reached_twilio(error)) from error
        status = response.status_code
        if status == 429:
            raise TwilioUnavailable(
                "Twilio answered 429", maybe_sent=False, retry_after_seconds=retry_after(response)
            )
        if status >= 500:
            raise TwilioUnavailable(
                f"Twilio answered {status}",
                maybe_sent=outcome_unknown(response),
                retry_after_seconds=retry_after(response),
            )
        if status >= 400:
            raise PermanentFailure(f"Twilio refused the reply: {status} {response.text}")
        body = response.json()
        return str(body.get("sid") or body.get("id") or "")

    async def _post(self, reply: AgentReply) -> httpx.Response:
        route = reply.route
        if route.channel is Channel.SMS:
            return await self._rest.post_form(
                "messages.create",
                TwilioProduct.API,
                f"/2010-04-01/Accounts/{segment(self._account_sid)}/Messages.json",
                {"To": route.customer_address, "From": route.agent_address, "Body": reply.text},
            )
        if route.channel is Channel.CONVERSATIONS:
            return await self._rest.post_form(
                "conversations.message.create",
                TwilioProduct.CONVERSATIONS,
                f"/v1/Conversations/{segment(route.twilio_conversation_id)}/Messages",
                {
                    "Author": self._bot_identity,
                    "Body": reply.text,
                    "Attributes": json.dumps({REPLY_ID_ATTRIBUTE: reply.reply_id}),
                },
            )
        if route.channel is Channel.ORCHESTRATOR:
            return await self._rest.send_json(
                "orchestrator.action.create",
                "POST",
                TwilioProduct.CONVERSATIONS,
                f"/v2/Conversations/{segment(route.twilio_conversation_id)}/Actions",
                send_message_action(reply),
            )
        raise PermanentFailure(f"no digital reply path for channel {route.channel}")


class ReplyDelivery:
    """Sends a reply once, unless the conversation is handed off (invariant 4)."""

    def __init__(
        self,
        sender: ReplySender,
        store: ConversationStore,
        records: ReplyRecords,
        lookup: ReplyLookup,
    ) -> None:
        self._sender = sender
        self._store = store
        self._records = records
        self._lookup = lookup

    async def deliver(self, reply: AgentReply) -> None:
        state = await self._store.get(reply.conversation_id)
        if not state.may_deliver(reply):
            log.info("reply %s muted: conversation is %s", reply.reply_id, state.status)
            return
        record = SendingRecord(attempts=1)
        if not await self._records.create(reply.reply_id, record):
            earlier = await self._records.get(reply.reply_id)
            if earlier is not None and earlier.state is SendingState.SENT:
                log.info("reply %s already sent as %s", reply.reply_id, earlier.twilio_id)
                return
            again = await self._next_attempt(reply, earlier or SendingRecord())
            if again is None:
                return
            record = again
        try:
            sent_as = await self._sender.send(reply)
        except (TwilioUnavailable, PermanentFailure) as error:
            if not getattr(error, "maybe_sent", False):
                record.maybe_sent = False
                await self._records.put(reply.reply_id, record)
            raise
        if reply.route.channel is Channel.ORCHESTRATOR:
            sent_as = await self._communication_of(reply, record) or sent_as
        await self._records.sent(reply.reply_id, record, sent_as)

    async def _next_attempt(self, reply: AgentReply, record: SendingRecord) -> SendingRecord | None:
        """The record of another try; ``None`` when Twilio has the message already."""
        if record.maybe_sent and record.attempts:
            try:
                found = await self._lookup.find(reply, record.sending_since)
            except LookupFailed as error:
                raise TwilioUnavailable(f"lookup failed: {error}", maybe_sent=True) from error
            if found:
                log.info("reply %s was sent as %s: not sent again", reply.reply_id, found)
                await self._records.sent(reply.reply_id, record, found)
                return None
        record.attempts += 1
        record.maybe_sent = True
        await self._records.put(reply.reply_id, record)
        return record

    async def _communication_of(self, reply: AgentReply, record: SendingRecord) -> str | None:
        """The communication an Orchestrator action created, so that it is the one claimed.

        ``SEND_MESSAGE`` answers with the action's id, while lookups find communications: a
        reply that claimed its action would leave its message free for a later reply with the
        same text to take for its own.
        """
        try:
            return await self._lookup.find(reply, record.sending_since)
        except LookupFailed as error:
            log.warning("reply %s sent; its communication not found: %s", reply.reply_id, error)
            return None
