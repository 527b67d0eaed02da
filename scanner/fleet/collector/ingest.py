"""Report files into the fleet database: for fleets whose reports travel by SCCM, Ansible ``fetch`` or
a shared drive instead of HTTP. The same checks as the collector, the same de-duplication by host and report id."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from scanner.errors import StoreError
from scanner.fleet.collector.intake import MAX_BODY, IntakeError, read_report
from scanner.fleet.collector.storage import FleetStorage
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.report import utc_now

SUFFIXES = (".json", ".json.gz")


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def _files(paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                found += [os.path.join(folder, n) for n in sorted(names) if n.endswith(SUFFIXES)]
        else:
            found.append(path)
    return found


def ingest_paths(storage: FleetStorage, paths: list[str]) -> IngestResult:
    result = IngestResult()
    fs = RootFS()
    for path in _files(paths):
        try:
            body, truncated = fs.read_bytes(os.path.abspath(path), MAX_BODY + 1)
            if truncated or len(body) > MAX_BODY:
                raise IntakeError(413, f"larger than {MAX_BODY} bytes")
            report = read_report(body)
            if storage.store_report(report, utc_now()):
                result.stored += 1
            else:
                result.duplicates += 1
        except (OSError, FileRefused) as error:
            result.refused.append((path, f"cannot read: {describe_refusal(error)}"))
        except IntakeError as error:
            result.refused.append((path, error.message))
        except StoreError as error:
            result.refused.append((path, str(error)))
    return result
