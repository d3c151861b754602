"""TAC's channel names for Baton's routes (what the handoff tool reports)."""

from __future__ import annotations

from libs.contracts.messages import Channel, Route


def tac_channel(route: Route) -> str:
    """``SMS``, ``WHATSAPP``, ``RCS``, ``CHAT`` or ``VOICE``, as TAC names the channel."""
    if route.channel is Channel.VOICE:
        return "VOICE"
    if route.channel is Channel.CONVERSATIONS:
        return "CHAT"
    if route.medium:
        return route.medium.upper()
    for prefix, name in (("whatsapp:", "WHATSAPP"), ("rcs:", "RCS")):
        if route.customer_address.startswith(prefix):
            return name
    return "SMS" if route.customer_address.startswith("+") else "CHAT"
