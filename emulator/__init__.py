"""A local Twilio: the REST paths and webhooks Baton uses, with Twilio's exact wire formats.

Twilio REST (HTTP Basic, ``AccountSid:AuthToken`` or ``ApiKey:ApiSecret``):
Studio ``/v2/Flows/{FW}/Executions…``, Messaging ``/2010-04-01/Accounts/{AC}/Messages.json``,
Conversations ``/v1/Conversations…``, Conversation Orchestrator ``/v2/Conversations/{id}…``.

Test control under ``/_emulator`` (no auth): ``faults`` (POST/GET/DELETE), ``outbox``,
``executions``, ``requests``, ``webhooks``, ``reset``, ``health``; a customer writing in:
``sms``, ``conversations/message``, ``orchestrator/communication``; a Twilio retry: ``replay``.
Point the official client at it with :class:`emulator.twilio_client.RewritingClient`.
"""
