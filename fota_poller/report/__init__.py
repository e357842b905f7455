"""The report: a night and its history as one self-contained HTML page (`fota-poller report`)."""
