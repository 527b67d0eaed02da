"""Use or mention: how a line of text writes what it names.

The same model id is use in ``vllm serve deepseek-ai/DeepSeek-R1``, in ``model: deepseek-chat`` and in
``ChatDeepSeek(model="deepseek-chat")``, and only a mention in ``# we tried deepseek-chat``, in a README
and in a firewall rule that blocks ``api.deepseek.com``. This module decides that from the file's kind
and the line's syntax alone, for every language at once:

* **documents** (Markdown, reStructuredText, plain text, HTML) are prose: not read for use at all;
* a **comment** — a line that starts with a comment leader (``#``, ``//``, ``/*``, ``*``, ``-- ``,
  ``;``, ``REM``, ``<!--``), or the part of a line after an inline one where the language has it — is
  a mention;
* a **block rule** — a line that denies, blocks, disallows or sinkholes (``deny``, ``Disallow:``,
  ``return 403``, ``0.0.0.0 host``, ``||host^``), or any line of a file that is a block list by its
  name (``blocklist.txt``, ``robots.txt``) — is a mention;
* everything else in code and configuration is use, and the line's shape names how (a command line,
  a configuration value, a string literal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WINDOW = 256
"""What is around a name is read within this many characters either side (see ``mention_of``)."""

PROSE_SUFFIXES = frozenset(
    {
        ".md",
        ".markdown",
        ".mdx",
        ".rst",
        ".txt",
        ".adoc",
        ".asciidoc",
        ".org",
        ".tex",
        ".html",
        ".htm",
        ".rtf",
        ".csv",
        ".tsv",
    }
)
"""Documents and data tables: they name things for people to read, they do not configure a program."""
PROSE_STEMS = ("readme", "changelog", "changes", "license", "licence", "notice", "authors", "contributing", "history")
DEPENDENCY_TEXT = re.compile(r"^(?:requirements|constraints)[\w.-]*\.(?:txt|in)$", re.IGNORECASE)
"""Plain-text files that are configuration, not prose (pip's requirements files)."""
_HASH_FAMILY = frozenset(
    {".py", ".pyw", ".sh", ".bash", ".zsh", ".fish", ".ksh", ".rb", ".pl", ".pm", ".r", ".yaml", ".yml", ".toml",
     ".conf", ".cfg", ".ini", ".properties", ".nix", ".tf", ".tfvars", ".hcl", ".ps1", ".psm1", ".psd1", ".mk",
     ".cmake", ".service", ".timer", ".socket", ".desktop", ".jl", ".ex", ".exs", ".env", ".dockerfile", ".containerfile",
     ".rsc", ".nginx", ".caddyfile", ".gitignore", ".dockerignore", ".coffee", ".cr", ".nim", ".tcl", ".awk"}
)  # fmt: skip
"""Languages where ``#`` starts a comment anywhere on a line (outside quotes)."""
_HASH_NAMES = frozenset(
    {"dockerfile", "containerfile", "makefile", "modelfile", "caddyfile", "gemfile", "procfile", "vagrantfile"}
)
_SLASH_FAMILY = frozenset(
    {".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".java", ".kt", ".kts", ".go", ".cs", ".c", ".h",
     ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".rs", ".swift", ".dart", ".scala", ".sc", ".php", ".groovy", ".gradle",
     ".proto", ".jsonc", ".json5", ".zig", ".v", ".sol", ".vue", ".svelte", ".fs", ".dhall"}
)  # fmt: skip
"""Languages where ``//`` starts a comment anywhere on a line (outside quotes and ``://``)."""
_LEADERS = re.compile(
    r"^\s*(?:#(?!!|\{|(?:define|include|if|ifdef|ifndef|pragma|import|region)\b)|//|/\*|\*(?!\*)|-- |--$|;|REM\s|::|<!--)",
    re.IGNORECASE,
)
"""A line that is a comment in whatever language it is (not a shebang, a template or a C preprocessor line)."""
_BLOCK_WORDS = re.compile(
    r"\b(?:deny|denied|block(?:ed|list|ing)?|blacklist(?:ed)?|disallow(?:ed)?|reject(?:ed)?|sinkhole|"
    r"forbid(?:den)?|ban(?:ned)?|drop|abort)\b|\b(?:return|respond)\s+4\d\d\b|^\s*(?:0\.0\.0\.0|127\.0\.0\.1|::1?)\s|^\s*\|\|",
    re.IGNORECASE,
)
_BLOCK_FILE = re.compile(r"block|deny|blacklist|banned|robots\.txt|adblock", re.IGNORECASE)
_COMMAND = re.compile(
    r"^\s*(?:RUN|CMD|ENTRYPOINT|ExecStart\w*=|command:|args:|-\s+--?\w|--?\w)|\s(?:serve|run|pull|download)\s",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Mention:
    """Why text that names something does not use it."""

    words: str
    """``a comment``, ``a block rule``."""


COMMENT = Mention("a comment")
BLOCK_RULE = Mention("a block rule")
NAME_LIST = Mention("a list of names to match")
EXCLUSION = Mention("a setting that excludes it")
_ALTERNATION = re.compile(r"[\w.@/-]+(?:\\?\s*\|\s*[\w.@/ -]+){4,}")
"""Five or more names joined by ``|``: a pattern that matches many things (a user-agent filter, a
tokenizer's token list), not a setting of one."""
_SETTING = re.compile(r"[\"']?([A-Za-z_][\w.-]*)[\"']?\s*[:=]\s*[\"'`\[(]?[^:=]*$")
_EXCLUDING_KEY = re.compile(
    r"ignore|exclude|skip|block|deny|disable|hide|filter|except|unsupported|deprecated|legacy", re.I
)
"""Keys whose values are what a program leaves out (``thinkIgnore: qwen3,deepseek-r1``)."""


def is_prose(name: str) -> bool:
    """A document for people to read, not code or configuration a program reads."""
    lower = name.lower()
    if DEPENDENCY_TEXT.match(lower):
        return False
    dot = lower.rfind(".")
    suffix, stem = (lower[dot:], lower[:dot]) if dot > 0 else ("", lower)
    return suffix in PROSE_SUFFIXES or (suffix in ("", ".txt") and stem.startswith(PROSE_STEMS))


def is_ignore_list(name: str) -> bool:
    """``.gitignore``, ``.dockerignore``...: paths a tool leaves out, never a setting."""
    return name.startswith(".") and name.endswith("ignore")


def is_block_list(name: str) -> bool:
    """A file that lists what to refuse (``blocklist.txt``, ``robots.txt``, ``deny-ai.conf``)."""
    return bool(_BLOCK_FILE.search(name))


def _family(name: str) -> tuple[bool, bool]:
    """Whether ``#`` and ``//`` start inline comments in this file's language."""
    lower = name.lower()
    dot = lower.rfind(".")
    suffix = lower[dot:] if dot > 0 else ""
    return suffix in _HASH_FAMILY or lower in _HASH_NAMES or lower.startswith(".env"), suffix in _SLASH_FAMILY


_MARKERS: dict[tuple[bool, bool], re.Pattern[str] | None] = {
    (False, False): None,
    (True, False): re.compile(r"[\"'`]|(?:^|(?<=\s))#"),
    (False, True): re.compile(r"[\"'`]|(?<![:/\\])//"),
    (True, True): re.compile(r"[\"'`]|(?:^|(?<=\s))#|(?<![:/\\])//"),
}
"""Quotes and the inline comment markers of a language family, in the order a line holds them."""


def comment_start(line: str, name: str) -> int | None:
    """Where the comment of this line begins (0 for a comment line), or ``None``: the first inline comment
    marker of the language that is outside quotes, found in one pass over quotes and markers."""
    if _LEADERS.match(line):
        return 0
    hash_family, slash_family = _family(name)
    markers = _MARKERS[(hash_family, slash_family)]
    if markers is None:
        return None
    open_quote = ""
    for match in markers.finditer(line):
        token = match.group(0)
        if token in ("'", '"', "`"):
            open_quote = "" if open_quote == token else open_quote or token
        elif not open_quote:
            return match.start()
    return None


def mention_of(line: str, column: int, name: str, block_list: bool, enclosing: str = "") -> Mention | None:
    """Why the text at ``column`` of ``line`` is only a mention, or ``None`` when it is use. ``enclosing`` is
    the line that opens the list or block the line sits in (``denied_models:`` above ``- deepseek-chat``).

    Read within ``WINDOW`` characters either side of the column (and of the enclosing line's start): the
    syntax that makes a mention is near what it names, and every test stays linear on a huge line."""
    comment_line = bool(_LEADERS.match(line))
    if len(line) > 2 * WINDOW:
        cut = max(0, column - WINDOW)
        line, column = line[cut : column + WINDOW], column - cut
    enclosing = enclosing[: 2 * WINDOW]
    if block_list or _BLOCK_WORDS.search(line) or _BLOCK_WORDS.search(enclosing):
        return BLOCK_RULE
    if comment_line:
        return COMMENT
    opener = _SETTING.match(enclosing.strip(" \t-,{"))
    if opener and _EXCLUDING_KEY.search(opener.group(1)):
        return EXCLUSION
    start = comment_start(line, name)
    if start is not None and column >= start:
        return COMMENT
    if any(m.start() <= column < m.end() for m in _ALTERNATION.finditer(line)):
        return NAME_LIST
    setting = _SETTING.match(line[:column].lstrip(" \t-,{"))
    if setting and _EXCLUDING_KEY.search(setting.group(1)):
        return EXCLUSION
    return None


_OPENER = re.compile(r"[:=\[{(]\s*$")


def enclosing_line(lines: list[str], index: int, limit: int = 64) -> str:
    """The nearest line above ``index``, less indented, that opens a list or a block (ends with ``:``,
    ``[``, ``{``, ``(`` or ``=``): the key a list item belongs to. Empty when there is none near."""
    line = lines[index]
    indent = len(line) - len(line.lstrip())
    if indent == 0 and not line.lstrip().startswith(("-", '"', "'")):
        return ""
    for above in range(index - 1, max(-1, index - limit), -1):
        text = lines[above]
        stripped = text.strip()
        if not stripped:
            continue
        if len(text) - len(text.lstrip()) < indent or (indent == 0 and _OPENER.search(stripped)):
            return text if _OPENER.search(stripped) else ""
    return ""


_CONFIGURES = re.compile(
    r"^\s*[\"']?[\w.-]*(?:api[_-]?key|apikey|token|secret|base[_-]?url|api[_-]?base|endpoint|host|model|command|args)"
    r"[\"']?\s*[:=]",
    re.IGNORECASE,
)


def block_configures(lines: list[str], index: int, limit: int = 30) -> bool:
    """The block opened at ``index`` (an INI or TOML section, a YAML or JSON key) sets a key, an endpoint,
    a model or a command: a settings block for the service it is named after, not a mere label."""
    opener = lines[index]
    indent = len(opener) - len(opener.lstrip())
    header = opener.lstrip().startswith("[")
    for line in lines[index + 1 : index + 1 + limit]:
        stripped = line.strip()
        if not stripped:
            continue
        if (header and stripped.startswith("[")) or (not header and len(line) - len(line.lstrip()) <= indent):
            return False
        if _CONFIGURES.match(line):
            return True
    return False


def use_words(line: str, column: int) -> str:
    """How a line of use writes it, for the evidence an official reads."""
    if len(line) > 2 * WINDOW:
        start = max(0, column - WINDOW)
        line, column = line[start : column + WINDOW], column - start
    if _COMMAND.match(line):
        return "a command line"
    before = line[:column].rstrip()
    if before.endswith(("'", '"', "`")):
        return "a string literal"
    if before.endswith((":", "=")) or re.search(r"[:=]\s*['\"`]?$", before):
        return "a configuration value"
    return "code"
