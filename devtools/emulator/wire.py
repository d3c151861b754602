"""Conventions every Twilio REST product shares: SIDs, timestamps, form bodies and list pages."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from emulator.errors import TwilioError


def new_sid(prefix: str) -> str:
    """A SID as Twilio mints them: two letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value) is not None


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in whole seconds: the only form twilio-python's ``iso8601_datetime`` parses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def rfc2822(moment: datetime | None) -> str | None:
    """The 2010-04-01 API (Messaging) dates its resources in RFC 2822."""
    return format_datetime(moment.astimezone(UTC)) if moment else None


async def form_fields(request: Request) -> dict[str, str]:
    """The form body as Twilio reads it: PascalCase names, dotted names kept as they are."""
    form = await request.form()
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as error:
        raise TwilioError(400, "The request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise TwilioError(400, "The request body must be a JSON object")
    return body


def _page_numbers(request: Request) -> tuple[int, int]:
    try:
        size = int(request.query_params.get("PageSize", "50"))
        page = int(request.query_params.get("Page", "0"))
    except ValueError as error:
        raise TwilioError(400, "PageSize and Page must be integers") from error
    return max(1, min(size, 1000)), max(0, page)


def _filters(request: Request) -> list[tuple[str, str]]:
    skip = {"PageSize", "Page", "PageToken"}
    return [(name, value) for name, value in request.query_params.multi_items() if name not in skip]


def meta_page(
    request: Request, base_url: str, key: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """A list page with the ``meta`` block of the v1/v2 APIs (Studio, Conversations)."""
    size, page = _page_numbers(request)
    start = page * size
    filters = _filters(request)
    path = f"{base_url}{request.url.path}"

    def page_url(number: int) -> str:
        query = urlencode([*filters, ("PageSize", str(size)), ("Page", str(number))])
        return f"{path}?{query}"

    return {
        "meta": {
            "page": page,
            "page_size": size,
            "first_page_url": page_url(0),
            "previous_page_url": page_url(page - 1) if page > 0 else None,
            "next_page_url": page_url(page + 1) if start + size < len(records) else None,
            "url": page_url(page),
            "key": key,
        },
        key: records[start : start + size],
    }


def legacy_page(request: Request, key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A list page of the 2010-04-01 API: relative ``*_uri`` fields and no ``meta`` block."""
    size, page = _page_numbers(request)
    start = page * size
    chunk = records[start : start + size]
    filters = _filters(request)
    path = request.url.path

    def page_uri(number: int) -> str:
        query = urlencode([*filters, ("PageSize", str(size)), ("Page", str(number))])
        return f"{path}?{query}"

    return {
        key: chunk,
        "first_page_uri": page_uri(0),
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "next_page_uri": page_uri(page + 1) if start + size < len(records) else None,
        "uri": page_uri(page),
        "page": page,
        "page_size": size,
        "start": start,
        "end": start + max(len(chunk) - 1, 0),
    }
