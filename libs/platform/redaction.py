"""Invariant 8: nothing personal leaves a process unless ``BATON_LOG_SENSITIVE`` is on.

This module alone decides what is personal in a text and how it is masked:

- phone numbers in any international format, and in the national formats of
  ``BATON_PHONE_REGIONS``, found by Google's libphonenumber (the ``phonenumbers`` matcher),
  which knows every country's numbering plan: ``(415) 555-0123`` → ``(***) ***-**23``,
  ``+44 20 7946 0958`` → ``+44 ** **** **58`` (the country code and the last two digits stay);
- channel addresses, ``whatsapp:+…``, ``rcs:…``, ``messenger:…``, ``client:…`` (also ``sip:``
  and ``tel:``): the prefix and the last two characters stay;
- payment card numbers (13 to 19 digits that pass the Luhn check): the last four stay;
- e-mail addresses: ``jane.doe@example.com`` → ``j***@e***.com``.

Twilio SIDs, UUIDs, trace ids, epoch timestamps (10, 13, 16 or 19 digits), ISO dates,
order numbers and prices are left alone. Every way text leaves a process goes through
:func:`redact`: log records of every logger (a record factory, so uvicorn's and FastStream's
loggers, which do not propagate to the root, are covered too), spans
(``libs.platform.tracing``) and metric labels (``libs.platform.metrics``; exemplars hold
only random trace ids). It runs on every log line and span, so a text with no run of seven
digits, no ``@`` and no channel prefix costs one regular-expression scan, and a short text
seen recently (the same address on each span of a turn) is not searched again.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from opentelemetry.util.types import AttributeValue
from phonenumbers import (
    Leniency,
    NumberParseException,
    PhoneNumberMatcher,
    is_valid_number,
    parse,
)
from stdnum import luhn

DEFAULT_PHONE_REGIONS = ("US",)
"""Whose national formats (``(415) 555-0123``) are recognised when none are configured."""

CHANNEL_PREFIXES = ("whatsapp:", "rcs:", "messenger:", "client:", "sip:", "tel:")
_SEVEN_DIGITS = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")
"""Cheap pre-check: every phone or card number has seven digits (separators allowed)."""

_KEEP = re.compile(
    r"\b[A-Z]{2}[0-9a-fA-F]{32}\b"  # Twilio SIDs: CA…, SM…, FW…
    r"|\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"  # UUIDs
    r"|(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"  # ISO 8601 dates and times
    r"|(?<![\d+])1\d{9}(?:\d{3}|\d{6}|\d{9})?(?:\.\d+)?(?!\d)"  # epochs: s, ms, µs, ns
)
"""Identifiers and timestamps that look like numbers and must stay readable."""

_CHANNEL_ADDRESS = re.compile(
    rf"\b(?:{'|'.join(CHANNEL_PREFIXES)})([^\s\"'<>,;&|)\]}}]+)", re.IGNORECASE
)
_CARD_NUMBER = re.compile(
    r"(?<![\w+*])(?:"
    r"[2-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?"  # 4-4-4-4(-3)
    r"|3[47]\d{2}[ -]\d{6}[ -]\d{5}"  # American Express 4-6-5
    r"|[2-6]\d{12,18}"  # unseparated
    r")(?!\w)"
)
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)\.([A-Za-z]{2,})\b")


@dataclass(frozen=True)
class _Policy:
    masking: bool = True
    regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS


_policy = _Policy()


def configure_redaction(
    *, sensitive: bool, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> None:
    """Apply ``BATON_LOG_SENSITIVE`` and ``BATON_PHONE_REGIONS`` to everything this process emits.

    Masking is on from the moment this module is imported until a service says otherwise,
    so a process that never calls this (a tool, a test) masks too.
    """
    global _policy
    _policy = _Policy(masking=not sensitive, regions=tuple(phone_regions) or DEFAULT_PHONE_REGIONS)


def set_sensitive(enabled: bool) -> None:
    """``BATON_LOG_SENSITIVE`` alone, keeping the configured phone regions."""
    configure_redaction(sensitive=enabled, phone_regions=_policy.regions)


def masking() -> bool:
    """Whether personal data is masked in what leaves this process (the default)."""
    return _policy.masking


# --- What is masked, and how -----------------------------------------------------------------


def mask_characters(
    text: str, keep_last: int, keep_first: int = 0, hide: Callable[[str], bool] = str.isdigit
) -> str:
    """The digits (or what ``hide`` says) starred but the first and last few; the rest stays."""
    positions = [i for i, c in enumerate(text) if hide(c)]
    hidden = set(positions[keep_first : max(keep_first, len(positions) - keep_last)])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


def _masked_phone_number(raw: str, country_code: int) -> str:
    stripped = raw.lstrip()
    keep_first = len(str(country_code)) if country_code and stripped.startswith("+") else 0
    return mask_characters(raw, keep_last=2, keep_first=keep_first)


def _masked_address(address: str) -> str:
    """``+14155550123`` as a phone number; an identity (``alice``, a PSID) all but its end."""
    if address.startswith("+"):
        try:
            country_code = parse(address).country_code or 0
        except NumberParseException:
            country_code = 0
        return _masked_phone_number(address, country_code)
    return mask_characters(address, keep_last=2, hide=str.isalnum)


def _masked_email(match: re.Match[str]) -> str:
    local, domain = match.group().split("@", 1)
    top_level = match.group(2)
    return f"{local[:1]}***@{domain[:1]}***.{top_level}"


Replacement = tuple[int, int, str]


def _channel_addresses(text: str) -> Iterator[Replacement]:
    for match in _CHANNEL_ADDRESS.finditer(text):
        yield match.start(1), match.end(1), _masked_address(match.group(1))


def _card_numbers(text: str) -> Iterator[Replacement]:
    for match in _CARD_NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            yield match.start(), match.end(), mask_characters(match.group(), keep_last=4)


def _emails(text: str) -> Iterator[Replacement]:
    for match in _EMAIL.finditer(text):
        yield match.start(), match.end(), _masked_email(match)


def _phone_numbers(text: str, regions: Iterable[str]) -> Iterator[Replacement]:
    """International numbers (``+…``) that are possible, national ones only if valid.

    A leading ``+`` is never anything but a phone number, and libphonenumber's metadata may
    lag a new range; without it, only a number valid in a configured country counts, so an
    order number is not taken for a phone number.
    """
    for region in regions:
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
            international = match.raw_string.lstrip().startswith("+")
            if international or is_valid_number(match.number):
                yield (
                    match.start,
                    match.end,
                    _masked_phone_number(match.raw_string, match.number.country_code or 0),
                )


def _replace(text: str, chosen: list[Replacement], found: Iterable[Replacement]) -> str:
    """``chosen`` and then each of ``found`` that overlaps none of them nor a kept identifier."""
    taken = [(start, end) for start, end, _ in chosen]
    taken += [match.span() for match in _KEEP.finditer(text)]
    for start, end, replacement in found:
        if all(end <= s or start >= e for s, e in taken):
            taken.append((start, end))
            chosen.append((start, end, replacement))
    if not chosen:
        return text
    parts, position = [], 0
    for start, end, replacement in sorted(chosen):
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _may_hold_personal_data(text: str) -> bool:
    """An ``@``, a channel prefix, or seven digits outside an identifier that stays."""
    if "@" in text or (":" in text and any(p in text.lower() for p in CHANNEL_PREFIXES)):
        return True
    candidates = _SEVEN_DIGITS.finditer(text)
    first = next(candidates, None)
    if first is None:
        return False
    kept = [match.span() for match in _KEEP.finditer(text)]
    return any(
        not any(start <= candidate.start() and candidate.end() <= end for start, end in kept)
        for candidate in (first, *candidates)
    )


def mask_personal_data(text: str, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """``text`` with every phone number, channel address, card number and e-mail masked."""
    if "%" in text:
        decoded = unquote(text)
        if decoded != text:
            masked = mask_personal_data(decoded, phone_regions)
            return masked if masked != decoded else text
    if not _may_hold_personal_data(text):
        return text

    def found() -> Iterator[Replacement]:
        yield from _card_numbers(text)
        if "@" in text:
            yield from _emails(text)
        yield from _phone_numbers(text, phone_regions)

    return _replace(text, list(_channel_addresses(text)), found())


# --- Applied to what leaves the process --------------------------------------------------------


REMEMBERED_TEXT_LENGTH = 256
"""Texts up to this long are masked once and remembered (attribute values, labels)."""


@functools.lru_cache(maxsize=16_384)
def _remembered_mask(text: str, regions: tuple[str, ...]) -> str:
    return mask_personal_data(text, regions)


def redact(text: str) -> str:
    """``text`` as it may leave this process: masked unless ``BATON_LOG_SENSITIVE`` is on."""
    policy = _policy
    if not policy.masking:
        return text
    if len(text) <= REMEMBERED_TEXT_LENGTH:
        return _remembered_mask(text, policy.regions)
    return mask_personal_data(text, policy.regions)


def redact_value(value: AttributeValue) -> AttributeValue:
    """A span or metric attribute value: strings and sequences of strings are redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(redact(str(v)) for v in value)
    return value


