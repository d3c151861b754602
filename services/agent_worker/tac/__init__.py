"""Twilio Agent Connect's API on Baton's worker: the handoff tool and the tool framework.

Code written for TAC imports these names unchanged in meaning: ``create_studio_handoff_tool``
with TAC's signature, ``TACTool``, ``function_tool``, ``create_tool``, ``InjectedToolArg``,
``ConversationSession``; ``MessageReadyAgent`` runs a TAC ``on_message_ready`` callback.
"""

from services.agent_worker.tac.handoff import (
    TAC,
    ConversationSession,
    TACConfig,
    create_studio_handoff_tool,
)
from services.agent_worker.tac.message_ready import MessageReadyAgent
from services.agent_worker.tac.tools import InjectedToolArg, TACTool, create_tool, function_tool

__all__ = [
    "TAC",
    "ConversationSession",
    "InjectedToolArg",
    "MessageReadyAgent",
    "TACConfig",
    "TACTool",
    "create_studio_handoff_tool",
    "create_tool",
    "function_tool",
]
