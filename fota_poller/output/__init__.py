"""What a run writes: record types, answer to records, device lines, sinks, the schema."""
