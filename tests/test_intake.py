"""The collector's intake checks a report's inventory without building it when it can: it must accept
exactly what the whole check accepts, and keep exactly what was sent."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from conftest import require_module
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.audit import AuditOptions, run_audit
from scanner.fleet.collector import deflate
from scanner.fleet.collector.deflate import compress
from scanner.fleet.collector.intake import MAX_DEPTH, MAX_REPORT, IntakeError, parse_report, read_report
from scanner.fleet.collector.parts import rebuild, split
from scanner.policy.loader import load_policy
from scanner.report import report_dict

SCHEMA = json.loads((Path(__file__).parents[1] / "scanner" / "schemas" / "report.schema.json").read_text())
WHOLE_CHECK = fastjsonschema.compile(SCHEMA)
"""What the collector checked every report with before: the schema, with the same validator."""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("machine")
    env = root / "home" / "alice" / "app" / ".env"
    env.parent.mkdir(parents=True)
    env.write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    made = report_dict(run_audit(AuditOptions(root=str(root)), load_policy([])))
    assert made["inventory"], "the report has an inventory to vary"
    return made


def _verdict(data: bytes) -> tuple[bool, Any]:
    try:
        return True, parse_report(data)
    except IntakeError:
        return False, None


def _expected(document: Any) -> bool:
    try:
        WHOLE_CHECK(document)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, width=32) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
VALID_ITEM = {
    "id": "x",
    "kind": "package",
    "name": "x",
    "version": None,
    "location": {"path": "/x", "line": None},
    "attributes": {"a": [1, {"b": None}]},
}
ALTERNATIVES = {
    "id": st.text(max_size=3) | JSON_VALUES,
    "kind": st.sampled_from(["model", "endpoint", "dataset", "Package"]) | JSON_VALUES,
    "name": st.text(max_size=3) | JSON_VALUES,
    "version": st.text(max_size=3) | JSON_VALUES,
    "location": st.fixed_dictionaries(
        {"path": st.text(max_size=3), "line": st.sampled_from([None, -1, 0, 1, 7, 1.0, 2.5, True, "1", [1]])},
        optional={"column": st.integers()},
    )
    | st.fixed_dictionaries({"path": JSON_VALUES, "line": JSON_VALUES})
    | JSON_VALUES,
    "attributes": st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=4) | JSON_VALUES,
    "extra": JSON_VALUES,
}


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inventory item with up to two of its keys removed, changed or added."""
    item = dict(VALID_ITEM)
    for key in draw(st.lists(st.sampled_from(sorted(ALTERNATIVES)), max_size=2)):
        if key in item and draw(st.integers(0, 3)) == 0:
            del item[key]
        else:
            item[key] = draw(ALTERNATIVES[key])
    return item


@settings(max_examples=500, deadline=None)
@given(item=items())
def test_the_inventory_is_accepted_as_the_whole_schema_check_accepts_it(
    base: dict[str, Any], item: dict[str, Any]
) -> None:
    document = {**base, "inventory": [*base["inventory"], item]}
    accepted, report = _verdict(json.dumps(document).encode())
    assert accepted == _expected(document), item
    if accepted:
        stored = {part.section: json.loads(part.text, parse_constant=float) for part in split(report)[1]}
        assert stored["inventory"] == document["inventory"], "stored as sent"


@pytest.mark.parametrize(
    "attributes",
    [
        b'{"a": 1, "a": "twice"}',  # the last one counts, as for every JSON reader here
        b'{"ratio": NaN}',  # Python's JSON writes it
        b'{"path": "/opt/caf\\udce9"}',  # a path that is not UTF-8, as Python's JSON writes it
        b'{"big": 123456789012345678901234567890}',
        b'{\n  "spaced": [ 1 , 2 ]\n}',
        '{"name": "d\u00e9j\u00e0 vu"}'.encode(),
    ],
)
def test_what_only_the_whole_check_reads_is_accepted_and_kept_as_sent(base: dict[str, Any], attributes: bytes) -> None:
    template = json.dumps({**base, "inventory": [{**base["inventory"][0], "attributes": {"x": 0}}]}).encode()
    data = template.replace(b'{"x": 0}', attributes)
    accepted, report = _verdict(data)
    assert accepted
    sent = json.loads(data, parse_constant=float)["inventory"][0]["attributes"]
    (stored,) = [part.text for part in split(report)[1] if part.section == "inventory"]
    assert repr(json.loads(stored, parse_constant=float)[0]["attributes"]) == repr(sent)


@pytest.mark.parametrize(
    ("attributes", "status"),
    [
        (b'{"a": "\xff"}', 400),  # not UTF-8
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, 413),  # too deep, and not an object
        (b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", 413),
        (b'"text"', 422),
    ],
)
def test_what_the_whole_check_refuses_is_refused_with_its_reason(
    base: dict[str, Any], attributes: bytes, status: int
) -> None:
    template = json.dumps({**base, "inventory": [{**base["inventory"][0], "attributes": {"x": 0}}]}).encode()
    with pytest.raises(IntakeError) as refused:
        parse_report(template.replace(b'{"x": 0}', attributes))
    assert refused.value.status == status, refused.value


def test_sources_that_passed_once_are_kept_as_sent_and_others_are_still_checked(base: dict[str, Any]) -> None:
    assert base["sources"], "the report cites its policy's sources"
    first = json.dumps(base).encode()
    again = json.dumps({**base, "scan": {**base["scan"], "id": "another"}}).encode()
    for data in (first, again):
        (stored,) = [part.text for part in split(parse_report(data))[1] if part.section == "sources"]
        assert stored == json.dumps(base["sources"]).encode(), "stored as sent"
    source = next(iter(base["sources"]))
    changed = {**base["sources"], source: {**base["sources"][source], "urls": "not a list"}}
    with pytest.raises(IntakeError) as refused:
        parse_report(json.dumps({**base, "sources": changed}).encode())
    assert refused.value.status == 422 and "sources" in refused.value.message


