"""`python -m fota_poller`."""

import sys

from fota_poller.cli import main

sys.exit(main())
