"""The phase table: built-in statuses, spelling variants, the config's [phases], unknowns."""

import structlog

from fota_poller.model.phases import BUILTIN_PHASES, PhasesConfig, PhaseTable, status_key


def test_every_built_in_status_has_its_phase_and_spelling_variants_match():
    table = PhaseTable()
    for phase, statuses in BUILTIN_PHASES.items():
        for status in statuses:
            assert table.phase(status) == phase
    for variant in ("Request Pending", "request_pending", "REQUEST-PENDING", " RequestPending "):
        assert table.phase(variant) == "pending"
    assert table.phase("UpgradeSuccess") == "succeeded"
    assert table.phase("Device Rejected") == "failed"
    assert table.phase("Device Accepted") == "pending"


def test_the_built_in_table_gives_each_status_key_one_phase():
    keys = [status_key(s) for statuses in BUILTIN_PHASES.values() for s in statuses]
    assert len(keys) == len(set(keys))


def test_no_status_is_unknown_and_the_raw_status_is_untouched():
    table = PhaseTable()
    assert table.phase(None) == "unknown"
    assert table.phase("") == "unknown"
    assert table.phase("Firmware Teleported") == "unknown"


def test_the_config_extends_and_overrides_the_built_in_table():
    table = PhaseTable(
        PhasesConfig(
            succeeded=("Firmware Teleported",),
            failed=("device accepted",),  # moves a built-in status, in another spelling
            unknown=("Queued",),
        )
    )
    assert table.phase("Firmware Teleported") == "succeeded"
    assert table.phase("Device Accepted") == "failed"
    assert table.phase("Queued") == "unknown"
    assert table.phase("UpgradeSuccess") == "succeeded"  # the rest stays


def test_an_unknown_status_is_logged_once_per_table_and_escaped():
    table = PhaseTable(PhasesConfig(unknown=("Queued",)))
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            table.phase("Mystery")
            table.phase("Other\x1b[2J")
            table.phase("Queued")  # unknown by choice: nothing to log
            table.phase(None)
        PhaseTable().phase("Mystery")  # a new run logs it again
    events = [(e["event"], e["status"]) for e in logs]
    assert events == [
        ("phase.unknown_status", "'Mystery'"),
        ("phase.unknown_status", "'Other\\x1b[2J'"),
        ("phase.unknown_status", "'Mystery'"),
    ]


def test_a_flood_of_distinct_statuses_keeps_the_cache_bounded():
    table = PhaseTable()
    with structlog.testing.capture_logs():
        for n in range(10_000):
            assert table.phase(f"status {n}") == "unknown"
    assert len(table._cache) <= 4097
    assert len(table._logged_unknown) <= 4096


def test_phase_counts_add_up_to_the_status_counts():
    table = PhaseTable()
    counts = {"UpgradeSuccess": 3, "Request Pending": 2, "RequestPending": 1, "(missing)": 4}
    with structlog.testing.capture_logs():
        phases = table.counts(counts, "(missing)")
    assert phases == {"succeeded": 3, "pending": 3, "unknown": 4}
    assert sum(phases.values()) == sum(counts.values())
