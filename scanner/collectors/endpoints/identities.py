"""The providers' identities as they are written in any text: one fast pass, then the words around them.

The watch list (built from the policy) gives every identity of every provider: API and web hosts,
variable names, model id patterns (direct, gateway and cloud ids), SDK names and the names tools give
the provider. ``Identities`` compiles them once per scan:

* the **needles**: the literal core of every identity, lower-cased and deduplicated (``deepseek``,
  ``kimi``, ``minimax``...). A file none of them occurs in is done after one C-speed search each;
* the **tokens** of a line that holds a needle: runs of the characters identifiers, ids, paths and
  module names are written with (``deepseek-ai/DeepSeek-R1``, ``us.deepseek.r1-v1:0``,
  ``@ai-sdk/deepseek``, ``process.env.DEEPSEEK_API_KEY``), each tested as a variable, an SDK name, a
  model id, a host, or — only where a setting or a quoted literal holds it alone — a provider name.

It finds what a line names; ``context`` decides whether the line uses it or only mentions it, and the
policy engine decides whether it is banned.
"""

from __future__ import annotations

import importlib
import re
import sys
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

if sys.version_info >= (3, 11):  # the regular expression parser: sre_parse up to 3.10, private (the same) since
    from re import _constants, _parser
else:
    import sre_constants as _constants
    import sre_parse as _parser

from scanner.collectors.interface import WatchList
from scanner.patterns import LazyPattern

_TOKEN = LazyPattern(r"[A-Za-z0-9_@$][A-Za-z0-9_.:/@+~$-]*")
_SEGMENT = LazyPattern(r"[A-Za-z0-9_]+")
LONGEST_TOKEN = 200
"""No model id, package, host or variable is longer; a longer run is data (base64, a digest, a minified
blob), and each test of a token stays cheap."""
_ALNUM_RUN = LazyPattern(r"[A-Za-z0-9]{20,}")
WINDOW = 256
"""What is around a name is read within this many characters either side: a setting's key, a flag, a
quote are near it, and a minified line of megabytes costs no more than a short one."""
_DEFAULTED = LazyPattern(r":[-=+?]")
_VERSIONED = LazyPattern(r"(?<=.)@[^/@]*$")
"""A package named with its version or extras (``@deepseek-ai/dsh@latest``, ``minimax-mcp[cli]``)."""
_FILE_NAME = LazyPattern(
    r"\.(?:py|js|mjs|ts|tsx|jsx|go|rs|java|kt|cs|rb|php|sh|ps1|lua|json|ya?ml|toml|ini|cfg|conf|md|txt|rst|html?|css|"
    r"xml|lock|log|csv|sql|ipynb|rsc|pdf|docx?|pptx?|xlsx?|odt|epub|svg|png|jpe?g|gif|webp|ico|mp[34]|"
    r"tar|gz|tgz|zip|bz2|xz|zst|7z|rar|deb|rpm|appimage|dmg|exe|msi|iso|whl|jar)$"
)
"""A token that names a file of code, configuration, text, a document, an image, an archive or an
installer is a path (``algorithms/minimax/search.py``, ``DeepSeek-V3-Technical-Report.pdf``,
``janus-1.2.4.tar.gz``), not a model id; a weight file (``deepseek-r1-q4.gguf``) is not excluded."""
_IDENTIFIER = LazyPattern(r"[A-Za-z_$][A-Za-z0-9_$]*")
_CAMEL = LazyPattern(r"[a-z][A-Z]")
"""``use_deepseek``, ``deepseekLogo``, ``AI_Client_DeepSeek``: a name in code (a variable, a function, a
class), written with ``_`` or camel case; model ids are written with ``-``, ``.``, ``/`` or ``:``."""
_HIDDEN = LazyPattern(r"/\.[^/]*")
"""A hidden folder in a path (``~/.kimi-code``) is a tool's own folder, not a model."""
_HOST_IN = LazyPattern(r"^(?:[^@/]*@)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::\w*)?(?:/.*)?$")
"""A token that is a host, with user info, a port or a path around it (``@api.deepseek.com:3128/v1``)."""
_CONSTANT = LazyPattern(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
"""``DEEPSEEK_SPECIALS``: a constant's name in code, not a model id (variables are tested before)."""
_SELECTOR_KEY = LazyPattern(
    r"(?:^|[\s{,(\"'])[\"']?[\w.-]*(?:provider|vendor|backend|platform|llm|engine)[\"']?\s*[:=]\s*[\"'`]?$|"
    r"--(?:provider|llm|backend|platform|engine)[= ]\s*[\"']?$",
    re.IGNORECASE,
)
"""What precedes a bare provider name that selects it: ``provider: ``, ``"llm_provider"=``, ``--provider ``."""


@dataclass(frozen=True)
class Named:
    """One identity a line names, and where."""

    kind: str
    """``variable``, ``sdk``, ``package``, ``model``, ``host``, ``provider``, ``section``, ``lineage`` or ``key``."""
    value: str
    column: int
    secret: str | None = None
    """A credential written onto the name (``deepseek:sk-…``): to be fingerprinted, never kept."""


def literal_cores(pattern: str) -> list[str]:
    """Lower-case strings one of which every match of the pattern contains (its literal core, or the
    cores of its alternatives): ``(^|[/.:])(moonshot-v1|kimi[-_. ])`` gives ``moonshot-v1`` and ``kimi``.
    Empty when the pattern has no literal that every match must contain."""
    try:
        parsed = _parser.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError):
        return []
    return _needed(list(parsed.data)) or []


