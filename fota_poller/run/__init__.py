"""The run itself: feeder, workers, the single writer, stopping, the lock."""
