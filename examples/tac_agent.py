"""An agent written the Twilio Agent Connect way, running on Baton's worker.

The message handler, the handoff tool and the function tool are TAC code with Baton's import
path; only the last lines differ: instead of ``tac.on_message_ready(handle_message_ready)`` and
TAC's server, the handler becomes the worker's agent. Run it against a local stack
(``make up`` in another terminal, with the default worker stopped) with::

    python examples/tac_agent.py

With ``OPENAI_API_KEY`` set the model chooses the tools; without it a two-line rule stands in
for the model, so the example runs anywhere.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from pydantic import Field

from services.agent_worker.tac import (
    TAC,
    ConversationSession,
    InjectedToolArg,
    MessageReadyAgent,
    TACTool,
    create_studio_handoff_tool,
    function_tool,
)

tac = TAC()

HANDOFF_ATTRIBUTES = {"department": "support", "priority": "normal"}

SYSTEM_PROMPT = """You are a helpful customer service agent. Escalate to a human agent when:
- The customer explicitly asks to speak with a human
- You cannot resolve the customer's issue after two attempts
- The conversation involves billing disputes or account security
- The customer expresses frustration or dissatisfaction"""


class OrderBook:
    def status(self, order_id: str) -> str:
        return "shipped" if order_id.strip("#").isdigit() else "unknown"


@function_tool(name="order_status")
async def order_status(
    order_id: Annotated[str, Field(description="The order number, e.g. 5512")],
    orders: Annotated[OrderBook, InjectedToolArg],
) -> dict[str, str]:
    """Where an order is."""
    return {"order_id": order_id, "status": orders.status(order_id)}


order_status.configure_injection(orders=OrderBook())


async def ask_model(message: str, tools: list[TACTool]) -> str:
    """One model turn with the tools (OpenAI's chat completions, as TAC's examples do)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI()
    by_name = {tool.name: tool for tool in tools}
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": message},
    ]
    model = os.environ.get("BATON_LLM_MODEL", "gpt-4o-mini")
    specs: Any = [tool.to_openai_format() for tool in tools]
    for _ in range(3):
        answer = (
            (await client.chat.completions.create(model=model, messages=messages, tools=specs))
            .choices[0]
            .message
        )
        if not answer.tool_calls:
            return answer.content or ""
        messages.append(answer)
        for called in answer.tool_calls:
            result = await by_name[called.function.name](**json.loads(called.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": called.id, "content": json.dumps(result)}
            )
    return "Let me get a colleague to help you."


async def rule_of_thumb(message: str, handoff: TACTool) -> str:
    """What the model would do for the two requests this example shows."""
    if "human" in message.lower() or "person" in message.lower():
        await handoff(reason="customer asked for a human")
        return "Of course, I'm connecting you with a member of our team now."
    words = [word.strip("#?.!") for word in message.split()]
    order = next((word for word in words if word.isdigit()), None)
    if order:
        found = await order_status(order_id=order)
        status = found.get("status") if isinstance(found, dict) else "unknown"
        return f"Order {order} is {status}."
    return "I can check an order for you: what is its number?"


async def handle_message_ready(message: str, context: ConversationSession, memory: object) -> str:
    handoff_tool = create_studio_handoff_tool(tac, context, attributes=HANDOFF_ATTRIBUTES)
    tools = [handoff_tool, order_status]
    if os.environ.get("OPENAI_API_KEY"):
        return await ask_model(message, tools)
    return await rule_of_thumb(message, handoff_tool)


agent = MessageReadyAgent(handle_message_ready)
"""``tac.on_message_ready(handle_message_ready)``, the Baton way."""


def main() -> None:
    import uvicorn

    from services.agent_worker.main import create_app

    uvicorn.run(create_app(agent=agent), port=int(os.environ.get("PORT", "8082")))


if __name__ == "__main__":
    main()
