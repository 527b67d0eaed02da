"""Mutation fuzzing of everything the scanner reads from a machine, pure Python and seeded.

Three targets. ``headers``: the model-file header parsers (``read_weight_file``) on mutated GGUF,
safetensors, PyTorch-zip and pickle bytes; a defect is any exception other than ``FormatError``, or
more than ``SLOW`` CPU seconds. ``audit``: a one-file tree holding a mutated settings file, shell
profile, unit, package ``METADATA``, model card, config or SQLite database, through a whole
``run_audit``; a defect is an exception out of the audit, a coverage entry of kind ``error`` (a
reader raised), or more than ``SLOW`` CPU seconds. ``intake``: the collector's intake (``read_report``) on
mutated reports, plain and gzipped, as a compromised agent could send them; a defect is any exception
other than ``IntakeError``, or more than ``SLOW`` CPU seconds. The suite runs a few hundred inputs of each
(``tests/test_fuzz.py``); long runs by hand, from the repository's root:

    python tests/fuzz/harness.py audit 20000 --seed 7
    python tests/fuzz/harness.py headers 200000 --seed 7

With ``atheris`` installed, ``--atheris`` hands the header target to libFuzzer's coverage-guided
engine instead (``pip install atheris``; not a test dependency).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for modelkit

from modelkit import DEEPSEEK_SPECIALS, write_gguf, write_safetensors

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.models.weights import read_weight_file
from scanner.fleet.collector.intake import IntakeError, read_report
from scanner.formats.errors import FormatError
from scanner.policy.loader import load_policy
from scanner.report import report_dict

SLOW = 2.0
"""CPU seconds per input past which an input is a defect (the guarantee is about one; see the README)."""
KEY = "sk-live-0123456789abcdefXYZ"
SETTINGS = {
    "home/a/.env": f"DEEPSEEK_API_KEY={KEY}\nOPENAI_BASE_URL=https://api.deepseek.com/v1\n",
    "home/a/.bashrc": f"export DEEPSEEK_API_KEY={KEY}\nalias ds='OPENAI_BASE_URL=https://api.deepseek.com claude'\n",
    "home/a/.config/fish/config.fish": f"set -gx DEEPSEEK_API_KEY {KEY}\n",
    "etc/systemd/system/ai.service": "[Service]\nEnvironment=OPENAI_BASE_URL=https://api.deepseek.com A=b\n",
    "home/a/.continue/config.json": json.dumps({"models": [{"provider": "deepseek", "model": "deepseek-chat"}]}),
    "home/a/.continue/config.yaml": "models:\n  - provider: deepseek\n    model: deepseek-chat\n",
    "home/a/.codex/config.toml": '[model_providers.ds]\nbase_url = "https://api.deepseek.com"\n',
    "srv/litellm_config.yaml": "model_list:\n  - model_name: x\n    litellm_params: {model: deepseek/deepseek-chat}\n",
    "home/a/proj/app.py": 'c = OpenAI(base_url="https://api.deepseek.com")\n',
    "opt/v/lib/python3.11/site-packages/x-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: langchain-deepseek\n"
    "Version: 1.1.1\nHome-page: https://api.deepseek.com\n\nbody\n",
    "srv/models/m1/config.json": json.dumps({"model_type": "qwen2", "_name_or_path": "deepseek-ai/DeepSeek-R1"}),
    "srv/models/m1/README.md": "---\nbase_model: deepseek-ai/DeepSeek-R1\ndatasets: [x]\n---\n# M\n",
    "etc/hosts": "1.2.3.4 api.deepseek.com\n",
}
TOKENS = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\n", b"- ", b"&a ", b"*a", b"<<: *a", b"!!binary", b"\\", b"\x00",
          b"\xff\xfe", b"\x90", b"=", b"export ", b"'", b"${", b"https://", b"@", b"api.deepseek.com", b"---\n", b"\t",
          b"1e999", b"9" * 500, b"? ", b"%YAML 1.1\n", b"\r", "\u2028".encode(), b"\x1b[2J", "\u202e".encode(),
          b"/*", b"//", b"#", b"base_model:", b"_name_or_path", b"?key=", b"user:pw@", b"[::1", b"%zz"]  # fmt: skip


def mutate(data: bytes, rnd: random.Random, cap: int = 1 << 20) -> bytes:
    """A few random edits: bytes flipped, tokens inserted or repeated, spans deleted or copied."""
    b = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        op, at = rnd.randrange(6), rnd.randint(0, len(b))
        if op == 0 and b:
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif op == 1:
            b[at:at] = rnd.choice(TOKENS)
        elif op == 2 and b:
            del b[at : at + rnd.randint(1, 16)]
        elif op == 3:
            b[at:at] = rnd.choice(TOKENS) * rnd.randint(2, 2000)
        elif op == 4 and b:
            start = rnd.randrange(len(b))
            b[at:at] = b[start : start + rnd.randint(1, 64)] * rnd.randint(1, 200)
        else:
            b[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
    return bytes(b[:cap])


def _sqlite_seed(folder: Path) -> Iterator[tuple[str, bytes]]:
    for inside, table, columns, row in (
        (
            "home/a/.config/Code/User/globalStorage/state.vscdb",
            "ItemTable",
            "key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB",
            (
                "saoudrizwan.claude-dev",
                json.dumps({"apiProvider": "openai", "openAiBaseUrl": "https://api.deepseek.com"}),
            ),
        ),
        ("srv/openwebui/webui.db", "config", "id INTEGER PRIMARY KEY, data JSON", (1, json.dumps({"openai": {}}))),
    ):
        path = folder / "db"
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as db:
            db.execute(f"CREATE TABLE {table} ({columns})")
            db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", row)
        db.close()
        yield inside, path.read_bytes()


def seeds(target: str) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of real files of every kind the target reads, written with the formats' writers."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        if target == "audit":
            return [(k, v.encode()) for k, v in SETTINGS.items()] + list(_sqlite_seed(where))
        if target == "intake":
            return _report_seeds(where)
        write_gguf(where / "a.gguf", name="DeepSeek R1", organization="deepseek-ai", pre="deepseek-v3",
                   tokens=[*DEEPSEEK_SPECIALS, "a", "b"], special=DEEPSEEK_SPECIALS, chat_template="{{x}}",
                   base_models=[{"name": "n", "organization": "o"}], datasets=["d"])  # fmt: skip
        write_safetensors(where / "a.safetensors", {"name": "deepseek"})
        found = [(p.name, p.read_bytes()) for p in sorted(where.iterdir())]
    found.append(("b.bin", b"\x80\x02\x8a\x0alp\xfc\x9cF\xf9 j\xa8P\x19." + b"\0" * 100))
    found.append(("c.bin", b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 12345\n"))
    return found


class _Unmapped(io.BytesIO):
    """In-memory bytes a parser cannot ``mmap`` (as a pipe would be): the bounded-read path."""

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


def _defect(read: Callable[[], object], refusal: type[Exception]) -> str | None:
    """What is wrong with one input: an exception other than the reader's ``refusal``, or ``SLOW`` seconds."""
    began = time.process_time()
    try:
        read()
    except refusal:
        pass
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]
    seconds = time.process_time() - began
    return f"slow: {seconds:.1f} s" if seconds > SLOW else None


