"""regular_files.py: a path the run writes is a regular file or nothing, never followed."""

import errno
import os
import stat
from pathlib import Path

import pytest

from fota_poller import regular_files
from fota_poller.errors import NotARegularFileError
from fota_poller.regular_files import open_regular, read_regular, replace_regular, require_regular


def test_a_regular_file_or_nothing_passes(tmp_path):
    present = tmp_path / "present"
    present.write_bytes(b"x")

    assert require_regular(present) is True
    assert require_regular(tmp_path / "absent") is False


@pytest.mark.parametrize(
    ("make", "kind", "number"),
    [
        (lambda path: path.symlink_to(path.with_name("target")), "a symbolic link", errno.ELOOP),
        (lambda path: path.mkdir(), "a directory", errno.EISDIR),
        (os.mkfifo, "a FIFO", errno.EINVAL),
    ],
    ids=["link", "directory", "fifo"],
)
def test_anything_else_is_refused_by_its_kind(tmp_path, make, kind, number):
    path = tmp_path / "name"
    make(path)

    with pytest.raises(NotARegularFileError) as refused:
        require_regular(path)

    assert kind in refused.value.strerror
    assert refused.value.errno == number


def test_a_link_to_a_regular_file_is_refused_and_its_target_never_opened(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"known")
    link = tmp_path / "link"
    link.symlink_to(target)

    with pytest.raises(NotARegularFileError, match="symbolic link"):
        open_regular(link, os.O_RDWR | os.O_CREAT | os.O_TRUNC)

    assert target.read_bytes() == b"known"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    # A plain open for reading would block here until a writer came.
    with pytest.raises(NotARegularFileError, match="FIFO"):
        read_regular(fifo, 100)


def test_an_opened_file_is_blocking_and_not_inherited(tmp_path):
    descriptor = open_regular(tmp_path / "new", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        assert os.get_blocking(descriptor)
        assert not os.get_inheritable(descriptor)
        assert stat.S_IMODE(os.fstat(descriptor).st_mode) == 0o600 & ~_umask()
    finally:
        os.close(descriptor)


def test_replace_puts_the_data_in_place_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "m.prom"
    path.write_bytes(b"old")

    replace_regular(path, b"new")

    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["m.prom"]


def test_replace_leaves_a_link_and_its_target_as_they_were(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"known")
    link = tmp_path / "m.prom"
    link.symlink_to(target)

    with pytest.raises(NotARegularFileError):
        replace_regular(link, b"new")

    assert link.is_symlink()
    assert target.read_bytes() == b"known"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom", "target"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open_descriptors():
    return len(list(Path("/proc/self/fd").iterdir()))


def pretend_lstat_saw_a_file(monkeypatch):
    """What another user swaps in between the lstat and the open is caught by the open."""
    monkeypatch.setattr(regular_files, "require_regular", lambda *_args, **_kwargs: True)


def test_a_fifo_swapped_in_after_the_lstat_is_refused_by_fstat_without_waiting(
    tmp_path, monkeypatch
):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pretend_lstat_saw_a_file(monkeypatch)
    before = open_descriptors()

    with pytest.raises(NotARegularFileError, match="FIFO"):
        open_regular(fifo, os.O_RDWR | os.O_CREAT)

    assert open_descriptors() == before  # the descriptor was closed


def test_a_link_swapped_in_after_the_lstat_is_not_followed(tmp_path, monkeypatch):
    target = tmp_path / "target"
    target.write_bytes(b"known")
    link = tmp_path / "link"
    link.symlink_to(target)
    pretend_lstat_saw_a_file(monkeypatch)

    with pytest.raises(OSError, match="symbolic links") as refused:
        open_regular(link, os.O_RDWR | os.O_CREAT | os.O_TRUNC)

    assert refused.value.errno == errno.ELOOP
    assert target.read_bytes() == b"known"