def redact_attributes(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    return {key: redact_value(value) for key, value in (attributes or {}).items()}


def redact_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Metric label values (and exemplar labels) as they may leave the process."""
    return {key: redact(value) for key, value in labels.items()}


_EXCEPTION_FORMATTER = logging.Formatter()


def _redacted_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(redact(a) if isinstance(a, str) else a for a in args)
    if isinstance(args, Mapping):
        return {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
    return args


def redact_log_record(record: logging.LogRecord) -> None:
    """Mask the message, the traceback and the stack of a record before any handler sees it.

    The arguments are masked one by one, so formatters that read them keep working (uvicorn's
    access log unpacks ``record.args``); if the message they make still holds personal data
    (a number split between the format and an argument), the record carries the masked
    message alone.
    """
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # logging reports a broken format when it emits the record
        return
    if "%" in message or _may_hold_personal_data(message):
        msg = redact(record.msg) if isinstance(record.msg, str) else str(record.msg)
        args = _redacted_args(record.args)
        try:
            rendered = msg % args if args else msg
        except (TypeError, ValueError, KeyError):
            rendered = message
        masked = redact(rendered)
        record.msg, record.args = (msg, args) if masked == rendered else (masked, None)
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(_EXCEPTION_FORMATTER.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _masking_record_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def create(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _policy.masking:
            redact_log_record(record)
        return record

    return create


logging.setLogRecordFactory(_masking_record_factory(logging.getLogRecordFactory()))
