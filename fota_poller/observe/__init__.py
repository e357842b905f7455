"""Watching a run: the tally, the metrics file, the progress bar, logs."""
