#!/usr/bin/env python3
"""Time ``scanner audit`` against ``find`` over the same tree, in the same run.

Trees: a generated machine (``--generate``: venvs full of real-looking dist-info folders plus
ordinary files), sparse model files (``--models``), a source tree (``--sources``: this Python's own
standard library copied into project folders as code people wrote, with AI client settings sown in,
timed against ``grep -rIlF -f HOSTS`` for the policy's hosts), and this machine's own ``/``
(``--machine``). For each, both commands run ``--repeat`` times alternately after one warm-up each
(so both see a warm page cache); the report gives the median wall time, the ratio and each
command's peak RSS (from ``wait4``). Scans are recorded in a store of their own (``bench.db`` in
``--out``), as users' audits are; the model tree is also timed as a first scan and as a re-scan of
the unchanged tree, which the store's file cache answers without parsing headers again.

    python bench/bench_audit.py --startup --machine --machine-exclude /tmp --sources 1000000 --fallback

``--startup`` times an audit of an empty root; ``--machine`` the first scan (``--no-store``, and into an
empty store, as on a fleet machine's first night) and the re-scan (into a store the warm-up run filled)
against ``find``; ``--sources`` against ``find`` and
``grep -rIlF -f HOSTS``, each with CPU seconds and peak RSS. What is timed is a wheel built from this
checkout and installed as a fleet machine installs it (bytecode compiled, the project's digests shipped
in it); ``--checkout`` times the checkout itself (an editable install computes the digests of its source
tree on every run: about 20 ms).

No timing is asserted anywhere: this prints numbers for the README's performance section.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PSEUDO = ["/proc", "/sys", "/dev", "/run"]


def generate(root: Path, files: int, seed: int = 7) -> Path:
    """A synthetic machine of about ``files`` files: 1/3 in venvs as dist-info, the rest ordinary."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    made = 0
    venv_index = 0
    while made < files // 3:
        site = (
            root
            / "home"
            / f"user{venv_index % 20}"
            / f"proj{venv_index}"
            / ".venv"
            / "lib"
            / "python3.11"
            / "site-packages"
        )
        site.mkdir(parents=True)
        (site.parents[2] / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
        for p in range(60):
            name = f"pkg{venv_index}_{p}"
            dist = site / f"{name}-1.{p}.0.dist-info"
            dist.mkdir()
            (dist / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{p}.0\nSummary: generated\n"
                f"Author-email: Dev <dev@example.org>\n\n" + "long description\n" * 20
            )
            (dist / "INSTALLER").write_text("pip\n")
            (dist / "RECORD").write_text(f"{name}/__init__.py,,\n")
            code = site / name
            code.mkdir()
            (code / "__init__.py").write_text("")
            made += 5
        venv_index += 1
    while made < files:
        folder = root / "srv" / f"d{rng.randrange(2000)}" / f"e{rng.randrange(50)}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{made}.{rng.choice(['txt', 'py', 'json', 'log', 'bin'])}").write_bytes(b"x" * rng.randrange(64))
        made += 1
    return root


