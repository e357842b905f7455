"""What every layer shares: records, phases, campaign refs, the tally, the stop switch, time."""
