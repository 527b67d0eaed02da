"""Checking a report that arrives from elsewhere, before anything is stored.

The collector's HTTP endpoint and ``scanner ingest`` share these checks, so a report is accepted or
refused the same way whichever road it took: a bounded body, bounded decompression (a gzip bomb
stops at the cap, it is never inflated whole), a bounded shape (how many values, how deep, how long
a string) measured on the bytes before any object is built (past 1 MiB), UTF-8 JSON, the report's
own JSON Schema, and a date no later than the collector's clock allows.

The caps make one report's cost known in advance, however the bytes are arranged: under 400 MiB of
collector memory at the worst shape measured, within a 512 MiB budget (``README.md``, "Reliability"). A real report is far inside them:
2,000 installed packages make 1.4 MiB, 120,000 values, 6 levels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import msgspec
import orjson

from scanner.fleet.collector import deflate

MAX_BODY = 16 << 20
"""Largest accepted request body or report file, compressed or not (bytes)."""
MAX_REPORT = 32 << 20
"""Largest accepted report once decompressed (bytes)."""
MAX_VALUES = 2_000_000
"""Most JSON values (keys, strings, numbers, objects, arrays) in one report: the objects a parser
builds cost up to about 80 bytes each, whatever the size of the text (``{},`` is three bytes)."""
MAX_DEPTH = 32
"""Deepest nesting of objects and arrays (a report nests 6 levels; free-form ``attributes`` a few more)."""
MAX_STRING = 1 << 20
"""Longest string, as written in the JSON (bytes)."""
MEASURED_ABOVE = 1 << 20
"""Documents larger than this are measured before they are parsed. A smaller one cannot cost more than
about 30 MiB of objects whatever its shape, so it is parsed at once and only its depth is checked after,
on its bytes (``_depth``; 10 ms less for a report of 400 packages, a third of the collector's work on it)."""
MAX_CLOCK_SKEW = timedelta(minutes=10)
"""How far ahead of the collector's clock a report may be dated. The verdict follows the order reports
arrive in, but a report dated in the future would still read as recent for as long as it claims."""

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKEN = re.compile(_STRING + rb"|[\[{]|[\]}]|[^\s,:\[\]{}\"]+")
"""One JSON token: a string, an opening or a closing bracket, or a number/true/false/null. What lies
between tokens (commas, colons, white space) is skipped by the regex engine."""
_OPENING = frozenset(b"[{")
_CLOSING = frozenset(b"]}")
_QUOTE = ord('"')


@dataclass
class IntakeError(Exception):
    """A report refused, with the HTTP status that says why and a message for the sender."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


_RESERVED_FLAGS = 0xE0
"""A gzip header's flag bits that must be zero (RFC 1952): zlib refuses them, igzip reads past them."""


def decompress(body: bytes, limit: int = MAX_REPORT) -> bytes:
    """Inflate gzip (or zlib) data, refusing anything that would grow past ``limit``."""
    if is_gzip(body) and len(body) > 3 and body[3] & _RESERVED_FLAGS:
        raise IntakeError(400, "body is not valid gzip: reserved header flags are set")  # as zlib says
    inflater = deflate.inflater()
    try:
        # One byte past the cap: output that stopped short of it was not cut off, so nothing is left
        # pending in the codec (igzip reads its input ahead and may leave ``unconsumed_tail`` empty).
        data: bytes = inflater.decompress(body, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise IntakeError(413, f"report larger than {limit} bytes once decompressed")
        data += inflater.flush()
        if len(data) > limit:
            raise IntakeError(413, f"report larger than {limit} bytes once decompressed")
    except deflate.ERRORS as error:
        raise IntakeError(400, f"body is not valid gzip: {error}") from error
    if not inflater.eof:
        raise IntakeError(400, "gzip body is truncated")
    return data


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


_ESCAPE = re.compile(rb"\\.")
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_BARE_STRING = re.compile(rb'"[^"]*"')


def _depth(data: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of a valid JSON document nest, counted up to ``limit + 1``, from its
    bytes: escapes, then everything but brackets and quotes, then strings are removed (with the brackets
    in them), and each pass of ``bytes.replace`` takes away one level of ``()`` pairs. 0.5 ms for a report
    of 400 packages; walking the parsed objects took 2.3 ms."""
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    # Two quotes side by side open and close a string, or close one and open the next: either way
    # nothing lies between them, so they go first, and cheaply.
    shape = data.translate(_BRACKETS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = _BARE_STRING.sub(b"", shape)
    depth = 0
    while shape and depth <= limit:
        shape = shape.replace(b"()", b"")
        depth += 1
    return depth


def check_shape(data: bytes) -> None:
    """Refuse (413) a document with too many values, too deep a nesting or too long a string, from its
    bytes: one pass of the regex engine, stopping at the first cap passed, so the cost is bounded too
    (about a second for two million values). Malformed JSON is left to the parser."""
    values = depth = 0
    for token in _TOKEN.finditer(data):
        first = data[token.start()]
        if first in _CLOSING:
            depth -= 1
            continue
        if first in _OPENING:
            depth += 1
            if depth > MAX_DEPTH:
                raise IntakeError(413, f"report nested deeper than {MAX_DEPTH} levels")
        elif first == _QUOTE and token.end() - token.start() > MAX_STRING:
            raise IntakeError(413, f"report has a string longer than {MAX_STRING} bytes at byte {token.start()}")
        values += 1
        if values > MAX_VALUES:
            raise IntakeError(413, f"report has more than {MAX_VALUES} values")


def _inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """The schema with each local ``#/$defs/NAME`` reference replaced by its definition (the report
    schema's are not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            return _inlined(definitions[ref.rpartition("/")[2]], definitions)
        return {key: _inlined(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(value, definitions) for value in node]
    return node


@cache
def _validator() -> Any:
    # fastjsonschema compiles the schema to Python, once per process: 4 ms instead of jsonschema's 30 ms
    # for a report of 400 packages (measured on this machine). Its references are inlined first: the
    # code made for a ``$ref`` formats the value's name with ``str.format(**locals())`` for every item
    # it checks, which took 3.6 of those 4.6 ms (1.0 ms inlined). The tests check every report against
    # the schema with jsonschema too, and that both agree.
    import fastjsonschema

    schema = json.loads(resources.files("scanner").joinpath("schemas/report.schema.json").read_text("utf-8"))
    return fastjsonschema.compile(_inlined(schema, schema.get("$defs", {})))


class NonFinite(float):
    """NaN or an infinity as a report gave it (Python's JSON writes them; they are not JSON): a float
    that orjson refuses to write, so that a stored part keeps it instead of turning it into ``null``."""


def _loads(data: bytes) -> Any:
    """JSON from UTF-8 bytes: orjson (1.3 ms instead of 2.0 ms for a report of 400 packages), and the
    standard parser for what orjson refuses but Python's JSON reads (lone surrogates in escapes, which
    paths that are not UTF-8 produce; NaN; integers past 64 bits), so that the same reports are accepted."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8"), parse_constant=lambda name: NonFinite(name))


class _Location(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    path: str
    line: Annotated[int, msgspec.Meta(ge=1)] | None


class _Item(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An inventory item as the report schema gives it, its free-form attributes skipped, not built
    (``tests/test_intake.py`` holds the two together). Neither structure can hold a cycle, so the
    garbage collector does not track them: 800 objects a report it would otherwise count."""

    id: str
    kind: Literal["package", "model", "endpoint"]
    name: str
    version: str | None
    location: _Location
    attributes: msgspec.Raw


_SECTIONS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_INVENTORY = msgspec.json.Decoder(list[_Item])
_OBJECT = ord("{")
_SOURCES = "sources"
_KNOWN_SOURCES: dict[bytes, None] = {}
"""``sources`` sections that passed the schema, as sent. A fleet judged by one policy sends the same
sources (9 KiB for the bundled policy) in every report, and checking them took 0.3 ms of each report."""
_KNOWN_SOURCES_KEPT = 64
_KNOWN_SOURCES_LARGEST = 64 << 10
"""Larger ``sources`` are checked every time: 64 of up to 32 MiB each would hold 2 GiB of a collector."""


def _checked_quickly(data: bytes) -> dict[str, Any] | None:
    """The report with its inventory checked without building it (kept as its JSON, an ``orjson.Fragment``
    that the parts write as is), or ``None`` when this cannot say and the whole report must be built and
    checked (``parse_report``). The inventory is nine tenths of a report: 0.3 ms to check its items here,
    where building it took 1.0 ms and the schema validator 1.1 ms more, for 400 packages. Its ``sources``
    are kept as sent too, and checked only when they differ from those of an earlier report (the schema
    checks each section on its own). Stricter than the schema, never looser: what it refuses (a ``line``
    of ``1.0``, NaN, lone surrogates) is decided by the whole check, which also gives the messages."""
    if not data.isascii():
        try:
            data.decode("utf-8")  # the skipped attributes are not checked for UTF-8 otherwise
        except UnicodeDecodeError:
            return None
    try:
        sections = _SECTIONS.decode(data)
        inventory = sections.get("inventory")
        if inventory is None:
            return None
        items = _INVENTORY.decode(inventory)
        sent = {key: bytes(raw) for key, raw in sections.items() if key in ("inventory", _SOURCES)}
        report = {
            key: orjson.loads(memoryview(raw))
            for key, raw in sections.items()
            if key != "inventory" and (key != _SOURCES or sent[key] not in _KNOWN_SOURCES)
        }
    except (msgspec.DecodeError, msgspec.ValidationError, orjson.JSONDecodeError, RecursionError):
        return None
    if any(memoryview(item.attributes)[0] != _OBJECT for item in items):
        return None
    if len(data) <= MEASURED_ABOVE and _depth(data) > MAX_DEPTH:
        raise IntakeError(413, f"report nested deeper than {MAX_DEPTH} levels")
    import fastjsonschema

    try:
        _validator()({**report, "inventory": []})
    except fastjsonschema.JsonSchemaValueException:
        return None  # the whole check says why
    if _SOURCES in report and len(sent[_SOURCES]) <= _KNOWN_SOURCES_LARGEST:
        if len(_KNOWN_SOURCES) >= _KNOWN_SOURCES_KEPT:
            _KNOWN_SOURCES.clear()
        _KNOWN_SOURCES[sent[_SOURCES]] = None
    return {key: orjson.Fragment(sent[key]) if key in sent else report[key] for key in sections}


def parse_report(data: bytes) -> dict[str, Any]:
    """A report document from (already decompressed) bytes, or ``IntakeError(400/413/422)`` saying what is
    wrong. Its inventory may be an ``orjson.Fragment`` (``_checked_quickly``)."""
    import fastjsonschema

    if len(data) > MEASURED_ABOVE:
        check_shape(data)
    quick = _checked_quickly(data)
    if quick is not None:
        return quick
    try:
        report = _loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise IntakeError(400, f"body is not UTF-8 JSON: {error}") from error
    if len(data) <= MEASURED_ABOVE and _depth(data) > MAX_DEPTH:
        raise IntakeError(413, f"report nested deeper than {MAX_DEPTH} levels")
    try:
        _validator()(report)
    except fastjsonschema.JsonSchemaValueException as error:
        where = "/".join(str(p) for p in error.path[1:]) or "(top level)"
        raise IntakeError(422, f"report does not match the report schema at {where}: {error.message[:300]}") from error
    return report  # type: ignore[no-any-return]  # the schema requires an object


def check_clock(report: dict[str, Any], now: datetime) -> None:
    """Refuse (422) a report dated more than ``MAX_CLOCK_SKEW`` after ``now``: the agent keeps it, marked
    rejected, and the message says how far its host's clock is ahead."""
    for field in ("started", "finished"):
        stamp = report["scan"][field]  # the schema's pattern: YYYY-MM-DDTHH:MM:SSZ
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError as error:
            raise IntakeError(422, f"scan.{field} {stamp} is not a time: {error}") from error
        ahead = when - now
        if ahead > MAX_CLOCK_SKEW:
            raise IntakeError(
                422,
                f"scan.{field} {stamp} is {int(ahead.total_seconds())} s ahead of the collector's clock "
                f"(at most {int(MAX_CLOCK_SKEW.total_seconds())} s): check the host's clock",
            )


def read_report(body: bytes, gzipped: bool | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Body bytes (gzip detected by magic when ``gzipped`` is None) to a checked report, dated no later
    than the clock skew allows after ``now`` (default: the current time)."""
    if len(body) > MAX_BODY:
        raise IntakeError(413, f"body larger than {MAX_BODY} bytes")
    if gzipped or (gzipped is None and is_gzip(body)):
        body = decompress(body)
    report = parse_report(body)
    check_clock(report, now or datetime.now(timezone.utc))
    return report
