"""Shared pieces of the resilience tests: an in-memory sink and a poll of the simulator."""

import contextlib
import random
import subprocess
import sys
import uuid

import msgspec

from fota_poller.api.auth import StaticTokens
from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.ids.lists import CampaignRef
from fota_poller.output.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.run.pipeline import run_poll
from fota_poller.run.stop import RunControl

decoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)


class MemorySink:
    def __init__(self):
        self.data = bytearray()
        self.committed = False

    def write(self, data):
        self.data += data

    def commit(self):
        self.committed = True

    def discard(self):
        pass

    def records(self):
        return [decoder.decode(line) for line in bytes(self.data).splitlines()]


async def refs_of(catalog):
    for account, upgrade_id in catalog.ids():
        yield CampaignRef(account, upgrade_id)


async def poll_simulator(simulator, control=None, catalog=None, **poll):
    config = Config(api=ApiConfig(base_url=simulator.base_url), poll=PollConfig(**poll))
    options = simulator.options
    sink = MemorySink()
    tokens = StaticTokens(options.bearer_token, options.session_token)
    refs = refs_of(catalog or simulator.catalog)
    run = await run_poll(config, refs, tokens, sink, control or RunControl())
    return run, sink.records()


def split(records):
    devices = [r for r in records if isinstance(r, DeviceRecord)]
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    runs = [r for r in records if isinstance(r, RunRecord)]
    return devices, campaigns, runs


def truth(simulator):
    """Every (upgrade id, device id, status) the simulator serves."""
    rows = []
    for account, upgrade_id in simulator.catalog.ids():
        campaign = simulator.catalog.campaign(account, upgrade_id)
        rows.extend((upgrade_id, d.device_id, d.status) for d in campaign.device_list)
    return sorted(rows)


def polled(devices):
    return sorted((d.upgrade_id, d.device_id, d.status) for d in devices)


@contextlib.contextmanager
def simulator_process(*args):
    """`fota-poller simulate ARGS` on a free loopback port, as its own process: its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "fota_poller", "simulate", "--port", "0", *args],
        stderr=subprocess.PIPE,
    )
    try:
        ready = server.stderr.readline().decode()
        assert "listening on" in ready, ready
        yield ready.rsplit(" ", 1)[-1].strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def write_unknown_ids(path, account, count, seed=9):
    """`count` random upgrade ids on `account`: the simulator answers each 400 INVALID_PARAMETER."""
    generator = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.writelines(
            f"{account},{uuid.UUID(int=generator.getrandbits(128), version=4)}\n"
            for _ in range(count)
        )


class Tripwire(list):
    """The simulator's list of request starts, setting an event when it reaches a length."""

    def __init__(self, length, event):
        super().__init__()
        self.length = length
        self.event = event

    def append(self, item):
        super().append(item)
        if len(self) >= self.length:
            self.event.set()
