"""The single filesystem traversal of a scan.

The tree is walked once; each collector declares an ``Interest`` (folder suffixes, file suffixes,
file names, files inside folders of a given name) and the walker hands it just those entries.
No collector walks the disk on its own.

Guarantees: symlinks are never followed during the walk (a symlink is handed over as a file, or
as a folder when its name asks for one, and collectors resolve it inside the root through
``RootFS``), so loops can only come from bind mounts; on filesystems mounted more than once,
folders are remembered by inode so that none is walked twice. Pseudo and network filesystems are
not entered unless asked. Every directory that cannot be listed becomes a ``Skipped`` record.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from scanner.fsview import BY_DESCRIPTOR, DIR_OPEN_FLAGS, FileRefused, RootFS, describe_os_error
from scanner.listings import Listed, ListingKey, Listings, Remembered
from scanner.mounts import Mount, read_mount_table, skip_reason
from scanner.own import code_identity
from scanner.platforms import is_junction, resident_memory
from scanner.printable import encodable
from scanner.records import Skipped
from scanner.visitors import Entry, Visitor
from scanner.vocabulary import SkipKind

# Relative to the machine's root: never files anyone installed, and reading some of them blocks.
DEFAULT_SKIP_PATHS: tuple[str, ...] = ("/proc", "/sys", "/dev", "/run")
MEMORY_CHECK_EVERY = 256
"""Folders between two looks at the scanner's memory (``--max-memory``): one small read each time."""


@dataclass(frozen=True)
class WalkRoot:
    """A place to start walking."""

    real_path: str
    max_depth: int | None = None
    """``None`` walks the whole subtree; ``1`` only the root's own entries."""
    supplementary: bool = False
    """Added by the scanner, not the user (e.g. ``sys.path`` folders): skipped when another root covers it."""