WITHOUT_ACCELERATOR = """
import base64, json, sys
sys.modules["isal"] = None  # as on an install without it
from scanner.fleet.collector import deflate
from scanner.fleet.collector.intake import IntakeError, read_report
from scanner.fleet.collector.deflate import compress
from scanner.fleet.collector.parts import rebuild, split
given = json.loads(sys.stdin.read())
blob = lambda text: base64.b64decode(text)
document, parts = split(read_report(blob(given["body"]), True))
try:
    read_report(blob(given["bomb"]), True)
except IntakeError as refused:
    bomb = refused.status
print(json.dumps({
    "accelerated": deflate.ACCELERATED,
    "theirs": rebuild(blob(given["document"]), {s: blob(b) for s, b in given["parts"].items()}),
    "document": base64.b64encode(compress(document)).decode(),
    "parts": {p.section: base64.b64encode(compress(p.text)).decode() for p in parts},
    "bomb": bomb,
}))
"""


def test_the_gzip_accelerator_and_zlib_read_and_store_reports_alike(base: dict[str, Any]) -> None:
    """The collector's gzip goes through python-isal where installed; an install without it reads the
    same reports, refuses the same bombs, and reads the parts either one stored."""
    require_module("isal")
    assert deflate.ACCELERATED
    body = gzip.compress(json.dumps(base).encode())
    bomb = zlib.compress(b" " * (MAX_REPORT + 1), 9, wbits=31)
    document, parts = split(read_report(body, True))
    ours = {"document": compress(document), "parts": {p.section: compress(p.text) for p in parts}}
    given = {
        "body": body,
        "bomb": bomb,
        "document": ours["document"],
        "parts": ours["parts"],
    }
    encoded = json.dumps(
        {k: {s: base64.b64encode(b).decode() for s, b in v.items()} if isinstance(v, dict) else base64.b64encode(v).decode()
         for k, v in given.items()}
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_ACCELERATOR], input=encoded, capture_output=True, text=True, check=True
    )
    theirs = json.loads(done.stdout)
    assert theirs["accelerated"] is False
    stored = rebuild(ours["document"], ours["parts"])
    assert json.loads(json.dumps(stored)) == theirs["theirs"] == json.loads(json.dumps(base))
    decoded = base64.b64decode
    assert rebuild(decoded(theirs["document"]), {s: decoded(b) for s, b in theirs["parts"].items()}) == stored
    with pytest.raises(IntakeError) as refused:
        read_report(bomb, True)
    assert refused.value.status == theirs["bomb"] == 413


HOSTILE_LIMIT = 1000
"""A small inflate cap, so that bodies just past it stay small."""
HOSTILE_BODIES = [
    *(wrap(b"\0" * size) for size in (999, 1000, 1001, 5000, 67797, 200000) for wrap in (
        lambda data: zlib.compress(data, 9),  # zlib-wrapped: igzip reads ahead of its output cap
        lambda data: zlib.compress(data, 9, wbits=31),
    )),
    bytes([*zlib.compress(b"{}", 9, wbits=31)[:3], 0xE0, *zlib.compress(b"{}", 9, wbits=31)[4:]]),  # reserved flags
    zlib.compress(b"\0" * 500, 9, wbits=31)[:-3],  # truncated
    zlib.compress(b"\0" * 500, 9, wbits=31) + b"trailing",
    b"\x1f\x8bnot gzip at all",
]  # fmt: skip
STATUSES = """
import json, sys
if sys.argv[1] == "zlib":
    sys.modules["isal"] = None
from scanner.fleet.collector import deflate
from scanner.fleet.collector.intake import IntakeError, decompress
statuses = []
for body in json.loads(sys.stdin.read()):
    try:
        statuses.append(len(decompress(bytes.fromhex(body), int(sys.argv[2]))))
    except IntakeError as refused:
        statuses.append(refused.status)
print(json.dumps([deflate.ACCELERATED, statuses]))
"""


def test_the_gzip_accelerator_and_zlib_refuse_the_same_bodies_at_the_cap() -> None:
    """What each inflates (its size) or the status it refuses with, for bodies around the cap: zlib- and
    gzip-wrapped, reserved header flags, truncated, followed by garbage, not gzip at all."""
    require_module("isal")
    given = json.dumps([body.hex() for body in HOSTILE_BODIES])
    answers = {}
    for codec in ("isal", "zlib"):
        done = subprocess.run(
            [sys.executable, "-c", STATUSES, codec, str(HOSTILE_LIMIT)],
            input=given, capture_output=True, text=True, check=True,
        )  # fmt: skip
        accelerated, answers[codec] = json.loads(done.stdout)
        assert accelerated is (codec == "isal")
    assert answers["isal"] == answers["zlib"]
    assert answers["isal"][:6] == [999, 999, 1000, 1000, 413, 413], "at most the cap, whatever the wrapper"


def test_large_sources_are_checked_each_time_and_not_kept(base: dict[str, Any]) -> None:
    """Only small ``sources`` are remembered as checked: a host sending large distinct ones (each up to the
    report's cap) must not make the collector hold them."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(60):
            source = {"title": f"{n}" + "x" * (200 << 10), "date": "2026", "kind": "law", "urls": []}
            parse_report(json.dumps({**base, "sources": {f"source-{n}": source}}).encode())
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 4 << 20, f"{kept} bytes kept after 60 reports with 200 KiB sources each"
