"""The state database: what the last successful poll saw, per campaign and per device."""
