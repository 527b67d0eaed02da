"""The fleet installers (installers/): the unit files, the plist and the task XML are valid and say
what the READMEs promise; the Linux and macOS install scripts and the Ansible role install offline
into a staging root (``--destdir``) or temporary paths, never touching the machine, and their
uninstall removes what they added.

Offline from a clean clone: the runtime dependencies' wheels are repacked from what the test venv
has installed (``_repack``), ``build-wheelhouse.sh`` builds the wheelhouse from them with
``--no-index``, and the installers install from that with ``pip --no-index``. pip's own
configuration (``pip.conf``, ``PIP_*``) is kept out so that nothing on the machine can fill a gap.
The text scan's accelerator (the ``fast`` extra: google-re2, which the test extra installs) is
repacked the same way, so the real compiled wheel goes through the wheelhouse; leaving it out of
the links is what a target without a google-re2 wheel looks like to ``pip download``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import plistlib
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import require
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scanner import __version__

pytestmark = pytest.mark.slow  # each test installs a venv or runs an installer script

ROOT = Path(__file__).resolve().parents[1]
INSTALLERS = ROOT / "installers"
LINUX = INSTALLERS / "linux"
MACOS = INSTALLERS / "macos"
WINDOWS = INSTALLERS / "windows"
ANSIBLE = INSTALLERS / "ansible"
SERVICE = LINUX / "scanner-audit.service"
TIMER = LINUX / "scanner-audit.timer"
PLIST = MACOS / "gov.scanner.audit.plist"
TASK_XML = WINDOWS / "scanner-audit.xml"
TASK = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which(
    "ansible-playbook"
)
COLLECTOR = "https://collector.example.gov:8443"


def _env(**extra: str) -> dict[str, str]:
    """This environment without pip's configuration (an offline install must not lean on it) and
    without SCANNER_* settings (the installers read SCANNER_PREFIX, SCANNER_DESTDIR...)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "SCANNER_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env.update(extra)
    return env


def _run(
    args: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=timeout,
        capture_output=True,
        text=True,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (a key may repeat: SystemCallFilter=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# --- building the wheelhouse offline ----------------------------------------------------------


def _runtime_distributions(*extras: str) -> dict[str, metadata.Distribution]:
    """scanner's installed runtime dependencies (with those of its ``extras``), transitively, markers
    evaluated for this Python."""
    found: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [("scanner", extras)]
    while todo:
        name, extras = todo.pop()
        distribution = metadata.distribution(name)
        key = canonicalize_name(distribution.metadata["Name"])
        if key in found:
            continue
        found[key] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(e) for e in environments):
                todo.append((requirement.name, tuple(requirement.extras)))
    del found["scanner"]
    return found


def _repack(distribution: metadata.Distribution, folder: Path) -> Path:
    """A wheel made from an installed distribution's RECORD, tagged as its WHEEL file says."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in (distribution.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    parts = [tag.split("-") for tag in tags]
    tag = "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))
    name = canonicalize_name(distribution.metadata["Name"]).replace("-", "_")
    wheel = folder / f"{name}-{distribution.version}-{tag}.whl"
    site = Path(str(distribution.locate_file("")))
    record: list[str] = []
    info = ""
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in distribution.files or []:
            relative = file.as_posix()
            # Scripts (../../bin) are regenerated by pip from entry_points.txt.
            if relative.startswith(("..", "/")) or "__pycache__" in relative:
                continue
            if relative.endswith(".dist-info/RECORD"):
                info = relative.rsplit("/", 1)[0]
                continue
            if relative.endswith((".dist-info/INSTALLER", ".dist-info/REQUESTED", ".dist-info/direct_url.json")):
                continue
            data = (site / relative).read_bytes()
            archive.writestr(relative, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{relative},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def _repack_all(distributions: dict[str, metadata.Distribution], folder: Path) -> Path:
    for distribution in distributions.values():
        if distribution.files is None or distribution.read_text("WHEEL") is None:
            pytest.skip(f"{distribution.metadata['Name']} was not installed from a wheel: it cannot be repacked")
        _repack(distribution, folder)
    return folder


@pytest.fixture(scope="session")
def dependency_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime dependencies and the accelerator (the fast extra: google-re2)."""
    return _repack_all(_runtime_distributions("fast"), tmp_path_factory.mktemp("dependency-wheels"))


@pytest.fixture(scope="session")
def runtime_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime dependencies alone: a target for which google-re2 has no wheel."""
    return _repack_all(_runtime_distributions(), tmp_path_factory.mktemp("runtime-wheels"))


def _build_wheelhouse(out: Path, links: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """build-wheelhouse.sh run offline: the project's wheel built here, dependencies from ``links``."""
    pytest.importorskip("hatchling", reason="--no-build-isolation builds the wheel with the test venv's hatchling")
    done = _ok(
        _run(
            [
                "sh",
                INSTALLERS / "build-wheelhouse.sh",
                "--python",
                sys.executable,
                "--out",
                out,
                *options,
                "--",
                "--no-build-isolation",
                "--no-index",
                "--find-links",
                links,
            ],
            env=_env(),
            timeout=120,
        )
    )
    assert Path(done.stdout.strip().splitlines()[-1]).parent == out
    return done


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, dependency_wheels: Path) -> Path:
    """A wheelhouse with the accelerator: its wheel was there to fetch."""
    done = _build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), dependency_wheels)
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def plain_build(tmp_path_factory: pytest.TempPathFactory, runtime_wheels: Path) -> subprocess.CompletedProcess[str]:
    """build-wheelhouse.sh where no google-re2 wheel can be had for the target."""
    return _build_wheelhouse(tmp_path_factory.mktemp("plain-wheelhouse"), runtime_wheels)


