"""What the human agent does with a task: accept it, reply, complete it, or hand it back.

Replies go where Flex would send them: into the conversation as the agent's message (and so
to the customer's phone or chat window), or spoken to a caller on hold. Nothing reaches the
bot while the conversation is handed off. Handing back completes the task and returns the
customer to the bot: a Conversations (classic) conversation gets its ``onMessageAdded``
webhook again, an Orchestrator conversation's messages are posted to the bot again, the
thread opened for a plain SMS pair is closed (its texts never stopped reaching the SMS URL),
and a caller is put back on the relay. ``EMULATOR_HANDBACK_URL`` is told either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.calls import CallManager
from emulator.conversations import (
    add_message,
    add_participant,
    deliver_to_customers,
    send_message_added,
)
from emulator.errors import TwilioError
from emulator.settings import EmulatorSettings
from emulator.sms_threads import SMS_ORIGIN
from emulator.store import Conversation, EmulatorState, Task
from emulator.taskrouter import move_task, task_attributes
from emulator.webhook_targets import attach_bot_webhook, message_added_urls
from emulator.webhooks import WebhookSender
from emulator.wire import new_sid, utc_now

COMPLETED_REASON = "completed by the agent"
HANDED_BACK_REASON = "handed back to the virtual agent"


def worker_sid(settings: EmulatorSettings) -> str:
    """The desktop's one worker, stable for a given identity."""
    return "WK" + (settings.emulator_agent_identity.encode().hex() + "0" * 32)[:32]


@dataclass
class AgentDesk:
    state: EmulatorState
    settings: EmulatorSettings
    sender: WebhookSender
    calls: CallManager

    def task(self, task_sid: str) -> Task:
        task = self.state.tasks.get(task_sid)
        if task is None:
            raise TwilioError(404, f"Task {task_sid} was not found")
        return task

    def conversation(self, task: Task) -> Conversation | None:
        return self.state.conversations.get(task.conversation_sid or "")

    def accept(self, task: Task) -> None:
        """Take the reservation and accept it: the task is the agent's, they join the chat."""
        if task.assignment_status == "pending":
            task.reservation_sid = new_sid("WR")
            task.worker_sid = worker_sid(self.settings)
            move_task(self.state, task, "reserved")
        if task.assignment_status != "reserved":
            raise TwilioError(409, f"Task {task.sid} is {task.assignment_status}")
        move_task(self.state, task, "assigned")
        conversation = self.conversation(task)
        identity = self.settings.emulator_agent_identity
        joined = conversation is None or any(
            p.identity == identity for p in conversation.participants
        )
        if conversation is not None and conversation.state != "closed" and not joined:
            add_participant(self.state, conversation, identity=identity)
        call = self.calls.get(task.call_sid)
        if call is not None:
            call.agent_joined()

    def reply(self, task: Task, body: str) -> None:
        if task.assignment_status != "assigned":
            raise TwilioError(409, "Accept the task before replying")
        conversation = self.conversation(task)
        if conversation is not None:
            if conversation.state == "closed":
                raise TwilioError(409, f"Conversation {conversation.sid} is closed")
            author = self.settings.emulator_agent_identity
            message = add_message(conversation, author, body)
            deliver_to_customers(self.state, conversation, message)
            for url in message_added_urls(conversation, self.settings):
                self.sender.send_later(
                    send_message_added(
                        self.sender, url, self.settings, conversation, message, "SDK"
                    )
                )
            return
        call = self.calls.get(task.call_sid)
        if call is None or call.over:
            raise TwilioError(409, "The customer is no longer on this task's channel")
        call.agent_says(body)

    def _finish(self, task: Task, reason: str) -> None:
        if task.assignment_status in ("pending", "reserved"):
            move_task(self.state, task, "canceled", reason)
            return
        if task.assignment_status == "assigned":
            move_task(self.state, task, "wrapping")
        if task.assignment_status != "wrapping":
            raise TwilioError(409, f"Task {task.sid} is {task.assignment_status}")
        move_task(self.state, task, "completed", reason)

    def complete(self, task: Task) -> None:
        """Wrap up and complete; the chat is closed and a caller's call ends, as in Flex."""
        if task.assignment_status in ("pending", "reserved"):
            raise TwilioError(409, "Accept the task before completing it")
        self._finish(task, COMPLETED_REASON)
        conversation = self.conversation(task)
        if conversation is not None and conversation.state != "closed":
            conversation.state = "closed"
            conversation.date_updated = utc_now()
        call = self.calls.get(task.call_sid)
        if call is not None:
            call.agent_left()

    async def hand_back(self, task: Task) -> dict[str, Any]:
        """Return the customer to the bot; answers what the hand-back URL said."""
        self._finish(task, HANDED_BACK_REASON)
        conversation = self.conversation(task)
        if conversation is not None:
            conversation.handed_off = False
            conversation.flex_task_sid = None
            bot_url = self.settings.emulator_conversations_webhook_url
            if conversation.origin == SMS_ORIGIN:
                conversation.state = "closed"
            elif conversation.origin == "conversations" and bot_url:
                attach_bot_webhook(conversation, bot_url)
        call = self.calls.get(task.call_sid)
        if call is not None:
            call.hand_back()
        return await self._notify(task)

    async def _notify(self, task: Task) -> dict[str, Any]:
        url = self.settings.emulator_handback_url
        notice = {
            "conversationId": str(task_attributes(task).get("conversationId") or ""),
            "taskSid": task.sid,
        }
        if not url:
            return {"notice": notice, "status_code": None, "error": None}
        delivery = await self.sender.send_json("handback", f"{task.sid}:handback", url, notice)
        return {"notice": notice, "status_code": delivery.status_code, "error": delivery.error}
