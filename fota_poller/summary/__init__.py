"""`fota-poller summary`: a night's records at a glance (the command: `summary_command.py`)."""
