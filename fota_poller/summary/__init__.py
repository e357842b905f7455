"""A night's records at a glance: the reading behind `fota-poller summary` (commands/summary/)."""
