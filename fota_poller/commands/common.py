"""What every command does the same way: find and read its config.

Every command that reads a config finds it as `poll` always did (docs/configuration.md):
`-c/--config`, else `$FOTA_POLLER_CONFIG`, else `/etc/fota-poller/config.toml` if it exists,
else the defaults. So `check`, `state` and `summary` test and read what the night's `poll`
reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from fota_poller.config import Config, config_path, load_config


def read_config(flag: Path | None) -> tuple[Config, Path | None, str]:
    """The config, the file it came from (None: the defaults) and how that file was found.

    How: `--config`, the variable's name, `default` (the file in /etc) or `none`.
    """
    path, found_by = config_path(flag, os.environ)
    return load_config(path), path, found_by
