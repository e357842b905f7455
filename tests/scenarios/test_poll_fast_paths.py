"""The pipeline's fast paths end to end: seen-set dedup, stream hand-offs, spliced device lines."""

from helpers import simulator_tokens

from fota_poller.config import ApiConfig, Config, PollConfig
from fota_poller.model.records import CampaignRecord, DeviceRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.run.pipeline import run_poll
from fota_poller.simulator import SimulatorOptions, run_simulator
from fota_poller.testing import MemorySink

OPTIONS = SimulatorOptions(campaigns=30, devices_min=0, devices_max=40)


async def test_every_distinct_campaign_is_polled_once_with_every_served_device():
    async with run_simulator(OPTIONS) as simulator:
        refs = [CampaignRef(account, upgrade) for account, upgrade in simulator.catalog.ids()]

        async def twice():
            for ref in refs + refs[::-1]:
                yield ref

        config = Config(
            api=ApiConfig(base_url=simulator.base_url), poll=PollConfig(concurrency=4, rate=0)
        )
        sink = MemorySink()
        tokens = simulator_tokens(OPTIONS)
        run = await run_poll(config, twice(), tokens, sink)
        served = {
            ref.upgrade_id: simulator.catalog.campaign(ref.account_name, ref.upgrade_id)
            for ref in refs
        }
    records = sink.records()
    assert records[-1] == run
    assert run.campaigns_ok == len(refs)
    assert run.requests_total == len(refs)
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    assert sorted(c.upgrade_id for c in campaigns) == sorted(served)
    devices: dict[str, list] = {}
    for record in records:
        if isinstance(record, DeviceRecord):
            devices.setdefault(record.upgrade_id, []).append(
                (record.device_id, record.status, record.result_reason)
            )
    for upgrade_id, campaign in served.items():
        expected = [(d.device_id, d.status, d.result_reason) for d in campaign.device_list]
        assert devices.get(upgrade_id, []) == expected
    assert run.devices_total == sum(len(c.device_list) for c in served.values())
