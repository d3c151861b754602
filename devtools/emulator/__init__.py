"""A local Twilio: the REST paths and webhooks Baton uses, with Twilio's exact wire formats.

Twilio REST (HTTP Basic, ``AccountSid:AuthToken`` or ``ApiKey:ApiSecret``):
Studio ``/v2/Flows/{FW}/Executions…``, Messaging ``/2010-04-01/Accounts/{AC}/Messages.json``,
Conversations ``/v1/Conversations…`` (with scoped ``Webhooks``), Conversation Orchestrator
``/v2/Conversations/{id}…``, TaskRouter ``/v1/Workspaces/{WS}/Tasks…``, Flex
``/v1/Interactions``. Twilio's own webhook host: the Studio flow webhook
``/v1/Accounts/{AC}/Flows/{FW}`` (no auth). Executions of the handoff flow run the "Agent
Handoff" template and end in a Flex task (``flow_runner``).

Test control under ``/_emulator`` (no auth): ``faults`` (POST/GET/DELETE), ``outbox``,
``executions``, ``requests``, ``webhooks``, ``reset``, ``health``; a customer writing in:
``sms``, ``conversations/message``, ``orchestrator/communication``; a caller dialling the relay
gateway: ``calls`` (``/{CallSid}``, ``say``, ``dtmf``, ``interrupt``, ``hangup``); the human
agent: ``desktop/tasks`` (``accept``, ``reply``, ``complete``, ``handback``); a Twilio retry:
``replay``. The agent desktop page is ``/desktop``. Point the official client at it with
:class:`emulator.twilio_client.RewritingClient`.
"""