def _members(tarball: Path) -> dict[str, bytes]:
    """A wheelhouse's files by name (without its folder)."""
    with tarfile.open(tarball) as archive:
        return {
            Path(m.name).name: source.read()
            for m in archive.getmembers()
            if m.isfile() and (source := archive.extractfile(m)) is not None
        }


def _has_re2(venv: Path) -> bool:
    """Whether the installed venv imports the accelerator (its own Python, nothing from this one)."""
    return _run([venv / "bin/python", "-I", "-c", "import re2"]).returncode == 0


def _audit_finds_a_use(scanner: Path, tmp_path: Path) -> None:
    """The installed agent's text scan finds a banned provider's model id in a source file."""
    (tmp_path / "scanned/dev").mkdir(parents=True)
    (tmp_path / "scanned/dev/main.py").write_text(
        'from pydantic_ai import Agent\n\nagent = Agent("deepseek:deepseek-chat")\n'
    )
    done = _ok(_run([scanner, "audit", tmp_path / "scanned", "--format", "json", "--fail-on", "never", "--no-store"]))
    assert [(f["kind"], f["provider"]) for f in json.loads(done.stdout)["findings"]] == [("endpoint", "deepseek")]


@pytest.fixture(scope="session")
def scanner_wheel(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """The scanner wheel alone (taken out of the wheelhouse: it is the one pip wheel built)."""
    folder = tmp_path_factory.mktemp("scanner-wheel")
    with tarfile.open(wheelhouse) as archive:
        (member,) = [m for m in archive.getmembers() if re.search(r"/scanner-[^/]*\.whl$", m.name)]
        source = archive.extractfile(member)
        assert source is not None
        wheel = folder / Path(member.name).name
        wheel.write_bytes(source.read())
    return wheel


def test_build_wheelhouse_packs_the_scanner_wheel_every_runtime_dependency_and_the_accelerator(
    wheelhouse: Path,
) -> None:
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert re.fullmatch(rf"scanner-wheelhouse-{re.escape(__version__)}-{tag}-[a-z0-9_]+\.tar\.gz", wheelhouse.name)
    folder = wheelhouse.name.removesuffix(".tar.gz")
    with tarfile.open(wheelhouse) as archive:
        members = {m.name: m for m in archive.getmembers()}
        sums_file = archive.extractfile(members[f"{folder}/SHA256SUMS"])
        assert sums_file is not None
        sums = dict(line.split("  ")[::-1] for line in sums_file.read().decode().splitlines())
        wheels = {Path(name).name for name in members if name.endswith(".whl")}
        for name in wheels:
            data = archive.extractfile(members[f"{folder}/{name}"])
            assert data is not None
            assert sums[name] == hashlib.sha256(data.read()).hexdigest()
    assert set(sums) == wheels
    names = {canonicalize_name(name.split("-")[0]) for name in wheels}
    assert "google-re2" in _runtime_distributions("fast")
    assert names == {"scanner", *_runtime_distributions("fast")}
    assert _members(wheelhouse)["EXTRAS"] == b"fast\n"


def test_build_wheelhouse_without_an_accelerator_wheel_for_the_target_says_so_and_builds_without_it(
    plain_build: subprocess.CompletedProcess[str],
) -> None:
    tarball = Path(plain_build.stdout.strip().splitlines()[-1])
    files = _members(tarball)
    assert "EXTRAS" not in files
    names = {canonicalize_name(name.split("-")[0]) for name in files if name.endswith(".whl")}
    assert names == {"scanner", *_runtime_distributions()}
    assert "the accelerator could not be fetched for this target" in plain_build.stderr
    assert "google-re2" in plain_build.stderr  # pip's own reason
    assert "wheels, without the accelerator)" in plain_build.stderr


def test_build_wheelhouse_no_accelerator_leaves_it_out(tmp_path: Path, dependency_wheels: Path) -> None:
    done = _build_wheelhouse(tmp_path, dependency_wheels, "--no-accelerator")
    files = _members(Path(done.stdout.strip().splitlines()[-1]))
    assert "EXTRAS" not in files and not any(name.startswith("google_re2-") for name in files)


# --- the systemd units -------------------------------------------------------------------------


@pytest.fixture()
def systemd_analyze() -> str:
    require("systemd-analyze", SYSTEMD_ANALYZE)
    assert SYSTEMD_ANALYZE is not None
    return SYSTEMD_ANALYZE


def test_units_pass_systemd_analyze_verify(tmp_path: Path, systemd_analyze: str) -> None:
    """verify insists that ExecStart's program exists; a copy points it at a stub. (``--root`` would
    need a whole unit tree, sysinit.target and all, inside the root.)"""
    stub = tmp_path / "bin" / "scanner"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    (units / SERVICE.name).write_text(SERVICE.read_text().replace("/opt/scanner/bin/scanner", str(stub)))
    shutil.copy(TIMER, units / TIMER.name)
    done = _run([systemd_analyze, "verify", "--man=no", units / SERVICE.name, units / TIMER.name])
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "scanner-audit" in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr


def test_service_exposure_is_rated_ok_by_systemd_analyze_security(tmp_path: Path, systemd_analyze: str) -> None:
    if "--offline" not in _run([systemd_analyze, "--help"]).stdout:
        pytest.skip("this systemd-analyze cannot judge a unit file offline (systemd < 250)")
    unit = tmp_path / SERVICE.name
    shutil.copy(SERVICE, unit)
    done = _run([systemd_analyze, "security", "--offline=yes", "--threshold=30", unit])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_service_reads_everything_writes_only_its_state_and_runs_at_low_priority() -> None:
    service = _unit(SERVICE)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["Type"] == "oneshot"
    assert one["ProtectSystem"] == "strict"
    assert one["ProtectHome"] == "read-only"  # homes are scanned, never written
    assert "/var/lib/scanner" in one["ReadWritePaths"].split()
    assert one["StateDirectory"].split()[0] == "scanner"
    assert one["NoNewPrivileges"] == "yes"
    assert set(one["CapabilityBoundingSet"].split()) == {"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"}
    # CAP_SYS_PTRACE is for /proc/PID/environ only: the ptrace call itself is not in @system-service.
    assert service["SystemCallFilter"][0] == "@system-service"
    assert one["Nice"] == "19"
    assert one["IOSchedulingClass"] == "idle"
    assert one["UMask"] == "0077"
    for variable in one["Environment"].split():
        assert variable.split("=", 1)[1].startswith("/var/lib/scanner/")
    command = shlex.split(one["ExecStart"])
    assert command[:4] == ["/opt/scanner/bin/scanner", "audit", "--config", "/etc/scanner/agent.yaml"]
    assert command[command.index("--output") + 1] == "/var/lib/scanner/last-report.json"
    assert command[command.index("--fail-on") + 1] == "never"


def test_service_scans_the_machines_own_tmp_not_a_private_one() -> None:
    """PrivateTmp=yes would show the audit an empty /tmp and /var/tmp: models left there go unseen."""
    assert _unit(SERVICE)["Service"]["PrivateTmp"] == ["no"]


def test_timer_runs_daily_spread_over_hours_and_catches_up_after_downtime() -> None:
    timer = _unit(TIMER)
    assert timer["Timer"]["OnCalendar"] == ["daily"]
    assert re.fullmatch(r"\d+h", timer["Timer"]["RandomizedDelaySec"][0])
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


# --- macOS and Windows ---------------------------------------------------------------------------


def test_launch_daemon_runs_the_audit_daily_at_low_priority() -> None:
    daemon = plistlib.loads(PLIST.read_bytes())
    assert daemon["Label"] == PLIST.stem == "gov.scanner.audit"
    arguments = daemon["ProgramArguments"]
    assert arguments[:4] == ["/opt/scanner/bin/scanner", "audit", "--config", "/etc/scanner/agent.yaml"]
    assert arguments[arguments.index("--fail-on") + 1] == "never"
    assert set(daemon["StartCalendarInterval"]) == {"Hour", "Minute"}
    assert daemon["LowPriorityIO"] is True
    assert daemon["Nice"] == 19
    assert daemon["ProcessType"] == "Background"
    assert daemon["RunAtLoad"] is False
    assert "UserName" not in daemon  # a LaunchDaemon runs as root: it must read every user's files


def test_windows_task_runs_the_audit_daily_as_system_at_low_priority() -> None:
    task = ET.parse(TASK_XML).getroot()
    assert task.tag == f"{TASK}Task"
    assert tuple(int(n) for n in task.attrib["version"].split(".")) >= (1, 2)

    def text(path: str) -> str:
        found = task.find("/".join(TASK + part for part in path.split("/")))
        assert found is not None and found.text is not None, path
        return found.text

    assert text("Principals/Principal/UserId") == "S-1-5-18"  # SYSTEM: reads every profile
    assert text("Triggers/CalendarTrigger/ScheduleByDay/DaysInterval") == "1"
    assert re.fullmatch(r"PT\d+H", text("Triggers/CalendarTrigger/RandomDelay"))
    assert text("Settings/DisallowStartIfOnBatteries") == "true"
    assert text("Settings/StartWhenAvailable") == "true"  # a missed day runs when the machine is back
    assert text("Settings/MultipleInstancesPolicy") == "IgnoreNew"
    assert 7 <= int(text("Settings/Priority")) <= 8  # below normal: the background task levels
    assert text("Settings/ExecutionTimeLimit").startswith("PT")
    command = text("Actions/Exec/Command")
    assert command == '"C:\\Program Files\\scanner\\Scripts\\scanner.exe"'
    arguments = text("Actions/Exec/Arguments")
    assert arguments.startswith('audit --config "C:\\ProgramData\\scanner\\agent.yaml"')
    assert arguments.endswith("--fail-on never")
    # install.ps1 replaces these exact paths when -Prefix or -DataDir differ.
    script = (WINDOWS / "install.ps1").read_text()
    assert "$DefaultPrefix = 'C:\\Program Files\\scanner'" in script
    assert "$DefaultDataDir = 'C:\\ProgramData\\scanner'" in script


def _powershell_parameters(script: str) -> dict[str, str]:
    """The names and types of install.ps1's ``param(...)`` block (no PowerShell here to ask)."""
    block = script[script.index("param(") : script.index("\n)\n", script.index("param("))]
    return {name: kind for kind, name in re.findall(r"^\s*\[([\w\[\]]+)\]\$(\w+)", block, re.MULTILINE)}


def test_windows_installer_writes_policy_key_and_refuses_it_without_a_collector_or_with_a_policy() -> None:
    """Read statically (no PowerShell here): -PolicyKey is a parameter, becomes ``policy_key:`` beside
    ``ca_cert:``, and is refused, before anything is installed, when relative, without -Collector or
    with -Policy."""
    script = (WINDOWS / "install.ps1").read_text()
    parameters = _powershell_parameters(script)
    assert parameters["CaCert"] == parameters["PolicyKey"] == "string"
    assert parameters["Policy"] == "string[]"
    writer = script[script.index("function Write-AgentConfig") : script.index("function Test-AgentConfig")]
    assert 'if ($PolicyKey) { $lines += "policy_key: $(ConvertTo-YamlScalar $PolicyKey)" }' in writer
    assert writer.index("ca_cert:") < writer.index("policy_key:")
    refusals = {
        "-PolicyKey ${PolicyKey}: must be an absolute path": "if (-not [System.IO.Path]::IsPathRooted($PolicyKey))",
        "it needs -Collector URL": "if (-not $Collector)",
        "it cannot be used with -Policy": "if ($Policy)",
    }
    checks = script[script.index("if ($PolicyKey) {\n") : script.index("$work = Join-Path")]
    for message, condition in refusals.items():
        line = next(line for line in checks.splitlines() if message in line)
        assert line.strip().startswith(condition) and "Fail " in line, line
    # The checks come before the first change to the machine (the venv).
    assert script.index("if ($PolicyKey) {\n") < script.index("$base = Find-Python")
    assert "-PolicyKey" in (WINDOWS / "README.md").read_text()


def test_windows_installer_installs_the_accelerator_from_a_wheelhouse_that_has_it_and_falls_back_without_it() -> None:
    """Read statically (no PowerShell here): EXTRAS is read from the wheelhouse, ``scanner[fast]`` is
    tried only then and not with -NoAccelerator, a refusal falls back to scanner alone, and the result
    is said after the install."""
    script = (WINDOWS / "install.ps1").read_text()
    assert _powershell_parameters(script)["NoAccelerator"] == "switch"
    opener = script[script.index("function Open-Wheelhouse") : script.index("function Test-Accelerator")]
    assert "$extrasFile = Join-Path $folder 'EXTRAS'" in opener
    assert "Fast = ($extras -contains 'fast')" in opener
    assert "$fast = $house.Fast -and -not $NoAccelerator" in script
    install = script[script.index("$installed = $false") : script.index("Invoke-Program $Scanner @('--version')")]
    attempt = install[install.index("if ($fast) {") : install.index("if (-not $installed)")]
    assert 'Invoke-HermeticPip $venvPython $links "${Wheel}[fast]"' in attempt
    assert "} catch {" in attempt and "installing scanner without it" in attempt
    assert "if (-not $installed) { Invoke-HermeticPip $venvPython $links $Wheel }" in install
    assert "& $VenvPython -I -c 'import re2'" in script
    assert script.index("if (Test-Accelerator $venvPython)") > script.index("Invoke-Program $Scanner @('--version')")
    assert "-NoAccelerator" in (WINDOWS / "README.md").read_text()


def test_shell_scripts_parse_in_sh_and_bash_and_pass_shellcheck() -> None:
    scripts = sorted(INSTALLERS.rglob("*.sh"))
    assert len(scripts) == 4
    for script in scripts:
        for shell in ("sh", "bash"):
            _ok(_run([shell, "-n", script]))
    shellcheck = shutil.which("shellcheck")
    require("shellcheck", shellcheck)
    assert shellcheck is not None
    # lib/common.sh is checked through the scripts that source it (-x), where its variables are used.
    _ok(_run([shellcheck, "-x", "-s", "sh", *(s for s in scripts if s.parent.name != "lib")], cwd=INSTALLERS))


# --- installers/linux/install.sh ------------------------------------------------------------------


def _install(
    *args: str | Path, script: Path = LINUX / "install.sh", stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return _run(["sh", script, *args], env=_env(), timeout=180, stdin=stdin)


def test_linux_install_stages_venv_config_and_timer_and_uninstall_keeps_only_config_and_state(
    tmp_path: Path, wheelhouse: Path
) -> None:
    destdir = tmp_path / "root"
    (destdir / "etc").mkdir(parents=True)
    (destdir / "etc" / "hostname").write_text("web-01\n")
    before = _tree(destdir)

    installed = _ok(
        _install(
            "--destdir",
            destdir,
            "--wheelhouse",
            wheelhouse,
            "--python",
            sys.executable,
            "--collector",
            COLLECTOR,
            "--token-from",
            "-",
            "--tag",
            "department=finance",
            "--tag",
            "site=HQ north",
            "--exclude",
            "/srv/backups",
            "--path",
            "/home",
            "--scheduler",
            "systemd",
            stdin="secret-token\n",
        )
    )

    version = _ok(_run([destdir / "opt/scanner/bin/scanner", "--version"]))
    assert version.stdout.strip() == f"scanner {__version__}"
    assert _has_re2(destdir / "opt/scanner")  # the wheelhouse had the accelerator
    assert "the text scan's accelerator (google-re2) is active" in installed.stderr
    config = destdir / "etc/scanner/agent.yaml"
    assert yaml.safe_load(config.read_text()) == {
        "submit": COLLECTOR,
        "token_file": "/etc/scanner/token",
        "paths": ["/home"],
        "exclude": ["/srv/backups"],
        "db": "/var/lib/scanner/scanner.db",
        "tags": {"department": "finance", "site": "HQ north"},
    }
    _ok(_run([destdir / "opt/scanner/bin/scanner", "audit", "--config", config, "--help"]))  # the agent accepts it
    token = destdir / "etc/scanner/token"
    assert token.read_text() == "secret-token\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE((destdir / "var/lib/scanner").stat().st_mode) == 0o700
    for unit in (SERVICE, TIMER):  # default paths: the units go in as they are in the repository
        assert (destdir / "etc/systemd/system" / unit.name).read_text() == unit.read_text()
    assert not (destdir / "etc/cron.d").exists()

    done = _ok(_install("--destdir", destdir, "--uninstall"))
    assert "kept /etc/scanner and /var/lib/scanner" in done.stderr
    kept = {"etc/scanner", "etc/scanner/agent.yaml", "etc/scanner/token", "var", "var/lib", "var/lib/scanner"}
    assert _tree(destdir) == before | kept


def test_linux_install_from_a_wheelhouse_without_the_accelerator_works_and_says_so(
    tmp_path: Path, plain_build: subprocess.CompletedProcess[str]
) -> None:
    tarball = Path(plain_build.stdout.strip().splitlines()[-1])
    done = _ok(
        _install(
            "--destdir", tmp_path / "root", "--wheelhouse", tarball, "--python", sys.executable, "--scheduler", "none"
        )
    )
    prefix = tmp_path / "root/opt/scanner"
    assert not _has_re2(prefix)
    assert (
        "accelerator (google-re2) is not installed (the wheelhouse has no wheel of it for this platform)" in done.stderr
    )
    _audit_finds_a_use(prefix / "bin/scanner", tmp_path)  # the pure-Python search


def test_linux_install_no_accelerator_installs_scanner_alone_from_a_wheelhouse_that_has_it(
    tmp_path: Path, wheelhouse: Path
) -> None:
    done = _ok(
        _install(
            "--destdir",
            tmp_path / "root",
            "--wheelhouse",
            wheelhouse,
            "--python",
            sys.executable,
            "--scheduler",
            "none",
            "--no-accelerator",
        )
    )
    assert not _has_re2(tmp_path / "root/opt/scanner")
    assert "accelerator (google-re2) is not installed (--no-accelerator)" in done.stderr


def test_linux_install_falls_back_to_scanner_alone_when_pip_refuses_the_accelerator(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """A wheelhouse whose EXTRAS promises the accelerator, but whose google-re2 wheel this machine
    cannot take (here: gone, SHA256SUMS consistent): scanner is installed without it, and works."""
    _ok(_run(["tar", "-xzf", wheelhouse, "-C", tmp_path]))
    folder = tmp_path / wheelhouse.name.removesuffix(".tar.gz")
    (re2_wheel,) = folder.glob("google_re2-*.whl")
    re2_wheel.unlink()
    sums = folder / "SHA256SUMS"
    sums.write_text("".join(line for line in sums.read_text().splitlines(True) if re2_wheel.name not in line))
    assert (folder / "EXTRAS").read_text() == "fast\n"
    done = _ok(
        _install(
            "--destdir", tmp_path / "root", "--wheelhouse", folder, "--python", sys.executable, "--scheduler", "none"
        )
    )
    prefix = tmp_path / "root/opt/scanner"
    assert "warning: pip could not install the accelerator from the wheelhouse" in done.stderr
    assert "google-re2" in done.stderr  # pip's reason
    assert "installing scanner without it" in done.stderr
    assert not _has_re2(prefix)
    _audit_finds_a_use(prefix / "bin/scanner", tmp_path)


def test_linux_reinstall_keeps_an_edited_config_unless_forced_switches_to_cron_and_purge_restores_the_tree(
    tmp_path: Path, wheelhouse: Path
) -> None:
    destdir = tmp_path / "root"
    destdir.mkdir()
    common = ("--destdir", destdir, "--wheelhouse", wheelhouse, "--python", sys.executable)
    _ok(_install(*common, "--collector", COLLECTOR, "--scheduler", "systemd"))
    config = destdir / "etc/scanner/agent.yaml"
    config.write_text(config.read_text() + "exclude: [/mnt/archive]\n")
    edited = config.read_text()

    done = _ok(_install(*common, "--collector", "https://elsewhere.example.gov", "--scheduler", "cron"))
    assert "keeping the existing /etc/scanner/agent.yaml" in done.stderr
    assert config.read_text() == edited
    assert not (destdir / "etc/systemd/system/scanner-audit.service").exists()
    cron = (destdir / "etc/cron.d/scanner-audit").read_text().splitlines()[-1].split()
    minute, hour = int(cron[0]), int(cron[1])
    assert 0 <= minute < 60 and 0 <= hour < 4
    assert cron[2:6] == ["*", "*", "*", "root"]
    assert "/opt/scanner/bin/scanner" in cron and cron[cron.index("--fail-on") + 1] == "never"
    assert cron[cron.index("nice") + 1 : cron.index("nice") + 3] == ["-n", "19"]  # yields to the machine's users
    assert shutil.which("ionice") is None or cron[cron.index("ionice") + 1 : cron.index("ionice") + 3] == ["-c", "3"]

    _ok(_install(*common, "--collector", "https://elsewhere.example.gov", "--scheduler", "cron", "--force"))
    assert yaml.safe_load(config.read_text())["submit"] == "https://elsewhere.example.gov"

    _ok(_install("--destdir", destdir, "--uninstall", "--purge"))
    assert _tree(destdir) == set()


def test_linux_install_refuses_a_damaged_or_foreign_wheelhouse_and_changes_nothing(
    tmp_path: Path, wheelhouse: Path
) -> None:
    destdir = tmp_path / "root"
    destdir.mkdir()
    _ok(_run(["tar", "-xzf", wheelhouse, "-C", tmp_path]))
    folder = tmp_path / wheelhouse.name.removesuffix(".tar.gz")

    foreign = folder.with_name(re.sub(r"-cp\d+-", "-cp39-", folder.name))
    shutil.copytree(folder, foreign)
    done = _install("--destdir", destdir, "--wheelhouse", foreign, "--python", sys.executable)
    assert done.returncode == 2 and "is for cp39" in done.stderr

    typer_wheel = next(folder.glob("typer-*.whl"))
    typer_wheel.write_bytes(typer_wheel.read_bytes()[:-10])
    done = _install("--destdir", destdir, "--wheelhouse", folder, "--python", sys.executable)
    assert done.returncode == 2 and "damaged" in done.stderr and typer_wheel.name in done.stderr
    assert _tree(destdir) == set()


def test_linux_install_creates_a_staging_root_that_does_not_exist_yet(tmp_path: Path, wheelhouse: Path) -> None:
    destdir = tmp_path / "new" / "stage"
    _ok(_install("--destdir", destdir, "--wheelhouse", wheelhouse, "--python", sys.executable, "--scheduler", "none"))
    assert (destdir / "opt/scanner/bin/scanner").exists()


def test_linux_install_writes_policy_key_with_the_collector_and_the_agent_accepts_it(
    tmp_path: Path, wheelhouse: Path
) -> None:
    destdir = tmp_path / "root"
    common = ("--destdir", destdir, "--wheelhouse", wheelhouse, "--python", sys.executable, "--scheduler", "none")
    done = _ok(
        _install(
            *common, "--collector", COLLECTOR, "--ca-cert", "/etc/pki/ca.pem", "--policy-key", "/etc/scanner/policy.pub"
        )
    )
    config = destdir / "etc/scanner/agent.yaml"
    assert yaml.safe_load(config.read_text()) == {
        "submit": COLLECTOR,
        "token_file": "/etc/scanner/token",
        "ca_cert": "/etc/pki/ca.pem",
        "policy_key": "/etc/scanner/policy.pub",
        "db": "/var/lib/scanner/scanner.db",
    }
    _ok(_run([destdir / "opt/scanner/bin/scanner", "audit", "--config", config, "--help"]))  # the agent accepts it
    # The key is not copied (like --ca-cert): the installer says when it is not there yet.
    assert "put the collector's policy public key" in done.stderr and "/etc/scanner/policy.pub" in done.stderr
    assert not (destdir / "etc/scanner/policy.pub").exists()

    # A real key already in place: no warning.
    key = destdir / "etc/scanner/policy.pub"
    _ok(_run([destdir / "opt/scanner/bin/scanner", "policy", "keygen", "--out", tmp_path / "policy.key"]))
    shutil.copy(tmp_path / "policy.key.pub", key)
    done = _ok(_install(*common, "--collector", COLLECTOR, "--policy-key=/etc/scanner/policy.pub", "--force"))
    assert "policy public key" not in done.stderr
    assert yaml.safe_load(config.read_text())["policy_key"] == "/etc/scanner/policy.pub"


@pytest.mark.parametrize("script", [LINUX / "install.sh", MACOS / "install.sh"], ids=["linux", "macos"])
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--policy-key", "/etc/scanner/policy.pub"],
            "--policy-key verifies the signed policy bundle of the --collector: it needs --collector URL",
        ),
        (
            ["--policy", "default", "--collector", COLLECTOR, "--policy-key", "/etc/scanner/policy.pub"],
            "--policy-key judges by the collector's signed policy bundle: it cannot be used with --policy",
        ),
        (["--collector", COLLECTOR, "--policy-key", "policy.pub"], "--policy-key policy.pub: must be an absolute path"),
        (
            ["--collector", COLLECTOR, "--policy-key", "/etc/scanner/policy key.pub"],
            "--policy-key /etc/scanner/policy key.pub: only letters, digits",
        ),
    ],
    ids=["without-collector", "with-policy", "relative", "space"],
)
def test_installers_refuse_policy_key_without_a_collector_or_with_a_policy_before_changing_anything(
    tmp_path: Path, script: Path, options: list[str], message: str
) -> None:
    """The usage errors come before anything is installed, so a wheel that is only a file will do."""
    destdir = tmp_path / "root"
    wheel = tmp_path / "scanner-0-py3-none-any.whl"
    wheel.write_bytes(b"")
    done = _install("--destdir", destdir, "--wheel", wheel, "--python", sys.executable, *options, script=script)
    assert done.returncode == 2, done.stderr
    assert f"install.sh: error: {message}" in done.stderr
    assert _tree(destdir) == set()


