"""The shapes of what Twilio sends Baton: channel addresses, Twilio SIDs, conversation ids.

A webhook's ``From``/``To`` becomes the ``To`` of a reply POSTed to Twilio and its SIDs
become REST paths and NATS subjects, so each is checked against its pattern at the edge:
an address is E.164 or a known channel prefix (``whatsapp:``, ``rcs:``, ``messenger:``,
``client:``), a chat identity has no spaces, separators or control characters, a SID is
its two letters and 32 hex digits. Anything else (``not-a-phone``, ``+1;rm -rf /``, CRLF,
NUL, ``../``) is refused with a 4xx before it reaches anything.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

E164 = r"\+[1-9][0-9]{6,14}"
RCS_SENDER = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
CLIENT_IDENTITY = r"[A-Za-z0-9_.@\-]{1,121}"
CHANNEL_ADDRESS_PATTERN = (
    rf"^(?:{E164}|whatsapp:{E164}|rcs:(?:{E164}|{RCS_SENDER})"
    rf"|messenger:[0-9]{{1,32}}|client:{CLIENT_IDENTITY})$"
)
"""A customer's or our address on a messaging channel."""
CHAT_IDENTITY_PATTERN = r"^[A-Za-z0-9_.@+\-]{1,256}$"
"""A Conversations (classic) chat participant's identity (no spaces or separators)."""
ADDRESS_PATTERN = rf"(?:{CHANNEL_ADDRESS_PATTERN})|(?:{CHAT_IDENTITY_PATTERN})"
"""Any address Baton accepts from Twilio: a channel address or a chat identity."""
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$"
"""A conversation id: a SID (``CA…``, ``CH…``), ``sms-…`` or an Orchestrator id; safe in a
REST path segment, a NATS subject token and a KV key."""


def sid_pattern(*prefixes: str) -> str:
    """``^(?:CA)[0-9a-fA-F]{32}$``: a Twilio SID with one of these two-letter prefixes."""
    return rf"^(?:{'|'.join(prefixes)})[0-9a-fA-F]{{32}}$"


CALL_SID_PATTERN = sid_pattern("CA")
CONVERSATION_SID_PATTERN = sid_pattern("CH")
MESSAGE_SID_PATTERN = sid_pattern("SM", "MM", "IM")
"""Programmable Messaging (``SM``/``MM``) and Conversations (``IM``) messages."""

ChannelAddress = Annotated[str, StringConstraints(pattern=CHANNEL_ADDRESS_PATTERN)]
Address = Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN)]
ConversationId = Annotated[str, StringConstraints(pattern=CONVERSATION_ID_PATTERN)]
CallSid = Annotated[str, StringConstraints(pattern=CALL_SID_PATTERN)]
ConversationSid = Annotated[str, StringConstraints(pattern=CONVERSATION_SID_PATTERN)]
MessageSid = Annotated[str, StringConstraints(pattern=MESSAGE_SID_PATTERN)]


def optional(pattern: str) -> str:
    """The pattern, or an empty value (a field Twilio may leave out)."""
    return rf"^$|{pattern}"
