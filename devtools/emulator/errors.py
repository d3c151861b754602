"""Twilio's legacy error body, the one twilio-python turns into ``TwilioRestException``.

Every error the emulator answers, including FastAPI's own 404/405/422, uses this shape so a
client sees exactly what Twilio would send: ``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

AUTHENTICATE = 20003
MISSING_PARAMETER = 20001
NOT_FOUND = 20404
CONFLICT = 20409
TOO_MANY_REQUESTS = 20429
INTERNAL_ERROR = 20500
SERVICE_UNAVAILABLE = 20503


def code_for_status(status: int) -> int:
    """Twilio's platform code for an HTTP status (20xxx mirrors the status where one exists)."""
    known = {
        400: MISSING_PARAMETER,
        401: AUTHENTICATE,
        404: NOT_FOUND,
        409: CONFLICT,
        429: TOO_MANY_REQUESTS,
        500: INTERNAL_ERROR,
        503: SERVICE_UNAVAILABLE,
    }
    if status in known:
        return known[status]
    return INTERNAL_ERROR if status >= 500 else 20000 + status


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def error_response(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)


class TwilioError(Exception):
    """Raised anywhere in a handler to answer with Twilio's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code if code is not None else code_for_status(status)
        self.message = message
        self.headers = headers


def not_found(path: str) -> TwilioError:
    return TwilioError(404, f"The requested resource {path} was not found", NOT_FOUND)


def _answer(error: TwilioError) -> JSONResponse:
    return error_response(error.status, error.code, error.message, error.headers)


def missing(parameter: str) -> TwilioError:
    return TwilioError(400, f"Missing required parameter {parameter} in the post body")


def install_error_handlers(app: FastAPI) -> None:
    async def twilio_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, TwilioError)
        return _answer(error)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return _answer(not_found(request.url.path))
        return error_response(
            error.status_code,
            code_for_status(error.status_code),
            str(error.detail),
            dict(error.headers or {}),
        )

    async def invalid_request(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(
            400, MISSING_PARAMETER, f"Invalid parameter {where}: {first.get('msg', 'invalid')}"
        )

    app.add_exception_handler(TwilioError, twilio_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