def header_defect(name: str, data: bytes) -> str | None:
    def read() -> None:
        facts = read_weight_file(_Unmapped(data), len(data), name, f"/x/{name}")
        if facts is not None:
            facts.to_cache()

    return _defect(read, FormatError)


_POLICY = None


def audit_defect(name: str, data: bytes) -> str | None:
    global _POLICY
    _POLICY = _POLICY or load_policy(["default"])
    root = Path(tempfile.mkdtemp())
    try:
        path = root / name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        began = time.process_time()
        try:
            result = run_audit(AuditOptions(root=str(root)), _POLICY)
        except Exception as error:
            return f"{type(error).__name__}: {error}"[:300]
        seconds = time.process_time() - began
        errors = [s.reason for s in result.coverage.skipped if s.kind == "error"]
        if errors:
            return errors[0][:300]
        return f"slow: {seconds:.1f} s" if seconds > SLOW else None
    finally:
        shutil.rmtree(root)


def _report_seeds(folder: Path) -> list[tuple[str, bytes]]:
    """A real report of a tree holding a finding of each kind, as JSON and as the agent sends it (gzip)."""
    for place, text in SETTINGS.items():
        (folder / place).parent.mkdir(parents=True, exist_ok=True)
        (folder / place).write_text(text)
    body = json.dumps(report_dict(run_audit(AuditOptions(root=str(folder)), load_policy(["default"])))).encode()
    return [("report.json", body), ("report.json.gz", gzip.compress(body))]


def intake_defect(name: str, data: bytes) -> str | None:
    """What the collector does with a body a compromised agent sends: a report, or an ``IntakeError``."""
    return _defect(lambda: read_report(data, now=datetime.now(timezone.utc)), IntakeError)


TARGETS: dict[str, Callable[[str, bytes], str | None]] = {
    "headers": header_defect,
    "audit": audit_defect,
    "intake": intake_defect,
}


def run(target: str, iterations: int, seed: int) -> list[tuple[int, str, str]]:
    """``(iteration, seed file, defect)`` for every input that showed one."""
    rnd = random.Random(seed)
    corpus, check = seeds(target), TARGETS[target]
    found = []
    for iteration in range(iterations):
        name, data = rnd.choice(corpus)
        defect = check(name, mutate(data, rnd))
        if defect:
            found.append((iteration, name, defect))
    return found


def _atheris(argv: list[str]) -> None:  # pragma: no cover - by hand only
    import atheris  # type: ignore[import-not-found]

    names = [name for name, _ in seeds("headers")]

    def one(data: bytes) -> None:
        if data and (defect := header_defect(names[data[0] % len(names)], data[1:])):
            raise RuntimeError(defect)

    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("iterations", type=int, nargs="?", default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--atheris", action="store_true", help="coverage-guided (headers only; needs atheris)")
    args, rest = parser.parse_known_args()
    if args.atheris:
        _atheris([sys.argv[0], *rest])
    began = time.time()
    defects = run(args.target, args.iterations, args.seed)
    for iteration, name, defect in defects:
        print(f"{iteration}\t{name}\t{defect}")
    print(f"{args.iterations} inputs, {len(defects)} defects, {time.time() - began:.0f} s", file=sys.stderr)
