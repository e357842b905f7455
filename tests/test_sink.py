"""The file sink: whole or nothing, and never a clobbered file from a failed run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fota_poller.errors import ConfigError
from fota_poller.sink import AtomicFileSink


def test_nothing_is_visible_until_commit_then_everything_is(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    sink = AtomicFileSink(target)
    sink.write(b'{"a":1}\n')
    assert target.read_bytes() == b"old\n"
    sink.commit()
    assert target.read_bytes() == b'{"a":1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_discard_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    sink = AtomicFileSink(target)
    sink.write(b"half")
    sink.discard()
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_committed_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        sink = AtomicFileSink(tmp_path / "out.jsonl")
        sink.commit()
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o644


def test_an_unwritable_folder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write output"):
        AtomicFileSink(tmp_path / "no-such-folder" / "out.jsonl")
