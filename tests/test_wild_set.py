"""The in-the-wild set, case by case: real public files nobody wrote for this scanner.

The files are third-party material and stay out of the repository (``tests/wild/MANIFEST.yaml`` holds
their provenance); ``python bench/bench_wild.py --materialize`` fetches them into ``tests/wild/cases``.
Where they are present each case is a test: a use is found (a warning or a violation of its kind and
provider), a mention stays info, a look-alike is not accused. Absent, the tests skip, as the shared
model corpus's do. The known misses are listed with why, and fail the suite when they start to pass,
so the list stays true.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.report import report_dict

WILD = Path(__file__).resolve().parent / "wild"
CASES = WILD / "cases"
KNOWN_MISSES = {
    "go-sdk-moonshot-base-url": "a Go module cache copy of a client (~/go/pkg/mod): installed code, not read as use",
    "mention-semgrep-fixture-detect-deepseek": "a Semgrep rule's fixture is real client code, and reads as use",
}


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_wild", WILD.parents[1] / "bench" / "bench_wild.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_wild", module)
    spec.loader.exec_module(module)
    return module


def _cases() -> list[Any]:
    listed = yaml.safe_load((WILD / "MANIFEST.yaml").read_text())
    cases = listed["cases"] if isinstance(listed, dict) else listed
    return [
        pytest.param(case, id=case["id"], marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[case["id"]])])
        if case["id"] in KNOWN_MISSES
        else pytest.param(case, id=case["id"])
        for case in cases
    ]


POLICY = load_policy([])
pytestmark = pytest.mark.slow  # a hundred audits, where the set is present


@pytest.mark.parametrize("case", _cases())
def test_a_real_public_file_is_judged_as_its_label_says(case: dict[str, Any]) -> None:
    folder = CASES / case["id"]
    if not folder.is_dir():
        pytest.skip("the in-the-wild set is not materialized (python bench/bench_wild.py --materialize)")
    report = report_dict(run_audit(AuditOptions(root=str(folder)), POLICY))
    judged = _bench().judge(case, report)
    assert judged["ok"], judged
