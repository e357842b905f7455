"""`check`'s config lines: each value of the effective config and where it came from.

Like `aws configure list`, one line a key under the `config` step, in the config's order:

    ok   config      /etc/fota-poller/config.toml
      api.base_url = "http://127.0.0.1:8080" (file /etc/fota-poller/config.toml)
      poll.rate = 10.0 (default)
      state.path = "/var/lib/fota-poller/state.db" (flag --state)
      auth.app_key = *** (env THINGSPACE_APP_KEY)

A credential is shown as `***` or `unset`, never its value; whether it can be read is the
`credentials` step's to say. Every line is escaped as check's others are.
"""

from __future__ import annotations

import argparse
import os
import sys

from fota_poller.api.credentials import credential_sources
from fota_poller.commands.common import ConfigRead
from fota_poller.config import CONFIG_ENV, Config, config_values
from fota_poller.config_sources import FLAGS, shown_value, value_sources
from fota_poller.text import MESSAGE_CHARS, bounded, escape_controls


def show_sources(read: ConfigRead, config: Config, args: argparse.Namespace) -> None:
    """Print each key of `config` (the file's with `args`' flags over it) and its source."""
    given = {key: flag for key, flag in FLAGS.items() if _flag_value(args, flag) is not None}
    found = value_sources(
        config_values(config),
        flags=given,
        file=read.path,
        file_keys=read.file_keys,
        via=f"${CONFIG_ENV}" if read.found_by == CONFIG_ENV else "",
    )
    lines = [f"{one.key} = {shown_value(one.value)} ({one.source})" for one in found]
    for name, source in credential_sources(config.auth, os.environ):
        lines.append(f"{name} = unset" if source is None else f"{name} = *** ({source})")
    for line in lines:
        sys.stdout.write(f"  {bounded(escape_controls(line), MESSAGE_CHARS)}\n")
    sys.stdout.flush()


def _flag_value(args: argparse.Namespace, flag: str) -> object:
    # argparse keeps `--base-url` as `base_url`; a flag `check` does not have is None.
    return getattr(args, flag.removeprefix("--").replace("-", "_"), None)
