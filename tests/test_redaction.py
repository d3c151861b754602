"""Invariant 8: phone numbers are masked in logs unless explicitly enabled."""

from __future__ import annotations

import logging

import pytest

from libs.platform.redaction import PhoneNumberFilter, install_log_redaction, mask_phone_numbers


def test_numbers_are_masked_but_sids_and_times_are_not() -> None:
    text = "from +15005550006 to 15005550001 call CA22222222222222222222222222222222 at 10:00"
    masked = mask_phone_numbers(text)
    assert "+15005550006" not in masked and "15005550001" not in masked
    assert "+1500*****06" in masked
    assert "CA22222222222222222222222222222222" in masked and "10:00" in masked


@pytest.mark.parametrize("sensitive", [False, True])
def test_root_handlers_mask_unless_sensitive_logging_is_on(sensitive: bool) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction(enabled=not sensitive)
        logging.getLogger("baton.test").warning("customer %s wrote", "+15005550006")
    finally:
        root.removeHandler(handler)
        for other in root.handlers:
            for installed in [f for f in other.filters if isinstance(f, PhoneNumberFilter)]:
                other.removeFilter(installed)
    assert ("+15005550006" in records[0]) is sensitive
    assert any(isinstance(f, PhoneNumberFilter) for f in handler.filters) is not sensitive