def _needed(items: list[tuple[Any, Any]]) -> list[str] | None:
    """For a parsed sequence, the best set of strings one of which every match contains."""
    candidates: list[list[str]] = []
    run = ""
    for op, value in items:
        if op is _constants.LITERAL:
            run += chr(value).lower()
            continue
        if run:
            candidates.append([run])
            run = ""
        if op is _constants.SUBPATTERN:
            inner = _needed(list(value[-1]))
        elif op is _constants.BRANCH:
            alternatives = [_needed(list(branch)) for branch in value[1]]
            inner = None if any(a is None for a in alternatives) else [n for a in alternatives if a for n in a]
        elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and value[0] >= 1:
            inner = _needed(list(value[2]))
        else:
            inner = None
        if inner:
            candidates.append(inner)
    if run:
        candidates.append([run])
    return max(candidates, key=lambda c: min(map(len, c)), default=None)


class NeedleSearch:
    """Where any of a few lower-case needles occurs in a text, case-insensitively: one pass.

    With ``google-re2`` installed (optional: ``pip install google-re2``) the needles are one automaton
    that reads the text once, about seven times faster than the fallback, which searches the lower-cased
    text once per needle at C speed (``str.find``). Both give the same answers (tested)."""

    def __init__(self, needles: tuple[str, ...], accelerated: bool = True) -> None:
        self.needles = needles
        self._bytes = tuple(n.encode() for n in needles)
        self._re2: Any = _re2_pattern(needles) if accelerated and needles else None
        self._re2_bytes: Any = _re2_pattern(self._bytes) if self._re2 is not None else None

    @property
    def accelerated(self) -> bool:
        return self._re2 is not None

    def occurs(self, data: bytes) -> bool:
        """Whether a file's raw bytes hold a needle: decided before any decoding."""
        if self._re2_bytes is not None:
            return self._re2_bytes.search(data) is not None
        lowered = data.lower()
        return any(needle in lowered for needle in self._bytes)

    def offsets(self, text: str) -> list[int]:
        """The start of every occurrence, in order (overlaps and repeats included once per place)."""
        if self._re2 is not None:
            return [match.start() for match in self._re2.finditer(text)]
        lowered = text.lower()
        if len(lowered) != len(text):  # "İ" lowers to two characters: offsets would drift
            lowered = text.translate(_ASCII_LOWER)
        found: set[int] = set()
        for needle in self.needles:
            at = lowered.find(needle)
            while at >= 0:
                found.add(at)
                at = lowered.find(needle, at + 1)
        return sorted(found)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _re2_pattern(needles: tuple[str, ...] | tuple[bytes, ...]) -> Any:
    try:
        re2 = importlib.import_module("re2")  # the optional accelerator (the "fast" extra)
    except ImportError:
        return None
    options = re2.Options()
    options.case_sensitive = False
    if needles and isinstance(needles[0], bytes):
        return re2.compile(b"|".join(re.escape(n) for n in needles if isinstance(n, bytes)), options)
    return re2.compile("|".join(re.escape(n) for n in needles if isinstance(n, str)), options)


