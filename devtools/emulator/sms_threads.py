"""The conversation SendToFlex opens for a plain SMS pair, and the texts copied into it.

A number answered by Programmable Messaging keeps posting each text to its SMS URL; while the
pair is with a human agent the emulator also copies every text, both ways, into the
conversation the flow opened, so the agent reads the whole thread.
"""

from __future__ import annotations

from emulator.conversations import add_message, bound_conversation
from emulator.store import Conversation, EmulatorState

SMS_ORIGIN = "sms"


def sms_thread(state: EmulatorState, customer: str, ours: str) -> Conversation | None:
    """The open conversation the flow opened for this customer and our number, if any."""
    holder = bound_conversation(state, customer, ours)
    return holder if holder is not None and holder.origin == SMS_ORIGIN else None


def copy_text(state: EmulatorState, *, customer: str, ours: str, author: str, body: str) -> None:
    """Copy one SMS into the pair's handed-off conversation (nothing while the bot has it)."""
    thread = sms_thread(state, customer, ours)
    if thread is not None and thread.handed_off:
        add_message(thread, author, body)
