"""Typed exceptions, each carrying a one-line message meant for the user, and the exit codes."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes a cron wrapper can act on."""

    OK = 0
    CAMPAIGNS_FAILED = 1
    USAGE = 2
    AUTH_FAILED = 3
    CUT_SHORT = 4
    OUTPUT_FAILED = 74  # EX_IOERR: the output could not be written or committed
    ALREADY_RUNNING = 75  # EX_TEMPFAIL: another run holds the lock; try again later
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
        self, message: str, *, error_code: str | None = None, requests_sent: int = 0
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.requests_sent = requests_sent


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
