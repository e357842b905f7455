"""Poll Verizon ThingSpace FOTA upgrade campaigns and stream one JSON line per device."""

__version__ = "0.1.0"
