"""Installed Python packages in every environment on the machine.

Sources, all read as data (bounded reads, nothing imported or executed):

* ``*.dist-info`` folders (``METADATA``, ``INSTALLER``) under any ``site-packages`` or
  ``dist-packages`` -- venvs, pipx, user site, pyenv, conda and system interpreters alike;
* ``*.egg-info`` folders or files and ``*.egg`` folders (``PKG-INFO``) in the same places, and
  zipped ``*.egg`` files (by file name: their metadata is inside the archive and not read);
* ``conda-meta/*.json`` records of conda environments.

A conda package that is also present as dist-info in the same environment becomes one record:
the dist-info one, with the conda record as a supporting location.
"""

from __future__ import annotations

import json
import os
import site
import stat
import sys
from dataclasses import replace
from functools import cache

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult, memo_kind
from scanner.collectors.packages.environments import SITE_DIR_NAMES, EnvironmentResolver
from scanner.collectors.packages.metadata import CoreMetadata, parse_core_metadata, split_dist_dir_name
from scanner.ecosystems import ECOSYSTEMS, Ecosystem
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import Location, PackageRecord, Skipped, plain, rebuilt
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind
from scanner.walk import WalkRoot

METADATA_CAP = 256 * 1024
"""Headers come first and are small; the long description after them is not needed."""
CONDA_RECORD_CAP = 16 * 1024 * 1024
"""conda-meta records list every file of the package and can be a few MiB."""
SMALL_FILE_CAP = 4 * 1024

# (is a folder, name suffix, where the metadata is inside it, format); None: a zipped egg, not read.
_LAYOUTS: tuple[tuple[bool, str, tuple[str, ...] | None, str], ...] = (
    (True, ".dist-info", ("METADATA",), "dist-info"),
    (True, ".egg-info", ("PKG-INFO",), "egg-info"),
    (True, ".egg", ("EGG-INFO", "PKG-INFO"), "egg"),
    (False, ".egg-info", (), "egg-info-file"),
    (False, ".egg", None, "zipped-egg"),
)