class Identities:
    """The watch list compiled for text: needles for the prefilter, and the tests of each token."""

    def __init__(self, watch: WatchList) -> None:
        self.watch = watch
        self._models = (
            re.compile("|".join(f"(?:{p})" for p in watch.model_patterns), re.IGNORECASE)
            if watch.model_patterns
            else None
        )
        self._sdk = (
            re.compile(
                r"(?<![a-z0-9])(?:"
                + "|".join(sorted(map(re.escape, watch.sdk_names), key=len, reverse=True))
                + r")(?![a-z0-9])"
            )
            if watch.sdk_names
            else None
        )
        words = {*watch.aliases, *(v.lower() for v in watch.variables), *watch.sdk_names, *watch.package_names}
        words |= {max(host.split("."), key=len) for host in watch.api_hosts}
        words |= {core for pattern in watch.model_patterns for core in literal_cores(pattern) if len(core) >= 3}
        # A lineage name no other needle covers is found by its organisation (``open-r1/``): few needles,
        # each a pass over every file, matter more than the lines they let through.
        covered = [w for w in words if len(w) >= 4]
        for name in watch.lineage_names:
            if not any(w in name for w in covered):
                words.add(name.split("/")[0] + "/" if "/" in name else name)
        kept = sorted(w for w in words if not any(other in w and other != w for other in words))
        self.search = NeedleSearch(tuple(kept))

    def named(self, line: str, skip: list[tuple[int, int]]) -> Iterator[Named]:
        """Every identity the line names outside the ``skip`` spans (its URLs, read as URLs, in order)."""
        starts = [a for a, _ in skip]
        for match in _TOKEN.finditer(line):
            start = match.start()
            inside = bisect_right(starts, start) - 1
            if len(match.group(0)) > LONGEST_TOKEN or (inside >= 0 and start < skip[inside][1]):
                continue
            token, secret = _without_secret(match.group(0).rstrip(".:/-+"))
            if len(token) < 3:
                continue
            found = self._classify(token, line, start)
            if found is None and secret is not None:
                found = self._keyed(token)
            if found is not None:
                yield Named(found[0], found[1], start, secret)

    def _keyed(self, token: str) -> tuple[str, str] | None:
        """A credential written onto a name holding the provider's name (``deepseek_token:sk-…``,
        ``--key deepseek:sk-…``): the provider's key, configured."""
        words = _alias_words(token)
        alias = next((a for a in sorted(self.watch.aliases) if a in words), None)
        return ("key", alias) if alias else None

    def _classify(self, token: str, line: str, start: int) -> tuple[str, str] | None:
        lower = token.lower()
        for segment in _SEGMENT.findall(token):
            if segment.upper() in self.watch.variables:
                return "variable", segment.upper()
        if self._sdk is not None:
            sdk = self._sdk.search(lower)
            if sdk:
                return "sdk", token[sdk.start() : sdk.end()]
        host = _HOST_IN.match(lower)
        if host and self.watch.host_is_watched(host.group(1)):
            # A host (with a port, a path or user info around it) is a host, never a model id. A bare API
            # host configures an endpoint as the value of a setting or a flag (``Host api.x``, ``api_host:
            # api.x``); in a list of hosts it is an entry of an allow or block list, and an e-mail address
            # or a web host names the company, not an endpoint.
            name = host.group(1)
            if "@" not in lower and self.watch.host_is_api(name) and _valued(line, start, len(token)):
                return "host", name
            return None
        if lower in self.watch.dataset_names:
            return "lineage", token
        package = _VERSIONED.sub("", lower)
        if package in self.watch.package_names and package not in self.watch.aliases:
            return "package", token[: len(package)]
        if lower in self.watch.aliases:  # a provider's bare name is a word (a label, a folder) unless it selects
            if _selects(line, start, len(token)):
                return "provider", token
            short = len(line) <= WINDOW  # a line that opens a block is short
            return ("section", token) if short and _SECTION.match(line) and _names_section(line, token) else None
        if (
            self._models is not None
            and not _FILE_NAME.search(lower)
            and not _CONSTANT.match(token)
            and "@" not in token[1:]
            and not (_IDENTIFIER.fullmatch(token) and ("_" in token or _CAMEL.search(token)))
        ):
            for part in _DEFAULTED.split(token):  # ${MODEL:-deepseek-ai/DeepSeek-R1}: the default is the id
                if self._models.search(_HIDDEN.sub("", part)):
                    return "model", part
        if lower in self.watch.lineage_names:
            return "lineage", token
        return None