def generate_models(root: Path, count: int) -> Path:
    """About ``count`` model files, sparse and realistic in their headers: GGUFs with a 32k-token
    vocabulary (4 GiB each), HF-style folders with two 5 GiB safetensors shards, Ollama stores."""
    import gguf  # the test extra: only the model benchmark needs it
    import numpy as np
    from safetensors.numpy import save_file

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    template = root / "template.gguf"
    writer = gguf.GGUFWriter(str(template), arch="qwen2")
    writer.add_name("Bench Model 7B")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    tokens = [f"tok{i}" for i in range(32_000)]
    writer.add_token_list(tokens)
    writer.add_token_types([1] * len(tokens))
    writer.add_tensor("token_embd.weight", np.zeros((8, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    header = template.read_bytes()
    template.unlink()
    shard = root / "shard.safetensors"
    save_file({"model.embed_tokens.weight": np.zeros((64, 64), dtype=np.float16)}, str(shard))
    shard_bytes = shard.read_bytes()
    shard.unlink()
    made = 0
    while made < count:
        kind = made % 4
        base = root / f"user{made % 25}"
        if kind < 2:
            path = base / "models" / f"model-{made}.Q4_K_M.gguf"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(header)
                handle.truncate(4 << 30)
            made += 1
        else:
            folder = base / "hf" / f"model-{made}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
            for index in (1, 2):
                with open(folder / f"model-0000{index}-of-00002.safetensors", "wb") as handle:
                    handle.write(shard_bytes)
                    handle.truncate(5 << 30)
            made += 2
    return root


SOWN = (
    'client = OpenAI(base_url="https://api.deepseek.com/v1")\n',
    'resp = requests.post("https://api.moonshot.cn/v1/chat/completions", json=payload)\n',
    'llm = ChatOpenAI(model="MiniMax-M2", openai_api_base="https://api.minimax.io/v1")\n',
)


def generate_sources(root: Path, files: int, cap: int) -> Path:
    """``files`` source files copied from this Python's standard library into project folders (each cut
    to ``cap`` bytes, so that a million fit on a disk: a median source file is a few KiB); one in a
    hundred gets an AI client setting on a banned host appended. Made once: a tree of the same size is
    reused."""
    marker = root / f".made-{files}-{cap}"
    if marker.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    stdlib = Path(os.__file__).parent
    originals = [p.read_bytes()[:cap] for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    names = [p.name for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    for index in range(files):
        block = index // 100  # a hundred files to a folder, ten developers, a hundred folders to a project
        folder = root / "home" / f"dev{block % 10}" / "projects" / f"proj{block // 1000}" / f"pkg{block // 10 % 100}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        text = originals[index % len(originals)]
        if index % 100 == 0:
            text += SOWN[index // 100 % len(SOWN)].encode()
        with open(folder / f"{index}_{names[index % len(names)]}", "wb") as out:
            out.write(text)
    marker.touch()
    return root


def policy_hosts(path: Path) -> Path:
    """The default policy's API and web hosts, one per line: ``grep -f``'s pattern file."""
    from scanner.audit import watch_list
    from scanner.policy.loader import load_policy

    path.write_text("\n".join(sorted(watch_list(load_policy([])).hosts)) + "\n")
    return path


def model_read_stats(report: Path) -> str:
    data = json.loads(report.read_text())
    files = [f for item in data["inventory"] if item["kind"] == "model" for f in item["attributes"]["files"]]
    weights = [f for f in files if f["format"] in ("gguf", "safetensors")]
    read = [f["bytes_read"] for f in weights]
    size = sum(f["size"] for f in weights)
    models = sum(1 for item in data["inventory"] if item["kind"] == "model")
    return (
        f"  {models} models, {len(weights)} weight files, {size / 2**40:.1f} TiB apparent size; "
        f"bytes read per weight file: mean {statistics.mean(read) / 1024:.1f} KiB, max {max(read) / 1024:.1f} KiB, "
        f"total {sum(read) / 2**20:.1f} MiB"
    )


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    """User and system CPU seconds of the child: what the fleet pays."""
    rss: int
    """Peak resident set size, KiB."""


def run(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one run."""
    # posix_spawn, not fork: a forked child's peak RSS would include this (large) benchmark process.
    devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    executable = shutil.which(command[0]) or command[0]
    start = time.perf_counter()
    pid = os.posix_spawn(executable, command, env or os.environ, file_actions=devnull)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command[0]} failed with status {status}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def compare(
    label: str,
    commands: dict[str, list[str]],
    baselines: tuple[str, ...],
    repeat: int,
    env: dict[str, str] | None = None,
) -> None:
    """Each command once to warm up, then ``repeat`` rounds of all of them in turn; medians, and the
    scanner's ratios to the ``baselines`` (``find``, ``grep``)."""
    for command in commands.values():
        run(command, env)
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(run(command, env))
    print(f"\n{label}")
    medians = {
        name: (statistics.median(r.wall for r in done), statistics.median(r.cpu for r in done))
        for name, done in runs.items()
    }
    for name, done in runs.items():
        wall, cpu = medians[name]
        print(f"  {name:<28} wall {wall:8.3f} s  CPU {cpu:8.3f} s  peak RSS {max(r.rss for r in done) / 1024:7.1f} MiB")
        for base in baselines if name not in baselines else ():
            print(f"  {'':<28} {wall / medians[base][0]:5.1f}x {base} (wall), {cpu / medians[base][1]:5.1f}x (CPU)")
    print(f"  ({repeat} rounds after one warm-up of each, commands alternated; medians)")


def count_files(root: str, *pruned: str) -> str:
    prune = [x for p in pruned or ("/nonexistent",) for x in ("-path", p, "-o")][:-1]
    command = ["find", root, "-xdev", "(", *prune, ")", "-prune", "-o", "-type", "f", "-print"]
    find = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert find.stdout is not None
    count = sum(1 for _ in find.stdout)
    find.wait()
    return f"{count} files"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", type=int, metavar="FILES", help="benchmark a generated tree of about FILES files")
    parser.add_argument(
        "--models", type=int, metavar="FILES", help="benchmark a tree of about FILES sparse model files"
    )
    parser.add_argument(
        "--sources", type=int, metavar="FILES", help="benchmark a source tree of FILES files against grep -rIlF"
    )
    parser.add_argument(
        "--fallback", action="store_true", help="also time the source tree without google-re2 (pure-Python search)"
    )
    parser.add_argument("--source-bytes", type=int, default=8192, help="cut each generated source file to this size")
    parser.add_argument("--machine", action="store_true", help="benchmark this machine's own /: first scan and re-scan")
    parser.add_argument(
        "--machine-exclude",
        action="append",
        default=[],
        metavar="PATH",
        help="leave PATH out of both walks (repeatable)",
    )
    parser.add_argument("--startup", action="store_true", help="time an audit of an empty root (start-up)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--checkout",
        action="store_true",
        help="time the scanner this Python imports (an editable install) instead of a wheel built from it",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # An installed scanner has its bytecode compiled by pip; an editable one (and a PYTHONDONTWRITEBYTECODE
    # environment) would compile every module on every run and time the compiler.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.checkout:
        scanner = [shutil.which("scanner", path=os.path.dirname(sys.executable)) or "scanner"]
        subprocess.run([sys.executable, "-m", "compileall", "-q", scanner_package()], check=True)
    else:
        installed = install_wheel(args.out)
        scanner = [os.path.join(installed, "bin", "scanner")]  # its console script, as on a fleet machine
        os.environ["PYTHONPATH"] = installed
    base = [
        *scanner,
        "audit",
        "--format",
        "json",
        "--output",
        os.devnull,
        "--no-progress",
        "--fail-on",
        "never",
    ]
    os.environ["SCANNER_DB"] = str(args.out / "bench.db")  # never the machine's own store
    timed = "this checkout (editable install)" if args.checkout else "a wheel built from this checkout"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, {timed}")
    if args.startup:
        empty = args.out / "empty"
        empty.mkdir(exist_ok=True)
        compare(
            "start-up: an audit of an empty root (every import, the bundled policy, the report)",
            {
                "python -c pass": [sys.executable, "-c", "pass"],
                "scanner audit (empty root)": [*base, "--root", str(empty), "--no-store"],
            },
            ("python -c pass",),
            args.repeat,
        )
    if args.generate:
        tree = generate(args.out / "tree", args.generate)
        compare(
            f"generated tree {tree} ({count_files(str(tree))})",
            {"find": ["find", str(tree)], "scanner audit --no-store": [*base, "--root", str(tree), "--no-store"]},
            ("find",),
            args.repeat,
        )
    if args.models:
        tree = generate_models(args.out / "models", args.models)
        report = args.out / "models-report.json"
        command = [scanner, "audit", "--root", str(tree), "-f", "json", "-o", str(report), "--no-progress"]
        command += ["--fail-on", "never"]
        store = args.out / "models.db"
        first, again = [], []
        for _ in range(args.repeat):  # a first scan (empty store) then a re-scan of the unchanged tree
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store}{suffix}").unlink(missing_ok=True)
            first.append(run([*command, "--db", str(store)]))
            again.append(run([*command, "--db", str(store)]))
        bare = [run([*command, "--no-store"]) for _ in range(args.repeat)]
        print(f"\nmodel tree {tree} ({args.models} sparse model files)")
        for label, times in (("no store", bare), ("first scan", first), ("re-scan", again)):
            median = statistics.median(r.wall for r in times)
            per_file = median / args.models * 1000
            peak = max(r.rss for r in times) / 1024
            print(f"  {label:<10} median {median:8.3f} s  ({per_file:.1f} ms per model file)  peak RSS {peak:.1f} MiB")
        ratio = statistics.median(r.wall for r in first) / statistics.median(r.wall for r in again)
        print(f"  re-scan of the unchanged tree: {ratio:.1f}x faster than the first scan (file cache in the store)")
        print(model_read_stats(report))
    if args.sources:
        tree = generate_sources(args.out / "sources", args.sources, args.source_bytes)
        hosts = policy_hosts(args.out / "hosts.txt")
        size = subprocess.run(
            ["du", "-sm", "--apparent-size", str(tree)], capture_output=True, text=True
        ).stdout.split()[0]
        commands = {
            "find": ["find", str(tree)],
            "grep -rIlF -f HOSTS": ["grep", "-rIlF", "-f", str(hosts), str(tree)],
            "scanner audit --no-store": [*base, "--root", str(tree), "--no-store"],
        }
        if args.fallback:
            commands["scanner, pure-Python search"] = ["env", f"PYTHONPATH={without_re2(args.out)}", *base]
            commands["scanner, pure-Python search"] += ["--root", str(tree), "--no-store"]
        compare(
            f"source tree {tree} ({args.sources} files, {size} MiB; {len(hosts.read_text().split())} hosts)",
            commands,
            ("find", "grep -rIlF -f HOSTS"),
            args.repeat,
        )
    if args.machine:
        skipped = [*PSEUDO, str(args.out), *args.machine_exclude]
        prune = [x for p in skipped for x in ("-path", p, "-o")][:-1]
        store = args.out / "machine.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        excludes = [x for p in [str(args.out), *args.machine_exclude] for x in ("--exclude", p)]
        fresh = args.out / "machine-first.db"
        # a fleet machine's first night: a scan that fills an empty store (and keeps what it learnt)
        first_night = " ".join(shlex.quote(a) for a in [*base, *excludes, "--db", str(fresh)])
        compare(
            f"this machine's / ({count_files('/', *skipped)} on the root filesystem; not walked: {', '.join(skipped)})",
            {
                "find": ["find", "/", "(", *prune, ")", "-prune", "-o", "-print"],
                "scanner audit --no-store": [*base, *excludes, "--no-store"],
                "scanner audit (first, store)": ["sh", "-c", f"rm -f {shlex.quote(str(fresh))}*; exec {first_night}"],
                # the warm-up run is the first scan into this store: every timed run is a re-scan
                "scanner audit (re-scan)": [*base, *excludes, "--db", str(store)],
            },
            ("find",),
            args.repeat,
        )


def without_re2(out: Path) -> Path:
    """A folder that, first on ``PYTHONPATH``, makes ``import re2`` fail: the scanner then searches with its
    pure-Python fallback, as on a machine without the ``fast`` extra."""
    shim = out / "without-re2"
    (shim / "re2").mkdir(parents=True, exist_ok=True)
    (shim / "re2" / "__init__.py").write_text('raise ImportError("re2 hidden by bench_audit --fallback")\n')
    return shim


def install_wheel(out: Path) -> str:
    """The scanner as a fleet machine runs it: a wheel of this checkout (with the digests of its own files
    shipped, not computed from the source tree on every run) installed with its bytecode compiled, in a
    folder of its own; its dependencies are this Python's. Returns the folder, for ``PYTHONPATH``."""
    wheels, target = out / "wheel", out / "installed"
    for folder in (wheels, target):
        shutil.rmtree(folder, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(HERE.parent)], check=True
    )
    (wheel,) = wheels.glob("*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-warn-script-location", "--target", str(target), str(wheel)], check=True
    )
    return str(target)


def scanner_package() -> str:
    """The folder of the ``scanner`` package this Python imports (an editable install's source tree)."""
    found = subprocess.run(
        [sys.executable, "-c", "import scanner, os; print(os.path.dirname(scanner.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


if __name__ == "__main__":
    main()
