"""`python -m fota_poller`."""

from fota_poller.cli import entry

entry()