def test_linux_installer_never_removes_a_prefix_it_did_not_install(tmp_path: Path, wheelhouse: Path) -> None:
    destdir = tmp_path / "root"
    precious = destdir / "opt/scanner/precious.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("someone else's\n")
    done = _install("--destdir", destdir, "--wheelhouse", wheelhouse, "--python", sys.executable)
    assert done.returncode == 2 and "is not a scanner installation" in done.stderr
    _ok(_install("--destdir", destdir, "--uninstall", "--purge"))
    assert precious.read_text() == "someone else's\n"


def test_linux_install_with_every_path_overridden_gives_units_that_verify_and_an_agent_that_audits(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """No --destdir: real paths, all under tmp_path. systemctl is never called for a unit directory
    systemd does not read, so this is safe on a machine where systemd runs."""
    scanned = tmp_path / "home"
    (scanned / "alice").mkdir(parents=True)
    (scanned / "alice" / "notes.txt").write_text("nothing to see\n")
    paths = {
        "--prefix": tmp_path / "venv",
        "--config-dir": tmp_path / "etc-scanner",
        "--state-dir": tmp_path / "state-scanner",
        "--unit-dir": tmp_path / "units",
        "--cron-dir": tmp_path / "cron.d",
    }
    options = [str(part) for pair in paths.items() for part in pair]
    _ok(
        _install(
            *options,
            "--wheelhouse",
            wheelhouse,
            "--python",
            sys.executable,
            "--path",
            str(scanned),
            "--tag",
            "department=finance",
            "--scheduler",
            "systemd",
            "--no-start",
        )
    )
    service = paths["--unit-dir"] / SERVICE.name
    unit = _unit(service)["Service"]
    assert unit["ReadWritePaths"] == [str(paths["--state-dir"])]
    assert "StateDirectory" not in unit  # only for folders under /var/lib; install.sh made it
    assert (paths["--state-dir"] / "tmp").is_dir()
    if SYSTEMD_ANALYZE:
        done = _run([SYSTEMD_ANALYZE, "verify", "--man=no", service, paths["--unit-dir"] / TIMER.name])
        assert done.returncode == 0, done.stdout + done.stderr

    # What the timer would run, as it would run it (minus the sandbox).
    command = shlex.split(unit["ExecStart"][0])
    environment = dict(variable.split("=", 1) for variable in unit["Environment"][0].split())
    _ok(_run(command, env=_env(**environment), timeout=120))
    report = json.loads((paths["--state-dir"] / "last-report.json").read_text())
    assert report["scan"]["roots"] == [str(scanned)]
    assert report["agent"]["tags"] == {"department": "finance"}
    assert (paths["--state-dir"] / "scanner.db").is_file()

    _ok(_install(*options, "--uninstall", "--purge"))
    assert not paths["--prefix"].exists() and not service.exists()
    assert not paths["--config-dir"].exists() and not paths["--state-dir"].exists()


# --- installers/macos/install.sh (its logic runs anywhere in a staging root) ---------------------


def test_macos_install_stages_the_launch_daemon_offline_from_a_wheel_and_uninstall_removes_it(
    tmp_path: Path, scanner_wheel: Path, dependency_wheels: Path
) -> None:
    destdir = tmp_path / "root"
    destdir.mkdir()
    script = MACOS / "install.sh"
    installed = _ok(
        _install(
            "--destdir",
            destdir,
            "--wheel",
            scanner_wheel,
            "--find-links",
            dependency_wheels,
            "--python",
            sys.executable,
            "--tag",
            "department=finance",
            script=script,
        )
    )
    assert _ok(_run([destdir / "opt/scanner/bin/scanner", "--version"])).stdout.strip() == f"scanner {__version__}"
    # --wheel installs scanner alone, as before, even with google-re2 among the --find-links wheels.
    assert not _has_re2(destdir / "opt/scanner")
    assert "accelerator (google-re2) is not installed (--wheel installs scanner alone" in installed.stderr
    daemon = plistlib.loads((destdir / "Library/LaunchDaemons/gov.scanner.audit.plist").read_bytes())
    template = plistlib.loads(PLIST.read_bytes())
    assert daemon["ProgramArguments"] == template["ProgramArguments"]
    assert 0 <= daemon["StartCalendarInterval"]["Hour"] < 4 and 0 <= daemon["StartCalendarInterval"]["Minute"] < 60
    assert yaml.safe_load((destdir / "etc/scanner/agent.yaml").read_text())["tags"] == {"department": "finance"}

    _ok(_install("--destdir", destdir, "--uninstall", "--purge", script=script))
    assert _tree(destdir) == set()


# --- installers/ansible ------------------------------------------------------------------------------


@pytest.fixture()
def ansible_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Ansible kept to tmp_path: no ~/.ansible, no ansible.cfg from the machine."""
    require("ansible-playbook (pip install ansible-core)", ANSIBLE_PLAYBOOK)
    home = tmp_path / "ansible-home"
    home.mkdir()
    config = home / "ansible.cfg"
    config.write_text("[defaults]\n")
    yield _env(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )


def _playbook(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    assert ANSIBLE_PLAYBOOK is not None
    return _run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", ANSIBLE / "playbook.yml", *args], env=env, timeout=240
    )


def _role_variables(tmp_path: Path, destdir: Path, **variables: object) -> Path:
    """The role's variables for a run as this user into ``destdir`` (a staging root), in a file for ``-e @``."""
    given = tmp_path / "vars.json"
    staging = {
        "ansible_python_interpreter": sys.executable,
        "scanner_become": False,
        "scanner_destdir": str(destdir),
        "scanner_python": sys.executable,
    }
    given.write_text(json.dumps({**staging, **variables}))
    return given


def test_ansible_playbook_passes_syntax_check(ansible_env: dict[str, str]) -> None:
    _ok(_playbook(ansible_env, "--syntax-check"))


def test_ansible_role_removes_exactly_the_fast_extras_packages_when_opted_out() -> None:
    role = ANSIBLE / "roles/scanner_agent"
    assert yaml.safe_load((role / "defaults/main.yml").read_text())["scanner_accelerator"] is True
    requirements = [Requirement(line) for line in metadata.distribution("scanner").requires or []]
    fast = [
        r.name
        for r in requirements
        if r.marker is not None and r.marker.evaluate({"extra": "fast"}) and not r.marker.evaluate({"extra": ""})
    ]
    assert fast == ["google-re2"]
    assert yaml.safe_load((role / "vars/main.yml").read_text())["__scanner_accelerator_packages"] == fast
    assert "`scanner_accelerator`" in (ANSIBLE / "README.md").read_text()


def _render_agent_yaml(**variables: object) -> object:
    """The role's agent.yaml template rendered with its defaults and ``variables`` (Ansible's
    ``to_json`` filter is ``json.dumps``), read back as YAML."""
    jinja2 = pytest.importorskip("jinja2")  # ansible-core's own dependency
    role = ANSIBLE / "roles/scanner_agent"
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text())
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters["to_json"] = json.dumps
    template = environment.from_string((role / "templates/agent.yaml.j2").read_text())
    values = {**defaults, "scanner_token_file": "/etc/scanner/token", **variables}
    return yaml.safe_load(template.render(**values))


