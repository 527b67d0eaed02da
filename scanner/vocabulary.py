"""The project's words, defined once: severities, confidences, rule ids, record kinds, sources, stores
and the states of fleet hosts.

Every table keyed by one of these enums (wording, SARIF levels, CycloneDX ratings, colours) is typed
by the enum and tested to be exhaustive, so a new member fails a test rather than a scan. Members are
strings (``Severity.VIOLATION == "violation"``), so the JSON report and the store keep their plain
values; ``str()`` and f-strings give the value on every Python version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Word(str, Enum):
    """A member that is its value wherever it is written (``str``, ``format``, JSON)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class _Ranked(Word):
    """A word with an order of its own (``info < warning < violation``), not the alphabet's; members are
    declared highest first, as messages list them."""

    @property
    def rank(self) -> int:
        members = list(type(self))
        return len(members) - 1 - members.index(self)

    def __lt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.rank >= other.rank


class Severity(_Ranked):
    """How much a finding matters. Only violations make a machine not compliant."""

    VIOLATION = "violation"
    WARNING = "warning"
    INFO = "info"


class Confidence(_Ranked):
    """How sure a finding is: an explicit fact, a fingerprint, a name alone."""

    CONFIRMED = "confirmed"
    STRONG = "strong"
    WEAK = "weak"


class RuleId(Word):
    """Every rule a finding can carry. An id is stable and never reused; ``policies/README.md`` documents each."""

    PACKAGE_LISTED = "package-listed"
    PACKAGE_PUBLISHER = "package-publisher"
    PACKAGE_NAME_PATTERN = "package-name-pattern"
    PACKAGE_DESCRIBED = "package-described"
    PACKAGE_DEPENDS = "package-depends"
    PACKAGE_NOT_ALLOWED = "package-not-allowed"
    MODEL_DIGEST = "model-digest"
    MODEL_LINEAGE = "model-lineage"
    MODEL_PUBLISHER = "model-publisher"
    MODEL_FINGERPRINT = "model-fingerprint"
    MODEL_NAME_PATTERN = "model-name-pattern"
    MODEL_NOT_ALLOWED = "model-not-allowed"
    ENDPOINT_HOST = "endpoint-host"
    ENDPOINT_PROVIDER = "endpoint-provider"
    ENDPOINT_MODEL = "endpoint-model"
    ENDPOINT_VARIABLE = "endpoint-variable"
    ENDPOINT_SDK = "endpoint-sdk"
    ENDPOINT_CONTACTED = "endpoint-contacted"
    ENDPOINT_CONNECTION = "endpoint-connection"
    ENDPOINT_NOT_ALLOWED = "endpoint-not-allowed"
    WAIVER_EXPIRED = "waiver-expired"
    WAIVER_STALE = "waiver-stale"


@dataclass(frozen=True)
class Rule:
    id: RuleId
    title: str
    confidence: Confidence
    """The confidence findings of this rule carry."""


def _rules(*rows: tuple[RuleId, str, Confidence]) -> dict[RuleId, Rule]:
    return {rule_id: Rule(rule_id, title, confidence) for rule_id, title, confidence in rows}


RULES: dict[RuleId, Rule] = _rules(
    (RuleId.PACKAGE_LISTED, "Package listed under a provider", Confidence.CONFIRMED),
    (RuleId.PACKAGE_PUBLISHER, "Package published by a provider", Confidence.STRONG),
    (RuleId.PACKAGE_NAME_PATTERN, "Package name suggests a provider", Confidence.WEAK),
    (RuleId.PACKAGE_DESCRIBED, "Package describes itself as a provider's AI client", Confidence.WEAK),
    (RuleId.PACKAGE_DEPENDS, "Package depends on a provider's package", Confidence.WEAK),
    (RuleId.PACKAGE_NOT_ALLOWED, "AI package not on the allow-list", Confidence.CONFIRMED),
    (RuleId.MODEL_DIGEST, "Model file with a published digest", Confidence.CONFIRMED),
    (RuleId.MODEL_LINEAGE, "Model of a known lineage", Confidence.CONFIRMED),
    (RuleId.MODEL_PUBLISHER, "Model published by a provider", Confidence.CONFIRMED),
    (RuleId.MODEL_FINGERPRINT, "Model carries a provider's fingerprint", Confidence.STRONG),
    (RuleId.MODEL_NAME_PATTERN, "Model name suggests a provider", Confidence.WEAK),
    (RuleId.MODEL_NOT_ALLOWED, "Model not on the allow-list", Confidence.CONFIRMED),
    (RuleId.ENDPOINT_HOST, "AI endpoint on a provider's host", Confidence.CONFIRMED),
    (RuleId.ENDPOINT_PROVIDER, "AI tool set to a provider", Confidence.CONFIRMED),
    (RuleId.ENDPOINT_MODEL, "AI client set to a provider's model", Confidence.STRONG),
    (RuleId.ENDPOINT_VARIABLE, "A provider's variable is set", Confidence.STRONG),
    (RuleId.ENDPOINT_SDK, "Code uses a provider's SDK", Confidence.STRONG),
    (RuleId.ENDPOINT_CONTACTED, "A provider's host was contacted", Confidence.CONFIRMED),
    (RuleId.ENDPOINT_CONNECTION, "A live connection to an address of a provider's host", Confidence.STRONG),
    (RuleId.ENDPOINT_NOT_ALLOWED, "AI endpoint of a provider not on the allow-list", Confidence.CONFIRMED),
    (RuleId.WAIVER_EXPIRED, "A waiver has expired and no longer waives", Confidence.CONFIRMED),
    (RuleId.WAIVER_STALE, "A waiver matches nothing", Confidence.CONFIRMED),
)


