"""structlog loaded without rich: about 45 ms of every start that formats nothing with it.

When rich is installed (it is: summary draws its tables with it), `import structlog` loads
it too (structlog.dev and structlog.tracebacks, about 45 ms of a run's 0.35 s start on the
machines of bench/README.md), only to format exceptions on a console. fota-poller logs no
exception (an error is one line), so the command line loads structlog first with rich
hidden: `sys.modules["rich"] = None` makes `import rich` fail, which structlog takes as rich
not installed. rich is importable again as soon as structlog is in, for summary's tables.
Written here, not found in a library: it is about the order of two imports in this process.
A process that already holds either one (a program using the package as a library) is left
as it is.
"""

from __future__ import annotations

import importlib
import sys


def load_structlog() -> None:
    """Import structlog, rich hidden from it, unless either one is loaded already."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
    try:
        importlib.import_module("structlog")
    finally:
        if sys.modules.get("rich", False) is None:
            del sys.modules["rich"]