def test_ansible_role_writes_policy_key_only_when_set() -> None:
    assert yaml.safe_load((ANSIBLE / "roles/scanner_agent/defaults/main.yml").read_text())["scanner_policy_key"] == ""
    assert _render_agent_yaml(scanner_collector_url=COLLECTOR) == {
        "submit": COLLECTOR,
        "token_file": "/etc/scanner/token",
        "db": "/var/lib/scanner/scanner.db",
    }
    assert _render_agent_yaml(
        scanner_collector_url=COLLECTOR, scanner_ca_cert="/etc/pki/ca.pem", scanner_policy_key="/etc/scanner/policy.pub"
    ) == {
        "submit": COLLECTOR,
        "token_file": "/etc/scanner/token",
        "ca_cert": "/etc/pki/ca.pem",
        "policy_key": "/etc/scanner/policy.pub",
        "db": "/var/lib/scanner/scanner.db",
    }
    assert "`scanner_policy_key`" in (ANSIBLE / "README.md").read_text()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"scanner_policy_key": "/etc/scanner/policy.pub"}, "it needs scanner_collector_url"),
        (
            {
                "scanner_policy_key": "/etc/scanner/policy.pub",
                "scanner_collector_url": COLLECTOR,
                "scanner_policies": ["default"],
            },
            "it cannot be used with scanner_policies",
        ),
        (
            {"scanner_policy_key": "policy.pub", "scanner_collector_url": COLLECTOR},
            "must be an absolute path on the host",
        ),
    ],
    ids=["without-collector", "with-policies", "relative"],
)
def test_ansible_role_refuses_policy_key_without_a_collector_or_with_policies_before_changing_anything(
    tmp_path: Path, ansible_env: dict[str, str], variables: dict[str, object], message: str
) -> None:
    destdir = tmp_path / "root"
    given = _role_variables(tmp_path, destdir, scanner_wheel=str(tmp_path / "scanner-0-py3-none-any.whl"), **variables)
    done = _playbook(ansible_env, "-e", f"@{given}")
    assert done.returncode != 0
    assert message in done.stdout, done.stdout[-3000:]
    assert not destdir.exists()