class RecordKind(Word):
    """What a record, and so a finding, is about."""

    PACKAGE = "package"
    MODEL = "model"
    ENDPOINT = "endpoint"
    WAIVER = "waiver"
    """Only findings about the waivers themselves (``waiver-expired``, ``waiver-stale``); no record has it."""


INVENTORY_KINDS: tuple[RecordKind, ...] = (RecordKind.PACKAGE, RecordKind.MODEL, RecordKind.ENDPOINT)
"""The kinds an inventory record can have, in the order reports list them."""


class ModelStore(Word):
    """Where a model was found: a tool's store, a plain folder or file, or only named (``reference``)."""

    HF_CACHE = "hf-cache"
    OLLAMA = "ollama"
    LMSTUDIO = "lmstudio"
    MODELSCOPE = "modelscope"
    DIRECTORY = "directory"
    FILE = "file"
    REFERENCE = "reference"
    NAMED = "named"
    """Named in a file of code or configuration (a training recipe's dataset, a served model), not found."""


STORE_WORDS: dict[ModelStore, str] = {
    ModelStore.HF_CACHE: "in a Hugging Face cache",
    ModelStore.OLLAMA: "in an Ollama store",
    ModelStore.LMSTUDIO: "in LM Studio's models",
    ModelStore.MODELSCOPE: "in a ModelScope cache",
    ModelStore.DIRECTORY: "as a model folder",
    ModelStore.FILE: "as a model file",
    ModelStore.REFERENCE: "only as a name given to the scanner",
    ModelStore.NAMED: "as a name in a file of code or configuration",
}
"""How a finding says where a model is."""


class EndpointSource(Word):
    """Where an endpoint setting (or a contact with a host) was seen."""

    ENVIRONMENT = "environment"
    PROCESS = "process"
    DOTENV = "dotenv"
    SHELL_PROFILE = "shell-profile"
    SYSTEMD_UNIT = "systemd-unit"
    POWERSHELL_PROFILE = "powershell-profile"
    BATCH_FILE = "batch-file"
    LAUNCHD_JOB = "launchd-job"
    REGISTRY = "registry"
    BROWSER_HISTORY = "browser-history"
    SHELL_HISTORY = "shell-history"
    TOOL_CONFIG = "tool-config"
    SOURCE_CODE = "source-code"
    CONFIG_FILE = "config-file"
    NOTEBOOK = "notebook"
    HOSTS_FILE = "hosts-file"
    DNS_LOG = "dns-log"
    PROXY_LOG = "proxy-log"
    CONNECTION = "connection"


SOURCE_WORDS: dict[EndpointSource, str] = {
    EndpointSource.ENVIRONMENT: "the scanner's own environment",
    EndpointSource.PROCESS: "a running process's environment",
    EndpointSource.DOTENV: "a .env file",
    EndpointSource.SHELL_PROFILE: "a shell start-up file",
    EndpointSource.SYSTEMD_UNIT: "a systemd unit",
    EndpointSource.POWERSHELL_PROFILE: "a PowerShell profile",
    EndpointSource.BATCH_FILE: "a batch file",
    EndpointSource.LAUNCHD_JOB: "a launchd job",
    EndpointSource.REGISTRY: "the Windows registry",
    EndpointSource.BROWSER_HISTORY: "a browser's history",
    EndpointSource.SHELL_HISTORY: "a shell's history",
    EndpointSource.TOOL_CONFIG: "an AI tool's settings",
    EndpointSource.SOURCE_CODE: "source code",
    EndpointSource.CONFIG_FILE: "a configuration file",
    EndpointSource.NOTEBOOK: "a notebook",
    EndpointSource.HOSTS_FILE: "the hosts file",
    EndpointSource.DNS_LOG: "a DNS log",
    EndpointSource.PROXY_LOG: "a proxy log",
    EndpointSource.CONNECTION: "a live connection",
}
"""How a finding says where an endpoint setting was seen."""


class SkipKind(Word):
    """Why part of the scope was not (fully) seen. See ``chosen`` for which ones leave a scan complete."""

    UNREADABLE = "unreadable"
    ERROR = "error"
    UNSUPPORTED = "unsupported"
    EXCLUDED = "excluded"
    FILESYSTEM = "filesystem"
    DUPLICATE_MOUNT = "duplicate-mount"
    PARTIAL = "partial"
    """A text file read only up to the size cap we set for its kind (a 40 MB "source file" is data, not code),
    where what was not read names no provider or the part read already holds its use."""
    SPECIAL = "special-file"
    """A FIFO, socket, device or link to nothing where the text scan met it, or a file not read through (one of a
    pseudo filesystem, a user's link to what that user may not read, a weight's link when hashing): never read,
    and nothing there is the user's to use."""

    @property
    def chosen(self) -> bool:
        """We chose not to look (an exclusion, a skipped filesystem...), as opposed to could not look."""
        return self in _CHOSEN


_CHOSEN = frozenset(
    {SkipKind.EXCLUDED, SkipKind.FILESYSTEM, SkipKind.DUPLICATE_MOUNT, SkipKind.PARTIAL, SkipKind.SPECIAL}
)


class HostState(Word):
    """Where a fleet host stands, judged from its latest report; declared in the order the fleet views list
    them. A host with no recent report is ``stale``, never compliant: a silent host is not a compliant host."""

    COMPLIANT = "compliant"
    NOT_COMPLIANT = "not-compliant"
    INCOMPLETE = "incomplete"
    STALE = "stale"


class UserRole(Word):
    """What a person signed in to the collector's dashboard may do: a ``viewer`` reads every page and the
    read API; an ``admin`` may also act (revoke a host's agent token, remove a user)."""

    VIEWER = "viewer"
    ADMIN = "admin"
