"""Reading the scanned machine: bounded, regular files only, symlinks resolved inside the root."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.fsview import LISTED_OPEN, FileRefused, RootFS, SpecialFile


def test_absolute_symlinks_resolve_inside_the_root_not_on_the_host(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("image-host\n")
    (tmp_path / "link").symlink_to("/etc/hostname")
    fs = RootFS(str(tmp_path))
    assert fs.resolve(str(tmp_path / "link")) == str(tmp_path.resolve() / "etc" / "hostname")
    assert fs.read_text(str(tmp_path / "link"), 100) == ("image-host\n", False)


def test_dotdot_in_a_link_target_stops_at_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "host-secret").write_text("host")
    (root / "a" / "escape").symlink_to("../../../host-secret")
    fs = RootFS(str(root))
    assert fs.resolve(str(root / "a" / "escape")) == str(root.resolve() / "host-secret")
    with pytest.raises(SpecialFile, match="a link to nothing"):
        fs.read_bytes(str(root / "a" / "escape"), 10)


def test_symlink_cycles_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x").symlink_to("y")
    (tmp_path / "y").symlink_to("x")
    with pytest.raises(FileRefused, match="too many levels"):
        RootFS(str(tmp_path)).read_bytes(str(tmp_path / "x"), 10)


def test_reads_are_bounded_and_say_when_they_were_cut(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * 5000)
    fs = RootFS(str(tmp_path))
    assert fs.read_bytes(str(big), 100) == (b"a" * 100, True)
    assert fs.read_bytes(str(big), 5000) == (b"a" * 5000, False)


def test_fifos_and_devices_are_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "METADATA"
    os.mkfifo(fifo)  # opening it for reading would block forever without a writer
    with pytest.raises(FileRefused, match="FIFO"):
        RootFS(str(tmp_path)).read_bytes(str(fifo), 10)
    with pytest.raises(FileRefused, match="character device"):
        RootFS(None).read_bytes("/dev/zero", 10)


def test_display_and_real_paths_round_trip(tmp_path: Path) -> None:
    fs = RootFS(str(tmp_path))
    real = str(tmp_path.resolve() / "home" / "alice")
    assert fs.to_display(real) == "/home/alice"
    assert fs.to_real("/home/alice") == real
    assert fs.to_display(fs.root) == "/"
    assert RootFS(None).to_display("/x") == "/x"


@pytest.mark.skipif(not LISTED_OPEN, reason="files are opened below their listed folder on Linux only")
def test_a_listed_file_swapped_after_listing_is_opened_the_careful_way_or_refused(tmp_path: Path) -> None:
    """The walk lets a file it just listed as regular be opened below its folder's descriptor; whatever
    took its place since (a FIFO, a link out of the root, another file) is treated as the careful way would."""
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    (tmp_path / "host-secret").write_text("host")
    (root / "secret").write_text("inside")
    fs = RootFS(str(root))
    listed = root / "srv" / "app.env"
    real = str(root.resolve() / "srv" / "app.env")
    folder = os.open(root / "srv", os.O_RDONLY | os.O_DIRECTORY)
    try:

        def swapped(make: Callable[[], None]) -> tuple[bytes, bool]:
            listed.unlink(missing_ok=True)
            listed.write_text("listed")
            fs.listing(real, len(real) - len("app.env"), folder, listed.stat().st_ino)
            try:
                listed.unlink()
                make()
                return fs.read_bytes(real, 100)
            finally:
                fs.listing_done()

        def fifo() -> None:
            os.mkfifo(listed)

        with pytest.raises(SpecialFile, match="not a regular file"):
            swapped(fifo)  # opened without blocking, refused by fstat
        listed.unlink()
        assert swapped(lambda: listed.symlink_to("/secret")) == (b"inside", False)  # resolved inside the root
        listed.unlink()
        assert swapped(lambda: listed.write_text("another")) == (b"another", False)  # another inode: by path
        fs.listing(real, len(real) - len("app.env"), folder, listed.stat().st_ino)
        fs.listing_done()
        assert fs.read_bytes(real, 100) == (b"another", False)
    finally:
        os.close(folder)


@pytest.mark.skipif(not LISTED_OPEN, reason="files are opened below their listed folder on Linux only")
def test_a_listed_file_swapped_for_a_link_is_never_opened_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link put in place of a file the walk listed is not followed even for a moment: opening what it
    points to (a device, a FIFO out of the root) can have effects of its own, whatever ``fstat`` says after."""
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    outside = tmp_path / "outside.fifo"
    os.mkfifo(outside)
    fs = RootFS(str(root))
    listed = root / "srv" / "app.env"
    listed.write_text("listed")
    real = str(root.resolve() / "srv" / "app.env")
    opened: list[int] = []
    real_open = os.open

    def recording_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        fd = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(os.fstat(fd).st_ino)
        return fd

    folder = os.open(root / "srv", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fs.listing(real, len(real) - len("app.env"), folder, listed.stat().st_ino)
        listed.unlink()
        listed.symlink_to(outside)
        monkeypatch.setattr(os, "open", recording_open)
        with pytest.raises((SpecialFile, FileRefused)):
            fs.read_bytes(real, 100)
    finally:
        monkeypatch.undo()
        fs.listing_done()
        os.close(folder)
    assert outside.stat().st_ino not in opened, "the FIFO the link points to was opened"
