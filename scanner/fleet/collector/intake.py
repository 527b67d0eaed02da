"""Checking a report that arrives from elsewhere, before anything is stored.

The collector's HTTP endpoint and ``scanner ingest`` share these checks, so a report is accepted or
refused the same way whichever road it took: a bounded body, bounded decompression (a gzip bomb
stops at the cap, it is never inflated whole), UTF-8 JSON, and the report's own JSON Schema.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

MAX_BODY = 32 << 20
"""Largest accepted request body or report file, compressed or not (bytes)."""
MAX_REPORT = 256 << 20
"""Largest accepted report once decompressed (bytes): a whole-machine report is a few MiB."""


@dataclass
class IntakeError(Exception):
    """A report refused, with the HTTP status that says why and a message for the sender."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def decompress(body: bytes, limit: int = MAX_REPORT) -> bytes:
    """Inflate gzip (or zlib) data, refusing anything that would grow past ``limit``."""
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
    try:
        data = inflater.decompress(body, limit)
        if inflater.unconsumed_tail:
            raise IntakeError(413, f"report larger than {limit} bytes once decompressed")
        data += inflater.flush()
    except zlib.error as error:
        raise IntakeError(400, f"body is not valid gzip: {error}") from error
    if not inflater.eof:
        raise IntakeError(400, "gzip body is truncated")
    return data


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


@cache
def _validator() -> Any:
    # fastjsonschema compiles the schema to Python: 4 ms instead of jsonschema's 30 ms for a report of
    # 400 packages (measured on this machine), which is most of a collector's work per report. The
    # tests check every report against the schema with jsonschema too, and that both agree.
    import fastjsonschema

    schema = json.loads(resources.files("scanner").joinpath("schemas/report.schema.json").read_text("utf-8"))
    return fastjsonschema.compile(schema)


def parse_report(data: bytes) -> dict[str, Any]:
    """A report document from (already decompressed) bytes, or ``IntakeError(400/422)`` saying what is wrong."""
    import fastjsonschema

    try:
        report = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise IntakeError(400, f"body is not UTF-8 JSON: {error}") from error
    try:
        _validator()(report)
    except fastjsonschema.JsonSchemaValueException as error:
        where = "/".join(str(p) for p in error.path[1:]) or "(top level)"
        raise IntakeError(422, f"report does not match the report schema at {where}: {error.message[:300]}") from error
    return report  # type: ignore[no-any-return]  # the schema requires an object


def read_report(body: bytes, gzipped: bool | None = None) -> dict[str, Any]:
    """Body bytes (gzip detected by magic when ``gzipped`` is None) to a checked report."""
    if len(body) > MAX_BODY:
        raise IntakeError(413, f"body larger than {MAX_BODY} bytes")
    if gzipped or (gzipped is None and is_gzip(body)):
        body = decompress(body)
    elif len(body) > MAX_REPORT:
        raise IntakeError(413, f"report larger than {MAX_REPORT} bytes")
    return parse_report(body)
