import uuid

from helpers import ACCOUNT

from fota_poller.ids.seen import SeenCampaigns
from fota_poller.model.refs import CampaignRef


def test_each_campaign_is_new_once_across_table_growth():
    seen = SeenCampaigns()
    refs = [CampaignRef(ACCOUNT, str(uuid.UUID(int=n * 7919 + 1))) for n in range(5000)]
    assert all(seen.add(ref) for ref in refs)
    assert not any(seen.add(ref) for ref in refs)
    assert len(seen) == 5000


def test_the_same_upgrade_under_two_accounts_is_two_campaigns():
    seen = SeenCampaigns()
    upgrade = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
    assert seen.add(CampaignRef(ACCOUNT, upgrade))
    assert seen.add(CampaignRef("0000999999-00002", upgrade))
    assert not seen.add(CampaignRef(ACCOUNT, upgrade))


def test_uuids_differing_only_in_one_half_stay_distinct():
    seen = SeenCampaigns()
    # Same low 64 bits with different high bits, and the reverse: both halves are compared.
    values = [(high << 64) | 5 for high in range(1, 300)] + [
        (1000 << 64) | low for low in range(300)
    ]
    refs = [CampaignRef(ACCOUNT, str(uuid.UUID(int=value))) for value in values]
    assert all(seen.add(ref) for ref in refs)
    assert len(seen) == len(values)


def test_nil_uuid_and_non_canonical_ids_are_remembered_too():
    seen = SeenCampaigns()
    nil = CampaignRef(ACCOUNT, str(uuid.UUID(int=0)))
    odd = CampaignRef(ACCOUNT, "not-a-uuid")
    upper = CampaignRef(ACCOUNT, "E3A8D88A-04C6-4EF3-B039-89B62F91E962")
    for ref in (nil, odd, upper):
        assert seen.add(ref)
        assert not seen.add(ref)
    # A non-canonical spelling is kept apart from the canonical one, as a set of refs would.
    assert seen.add(CampaignRef(ACCOUNT, upper.upgrade_id.lower()))


def test_a_batch_is_remembered_as_one_ref_at_a_time_would_be():
    upgrade = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"
    refs = [
        CampaignRef(ACCOUNT, upgrade),
        CampaignRef(ACCOUNT, upgrade),  # a duplicate within the batch
        CampaignRef(ACCOUNT, str(uuid.UUID(int=0))),
        CampaignRef("0000999999-00002", upgrade),
        CampaignRef(ACCOUNT, upgrade.upper()),
        CampaignRef(ACCOUNT, str(uuid.UUID(int=0))),
    ]
    one_at_a_time = SeenCampaigns()
    expected = [ref for ref in refs if one_at_a_time.add(ref)]
    # Mixed batches (two accounts, a non-canonical id) and uniform ones alike.
    for batches in ([refs], [refs[:3], refs[3:]], [[ref] for ref in refs]):
        seen = SeenCampaigns()
        assert [ref for batch in batches for ref in seen.add_all(batch)] == expected
        assert len(seen) == len(expected)


def test_a_table_past_fourfold_growth_stays_exact():
    seen = SeenCampaigns()
    # Past _FOURFOLD_FROM slots, in batches as a stopped run adds them.
    refs = [CampaignRef(ACCOUNT, str(uuid.UUID(int=n * 2654435761 + 3))) for n in range(150_000)]
    assert sum(len(seen.add_all(refs[i : i + 512])) for i in range(0, len(refs), 512)) == len(refs)
    assert seen.add_all(refs[::997]) == []
    assert len(seen) == len(refs)


def test_ids_packed_one_way_are_found_the_other_way():
    # A uniform batch packs ids with bytes.fromhex, a mixed one one id at a time with int():
    # both must give the same halves.
    refs = [CampaignRef(ACCOUNT, str(uuid.UUID(int=(n << 100) + n * 977 + 1))) for n in range(600)]
    other = CampaignRef("0000999999-00002", refs[0].upgrade_id)
    seen = SeenCampaigns()
    assert seen.add_all(refs[:300]) == refs[:300]
    assert seen.add_all([other, *refs]) == [other, *refs[300:]]
    assert seen.add_all(refs) == []