def _alias_words(token: str) -> set[str]:
    return {word.lower() for word in _SEGMENT.findall(token.replace("_", " "))}


def _without_secret(token: str) -> tuple[str, str | None]:
    """The token cut before a credential written onto it (``app.deepseek.key:sk-7f3a…``, ``sha256:abab…``):
    a part of 20 or more letters and digits, four of them digits at least, is a key or a digest, never
    part of a name (``DeepSeek-R1-Distill-Qwen-32B`` has no such run)."""
    parts = token.split(":")
    for index, part in enumerate(parts):
        if any(sum(c.isdigit() for c in run) >= 4 for run in _ALNUM_RUN.findall(part)):
            return ":".join(parts[:index]).rstrip(".:/-+"), part
    return token, None


_VALUE_OF = LazyPattern(r"(?:[\w.-]+[\"']?\s*[:=]|--?[\w-]+[= ]|^\s*[A-Za-z][\w-]*\s)\s*[\"'`]?$")


def _valued(line: str, start: int, length: int) -> bool:
    """The token is the single value of a setting, a flag or a directive on this line."""
    before, after = line[max(0, start - WINDOW) : start], line[start + length : start + length + WINDOW]
    return bool(_VALUE_OF.search(before)) and (not after.strip() or after.lstrip()[:1] in ",;)}]#\"'")


_SECTION = LazyPattern(r"^\s*(?:\[[\w.\"'-]+\]|[\"']?[\w.-]+[\"']?\s*[:=]\s*[{(\[]?)\s*(?:#.*)?$")
"""A line that opens a block: ``[deepseek]``, ``[providers.deepseek]``, ``deepseek:``, ``"minimax": {``."""


def _names_section(line: str, token: str) -> bool:
    """The provider's name is the block's own name (the key, or the last part of a dotted header)."""
    stripped = line.strip()
    key = (
        stripped[1 : stripped.find("]")] if stripped.startswith("[") else re.split(r"\s*[:=]", stripped, maxsplit=1)[0]
    )
    return key.strip("\"' ").split(".")[-1].strip("\"'").lower() == token.lower()


def _selects(line: str, start: int, length: int) -> bool:
    """A bare provider name selects the provider only as the whole value of a provider-like setting or
    flag (``provider: deepseek``, ``model_provider="deepseek"``, ``--provider deepseek``): alone it is a
    word (a label, a comment, a folder)."""
    before, after = line[max(0, start - WINDOW) : start], line[start + length : start + length + WINDOW]
    return bool(_SELECTOR_KEY.search(before)) and (not after.strip() or after.lstrip()[:1] in ",;)}]#\"'")
