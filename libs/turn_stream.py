"""Reading a customer turn back from the turn stream, for latency measured from its arrival."""

from __future__ import annotations

import logging
from datetime import datetime

from nats.js import JetStreamContext

from libs.messages import CustomerTurn
from libs.subjects import TURNS_STREAM

log = logging.getLogger("baton.turn_stream")


async def turn_received_at(js: JetStreamContext, sequence: int) -> datetime | None:
    """When the gateway received the turn stored at ``sequence`` (``None`` if unknown)."""
    if sequence <= 0:
        return None
    try:
        raw = await js.get_msg(TURNS_STREAM, seq=sequence)
    except Exception as error:  # aged out of the stream, or NATS away: skip this sample
        log.debug("turn %s not read back: %r", sequence, error)
        return None
    if raw.data is None:
        return None
    return CustomerTurn.model_validate_json(raw.data).received_at
