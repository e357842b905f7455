"""The client `check`'s online steps send their few requests through.

The night's client (its tokens, body cap, no redirects) in a session of its own, at `rate`
(0: unpaced, for a single request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fota_poller.api.auth import TokenSource
from fota_poller.api.client import UpgradeClient, open_session
from fota_poller.config import Config
from fota_poller.model.tally import RunTally
from fota_poller.pacing.ratelimit import RateLimiter


@asynccontextmanager
async def check_client(
    config: Config, tokens: TokenSource, tally: RunTally, *, rate: float
) -> AsyncIterator[UpgradeClient]:
    """An `UpgradeClient` as a run builds it, its session closed on leaving."""
    async with open_session(config) as http:
        yield UpgradeClient(
            http,
            config.api.base_url,
            tokens,
            RateLimiter(rate),
            tally=tally,
            max_body_bytes=config.poll.max_response_bytes,
        )
