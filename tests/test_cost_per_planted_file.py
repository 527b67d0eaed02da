"""The guarantee: no file a local user plants costs the root scan more than about a second of CPU, and
what they can add in all grows at most linearly with the bytes they plant.

Each reader is fed the worst file of its kind we know, at the size cap of its kind, through the public
audit entry point (a whole ``run_audit`` and report of a tree holding that one file); the CPU time of
the same audit of an empty tree is taken off. Readers that take larger files by design (model
headers, notebooks, logs the administrator names) are held to a cost per MiB instead. The worst cases
come from the red team's reproducers and fuzzing: one endless shell word (``shlex`` took 13 s per MB),
a YAML flow list (9 s per MB), merge-key copies, JSONC that never closes a comment, endless lines,
a name repeated in every field.
"""

from __future__ import annotations

import json
import plistlib
import sqlite3
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Machine, write_dist_info
from modelkit import write_gguf

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.endpoints.envfiles import TEXT_CAP
from scanner.collectors.endpoints.text import CODE_CAP
from scanner.collectors.endpoints.toolconfigs import CONFIG_CAP, CONFIG_CAPS
from scanner.collectors.models.cards import CARD_CAP, FRONT_MATTER_CAP
from scanner.collectors.packages.collector import METADATA_CAP
from scanner.collectors.packages.manifests import MANIFEST_CAP
from scanner.policy.loader import load_policy
from scanner.report import report_dict

