"""Every subcommand: its options (the package) and its work (core.py), one folder each."""
