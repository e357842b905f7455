"""The file sink: whole or nothing, and never a clobbered file from a failed run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fota_poller.errors import ConfigError, OutputClosedError
from fota_poller.output.sink import AtomicFileSink, StdoutSink
from fota_poller.output.staging import StagedFile
from fota_poller.text import escape_line_separators


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


def test_output_naming_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.jsonl").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        AtomicFileSink(tmp_path / "out.jsonl")


def test_the_file_has_no_name_while_it_is_written(tmp_path: Path) -> None:
    staged = StagedFile(tmp_path / "out.jsonl")
    if not staged.unnamed:
        pytest.skip("this filesystem has no O_TMPFILE")
    staged.file.write(b'{"a":1}\n')
    assert list(tmp_path.iterdir()) == []
    staged.commit()
    assert (tmp_path / "out.jsonl").read_bytes() == b'{"a":1}\n'


@pytest.fixture
def without_unnamed_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an OS or a filesystem without O_TMPFILE."""
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)


@pytest.mark.usefixtures("without_unnamed_files")
def test_a_named_temporary_file_is_removed_once_its_run_is_gone(tmp_path: Path) -> None:
    first = StagedFile(tmp_path / "2026-11-25.jsonl")
    (temporary,) = tmp_path.iterdir()

    # Another run into the same folder while the first is alive: the file is not its to take.
    second = StagedFile(tmp_path / "2026-11-26.jsonl")
    assert temporary.exists()
    second.discard()

    # The first run dies without a word: its descriptor, and so its lock, are gone.
    first.file.close()
    third = StagedFile(tmp_path / "2026-11-27.jsonl")
    assert not temporary.exists()
    third.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-27.jsonl"]


def test_stale_files_of_older_versions_go_and_other_files_stay(tmp_path: Path) -> None:
    legacy = tmp_path / ".out.jsonl.k3j_9x2a.tmp"  # what tempfile.mkstemp named them
    legacy.write_bytes(b"half")
    others = [".notes.tmp", ".other.jsonl.k3j_9x2a.tmp", "out.jsonl.fota-poller-0.tmp"]
    for name in others:
        (tmp_path / name).write_bytes(b"keep")

    AtomicFileSink(tmp_path / "out.jsonl").commit()

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*others, "out.jsonl"])


def test_line_separators_are_escaped_and_nothing_else_changes() -> None:
    line = '{"status":"a\u2028b\u2029c \u2013 d"}\n'.encode()

    escaped = escape_line_separators(line)

    assert escaped == b'{"status":"a\\u2028b\\u2029c \xe2\x80\x93 d"}\n'
    assert json.loads(escaped) == json.loads(line)
    plain = b'{"status":"Queued"}\n'
    assert escape_line_separators(plain) is plain


def test_a_closed_pipe_is_output_closed_and_stdout_goes_to_dev_null() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "wb") as stream:
        sink = StdoutSink(stream)
        with pytest.raises(OutputClosedError) as raised:
            sink.write(b"line\n")
        assert raised.value.exit_code == 141
        assert stat.S_ISCHR(os.fstat(write_end).st_mode)
        sink.discard()  # what was buffered now goes to /dev/null, quietly
