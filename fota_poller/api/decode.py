"""How a response body is decoded: the API's shapes as msgspec Structs, one decoder each.

Every field is optional because ThingSpace's own SDK treats them so; status strings
are an open set and pass through untouched (no enums).

On a request's path: after it. `fota_poller.output.campaign` decodes an answer's body;
`decode_error` also gives the error code to `auth`, `token_admission`, discovery and the token
requests. Both go through `fota_poller.decoding.decode`, so no body, however hostile (an
invalid UTF-8 byte in a string, nesting a thousand deep), raises anything else.
"""

from __future__ import annotations

import msgspec

from fota_poller.decoding import decode
from fota_poller.errors import InputDecodeError, UpgradeDecodeError


class Device(msgspec.Struct, rename="camel", gc=False):
    """One entry of a campaign's `deviceList`.

    Untracked by the cyclic garbage collector (`gc=False`): it holds strings only, so it
    can be in no cycle, and a night decodes a million of them (issue 23).
    """

    device_id: str | None = None
    status: str | None = None
    # Absent while the device is "Request Pending".
    result_reason: str | None = None


class UpgradeInfo(msgspec.Struct, rename="camel"):
    """The body of `GET /upgrades/{accountName}/upgrade/{upgradeId}`."""

    id: str | None = None
    account_name: str | None = None
    firmware_name: str | None = None
    firmware_to: str | None = None
    start_date: str | None = None
    # The vendor SDK drops endDate; we keep it because device status is stale after it.
    end_date: str | None = None
    status: str | None = None
    device_list: list[Device] | None = None


class GatewayFault(msgspec.Struct):
    """The API gateway's `fault` object (bad or expired Bearer token, among others)."""

    code: str | int | None = None
    message: str | None = None
    description: str | None = None


class ErrorBody(msgspec.Struct):
    """The three error shapes in one: gateway `fault`, M2M/FOTA `errorCode`, OAuth `error`.

    The shapes, and which endpoint answers in which, are in docs/thingspace.md.
    """

    fault: GatewayFault | None = None
    errorCode: str | None = None  # noqa: N815 - the API's own key
    errorMessage: str | None = None  # noqa: N815 - the API's own key
    error: str | None = None
    error_description: str | None = None


class ApiError(msgspec.Struct, frozen=True):
    """An error answer reduced to what the records carry."""

    code: str | None
    message: str | None


_upgrade_decoder = msgspec.json.Decoder(UpgradeInfo)
_error_decoder = msgspec.json.Decoder(ErrorBody)


def decode_upgrade(body: bytes) -> UpgradeInfo:
    """Decode a 200 body, raising `UpgradeDecodeError` when it is not an upgrade object."""
    try:
        return decode(_upgrade_decoder.decode, body)
    except InputDecodeError as exc:
        raise UpgradeDecodeError(str(exc)) from None


def decode_error(body: bytes) -> ApiError | None:
    """Reduce an error body to its code and message; None when it is not one of the JSON shapes."""
    try:
        parsed = decode(_error_decoder.decode, body)
    except InputDecodeError:
        return None
    if parsed.fault is not None:
        code = parsed.fault.code
        return ApiError(
            code=None if code is None else str(code),
            message=parsed.fault.message or parsed.fault.description,
        )
    if parsed.errorCode is not None or parsed.errorMessage is not None:
        return ApiError(code=parsed.errorCode, message=parsed.errorMessage)
    if parsed.error is not None or parsed.error_description is not None:
        return ApiError(code=parsed.error, message=parsed.error_description)
    return None
