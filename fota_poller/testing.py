"""What a test of code built on fota-poller needs: fixed tokens, a sink in memory, a reader.

`StaticTokens` authenticates every request with pre-issued tokens (the simulator's, say),
`MemorySink` keeps what a run writes, and `read_records` turns those JSON lines back into
the typed records of `fota_poller.model.records`. Our own tests use the same three.
"""

from __future__ import annotations

from typing import NoReturn

import msgspec

from fota_poller.api.auth import RejectedToken, RequestAuth
from fota_poller.errors import AuthenticationError
from fota_poller.model.records import Record

_record_decoder = msgspec.json.Decoder(Record)


class StaticTokens:
    """Pre-issued Bearer and VZ-M2M session tokens, sent unchanged with every request."""

    def __init__(self, bearer_token: str, session_token: str) -> None:
        self._auth = RequestAuth(
            headers={"Authorization": f"Bearer {bearer_token}", "VZ-M2M-Token": session_token}
        )

    async def headers(self) -> RequestAuth:
        """The auth headers for one request (the same object every time: no per-request build)."""
        return self._auth

    def ready(self) -> RequestAuth:
        """The same headers: a pre-issued token never waits for a renewal."""
        return self._auth

    async def renew_after_rejection(self, rejected: RejectedToken, sent: RequestAuth) -> NoReturn:
        """A pre-issued token cannot be renewed: always raises `AuthenticationError`."""
        del sent  # nothing to compare: there is only one generation
        raise AuthenticationError(
            f"could not authenticate: the pre-issued {rejected} token was rejected and no "
            "credentials were given to obtain a new one"
        )

    def __repr__(self) -> str:
        return "StaticTokens(<redacted>)"


def read_records(data: bytes) -> list[Record]:
    """Decode a run's JSON lines, in order, into device, campaign and run records.

    Raises `msgspec.ValidationError` (a `msgspec.DecodeError`) on a line that is not a
    record of the contract, so a test reading the output also checks it.
    """
    return [_record_decoder.decode(line) for line in data.splitlines()]


class MemorySink:
    """A sink (`fota_poller.output.sink.Sink`) that keeps every line written, in memory.

    `committed` and `discarded` say which end the run gave its output: `run_poll` commits
    after writing the run record, and discards when a write to its output failed.
    """

    # Like a file: nothing written counts until commit (so a state commits only after it).
    durable_per_write = False

    def __init__(self) -> None:
        self.data = bytearray()
        self.committed = False
        self.discarded = False

    def write(self, data: bytes) -> None:
        """Keep complete lines."""
        self.data += data

    def commit(self) -> None:
        """Note that the run finished its output."""
        self.committed = True

    def discard(self) -> None:
        """Note that the run gave up on its output; what was written stays readable."""
        self.discarded = True

    def records(self) -> list[Record]:
        """Every record written so far, decoded."""
        return read_records(bytes(self.data))
