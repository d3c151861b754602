"""Invariant 8: no raw phone numbers in logs unless ``BATON_LOG_SENSITIVE`` is on."""

from __future__ import annotations

import logging
import re

PHONE_NUMBER = re.compile(r"(?<![\w+])\+?[1-9]\d{6,14}(?!\w)")


def mask_phone_numbers(text: str) -> str:
    """``+15005550006`` → ``+1500*****06``: enough to tell numbers apart, not to dial one."""
    return PHONE_NUMBER.sub(
        lambda m: m.group()[:5] + "*" * (len(m.group()) - 7) + m.group()[-2:], text
    )


class PhoneNumberFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phone_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_redaction(enabled: bool) -> None:
    """Mask phone numbers in every record the root logger's handlers write."""
    if not enabled:
        return
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, PhoneNumberFilter) for f in handler.filters):
            handler.addFilter(PhoneNumberFilter())