def test_ansible_role_installs_into_a_staging_root_idempotently_and_removes_what_it_added(
    tmp_path: Path, ansible_env: dict[str, str], wheelhouse: Path
) -> None:
    destdir = tmp_path / "root"
    variables = _role_variables(
        tmp_path,
        destdir,
        scanner_wheelhouse=str(wheelhouse),
        scanner_collector_url=COLLECTOR,
        scanner_token="token-from-the-vault",
        scanner_policy_key="/etc/scanner/policy.pub",
        scanner_tags={"department": "finance"},
        scanner_excludes=["/srv/backups"],
        scanner_scheduler="systemd",
    )
    _ok(_playbook(ansible_env, "-e", f"@{variables}"))

    assert _ok(_run([destdir / "opt/scanner/bin/scanner", "--version"])).stdout.strip() == f"scanner {__version__}"
    assert _has_re2(destdir / "opt/scanner")  # the wheelhouse had the accelerator
    # Written through the template's validate: `scanner audit --config FILE --help` accepted it.
    assert yaml.safe_load((destdir / "etc/scanner/agent.yaml").read_text()) == {
        "submit": COLLECTOR,
        "token_file": "/etc/scanner/token",
        "policy_key": "/etc/scanner/policy.pub",
        "exclude": ["/srv/backups"],
        "db": "/var/lib/scanner/scanner.db",
        "tags": {"department": "finance"},
    }
    token = destdir / "etc/scanner/token"
    assert token.read_text() == "token-from-the-vault\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    for unit in (SERVICE, TIMER):  # the very units install.sh installs
        assert (destdir / "etc/systemd/system" / unit.name).read_text() == unit.read_text()

    again = _ok(_playbook(ansible_env, "-e", f"@{variables}"))
    assert re.search(r"localhost\s+:\s+ok=\d+\s+changed=0\s", again.stdout), again.stdout[-2000:]
    assert "the text scan's accelerator (google-re2) is active" in again.stdout

    # Opting out removes it from the venv the role keeps; scanner still runs.
    without = _ok(_playbook(ansible_env, "-e", f"@{variables}", "-e", "scanner_accelerator=false"))
    assert "accelerator (google-re2) is not installed" in without.stdout
    assert not _has_re2(destdir / "opt/scanner")
    _ok(_run([destdir / "opt/scanner/bin/scanner", "--version"]))

    _ok(_playbook(ansible_env, "-e", f"@{variables}", "-e", "scanner_state=absent"))
    assert not (destdir / "opt/scanner").exists()
    assert not (destdir / "etc/systemd/system/scanner-audit.service").exists()
    assert not (destdir / "var/lib/scanner/installer").exists()
    assert token.exists()  # configuration and state stay without scanner_purge
