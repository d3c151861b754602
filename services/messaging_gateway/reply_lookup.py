"""Finding out whether a reply whose send may have happened reached Twilio.

Each channel is asked in its own terms, newest first, back to a little before sending
began (Twilio's clock may differ from ours):

- Programmable Messaging: ``Messages.json`` filtered by ``To`` and ``From``, the body
  compared (not ``DateSent``: a message still queued at Twilio has none yet);
- Conversations (classic): the conversation's messages (``Order=desc``) carrying our reply id
  in their ``Attributes`` (``batonReplyId``);
- Conversation Orchestrator: the conversation's communications authored by our address with
  the reply's text.

A message already claimed by another reply's record is never taken for this one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from libs.contracts.messages import AgentReply, Channel
from libs.platform.twilio_rest import TwilioProduct, TwilioRestClient, segment
from services.messaging_gateway.reply_records import ReplyRecords

CLOCK_SKEW = timedelta(seconds=60)
"""How far Twilio's clock may be from ours: the lookup reaches this much before sending."""
PAGE_SIZE = "50"
MAX_PAGES = 20
REPLY_ID_ATTRIBUTE = "batonReplyId"


class LookupFailed(Exception):
    """Twilio could not be asked; the reply's fate stays unknown."""


class ReplyLookup:
    def __init__(self, rest: TwilioRestClient, account_sid: str, records: ReplyRecords) -> None:
        self._rest = rest
        self._account_sid = account_sid
        self._records = records

    async def find(self, reply: AgentReply, since: datetime) -> str | None:
        """The Twilio id of the message this reply became, if it exists."""
        oldest = since - CLOCK_SKEW
        try:
            async for candidate in self._candidates(reply, oldest):
                if not await self._records.claimed_by_another(candidate, reply.reply_id):
                    return candidate
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise LookupFailed(repr(error)) from error
        return None

    def _candidates(self, reply: AgentReply, oldest: datetime) -> AsyncIterator[str]:
        channel = reply.route.channel
        if channel is Channel.SMS:
            return self._sms(reply, oldest)
        if channel is Channel.CONVERSATIONS:
            return self._conversation_messages(reply, oldest)
        return self._communications(reply, oldest)

    async def _sms(self, reply: AgentReply, oldest: datetime) -> AsyncIterator[str]:
        path = f"/2010-04-01/Accounts/{segment(self._account_sid)}/Messages.json"
        route = reply.route
        params = {"To": route.customer_address, "From": route.agent_address, "PageSize": PAGE_SIZE}
        async for messages in self._newest_first(
            "messages.list", TwilioProduct.API, path, params, "messages"
        ):
            for message in messages:
                if parsedate_to_datetime(message["date_created"]) < oldest:
                    return
                if message.get("body") == reply.text:
                    yield str(message["sid"])

    async def _conversation_messages(
        self, reply: AgentReply, oldest: datetime
    ) -> AsyncIterator[str]:
        path = f"/v1/Conversations/{segment(reply.route.twilio_conversation_id)}/Messages"
        params = {"Order": "desc", "PageSize": PAGE_SIZE}
        async for messages in self._newest_first(
            "conversations.message.list", TwilioProduct.CONVERSATIONS, path, params
        ):
            for message in messages:
                if _iso(message["date_created"]) < oldest:
                    return
                if _attributes(message.get("attributes")).get(REPLY_ID_ATTRIBUTE) == (
                    reply.reply_id
                ):
                    yield str(message["sid"])

    async def _communications(self, reply: AgentReply, oldest: datetime) -> AsyncIterator[str]:
        path = f"/v2/Conversations/{segment(reply.route.twilio_conversation_id)}/Communications"
        params = {"pageSize": PAGE_SIZE}
        async for items in self._newest_first(
            "orchestrator.communication.list",
            TwilioProduct.CONVERSATIONS,
            path,
            params,
            "communications",
        ):
            for item in items:
                author = item.get("author") or {}
                text = (item.get("content") or {}).get("text")
                created = item.get("createdAt")
                if created and _iso(created) < oldest:
                    continue
                if author.get("address") == reply.route.agent_address and text == reply.text:
                    yield str(item["id"])

    async def _newest_first(
        self,
        operation: str,
        product: TwilioProduct,
        path: str,
        params: dict[str, str],
        key: str = "messages",
    ) -> AsyncIterator[list[dict[str, Any]]]:
        pages = 0
        async for page in self._rest.pages(operation, product, path, params):
            yield list(page.get(key) or [])
            pages += 1
            if pages >= MAX_PAGES:
                return


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _attributes(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
