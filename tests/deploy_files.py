"""The files of deploy/ installed under a test's temporary folder, for tests/deploy.

Only paths change: each production prefix (`PATHS`) is moved under the test's root and the
poller's path is this venv's; the config is pointed at the simulator. The units, the cron
file and the config are never edited otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fota_poller.simulator import SimulatorAuthOptions

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CONFIG = DEPLOY / "config.toml"
POLLER = str(Path(sys.executable).with_name("fota-poller"))
AUTH = SimulatorAuthOptions()
# The secrets the simulator accepts, by the credential names the unit loads and the config
# names.
SECRETS = {
    "thingspace-app-key": AUTH.app_key,
    "thingspace-app-secret": AUTH.app_secret,
    "thingspace-username": AUTH.username,
    "thingspace-password": AUTH.password,
}
# Production prefix -> folder under the test's root.
PATHS = {
    "/var/lib/fota-poller": "state",
    "/var/lib/prometheus/node-exporter": "textfile",
    "/var/log/fota-poller": "log",
    "/etc/fota-poller": "etc",
}
_PRODUCTION_URL = "https://thingspace.verizon.com/api"


def to_tmp(text: str, root: Path) -> str:
    """`text` with the production paths moved under `root`."""
    text = text.replace("/opt/fota-poller/bin/fota-poller", POLLER)
    for prefix, folder in PATHS.items():
        text = text.replace(prefix, str(root / folder))
    return text


def install_config(root: Path, base_url: str, *folders: str) -> Path:
    """deploy/config.toml installed under `root`, pointed at the simulator: its path.

    The folders of `PATHS`, the records' `state/runs` and `folders` are made too, as the
    unit's StateDirectory= or the docs' install steps make them.
    """
    for folder in (*PATHS.values(), "state/runs", *folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
    text = to_tmp(CONFIG.read_text(encoding="utf-8"), root)
    config = root / "etc" / "config.toml"
    config.write_text(text.replace(_PRODUCTION_URL, base_url), encoding="utf-8")
    return config


def write_credentials(folder: Path, names: list[str] | None = None) -> Path:
    """One 0600 file per credential (all of `SECRETS`, or `names`) in a new 0700 `folder`."""
    folder.mkdir(mode=0o700)
    for name in names if names is not None else list(SECRETS):
        (folder / name).write_text(SECRETS[name] + "\n", encoding="utf-8")
        (folder / name).chmod(0o600)
    return folder
