"""A local Twilio: the REST paths and webhooks Baton uses, with Twilio's exact wire formats.

Twilio REST (HTTP Basic, ``AccountSid:AuthToken`` or ``ApiKey:ApiSecret``):
Studio ``/v2/Flows/{FW}/Executions…``, Messaging ``/2010-04-01/Accounts/{AC}/Messages.json``,
Studio flows ``/v2/Flows…`` (deploy and validate), Conversations ``/v1/Conversations…`` (with
scoped ``Webhooks``), Conversation Orchestrator ``/v2/Conversations…`` (participants) and
``/v2/ControlPlane/Configurations/{id}``, Memory ``/v1/Stores/{store}/Profiles/{id}…``,
TaskRouter ``/v1/Workspaces/{WS}/Tasks…`` and ``TaskChannels``, Flex ``/v1/Interactions``.
Twilio's own webhook host: the Studio flow webhook ``/v1/Accounts/{AC}/Flows/{FW}`` (no auth).
Executions of the handoff flow run the definition shipped in ``deploy/studio/`` (or the one
deployed), strictly, and end in a Flex task (``flow_definitions``, ``flow_runner``).

Test control under ``/_emulator`` (no auth): ``faults`` (POST/GET/DELETE), ``outbox``,
``executions``, ``requests``, ``webhooks``, ``reset``, ``health``; a customer writing in:
``sms``, ``conversations/message``, ``orchestrator/communication``; what Memory knows:
``memory/profiles``; a caller dialling the relay
gateway: ``calls`` (``/{CallSid}``, ``say``, ``dtmf``, ``interrupt``, ``hangup``); the human
agent: ``desktop/tasks`` (``accept``, ``reply``, ``complete``, ``handback``); a Twilio retry:
``replay``. The agent desktop page is ``/desktop``. Point the official client at it with
:class:`emulator.twilio_client.RewritingClient`.
"""
