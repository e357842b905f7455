"""The machine a bench ran on, for its figures: CPU model, cores, Python, system, load.

Standard library only: `big_campaign.py` imports it and must stay light (a child's peak RSS
counts the parent's at the fork).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """The CPU, core count, Python and system the figures were measured on, and the load."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average: {load}"
    )
