"""What to do next: for each open violation and warning, what a person does about it, in plain words.

An official hands the page to whoever runs the machine, so every step names the thing and the place:
which package to remove from which environment (with the command that does it), which model folder or
file to delete, which key to revoke and where it is set, which setting or line of code to change.
What a step says is read from the report alone — the finding and the inventory record it is about —
so a stored scan gives the same steps. Each kind of place has a row in one table below (tested
exhaustive), and every name and path in a command is quoted for a POSIX shell: a folder named
``$(rm -rf ~)`` is printed as a harmless argument, never as something a shell would run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

from scanner.ecosystems import ENVIRONMENT_WORDS, Ecosystem, EnvironmentKind
from scanner.report import Report, location_text
from scanner.vocabulary import EndpointSource, ModelStore, RecordKind, RuleId, Severity

Finding = dict[str, Any]
STEPS_SHOWN = 8
"""Steps listed per kind of action; the rest are counted (the findings below list every place)."""
ACTING_ON = (Severity.VIOLATION, Severity.WARNING)
"""Information is for review; violations and warnings call for a change."""


class Action(Enum):
    """The kinds of step, in the order the page gives them, with their headings."""

    REMOVE_PACKAGE = "Packages to remove"
    DELETE_MODEL = "Models to delete"
    REVOKE_KEY = "Keys to revoke"
    CHANGE_SETTING = "Endpoint settings and code to change"
    FIX_WAIVER = "Waivers to renew or remove"


@dataclass(frozen=True)
class Step:
    text: str
    """What to do, as one plain sentence."""
    command: str = ""
    """A command that does it, when one does (arguments quoted for a POSIX shell)."""


@dataclass(frozen=True)
class Task:
    action: Action
    steps: tuple[Step, ...]
    """The first ``STEPS_SHOWN`` steps."""
    more: int
    """Steps not shown."""


# ---------------------------------------------------------------------------------------------
# One row per kind of place: how to remove a package, delete a model, change a setting there.

_PIP = "{prefix}/bin/python -m pip uninstall {names}"
REMOVE_COMMANDS: dict[EnvironmentKind, str] = {
    EnvironmentKind.VENV: _PIP,
    EnvironmentKind.PIPX: "pipx runpip {env} uninstall {names}",
    EnvironmentKind.CONDA: _PIP,
    EnvironmentKind.USER_SITE: "python{python} -m pip uninstall {names}",
    EnvironmentKind.PYENV: _PIP,
    EnvironmentKind.SYSTEM: "{prefix}/bin/python{python} -m pip uninstall {names}",
    EnvironmentKind.UNKNOWN: _PIP,
    EnvironmentKind.NODE_PROJECT: "cd {prefix} && npm uninstall {names}",
    EnvironmentKind.NODE_GLOBAL: "npm uninstall --global --prefix {prefix} {names}",
    EnvironmentKind.NPX_CACHE: "rm -rf {prefix}",
    EnvironmentKind.MANIFEST: "cd {prefix} && grep -n -F -f <(printf '%s\\n' {names}) pom.xml build.gradle build.gradle.kts",
    EnvironmentKind.MACOS_APPS: "cd {prefix} && grep -l -a -F -f <(printf '%s\\n' {names}) */Contents/Info.plist",
    EnvironmentKind.DESKTOP_ENTRIES: "cd {prefix} && grep -l -F -f <(printf '%s\\n' {names}) *.desktop",
    EnvironmentKind.SNAP: "sudo snap remove {names}",
    EnvironmentKind.FLATPAK: "flatpak uninstall {names}",
    EnvironmentKind.WINDOWS_START_MENU: "",
    EnvironmentKind.WINDOWS_PROGRAMS: "",
    EnvironmentKind.EDITOR_EXTENSIONS: "code --uninstall-extension {names}",
    EnvironmentKind.BROWSER_PROFILE: "",
}
"""How packages leave an environment of each kind (``{names}``: the packages, ``{env}``: the folder's name)."""
REMOVE_NOTES: dict[EnvironmentKind, str] = {
    EnvironmentKind.VENV: "",
    EnvironmentKind.PIPX: " (or pipx uninstall the whole application)",
    EnvironmentKind.CONDA: "",
    EnvironmentKind.USER_SITE: ", as the user whose home it is in",
    EnvironmentKind.PYENV: "",
    EnvironmentKind.SYSTEM: ", as root (or with the system's package manager, if it installed them)",
    EnvironmentKind.UNKNOWN: "",
    EnvironmentKind.NODE_PROJECT: " (and from its package.json, where listed)",
    EnvironmentKind.NODE_GLOBAL: "",
    EnvironmentKind.NPX_CACHE: ": it is a cache, npx fetches it again only if someone runs it",
    EnvironmentKind.MANIFEST: ": delete each dependency from the project's pom.xml or build.gradle (the lines the "
    "command shows), then rebuild and redeploy the application",
    EnvironmentKind.MACOS_APPS: ": the command lists the bundles; move each to the Trash, as the user who installed it",
    EnvironmentKind.DESKTOP_ENTRIES: ": the command lists the launchers; uninstall the package that installed each "
    "(apt, dnf) or the program its Exec line runs",
    EnvironmentKind.SNAP: "",
    EnvironmentKind.FLATPAK: " (with --user for a flatpak installed in a home)",
    EnvironmentKind.WINDOWS_START_MENU: ": uninstall each in Settings, Apps, Installed apps (or winget uninstall)",
    EnvironmentKind.WINDOWS_PROGRAMS: ": uninstall each in Settings, Apps, Installed apps (or winget uninstall)",
    EnvironmentKind.EDITOR_EXTENSIONS: " (one extension at a time; cursor, codium or windsurf for their own folders)",
    EnvironmentKind.BROWSER_PROFILE: ": remove each in the browser's extensions page (chrome://extensions, "
    "about:addons), and block it by the browser's policy",
}
"""What a step adds after naming the environment."""
ECOSYSTEM_COMMANDS: dict[Ecosystem, str | None] = {
    Ecosystem.PYPI: None,
    Ecosystem.CONDA: "conda remove --prefix {prefix} {names}",
    Ecosystem.NPM: None,
    Ecosystem.MAVEN: None,
    Ecosystem.GO: None,
    Ecosystem.CARGO: None,
    Ecosystem.APP: None,
    Ecosystem.VSCODE: None,
    Ecosystem.CHROME: None,
    Ecosystem.FIREFOX: None,
}
"""An ecosystem with a remover of its own (a conda package is removed by conda); ``None``: the environment's."""

MODEL_STEPS: dict[ModelStore, tuple[str, str]] = {
    ModelStore.HF_CACHE: ("Delete {name} from the Hugging Face cache: the folder {path}.", "rm -rf {path}"),
    ModelStore.OLLAMA: (
        "Remove {name} from Ollama (its blobs go with the last model that uses them).",
        "ollama rm {name}",
    ),
    ModelStore.LMSTUDIO: ("Delete {name} from LM Studio's models: {path}.", "rm -rf {path}"),
    ModelStore.MODELSCOPE: ("Delete {name} from the ModelScope cache: the folder {path}.", "rm -rf {path}"),
    ModelStore.DIRECTORY: ("Delete the model folder {path} ({name}).", "rm -rf {path}"),
    ModelStore.FILE: ("Delete the model file {path} ({name}).", "rm {path}"),
    ModelStore.REFERENCE: ("Nothing to delete: {name} was only a name given to the scanner.", ""),
    ModelStore.NAMED: ("Change the code or configuration at {place}, which uses {name}.", ""),
}
"""What to do about a model in each kind of store: a sentence and a command (``""``: none does it)."""

_SETTING = "Change {setting} at {place}: it points to {target}."
SETTING_STEPS: dict[EndpointSource, str] = {
    EndpointSource.ENVIRONMENT: "Unset {setting} ({target}) where it is set for the account that ran the scan "
    "(a shell profile, the service's environment).",
    EndpointSource.PROCESS: "Process {process} runs with {setting} set to {target}: change it where the process is "
    "started (its unit or launcher) and restart it.",
    EndpointSource.DOTENV: _SETTING,
    EndpointSource.SHELL_PROFILE: _SETTING,
    EndpointSource.SYSTEMD_UNIT: _SETTING[:-1] + ", then reload systemd and restart the unit.",
    EndpointSource.POWERSHELL_PROFILE: _SETTING[:-1] + "; new PowerShell sessions read the change.",
    EndpointSource.BATCH_FILE: _SETTING[:-1]
    + "; a value set with setx stays in the registry: remove it there too (System Properties, Environment Variables).",
    EndpointSource.LAUNCHD_JOB: _SETTING[:-1] + ", then unload and load the job again (launchctl bootout, bootstrap).",
    EndpointSource.REGISTRY: "Remove {setting} ({target}) from the environment kept in the registry at {place} "
    "(System Properties, Environment Variables), then sign out and in again.",
    EndpointSource.BROWSER_HISTORY: "Someone visited {target} in the browser profile at {place}: ask its user, "
    "and block {target} at the proxy or resolver.",
    EndpointSource.SHELL_HISTORY: "A command at {place} used {target}: ask its user what it installed or called, "
    "and check this machine for it.",
    EndpointSource.TOOL_CONFIG: "Change {tool}'s settings at {place}, which use {target}.",
    EndpointSource.SOURCE_CODE: "Change the code at {place}, which calls {target}.",
    EndpointSource.CONFIG_FILE: _SETTING,
    EndpointSource.NOTEBOOK: "Change the notebook cell at {place}, which calls {target}.",
    EndpointSource.HOSTS_FILE: "Remove the entry for {target} at {place}.",
    EndpointSource.DNS_LOG: "Find the client that looked up {target} (the DNS log {place} names it) and end that "
    "use; block {target} at the resolver.",
    EndpointSource.PROXY_LOG: "Find the client that reached {target} (the proxy log {place} names it) and end that "
    "use; block {target} at the proxy.",
    EndpointSource.CONNECTION: "Stop process {process}, which is connected to {target}, and find what started it.",
}
"""What to change for an endpoint seen in each kind of place."""

ACTION_OF: dict[RecordKind, Action] = {
    RecordKind.PACKAGE: Action.REMOVE_PACKAGE,
    RecordKind.MODEL: Action.DELETE_MODEL,
    RecordKind.ENDPOINT: Action.CHANGE_SETTING,
    RecordKind.WAIVER: Action.FIX_WAIVER,
}
"""The action a finding of each kind calls for (an endpoint's key is revoked as well)."""
WAIVER_STEPS: dict[RuleId, str] = {
    RuleId.WAIVER_EXPIRED: "Renew waiver {reference} ({place}) with a new expiry date, or remove it and end the "
    "use it allowed.",
    RuleId.WAIVER_STALE: "Remove waiver {reference} ({place}) or correct its criteria: it matches nothing.",
}
"""A step for each rule about a waiver (every ``waiver-*`` rule)."""


# ---------------------------------------------------------------------------------------------


def next_steps(report: Report) -> list[Task]:
    """The steps for the report's open violations and warnings, by kind of action (only kinds with a step)."""
    inventory = {item["id"]: item for item in report["inventory"]}
    found: dict[Action, dict[str, Step]] = {action: {} for action in Action}
    packages: dict[tuple[str, str, str, str], list[str]] = {}
    keys: dict[str, tuple[Finding, list[str]]] = {}
    for finding in report["findings"]:
        if finding["waived"] or finding["severity"] not in ACTING_ON:
            continue
        item = inventory.get(finding["record_id"])
        kind = finding["kind"]
        if kind == RecordKind.WAIVER:
            _add(found[Action.FIX_WAIVER], _waiver_step(finding))
        elif item is None:
            _add(found[ACTION_OF[RecordKind(kind)]], _unknown_step(finding))
        elif kind == RecordKind.PACKAGE:
            attributes = item["attributes"]
            env = attributes["environment"]
            where = (env["path"], env["kind"], env["python"] or "3", attributes["ecosystem"])
            names = packages.setdefault(where, [])
            names += [] if item["name"] in names else [item["name"]]
        elif kind == RecordKind.MODEL:
            _add(found[Action.DELETE_MODEL], _model_step(item))
        else:
            secret = item["attributes"]["secret"]
            if secret:
                places = keys.setdefault(secret["fingerprint"], (finding, []))[1]
                places += [] if location_text(item["location"]) in places else [location_text(item["location"])]
            if not _only_a_key(item):
                _add(found[Action.CHANGE_SETTING], _setting_step(item))
    for where, names in packages.items():
        _add(found[Action.REMOVE_PACKAGE], _package_step(*where, names))
    for finding, places in keys.values():
        _add(found[Action.REVOKE_KEY], _key_step(finding, inventory[finding["record_id"]], places))
    return [
        Task(action, tuple(list(steps.values())[:STEPS_SHOWN]), max(0, len(steps) - STEPS_SHOWN))
        for action, steps in found.items()
        if steps
    ]


def _add(steps: dict[str, Step], step: Step) -> None:
    steps.setdefault(step.text, step)


def _quoted(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def _package_step(prefix: str, kind: str, python: str, ecosystem: str, names: list[str]) -> Step:
    env_kind = EnvironmentKind(kind)
    template = ECOSYSTEM_COMMANDS[Ecosystem(ecosystem)] or REMOVE_COMMANDS[env_kind]
    command = template.format(
        prefix=shlex.quote(prefix),
        names=_quoted(*names),
        env=shlex.quote(PurePosixPath(prefix).name),
        python=python if python.replace(".", "").isdigit() else "3",
    )
    listed = ", ".join(names)
    return Step(f"Remove {listed} from the {ENVIRONMENT_WORDS[env_kind]} {prefix}{REMOVE_NOTES[env_kind]}.", command)


def _model_step(item: dict[str, Any]) -> Step:
    text, command = MODEL_STEPS[ModelStore(item["attributes"]["store"])]
    path, name = item["location"]["path"], item["name"]
    return Step(
        text.format(name=name, path=path, place=location_text(item["location"])),
        command.format(name=shlex.quote(name), path=shlex.quote(path)),
    )


def _only_a_key(item: dict[str, Any]) -> bool:
    """A record that is a key and nothing else (``DEEPSEEK_API_KEY=...``): revoking it is the step."""
    attributes = item["attributes"]
    return bool(attributes["secret"]) and not (attributes["url"] or attributes["host"] or attributes["model"])


def _setting_step(item: dict[str, Any]) -> Step:
    attributes = item["attributes"]
    process = dict(attributes.get("process") or {})
    target = attributes["url"] or attributes["host"] or attributes["model"] or attributes["provider_hint"]
    text = SETTING_STEPS[EndpointSource(attributes["source"])].format(
        setting=attributes["variable"] or item["name"],
        place=location_text(item["location"]),
        target=target or "a banned provider",
        tool=attributes["tool"] or "the tool",
        process=f"{process.get('name', '?')} (pid {process.get('pid', '?')}, user {process.get('user', '?')})",
    )
    return Step(text)


def _key_step(finding: Finding, item: dict[str, Any], places: list[str]) -> Step:
    secret = item["attributes"]["secret"]
    ending = f" ending …{secret['last4']}" if secret.get("last4") else ""
    whose = finding["provider"] or "AI provider"
    return Step(f"Revoke the {whose} key{ending} with the provider, then delete it from {', '.join(places)}.")


def _waiver_step(finding: Finding) -> Step:
    waiver = finding.get("waiver") or {}
    template = WAIVER_STEPS[RuleId(finding["rule_id"])]
    return Step(template.format(reference=waiver.get("reference", "?"), place=location_text(finding["location"])))


def _unknown_step(finding: Finding) -> Step:
    """A finding whose record the report does not hold: say what and where, at least."""
    return Step(f"Remove or change {finding['subject']} at {location_text(finding['location'])}.")
