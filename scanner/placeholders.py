"""Files that are only placeholders for content kept in the cloud, which opening would download.

OneDrive's files on demand (and other Windows cloud providers) mark them with file attributes that
``stat`` reports (``st_file_attributes``); iCloud Drive's evicted files on macOS are "dataless"
(``st_flags``). The scanner never opens them: a scan must not pull a user's cloud drive onto the disk.
What they hold is not seen, so each is listed as partial coverage (the content is not on this machine).
"""

from __future__ import annotations

import os

FILE_ATTRIBUTE_OFFLINE = 0x1000
FILE_ATTRIBUTE_RECALL_ON_OPEN = 0x40000
FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS = 0x400000
_RECALLED = FILE_ATTRIBUTE_OFFLINE | FILE_ATTRIBUTE_RECALL_ON_OPEN | FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS
SF_DATALESS = 0x40000000
"""macOS ``<sys/stat.h>``: the file's data is not on this machine (an evicted iCloud file)."""


def placeholder_reason(st: os.stat_result | object) -> str | None:
    """Why a file must not be opened because it is a cloud placeholder, or ``None`` for a normal file."""
    if getattr(st, "st_file_attributes", 0) & _RECALLED:
        return "a cloud placeholder (OneDrive files on demand): opening it would download it; not read"
    if getattr(st, "st_flags", 0) & SF_DATALESS:
        return "a dataless file (iCloud Drive, evicted): opening it would download it; not read"
    return None