@dataclass
class Coverage:
    """What the walk saw and what it could not see."""

    dirs: int = 0
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when anything could not be read (chosen exclusions do not count)."""
        return not any(s.makes_incomplete for s in self.skipped)


ProgressCallback = Callable[[Coverage, str], None]


@dataclass(frozen=True)
class WalkOptions:
    """How to walk."""

    excludes: tuple[str, ...] = ()
    """Globs: without ``/`` they match a name anywhere, with ``/`` a path inside the root."""
    skip_paths: tuple[str, ...] = DEFAULT_SKIP_PATHS
    include_fstypes: frozenset[str] = frozenset()
    """Filesystem types to walk although they are pseudo or network filesystems."""
    one_file_system: bool = False
    """Never cross into another mounted filesystem (like ``find -xdev``)."""
    mounts: Sequence[Mount] | None = None
    """The mount table; read from ``/proc/self/mountinfo`` when not given."""
    max_memory: int | None = None
    """Bytes of memory past which the walk stops (``--max-memory``): what was not walked is a gap."""


_GLOB = re.compile(r"[*?[]")
"""What makes an ``--exclude`` a pattern rather than a path (``fnmatch``'s wildcards)."""


def _compile_globs(globs: Iterable[str]) -> re.Pattern[str] | None:
    globs = list(globs)
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


class _Dispatch:
    """Lookup tables from names to the visitors that asked for them."""

    def __init__(self, visitors: Sequence[Visitor]) -> None:
        self.dir_suffix: dict[str, list[Visitor]] = {}
        self.file_suffix: dict[str, list[Visitor]] = {}
        self.file_name: dict[str, list[Visitor]] = {}
        self.in_dir: dict[str, list[Visitor]] = {}
        self.below_dir: dict[str, list[Visitor]] = {}
        self.extensionless: list[Visitor] = [v for v in visitors if v.interest.extensionless_files]
        self.extensionless_min_size = min((v.interest.extensionless_min_size for v in self.extensionless), default=0)
        self.every: list[tuple[Visitor, Callable[[str], bool]]] = [
            (v, v.interest.every_file_in) for v in visitors if v.interest.every_file_in is not None
        ]
        for visitor in visitors:
            interest = visitor.interest
            for table, keys in (
                (self.dir_suffix, interest.dir_suffixes),
                (self.file_suffix, {k.lower() for k in interest.file_suffixes}),
                (self.file_name, interest.file_names),
                (self.in_dir, interest.files_in_dirs),
                (self.below_dir, interest.files_below_dirs),
            ):
                for key in keys:
                    table.setdefault(key, []).append(visitor)

    @staticmethod
    def _suffix(name: str) -> str:
        dot = name.rfind(".")
        return name[dot:] if dot > 0 else ""

    def for_dir(self, name: str) -> list[Visitor]:
        return self.dir_suffix.get(self._suffix(name), []) if self.dir_suffix else []

    def for_file(
        self, name: str, parent_name: str, below: tuple[str, ...], every: Sequence[Visitor] = ()
    ) -> list[Visitor]:
        suffix = self._suffix(name)
        found = [*self.file_suffix.get(suffix.lower(), []), *self.file_name.get(name, [])]
        found += self.in_dir.get(parent_name, [])
        for folder in below:
            found += self.below_dir[folder]
        if not suffix:
            found += self.extensionless
        found += every
        return list(dict.fromkeys(found))  # one visit per collector, however many reasons it has


MAX_DEPTH = 10_000
"""Folders deeper than this are a gap, not walked: depth costs nothing per level, but a planted chain must end."""
_KEPT_OPEN = 64
"""Folder descriptors kept open at the bottom of the current path (and one every so many levels above it):
enough that going back up re-opens at most this many folders by name, few enough for any descriptor limit."""


@dataclass(eq=False)
class _Dir:
    real_path: str
    """Emptied once listed (but for the starting folder): deeper folders are reached by name."""
    depth: int
    device: str
    """Filesystem this folder is on: its mount's ``major:minor``, or ``st_dev`` without a mount table."""
    below: tuple[str, ...] = ()
    """Names of enclosing folders some collector wants every file below (``manifests``)."""
    parent: _Dir | None = None
    name: str = ""
    fd: int = -1
    """Open while the walk is below this folder (see ``_KEPT_OPEN``), ``-1`` otherwise."""


class Walker:
    """Walks the roots once and hands entries to the visitors that asked for them."""

    def __init__(
        self,
        fs: RootFS,
        visitors: Sequence[Visitor],
        options: WalkOptions | None = None,
        progress: ProgressCallback | None = None,
        listings: Listings | None = None,
    ) -> None:
        self.fs = fs
        self.options = options or WalkOptions()
        self.coverage = Coverage()
        self._dispatch = _Dispatch(visitors)
        self._progress = progress
        self._last_progress = 0.0  # the first directory reports at once
        self._name_excludes = _compile_globs(g for g in self.options.excludes if "/" not in g)
        paths = [g for g in self.options.excludes if "/" in g]
        self._excluded_paths = {fs.to_real(g).rstrip(os.sep) or os.sep for g in paths if not _GLOB.search(g)}
        """Excluded paths without a wildcard (``--exclude /tmp``, the usual kind)."""
        self._excluded_names: dict[str, set[str]] = {}
        """The same by folder (its path ending with a separator): the walk looks its folder up once, then names."""
        for real in self._excluded_paths:
            cut = real.rfind(os.sep) + 1
            self._excluded_names.setdefault(real[:cut], set()).add(real[cut:])
        self._path_excludes = _compile_globs(g for g in paths if _GLOB.search(g))
        self._skip_paths = {fs.to_real(p) for p in self.options.skip_paths}
        mounts = self.options.mounts if self.options.mounts is not None else read_mount_table()
        self._mounts = {m.mount_point: m for m in mounts}
        self._shared_devices = {device for device, n in Counter(m.device for m in mounts).items() if n > 1}
        """Filesystems mounted in more than one place (bind mounts). Only there can a folder be
        reached twice or a walk loop, so only there are folders remembered by inode."""
        self._seen: set[tuple[str, int]] = set()
        self._stopped = False
        self._listings = listings if BY_DESCRIPTOR else None
        if self._listings is not None:
            self._listings.start(self._identity())

    # -- public -----------------------------------------------------------------------------
    def walk(self, roots: Sequence[WalkRoot]) -> Coverage:
        primary = [r for r in roots if not r.supplementary]
        for root in roots:
            if self._stopped:
                break  # --max-memory was reached: the gap is recorded once
            if root.supplementary and (self._excluded_path(root.real_path) or self._covered(root.real_path, primary)):
                continue
            self._walk_root(root)
        if self._listings is not None:
            top = self.fs.root
            whole = not self._stopped and any(r.real_path == top and r.max_depth is None for r in primary)
            self._listings.done(whole)  # a walk cut short (--max-memory) has not seen every folder
        return self.coverage

    # -- roots ------------------------------------------------------------------------------
    def _covered(self, real_path: str, primary: Sequence[WalkRoot]) -> bool:
        """A supplementary root inside a primary root is walked there, unless the walk stops above it."""
        for root in primary:
            inside = real_path == root.real_path or real_path.startswith(root.real_path.rstrip(os.sep) + os.sep)
            if inside and root.max_depth is None:
                return not self._hidden_below(root.real_path, real_path)
        return False

    def _hidden_below(self, top: str, real_path: str) -> bool:
        """Would the walk from ``top`` stop before reaching ``real_path`` (skip path, mount filter)?"""
        probe = real_path
        while probe not in (top, os.sep, ""):
            if probe in self._skip_paths or self._mount_skip(probe) is not None:
                return True
            probe = os.path.dirname(probe)
        return False

    def _mount_of(self, real_path: str) -> Mount | None:
        probe = real_path
        while True:
            if probe in self._mounts:
                return self._mounts[probe]
            parent = os.path.dirname(probe)
            if parent == probe:
                return None
            probe = parent

    def _walk_root(self, root: WalkRoot) -> None:
        real = root.real_path
        try:
            st = os.stat(real)
        except OSError as error:
            self._skip(real, describe_os_error(error), SkipKind.UNREADABLE)
            return
        if not stat.S_ISDIR(st.st_mode):
            self.coverage.files += 1
            folder = self.fs.to_display(os.path.dirname(real))
            every = [visitor for visitor, accepts in self._dispatch.every if accepts(folder)]
            self._file(real, os.path.basename(real), os.path.basename(os.path.dirname(real)), False, (), every)
            return
        mount = self._mount_of(real)
        device = mount.device if mount else str(st.st_dev)
        if self._first_visit(device, st.st_ino):
            self._walk_tree(_Dir(real, 0, device), root.max_depth)

    def _first_visit(self, device: str, inode: int) -> bool:
        if device not in self._shared_devices:
            return True
        key = (device, inode)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    # -- the walk ---------------------------------------------------------------------------
    def _walk_tree(self, start: _Dir, max_depth: int | None) -> None:
        # The hot loop of the whole scanner: a few dictionary lookups per file, no system call beyond
        # listing, and a method call only for the rare entry some collector may want. Folders are opened
        # by name below their parent's descriptor, never through a link, so depth has no path-length limit
        # and a folder swapped for a link while the walk is under way cannot lead it elsewhere.
        stack = [start]
        path: list[_Dir] = []
        """The folders from ``start`` down to the one being listed."""
        dispatch, fs, coverage = self._dispatch, self.fs, self.coverage
        junctions, links_resolved = fs.windows_paths, fs.links_resolved
        memory_cap = self.options.max_memory
        by_name, by_dir_suffix = dispatch.file_name, dispatch.dir_suffix
        # A file's extension, in lower case, that some collector may want it for (a link named like a
        # package folder included): ``_file`` sorts out which.
        suffixes = {*dispatch.file_suffix, *(suffix.lower() for suffix in by_dir_suffix)}
        excluded_names, excluded = self._excluded_names, self._excluded_by_pattern
        progress = self._progress
        extensionless = bool(dispatch.extensionless)
        min_size = dispatch.extensionless_min_size
        try:
            while stack:
                current = stack.pop()
                while path and path[-1] is not current.parent:
                    _close(path.pop())
                coverage.dirs += 1
                if memory_cap is not None and coverage.dirs % MEMORY_CHECK_EVERY == 1 and self._over(memory_cap):
                    stack.clear()
                    break
                if progress is not None:
                    self._report_progress(progress, current.real_path)
                try:
                    children, count, key = self._list(current)
                except OSError as error:
                    _close(current)
                    self._unreadable(current.real_path, error)
                    continue
                if not children and key is None:  # nothing in it to look at (recalled, or listed empty)
                    coverage.files += count
                    _close(current)
                    continue
                folder = fs.to_display(current.real_path) if dispatch.every and children else ""
                every = [visitor for visitor, accepts in dispatch.every if accepts(folder)] if folder else []
                path.append(current)
                if len(path) > _KEPT_OPEN and path[-_KEPT_OPEN - 1].depth % _KEPT_OPEN:
                    _close(path[-_KEPT_OPEN - 1])
                prefix = current.real_path.rstrip(os.sep) + os.sep
                parent_name = current.name if current.parent is not None else os.path.basename(current.real_path)
                excluded_here = excluded_names.get(prefix) if excluded_names else None
                below = current.below
                wanted_here = parent_name in dispatch.in_dir or bool(below)
                descend = max_depth is None or current.depth + 1 < max_depth
                not_files = 0  # folders and exclusions: every other entry is counted as a file
                kept: list[Listed] | None = [] if key is not None else None  # what a later scan recalls
                for child in children:  # an entry's path is built only for one handed over or entered
                    name = child.name
                    if (excluded_here is not None and name in excluded_here) or (
                        excluded is not None and excluded(name, prefix + name)
                    ):
                        self._skip(prefix + name, "excluded by --exclude", SkipKind.EXCLUDED)
                        not_files += 1
                        if kept is not None:
                            kept.append(child)
                        continue
                    try:
                        is_dir = child.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    dot = name.rfind(".")
                    if not is_dir:
                        named = every or wanted_here or name in by_name or (dot > 0 and name[dot:].lower() in suffixes)
                        if not named and (dot > 0 or not extensionless):
                            continue
                        if kept is not None:  # one without an extension whatever its size: it can grow unseen
                            kept.append(child)
                        if not named and min_size and not _at_least(child, min_size, links_resolved):
                            continue
                        self._file(prefix + name, name, parent_name, child.is_symlink(), below, every, current, child)
                        continue
                    not_files += 1
                    if kept is not None:
                        kept.append(child)
                    if junctions and is_junction(child):
                        continue  # a link to a folder, walked where it is (legacy ones deny listing)
                    real = prefix + name
                    suffix = name[dot:] if dot > 0 else ""
                    if suffix in by_dir_suffix:
                        entry = Entry(real, fs.to_display(real), name, True, parent_name)
                        self._hand_over(entry, by_dir_suffix[suffix])
                    if not descend:
                        continue
                    nxt = self._enter(current, child, real)
                    if nxt is not None:
                        stack.append(nxt)
                coverage.files += count - not_files
                if kept is not None and key is not None and self._listings is not None:
                    self._listings.remember(key, count, kept)
                if current.parent is not None and BY_DESCRIPTOR:
                    current.real_path = ""  # reached by name from now on: every ancestor's path would cost depth² bytes
        finally:
            for opened in path:
                _close(opened)

    def _list(self, folder: _Dir) -> tuple[Sequence[Listed], int, ListingKey | None]:
        """The folder's entries, how many it has, and the key to remember them under (``None``: not to be).
        An unchanged folder's are those the last scan's listing kept: none it passed over by name. It is
        opened all the same: whether it can be is the scanning user's to find out, not the last scan's."""
        if BY_DESCRIPTOR:
            folder.fd = self._open(folder)
        listings, key = self._listings, None
        if listings is not None:
            st = os.fstat(folder.fd)  # before listing: a change made after it shows next time
            if self.fs.change_shows(st):
                key = listings.key(folder.real_path, folder.below, st)
                recalled = listings.recall(key, folder.fd)
                if recalled is not None:
                    return (*recalled, None)
        with os.scandir(folder.fd if BY_DESCRIPTOR else folder.real_path) as listing:
            children = list(listing)
        return children, len(children), key

    def _identity(self) -> str:
        """What the walk's choices of entries depend on besides a folder's path and entries (``listings``)."""
        dispatch, options = self._dispatch, self.options
        tables = (dispatch.dir_suffix, dispatch.file_suffix, dispatch.file_name, dispatch.in_dir, dispatch.below_dir)
        asked = [sorted((key, [v.id for v in visitors]) for key, visitors in table.items()) for table in tables]
        every = [visitor.id for visitor, _ in dispatch.every]
        extensionless = ([v.id for v in dispatch.extensionless], dispatch.extensionless_min_size)
        return repr((self.fs.root, code_identity(), asked, every, extensionless, options.excludes, options.skip_paths))

    def _open(self, folder: _Dir) -> int:
        """A descriptor to list ``folder``: by name below its parent's, re-opening those closed on the way."""
        if folder.parent is None:
            return self.fs.open_dir(folder.real_path)
        closed: list[_Dir] = []
        probe = folder.parent
        while probe.fd < 0 and probe.parent is not None:
            closed.append(probe)
            probe = probe.parent
        if probe.fd < 0:
            probe.fd = self.fs.open_dir(probe.real_path)
        for ancestor in reversed(closed):
            assert ancestor.parent is not None
            ancestor.fd = os.open(ancestor.name, DIR_OPEN_FLAGS, dir_fd=ancestor.parent.fd)
        return os.open(folder.name, DIR_OPEN_FLAGS, dir_fd=folder.parent.fd)

    def _file(
        self,
        real: str,
        name: str,
        parent_name: str,
        is_link: bool,
        below: tuple[str, ...],
        every: Sequence[Visitor],
        folder: _Dir | None = None,
        listed: Listed | None = None,
    ) -> None:
        """Hand a non-folder entry over; a symlink to a package-like folder is handed over as a folder. A
        file listed as regular in an open ``folder`` is opened below it while it is handed over."""
        dispatch = self._dispatch
        if is_link and dispatch.dir_suffix:
            visitors = dispatch.for_dir(name)
            if visitors and self._links_to_dir(real):
                self._hand_over(Entry(real, self.fs.to_display(real), name, True, parent_name), visitors)
                return
        visitors = dispatch.for_file(name, parent_name, below, every)
        if not visitors:
            return
        entry = Entry(real, self.fs.to_display(real), name, False, parent_name)
        if folder is None or listed is None or folder.fd < 0 or not (is_link or listed.is_file(follow_symlinks=False)):
            self._hand_over(entry, visitors)
            return
        if is_link:  # what it points to, measured by the listing already when it has no extension
            self.fs.listing_link(real, listed.stat)
        else:
            known = listed.stat(follow_symlinks=False) if isinstance(listed, Remembered) else None  # looked at
            self.fs.listing(real, len(real) - len(name), folder.fd, listed.inode(), known)
        try:
            self._hand_over(entry, visitors)
        finally:
            self.fs.listing_done()

    def _links_to_dir(self, real: str) -> bool:
        try:
            return os.path.isdir(self.fs.resolve(real))
        except (OSError, FileRefused):
            return False

    def _enter(self, parent: _Dir, child: Listed, real: str) -> _Dir | None:
        """The folder to walk next, or ``None`` when it must not be entered (recorded as skipped)."""
        if real in self._skip_paths:
            self._skip(real, "pseudo filesystem path (skipped by default)", SkipKind.FILESYSTEM)
            return None
        mount = self._mounts.get(real)
        if mount is None:
            device = parent.device
            if self.options.one_file_system and not self._mounts:
                try:
                    device = str(child.stat(follow_symlinks=False).st_dev)
                except OSError as error:
                    self._skip(real, describe_os_error(error), SkipKind.UNREADABLE)
                    return None
                if device != parent.device:
                    self._skip(real, "another filesystem (--one-file-system)", SkipKind.FILESYSTEM)
                    return None
            inode = child.inode()
        else:
            reason = self._mount_skip(real)
            if reason is not None:
                self._skip(real, reason, SkipKind.FILESYSTEM)
                return None
            try:
                inode = child.stat(follow_symlinks=False).st_ino  # the mounted folder, not the one under it
            except OSError as error:
                self._unreadable(real, error)
                return None
            device = mount.device
        if not self._first_visit(device, inode):
            self._skip(real, "already scanned through another path (bind mount)", SkipKind.DUPLICATE_MOUNT)
            return None
        if parent.depth >= MAX_DEPTH:
            self._skip(real, f"more than {MAX_DEPTH:,} folders deep (not walked)", SkipKind.UNREADABLE)
            return None
        below = (*parent.below, child.name) if child.name in self._dispatch.below_dir else parent.below
        return _Dir(real, parent.depth + 1, device, below, parent, child.name)

    def _mount_skip(self, real: str) -> str | None:
        mount = self._mounts.get(real)
        if mount is None:
            return None
        if self.options.one_file_system:
            return "another filesystem (--one-file-system)"
        return skip_reason(mount, self.options.include_fstypes)

    def _excluded_path(self, real: str) -> bool:
        """Is this path, or any folder above it, excluded by ``--exclude``?"""
        probe = real
        while probe != os.path.dirname(probe):
            if self._excluded(os.path.basename(probe), probe):
                return True
            probe = os.path.dirname(probe)
        return False

    def _excluded(self, name: str, real: str) -> bool:
        return real in self._excluded_paths or self._by_pattern(name, real)

    @property
    def _excluded_by_pattern(self) -> Callable[[str, str], bool] | None:
        """The test of ``--exclude`` wildcards (names, or paths), ``None`` when there are none."""
        return self._by_pattern if self._name_excludes is not None or self._path_excludes is not None else None

    def _by_pattern(self, name: str, real: str) -> bool:
        if self._name_excludes is not None and self._name_excludes.match(name):
            return True
        return self._path_excludes is not None and bool(self._path_excludes.match(self.fs.inside(real)))

    def _hand_over(self, entry: Entry, visitors: Iterable[Visitor]) -> None:
        for visitor in visitors:
            try:
                visitor.visit(entry)
            except Exception as error:  # a parser bug must cost one file, not the whole audit
                reason = encodable(f"{visitor.id} failed: {type(error).__name__}: {error}")
                self.coverage.skipped.append(Skipped(entry.path, reason, SkipKind.ERROR))

    def _unreadable(self, real: str, error: OSError) -> None:
        """A gap; at a mount a user made, saying whose (FUSE without ``allow_other`` shuts root out)."""
        reason = describe_os_error(error)
        mount = self._mounts.get(real)
        if mount is not None and mount.made_by_a_user:
            reason += f" (a {mount.fstype} filesystem user {mount.user} mounted)"
        self._skip(real, reason, SkipKind.UNREADABLE)

    def _skip(self, real: str, reason: str, kind: SkipKind) -> None:
        self.coverage.skipped.append(Skipped(self.fs.to_display(real), reason, kind))

    def _over(self, cap: int) -> bool:
        """Past the memory cap: the walk ends here, once, with a gap saying so (every later root too)."""
        held = resident_memory()
        if self._stopped or (held is not None and held > cap):
            if not self._stopped:
                reason = (
                    f"scan stopped at --max-memory {cap >> 20} MiB (the scanner held {(held or 0) >> 20} MiB): "
                    "folders not yet walked were not seen"
                )
                self.coverage.skipped.append(Skipped("(walk)", reason, SkipKind.UNREADABLE))
            self._stopped = True
        return self._stopped

    def _report_progress(self, progress: ProgressCallback, real: str) -> None:
        now = time.monotonic()
        if now - self._last_progress >= 0.2:
            self._last_progress = now
            progress(self.coverage, self.fs.to_display(real))


def _at_least(child: Listed, size: int, links_resolved: bool) -> bool:
    """A listed file of ``size`` bytes or more, or a link to one, measured below its open folder
    (``fstatat``; the listing itself on Windows); a link's target only where the kernel resolves it as
    the scan does (``links_resolved``), else it is handed over and measured when opened in the root."""
    try:
        if child.is_symlink():
            return not links_resolved or child.stat().st_size >= size
        return child.stat(follow_symlinks=False).st_size >= size
    except OSError:
        return False


def _close(folder: _Dir) -> None:
    if folder.fd >= 0:
        os.close(folder.fd)
        folder.fd = -1