pytestmark = pytest.mark.slow
POLICY = load_policy(["default"])
SECOND = 1.5
"""The bound per planted file, in CPU seconds: the guarantee is about one, with room for a loaded machine;
measured figures are in the README (Cost per planted file)."""
PER_MIB = 0.25
"""The bound per MiB for readers of large files (about 4 MiB per CPU second)."""
URL_LINE = "OPENAI_BASE_URL=https://api.deepseek.com/v1\n"


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _fill(line: str, cap: int) -> str:
    return line * (cap // len(line))


def _sqlite(path: Path, table: str, columns: str, row: tuple[object, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {table} ({columns})")
        db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", row)
    db.close()


def _safetensors(path: Path, entries: int) -> None:
    """A safetensors header of many tensors (the format is an 8-byte length and a JSON header)."""
    header = {f"t{n}": {"dtype": "F16", "shape": [1], "data_offsets": [2 * n, 2 * n + 2]} for n in range(entries)}
    header["__metadata__"] = {"name": "deepseek-ai/DeepSeek-R1 " * 1000}  # type: ignore[dict-item]
    body = json.dumps(header).encode()
    _write(path, struct.pack("<Q", len(body)) + body + b"\0" * (2 * entries))


PLANTED: dict[str, Callable[[Machine], None]] = {
    "shell profile, one word": lambda m: _write(m.path("/home/e/.bashrc"), "export A=" + "a" * TEXT_CAP),
    "shell profile, assignments": lambda m: _write(m.path("/home/e/.bashrc"), _fill("A=b C=d; E=f g\n", TEXT_CAP)),
    "shell profile, escapes": lambda m: _write(m.path("/home/e/.zshrc"), 'A="' + 'a\\"' * (TEXT_CAP // 3) + '"\n'),
    "systemd unit": lambda m: _write(
        m.path("/etc/systemd/system/x.service"), "[Service]\nEnvironment=A=" + "a" * TEXT_CAP
    ),
    "fish config": lambda m: _write(m.path("/home/e/.config/fish/config.fish"), "set -gx A " + "'a " * (TEXT_CAP // 3)),
    ".env, URLs": lambda m: _write(m.path("/home/e/.env"), _fill(URL_LINE, TEXT_CAP)),
    "YAML, flow list": lambda m: _write(
        m.path("/home/e/p/config.yaml"), "[" + "a," * (CONFIG_CAPS["yaml"] // 2 - 2) + "a]"
    ),
    "YAML, LiteLLM models": lambda m: _write(
        m.path("/srv/litellm/config.yaml"),
        "model_list:\n"
        + _fill("  - {model_name: x, litellm_params: {model: deepseek/deepseek-chat}}\n", CONFIG_CAPS["yaml"]),
    ),
    "JSON, objects and an open comment": lambda m: _write(
        m.path("/home/e/.continue/config.json"), "[" + "{}," * (CONFIG_CAP // 3 - 4) + "{}] /*"
    ),
    "JSON, strings": lambda m: _write(m.path("/home/e/q/config.json"), "[" + '"x",' * (CONFIG_CAP // 4 - 4) + '""]'),
    "TOML, array": lambda m: _write(
        m.path("/home/e/.codex/config.toml"), "a = [" + "1," * (CONFIG_CAPS["toml"] // 2 - 8) + "1]"
    ),
    "source code, uses": lambda m: _write(
        m.path("/home/e/app/client.py"), _fill('c = OpenAI(base_url="https://api.deepseek.com/v1")\n', CODE_CAP)
    ),
    "source code, one line": lambda m: _write(m.path("/home/e/app/one.js"), "x=" + "deepseek-chat " * (CODE_CAP // 14)),
    "model card": lambda m: (
        _write(m.path("/srv/models/m/config.json"), '{"model_type": "qwen2"}')
        or _write(
            m.path("/srv/models/m/README.md"),
            "---\nbase_model: [" + "a," * (FRONT_MATTER_CAP // 2 - 64) + "a]\n---\n" + "# x\n" * (CARD_CAP // 4),
        )
    ),
    "GGUF header, long name": lambda m: write_gguf(
        m.path("/srv/models/x.gguf"), name="deepseek-ai/DeepSeek-R1-" + "A" * 1_000_000
    ),
    "safetensors header": lambda m: _safetensors(m.path("/srv/models/s/model.safetensors"), 20_000),
    "SQLite settings": lambda m: _sqlite(
        m.path("/srv/openwebui/webui.db"),
        "config",
        "id INTEGER PRIMARY KEY, data JSON",
        (1, json.dumps({"openai": {"api_base_urls": ["https://api.deepseek.com"] * 100_000}})),
    ),
    "pyproject, table headers of blanks": lambda m: _write(
        m.path("/home/e/p/pyproject.toml"), _fill("[" + " " * 4000 + "\n", MANIFEST_CAP)
    ),
    "batch file, runs of blanks": lambda m: _write(
        m.path("/home/e/bin/a.bat"), _fill("set A=" + " " * 16_000 + "x & y\n", TEXT_CAP)
    ),
    "binary plist, one value many times": lambda m: _write(
        m.path("/Users/e/Library/Preferences/a.plist"),
        plistlib.dumps([b"A" * (1 << 20)] * 3000, fmt=plistlib.FMT_BINARY),
    ),
    "package METADATA": lambda m: write_dist_info(
        m.venv("/opt/v"), "langchain-deepseek", "1.0", summary="DeepSeek " * (METADATA_CAP // 20)
    ),
}


def _audit_seconds(root: Path) -> float:
    began = time.process_time()
    report_dict(run_audit(AuditOptions(root=str(root)), POLICY))
    return time.process_time() - began


@pytest.fixture(scope="module")
def empty_audit(tmp_path_factory: pytest.TempPathFactory) -> float:
    """CPU of an audit of an empty tree (policy, walk, report): not the planted file's cost."""
    root = tmp_path_factory.mktemp("empty")
    return min(_audit_seconds(root) for _ in range(3))


@pytest.mark.parametrize("kind", PLANTED)
def test_one_planted_file_of_any_kind_costs_at_most_about_a_second(
    kind: str, machine: Machine, empty_audit: float
) -> None:
    PLANTED[kind](machine)
    seconds = _audit_seconds(machine.root) - empty_audit
    print(f"{kind}: {seconds:.3f} s")  # the README's figures: pytest -m slow -s -k planted
    assert seconds < SECOND


def test_the_cost_of_a_log_grows_linearly_with_its_size(tmp_path: Path) -> None:
    line = "Dec  5 10:01:02 dnsmasq[1]: query[A] api.deepseek.com from 10.0.{}.{}\n"
    costs = []
    (tmp_path / "empty").mkdir()
    for mib in (8, 16):
        log = tmp_path / f"dns{mib}.log"
        lines = (mib << 20) // len(line)
        log.write_text("".join(line.format(n // 250 % 250, n % 250) for n in range(lines)))
        began = time.process_time()
        report_dict(run_audit(AuditOptions(root=str(tmp_path / "empty"), dns_logs=(str(log),)), POLICY))
        costs.append(time.process_time() - began)
    print(f"DNS log: {costs[0] / 8:.3f} s per MiB at 8 MiB, {costs[1] / 16:.3f} s per MiB at 16 MiB")
    assert costs[1] < 2.6 * costs[0] and costs[1] / 16 < PER_MIB


def test_many_planted_files_cost_in_proportion_to_their_number(machine: Machine, empty_audit: float) -> None:
    costs = []
    for count in (8, 16):
        for n in range(count):
            _write(machine.path(f"/home/u{count}/{n}/.bashrc"), "export A=" + "a" * TEXT_CAP)
            _write(
                machine.path(f"/home/u{count}/{n}/p/config.yaml"), "[" + "a," * (CONFIG_CAPS["yaml"] // 2 - 2) + "a]"
            )
        costs.append(_audit_seconds(machine.root) - empty_audit)
    # the second tree holds the first's 8 pairs too: 24 pairs in all, three times the first
    print(f"8 pairs: {costs[0]:.2f} s, 24 pairs: {costs[1]:.2f} s")
    assert costs[1] < 3 * 1.3 * costs[0] and costs[1] / 48 < SECOND
