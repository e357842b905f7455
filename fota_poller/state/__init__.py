"""The state database: what the last successful poll saw, per campaign and per device.

Whatever of it is imported, None and bools are bound through the state's adapters
(binding.py) on every connection it opens.
"""

from fota_poller.state import binding as binding
