"""The state learns a campaign only once the records that report it are durable."""

import sqlite3

import structlog
from helpers import refs_of, simulator_tokens

from fota_poller.config import ApiConfig, Config, apply_overrides
from fota_poller.errors import OutputError, StateWriteError
from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.model.stop import RunControl, StopReason
from fota_poller.run import state_sync
from fota_poller.run.pipeline import run_poll
from fota_poller.state.store import StateStore
from fota_poller.testing import MemorySink, read_records


def committed_campaigns(path):
    """What another process sees: the campaigns committed so far."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT count(*) FROM campaigns").fetchone()[0]
        except sqlite3.OperationalError:
            return 0  # the tables are not there yet


class WatchingSink(MemorySink):
    """A sink that notes, at each write and at commit, how many campaigns the state holds."""

    def __init__(self, path, *, durable_per_write, fail_after=None):
        super().__init__()
        self.durable_per_write = durable_per_write
        self.path = path
        self.campaigns_written = 0
        self.seen = []  # (campaigns whose lines were written before this write, committed)
        self.fail_after = fail_after

    def write(self, data):
        if self.fail_after is not None and self.campaigns_written >= self.fail_after:
            raise OutputError("watched", "No space left on device")
        self.seen.append((self.campaigns_written, committed_campaigns(self.path)))
        super().write(data)
        self.campaigns_written += data.count(b'"record":"campaign"')

    def commit(self):
        self.seen.append((self.campaigns_written, committed_campaigns(self.path)))
        super().commit()


async def poll_with_state(sim, path, sink, control=None, **output):
    config = apply_overrides(
        Config(api=ApiConfig(base_url=sim.base_url)), poll={"rate": 0}, output=output
    )
    with StateStore.open(path) as store:
        return await run_poll(
            config, refs_of(sim.catalog), simulator_tokens(sim.options), sink, control, state=store
        )


async def test_a_file_like_output_commits_the_state_only_after_its_own_commit(
    small_simulator, tmp_path, monkeypatch
):
    monkeypatch.setattr(state_sync, "COMMIT_EVERY", 2)
    path = tmp_path / "state.db"
    sink = WatchingSink(path, durable_per_write=False)
    run = await poll_with_state(small_simulator, path, sink)
    assert run.exit_code == 0
    assert sink.seen
    assert all(committed == 0 for _, committed in sink.seen)
    assert committed_campaigns(path) == len(small_simulator.catalog) == 30


async def test_a_stream_output_commits_in_batches_never_ahead_of_the_lines(
    small_simulator, tmp_path, monkeypatch
):
    monkeypatch.setattr(state_sync, "COMMIT_EVERY", 4)
    path = tmp_path / "state.db"
    sink = WatchingSink(path, durable_per_write=True)
    run = await poll_with_state(small_simulator, path, sink)
    assert run.exit_code == 0
    assert all(committed <= written for written, committed in sink.seen)
    # It did commit while running, not only at the end.
    assert any(committed > 0 for _, committed in sink.seen[:-1])
    assert committed_campaigns(path) == 30


async def test_a_lost_file_output_commits_nothing(small_simulator, tmp_path):
    path = tmp_path / "state.db"
    sink = WatchingSink(path, durable_per_write=False, fail_after=10)
    with structlog.testing.capture_logs():
        run = await poll_with_state(small_simulator, path, sink)
    assert run.exit_code == 74
    assert committed_campaigns(path) == 0


async def test_a_lost_stream_keeps_only_the_batches_committed_before(
    small_simulator, tmp_path, monkeypatch
):
    monkeypatch.setattr(state_sync, "COMMIT_EVERY", 4)
    path = tmp_path / "state.db"
    sink = WatchingSink(path, durable_per_write=True, fail_after=10)
    with structlog.testing.capture_logs():
        run = await poll_with_state(small_simulator, path, sink)
    assert run.exit_code == 74
    assert committed_campaigns(path) in {8, 10}  # whole batches of 4, never more than written


async def test_a_stopped_run_commits_what_it_wrote_and_not_the_campaigns_never_polled(
    small_simulator, tmp_path
):
    path = tmp_path / "state.db"
    control = RunControl()
    sink = WatchingSink(path, durable_per_write=False)

    original = sink.write

    def stop_after_ten(data):
        original(data)
        if sink.campaigns_written >= 10:
            control.stop(StopReason("not_polled", "stopped by the test", exit_code=4))

    sink.write = stop_after_ten
    with structlog.testing.capture_logs():
        run = await poll_with_state(small_simulator, path, sink, control)
    assert run.exit_code == 4
    records = read_records(bytes(sink.data))
    ok = {r.upgrade_id for r in records if isinstance(r, CampaignRecord) and r.outcome == "ok"}
    with sqlite3.connect(path) as db:
        stored = {row[0] for row in db.execute("SELECT upgrade_id FROM campaigns")}
    assert stored == ok
    assert 10 <= len(ok) < 30


async def test_a_state_that_fails_mid_run_still_writes_every_record_and_exits_74(
    small_simulator, tmp_path, monkeypatch
):
    path = tmp_path / "state.db"
    staged = []
    original = StateStore.stage

    def stage(self, update):
        if len(staged) == 5:
            raise StateWriteError(f"cannot write state database {path}: disk I/O error")
        staged.append(update)
        original(self, update)

    monkeypatch.setattr(StateStore, "stage", stage)
    sink = MemorySink()
    sink.durable_per_write = False
    with structlog.testing.capture_logs() as logs:
        run = await poll_with_state(small_simulator, path, sink)
    records = read_records(bytes(sink.data))
    campaigns = [r for r in records if isinstance(r, CampaignRecord)]
    assert len(campaigns) == 30
    assert all(c.outcome == "ok" for c in campaigns)
    assert isinstance(records[-1], RunRecord)
    assert run.exit_code == records[-1].exit_code == 74
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["state.failed"]
    # Campaigns read after the failure carry no change fields; none is committed.
    devices = [r for r in records if isinstance(r, DeviceRecord)]
    assert any(d.change is None for d in devices)
    assert committed_campaigns(path) == 0


async def test_a_state_commit_that_fails_after_the_output_is_in_place_exits_74(
    small_simulator, tmp_path, monkeypatch
):
    path = tmp_path / "state.db"

    def commit(self, committed_at):
        raise StateWriteError(f"cannot commit state database {path}: database or disk is full")

    monkeypatch.setattr(StateStore, "commit", commit)
    sink = MemorySink()
    with structlog.testing.capture_logs() as logs:
        run = await poll_with_state(small_simulator, path, sink)
    records = read_records(bytes(sink.data))
    # The records were durable first: their run line could not know; the exit code does.
    assert sink.committed
    assert records[-1].exit_code == 0
    assert run.exit_code == 74
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["state.failed"]
    assert committed_campaigns(path) == 0
