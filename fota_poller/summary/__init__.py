"""`fota-poller summary`'s reading: a night's records at a glance (the command: `commands/summary/`)."""
