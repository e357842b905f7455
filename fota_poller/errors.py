"""Every exception type of the package, and the exit codes.

`FotaPollerError` and its subclasses reach the user: one line and an exit code from the CLI.
The others are caught inside the package and turned into a record or a retry. The bottom
layer: this module imports nothing from the package.
"""

from __future__ import annotations

import enum
from typing import Literal


class ExitCode(enum.IntEnum):
    """Exit codes a cron wrapper can act on."""

    OK = 0
    CAMPAIGNS_FAILED = 1
    USAGE = 2
    AUTH_FAILED = 3
    CUT_SHORT = 4
    OUTPUT_FAILED = 74  # EX_IOERR: the output could not be written or committed
    ALREADY_RUNNING = 75  # EX_TEMPFAIL: another run holds the lock; try again later
    # 128 + the signal's number, what a shell reports for a process that signal killed: a
    # second signal ended the run before every campaign had its record, so nothing was
    # committed (the previous output file is as it was).
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143
    # What a shell reports for a writer killed by SIGPIPE (128 + 13): the reader of stdout
    # quit. Wrappers running pipelines with `pipefail` already tell this apart from a failure.
    OUTPUT_CLOSED = 141


class FotaPollerError(Exception):
    """Base class: a problem the CLI reports in one line, with an exit code."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigError(FotaPollerError):
    """The configuration file or a flag is unusable."""


class InputFileError(FotaPollerError):
    """An id list cannot be opened or read."""


class MissingCredentialsError(FotaPollerError):
    """The credentials needed to call the API are not in the environment."""


class AuthenticationError(FotaPollerError):
    """ThingSpace refused to issue or accept a token; the run stops to protect the account.

    `error_code` is the API's code for the refusal, when it gave one; `requests_sent` counts
    the API requests of the call that raised it (0: that call sent nothing).
    """

    exit_code = ExitCode.AUTH_FAILED

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        requests_sent: int = 0,
        exit_code: ExitCode = ExitCode.AUTH_FAILED,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.requests_sent = requests_sent
        # 2 (not 3) when the auth endpoint's 404 says `api.base_url` is wrong: no refusal.
        self.exit_code = exit_code


class LoginRejectedError(AuthenticationError):
    """The session service refused the username and password: a failed login, remembered.

    `http_status` is the refusal's status (400, 401...), kept with the memory of it.
    """

    def __init__(self, message: str, *, http_status: int, error_code: str | None = None) -> None:
        super().__init__(message, error_code=error_code)
        self.http_status = http_status


class LoginMemoryError(FotaPollerError):
    """The memory of failed logins cannot be read or written: no login is tried (fail closed)."""

    exit_code = ExitCode.AUTH_FAILED


class AlreadyRunningError(FotaPollerError):
    """Another run holds the lock file."""

    exit_code = ExitCode.ALREADY_RUNNING


class DiscoveryError(FotaPollerError):
    """A report page could not be fetched or read: the run must not pass for complete."""

    exit_code = ExitCode.CAMPAIGNS_FAILED

    def __init__(self, account: str, status: str, start_index: str, reason: str) -> None:
        super().__init__(
            f"discovery of {status} upgrades of account {account} failed at index "
            f"{start_index}: {reason}"
        )
        self.account = account
        self.status = status
        self.start_index = start_index
        self.reason = reason


class InventoryError(Exception):
    """An account's device list could not be had whole: its inventory failed for this run.

    A 4xx, retries run out, an unreadable or foreign page, a page that does not advance, a
    list past its bounds; `stopped` when the run stopped first. Caught by whoever fetched it:
    that account's campaigns are marked `inventory: "failed"`, the others go on.
    """

    def __init__(self, reason: str, *, account: str = "", stopped: bool = False) -> None:
        super().__init__(f"inventory of account {account} failed: {reason}" if account else reason)
        self.reason = reason
        self.account = account
        self.stopped = stopped


class OutputError(FotaPollerError):
    """The output could not be written or committed (disk full, I/O error): the run stops."""

    exit_code = ExitCode.OUTPUT_FAILED
    event = "output.failed"

    def __init__(self, output: str, reason: str) -> None:
        super().__init__(f"cannot write output {output}: {reason}")
        self.output = output
        self.reason = reason


class OutputClosedError(OutputError):
    """Nobody reads the output any more (a closed pipe): the run stops, quietly."""

    exit_code = ExitCode.OUTPUT_CLOSED
    event = "output.closed"


# The state database's exit codes are these three classes' (StateError 2, StateBusyError 75,
# StateWriteError 74), for every command that opens it: docs/change-feed.md's one table
# ("Exit codes of the state database") lists them, and a test holds the two together.
class StateError(FotaPollerError):
    """The state database cannot be used: unreadable, corrupt, read-only, or of another schema.

    Nothing is polled and the file is left as it was.
    """


class StateBusyError(StateError):
    """Another run holds the state database (its lock, or a write transaction): try later."""

    exit_code = ExitCode.ALREADY_RUNNING


class StateWriteError(StateError):
    """The state could not be written during or after a run (disk full, I/O error).

    The records are still written; the next run reports the same changes again.
    """

    exit_code = ExitCode.OUTPUT_FAILED


def state_exit_codes() -> dict[str, ExitCode]:
    """The state database's exit codes, by exception: the one list (docs/change-feed.md)."""
    return {
        error.__name__: error.exit_code for error in (StateError, StateBusyError, StateWriteError)
    }


class RequestFailedError(Exception):
    """No usable response: no answer, a body too large or unreadable, or a refused redirect.

    `too_large` and `http` are answers: final, never retried, and carry the HTTP `status`.
    `reason` is what went wrong without the host (`connection refused`), for a message that
    names the host its own way (an outage's not_polled records); the message when not given.
    """

    def __init__(
        self,
        kind: Literal["network", "timeout", "too_large", "http"],
        message: str,
        status: int | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.reason = reason if reason is not None else message

    @property
    def final(self) -> bool:
        """True for an answer that asking again would not change."""
        return self.kind in {"too_large", "http"}


class UnreadableBodyError(Exception):
    """The body is over the cap (`too_large`) or in an encoding that cannot be undone (`http`)."""

    def __init__(self, kind: Literal["too_large", "http"], message: str) -> None:
        super().__init__(message)
        self.kind = kind


class InputDecodeError(Exception):
    """Input from outside (a body, a line, the config) that its decoder could not read.

    Whatever the decoder raised (a `msgspec.DecodeError`, a `UnicodeDecodeError`, a
    `RecursionError`...), in one line; `invalid` when the data parsed but does not fit the
    expected shape (`msgspec.ValidationError`). Raised by `fota_poller.decoding.decode`.
    """

    def __init__(self, reason: str, *, invalid: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invalid = invalid


class UpgradeDecodeError(Exception):
    """A 200 body that is not a valid upgrade; the message is msgspec's, naming the JSON path."""


class NoAuthAnswerError(RequestFailedError):
    """An auth request got no HTTP answer: a network failure, not a refusal (never exit 3).

    `sent` is False when no connection was made, so the credentials never left: such a login
    does not count towards a run's login budget.
    """

    def __init__(
        self,
        kind: Literal["network", "timeout"],
        message: str,
        *,
        sent: bool = True,
        reason: str | None = None,
    ) -> None:
        super().__init__(kind, message, reason=reason)
        self.sent = sent


class NotARegularFileError(OSError):
    """A path the run writes is a link, directory, FIFO, device or socket; `strerror` says which."""
