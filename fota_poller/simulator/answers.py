"""The simulator's error bodies, in the shapes ThingSpace uses, and how they are sent."""

from __future__ import annotations

from typing import Final

import msgspec
from aiohttp import web


class ServiceError(msgspec.Struct, frozen=True, rename="camel"):
    """The M2M/FOTA services' body for a rejected request: `{errorCode, errorMessage}`."""

    error_code: str
    error_message: str


ACCOUNT_NOT_FOUND: Final = ServiceError(
    "UnifiedWebService.REQUEST_FAILED.AccountNotFound", "Account not found."
)


def json_response(status: int, payload: msgspec.Struct) -> web.Response:
    """`payload` as a JSON body with `status`."""
    return web.Response(
        status=status, body=msgspec.json.encode(payload), content_type="application/json"
    )