class PythonPackageCollector(Collector):
    """Finds installed Python distributions and conda packages."""

    id = "python-package-collector"
    interest = Interest(
        dir_suffixes=frozenset({".dist-info", ".egg-info", ".egg"}),
        file_suffixes=frozenset({".egg-info", ".egg"}),
        files_in_dirs=frozenset({"conda-meta"}),
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._environments = EnvironmentResolver(fs)
        self._records: list[PackageRecord] = []
        self._skipped: list[Skipped] = []

    def extra_roots(self) -> list[WalkRoot]:
        """On the live machine, also the running interpreter's own ``sys.path`` environments."""
        if not self.fs.is_live:
            return []
        candidates = [*sys.path, *site.getsitepackages(), site.getusersitepackages()]
        roots: list[WalkRoot] = []
        for candidate in candidates:
            if os.path.basename(candidate) in SITE_DIR_NAMES and os.path.isdir(candidate):
                real = os.path.realpath(candidate)
                if all(r.real_path != real for r in roots):
                    roots.append(WalkRoot(real, max_depth=1, supplementary=True))
        return roots

    def visit(self, entry: Entry) -> None:
        if entry.parent_name == "conda-meta":
            if not entry.is_dir and entry.name.endswith(".json"):
                self._visit_conda_record(entry)
            return
        if entry.parent_name not in SITE_DIR_NAMES:
            return
        for is_dir, suffix, metadata_parts, fmt in _LAYOUTS:
            if entry.is_dir == is_dir and entry.name.endswith(suffix):
                self._visit_distribution(entry, metadata_parts, fmt)
                return

    def finish(self) -> CollectorResult:
        return CollectorResult(records=list(_merge_conda_duplicates(self._records)), skipped=self._skipped)

    # -- dist-info / egg-info -----------------------------------------------------------------
    def _read_metadata(
        self, entry: Entry, parts: tuple[str, ...] | None
    ) -> tuple[CoreMetadata | None, str | None, os.stat_result | None]:
        """The parsed metadata, or why there is none (``missing``, ``unreadable``, ``zipped egg``), and the
        status of the file read."""
        if parts is None:
            return None, "zipped egg: the metadata inside the archive is not read", None
        path = os.path.join(entry.real_path, *parts)
        try:
            data, _, status = self.fs.read_with_status(path, METADATA_CAP)
        except FileNotFoundError:
            return None, "missing", None
        except (OSError, FileRefused) as error:
            where = self.fs.to_display(os.path.join(entry.real_path, *parts))
            self._skipped.append(
                Skipped(where, f"package metadata unreadable: {describe_refusal(error)}", refusal_kind(error))
            )
            return None, SkipKind.UNREADABLE, None
        return parse_core_metadata(data.decode("utf-8", errors="replace")), None, status

    def _visit_distribution(self, entry: Entry, parts: tuple[str, ...] | None, fmt: str) -> None:
        statuses = self._statuses(entry, parts, fmt)
        known = self._known(entry, parts, statuses)
        metadata: CoreMetadata | None
        if known is not None:
            (metadata, installer), problem = known, None
        else:
            metadata, problem, read = self._read_metadata(entry, parts)
            installer, installer_read = self._read_installer(entry) if fmt == "dist-info" else (None, None)
            # Kept only when the files read are the ones looked up (a folder swapped meanwhile holds others).
            if statuses is not None and metadata is not None and parts and _same(statuses, (read, installer_read)):
                self._keep(entry, parts, statuses, metadata, installer)
        fallback_name, fallback_version = split_dist_dir_name(os.path.basename(entry.path))
        name = (metadata.name if metadata else None) or fallback_name
        extra: list[tuple[str, str]] = [("metadata_format", fmt)]
        if problem:
            extra.append(("metadata_problem", problem))
        if metadata and metadata.metadata_version:
            extra.append(("metadata_version", metadata.metadata_version))
        self._records.append(
            PackageRecord(
                name=name,
                normalized_name=ECOSYSTEMS[Ecosystem.PYPI].normalize(name),
                version=(metadata.version if metadata else None) or fallback_version,
                ecosystem=Ecosystem.PYPI,
                environment=self._environments.for_site_dir(os.path.dirname(entry.real_path)),
                locations=(Location(entry.path),),
                found_by=self.id,
                summary=metadata.summary if metadata else None,
                home_page=metadata.home_page if metadata else None,
                project_urls=metadata.project_urls if metadata else (),
                author_email_domains=metadata.author_email_domains if metadata else (),
                installer=installer,
                requires=metadata.requires if metadata else (),
                described_api_hosts=metadata.described_api_hosts if metadata else (),
                extra=tuple(extra),
            )
        )

    # -- what an earlier scan read ---------------------------------------------------------------
    def _statuses(
        self, entry: Entry, parts: tuple[str, ...] | None, fmt: str
    ) -> tuple[os.stat_result, os.stat_result | None] | None:
        """The metadata file's and ``INSTALLER``'s status (``None`` for no installer file), taken before
        they are read; ``None`` when what is read now may not be kept: no store, a link, a file changed too
        recently to tell a later change, or a root below which the kernel resolves links otherwise than the
        scan does (``RootFS.links_resolved``)."""
        if self.options.file_cache is None or not parts or not self.fs.links_resolved:
            return None
        names = (os.path.join(*parts), *(("INSTALLER",) if fmt == "dist-info" else ()))
        found: list[os.stat_result | None] = []
        for name in names:
            try:
                st: os.stat_result | None = os.lstat(os.path.join(entry.real_path, name))
            except FileNotFoundError:
                st = None
            except OSError:
                return None
            if st is not None and not (stat.S_ISREG(st.st_mode) and self.fs.change_shows(st)):
                return None
            found.append(st)
        if found[0] is None:
            return None
        return found[0], found[1] if len(found) > 1 else None

    def _known(
        self,
        entry: Entry,
        parts: tuple[str, ...] | None,
        statuses: tuple[os.stat_result, os.stat_result | None] | None,
    ) -> tuple[CoreMetadata, str | None] | None:
        """The metadata and installer an earlier scan read from these files, unchanged since: a re-scan
        parsed 322 metadata files of 10 KB here for the same packages (40 ms)."""
        cache = self.options.file_cache
        if cache is None or statuses is None or not parts:
            return None
        known = cache.get(_cache_kind(), os.path.join(entry.real_path, *parts), statuses[0])
        if not isinstance(known, dict) or known.get("installer_status") != _status_key(statuses[1]):
            return None
        installer = known.get("installer")
        try:
            metadata = rebuilt(CoreMetadata, known["metadata"])
        except (TypeError, ValueError, KeyError):
            return None  # kept by another version of the scanner: read again
        return (metadata, installer) if installer is None or isinstance(installer, str) else None

    def _keep(
        self,
        entry: Entry,
        parts: tuple[str, ...],
        statuses: tuple[os.stat_result, os.stat_result | None],
        metadata: CoreMetadata,
        installer: str | None,
    ) -> None:
        assert self.options.file_cache is not None
        data = {"metadata": plain(metadata), "installer": installer, "installer_status": _status_key(statuses[1])}
        self.options.file_cache.put(_cache_kind(), os.path.join(entry.real_path, *parts), statuses[0], data)

    def _read_installer(self, entry: Entry) -> tuple[str | None, os.stat_result | None]:
        try:
            data, _, status = self.fs.read_with_status(os.path.join(entry.real_path, "INSTALLER"), SMALL_FILE_CAP)
        except (OSError, FileRefused):
            return None, None
        first = data.decode("utf-8", errors="replace").strip().splitlines()
        return (first[0].strip() if first else None), status

    # -- conda-meta ------------------------------------------------------------------------------
    def _visit_conda_record(self, entry: Entry) -> None:
        data: dict[str, object] = {}
        try:
            raw, truncated = self.fs.read_bytes(entry.real_path, CONDA_RECORD_CAP)
        except (OSError, FileRefused) as error:
            self._skipped.append(
                Skipped(entry.path, f"conda record unreadable: {describe_refusal(error)}", refusal_kind(error))
            )
            return
        if not truncated:
            try:
                loaded = json.loads(raw)
            except (ValueError, RecursionError):
                loaded = None
            if isinstance(loaded, dict):
                data = loaded
        # conda names its records <name>-<version>-<build>.json: the fallback when the JSON is unusable.
        parts = os.path.basename(entry.path)[: -len(".json")].rsplit("-", 2)
        name = _text(data.get("name")) or (parts[0] if len(parts) == 3 else None)
        if not name:
            self._skipped.append(Skipped(entry.path, "not a conda package record", SkipKind.UNSUPPORTED))
            return
        version = _text(data.get("version")) or (parts[1] if len(parts) == 3 else None)
        extra = [("metadata_format", "conda-meta")]
        for key in ("channel", "build", "subdir"):
            value = _text(data.get(key))
            if value:
                extra.append((f"conda_{key}", value))
        if not data:
            extra.append(("metadata_problem", "record too large or not JSON; name from file name"))
        prefix = os.path.dirname(os.path.dirname(entry.real_path))
        self._records.append(
            PackageRecord(
                name=name,
                normalized_name=ECOSYSTEMS[Ecosystem.CONDA].normalize(name),
                version=version,
                ecosystem=Ecosystem.CONDA,
                environment=self._environments.for_prefix(prefix),
                locations=(Location(entry.path),),
                found_by=self.id,
                summary=_text(data.get("summary")),
                home_page=_text(data.get("home")) or _text(data.get("url")),
                installer="conda",
                extra=tuple(extra),
            )
        )


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _merge_conda_duplicates(records: list[PackageRecord]) -> list[PackageRecord]:
    """One record per package per environment: dist-info wins, conda-meta becomes supporting."""
    pypi_index: dict[tuple[str, str], int] = {}
    merged: list[PackageRecord] = []
    for record in records:
        if record.ecosystem is Ecosystem.PYPI:
            pypi_index.setdefault((record.environment.path, record.normalized_name), len(merged))
            merged.append(record)
    for record in records:
        if record.ecosystem is not Ecosystem.CONDA:
            continue
        position = pypi_index.get((record.environment.path, record.normalized_name))
        if position is None:
            merged.append(record)
            continue
        target = merged[position]
        supporting = tuple(Location(loc.path, loc.line, "supporting") for loc in record.locations)
        conda_extra = tuple((k, v) for k, v in record.extra if k.startswith("conda_"))
        merged[position] = replace(target, locations=target.locations + supporting, extra=target.extra + conda_extra)
    return merged


def _same(looked_up: tuple[os.stat_result | None, ...], read: tuple[os.stat_result | None, ...]) -> bool:
    return [_status_key(st) for st in looked_up] == [_status_key(st) for st in read]


def _status_key(st: os.stat_result | None) -> list[int] | None:
    """What must be unchanged of a second file (``INSTALLER``) for the first one's cached facts to hold."""
    return None if st is None else [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


@cache
def _cache_kind() -> str:
    """The file cache's kind for a distribution's parsed metadata: by this build of the scanner."""
    return memo_kind("python-distribution")
