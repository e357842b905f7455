"""The account's device list: fetched page by page, read, and held compactly for the join."""
