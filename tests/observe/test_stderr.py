"""observe/stderr.py: a stderr line that cannot be written is dropped and counted, never raised."""

import contextlib
import io
import os
from pathlib import Path

import pytest
import structlog

from fota_poller.model.tally import RunTally
from fota_poller.observe.logs import configure_logging
from fota_poller.observe.stderr import StderrStream, say


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def drain(fd):
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 1 << 16):
            data += chunk
    return data


def test_lines_reach_the_descriptor_and_none_is_dropped(pipe):
    read_end, write_end = pipe
    with os.fdopen(write_end, "w", closefd=False) as stream:
        stderr = StderrStream(stream)
        stderr.write("one\n")
        stderr.write("two é\n")
    assert drain(read_end) == "one\ntwo é\n".encode()
    assert stderr.dropped == 0


def test_a_closed_stderr_drops_and_counts_every_line():
    lost = []
    stderr = StderrStream(None, lost.append)  # sys.stderr is None after `2>&-`
    assert stderr.write("one\n") == 4
    stderr.write("two\nthree\n")
    stderr.flush()
    assert (stderr.dropped, lost) == (3, [1, 2])
    assert not stderr.isatty()


def test_a_reader_that_quit_drops_lines_without_raising(pipe):
    read_end, write_end = pipe
    os.close(read_end)
    with os.fdopen(write_end, "w", closefd=False) as stream:
        stderr = StderrStream(stream)
        stderr.write("one\n")
        stderr.write("two\n")
    assert stderr.dropped == 2


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_device_drops_lines_without_raising():
    with open("/dev/full", "w", encoding="utf-8") as full:  # noqa: PTH123
        stderr = StderrStream(full)
        stderr.write("one\n")
    assert stderr.dropped == 1


def test_a_closed_file_object_drops_lines():
    stream = io.StringIO()
    stream.close()
    stderr = StderrStream(stream)
    stderr.write("one\n")
    assert stderr.dropped == 1


def test_a_lost_redraw_without_a_newline_is_no_line():
    stderr = StderrStream(None)
    stderr.write("\r 40% |####      |")
    assert stderr.dropped == 0


def test_a_line_cut_short_by_a_full_pipe_leaves_the_next_on_a_line_of_its_own(pipe):
    read_end, write_end = pipe
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"x" * 4096)
    os.read(read_end, 16384)  # room for part of the long line below, not all of it
    with os.fdopen(write_end, "w", closefd=False) as stream:
        stderr = StderrStream(stream)
        stderr.write("y" * 100_000 + "\n")
        assert stderr.dropped == 1
        drain(read_end)
        stderr.write("next\n")
    assert drain(read_end) == b"\nnext\n"
    assert stderr.dropped == 1


def test_say_with_a_closed_stderr_is_quiet(monkeypatch):
    monkeypatch.setattr("sys.stderr", None)
    say("fota-poller: something")  # no AttributeError


def test_logging_to_a_closed_stderr_counts_into_the_tally(monkeypatch, restore_logging):
    monkeypatch.setattr("sys.stderr", None)
    tally = RunTally()
    configure_logging("info", on_dropped=tally.log_lines_lost)
    log = structlog.get_logger("fota_poller")
    log.info("run.started")
    log.debug("not.shown")  # below the level: never written, never lost
    log.warning("campaign.failed")
    assert tally.log_lines_dropped == 2


def test_logging_to_a_broken_pipe_counts_into_the_tally(pipe, restore_logging):
    read_end, write_end = pipe
    os.close(read_end)
    tally = RunTally()
    with os.fdopen(write_end, "w", closefd=False) as stream:
        configure_logging("info", stream=stream, on_dropped=tally.log_lines_lost)
        structlog.get_logger("fota_poller").info("run.finished")
    assert tally.log_lines_dropped == 1
