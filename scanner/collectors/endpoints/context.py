"""Use or mention: how a line of text writes what it names.

The same model id is use in ``vllm serve deepseek-ai/DeepSeek-R1``, in ``model: deepseek-chat`` and in
``ChatDeepSeek(model="deepseek-chat")``, and only a mention in ``# we tried deepseek-chat``, in a README
and in a firewall rule that blocks ``api.deepseek.com``. This module decides that from the file's kind
and the line's syntax alone, for every language at once:

* **documents** (Markdown, reStructuredText, plain text, HTML) are prose: not read for use at all;
* a **comment** — a line that starts with a comment leader (``#``, ``//``, ``/*``, ``*``, ``-- ``,
  ``;``, ``REM``, ``<!--``), or the part of a line after an inline one where the language has it — is
  a mention;
* a **block rule** — a line of configuration that denies, blocks, disallows or sinkholes (``deny``,
  ``Disallow:``, ``return 403``, ``0.0.0.0 host``, ``||host^``), or any line of a file that is a block
  list by its name (``blocklist.txt``, ``robots.txt``) or a detection rule by its language (Suricata,
  YARA, Rego) — is a mention;
* a value of a key that leaves out or looks for (``banned_models``, ``thinkIgnore``, ``URLBlocklist``,
  ``CommandLine|contains``), or of the key whose block holds the line, is a mention;
* a **sentence** — help text, a message, a description: a quoted string (or, outside code, a value)
  with words of sentences around the name — is a mention;
* everything else in code and configuration is use, and the line's shape names how (a command line,
  a configuration value, a string literal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.patterns import LazyPattern

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
        ".eml",
        ".mbox",
    }
)
"""Documents, data tables and messages: they name things for people to read or for a program to count,
they do not configure a program. (Records such as ``requests.jsonl`` are read: a request log is use.)"""
PROSE_STEMS = ("readme", "changelog", "changes", "license", "licence", "notice", "authors", "contributing", "history")
CONFIG_TEXT = LazyPattern(
    r"^(?:[\w.-]*[-_.])?(?:requirements|constraints)(?:[-_.][\w.-]*)?\.(?:txt|in)$|^cmakelists\.txt$", re.IGNORECASE
)
"""Plain-text files that are configuration or code, not prose: pip's requirements files
(``dev-requirements.txt``, ``requirements-gpu.in``), CMake's lists."""
_HASH_FAMILY = frozenset(
    {".py", ".pyw", ".sh", ".bash", ".zsh", ".fish", ".ksh", ".rb", ".pl", ".pm", ".r", ".yaml", ".yml", ".toml",
     ".conf", ".cfg", ".ini", ".properties", ".nix", ".tf", ".tfvars", ".hcl", ".ps1", ".psm1", ".psd1", ".mk",
     ".cmake", ".service", ".timer", ".socket", ".desktop", ".jl", ".ex", ".exs", ".env", ".dockerfile", ".containerfile",
     ".rsc", ".nginx", ".caddyfile", ".gitignore", ".dockerignore", ".coffee", ".cr", ".nim", ".tcl", ".awk"}
)  # fmt: skip
"""Languages where ``#`` starts a comment anywhere on a line (outside quotes)."""
_HASH_NAMES = frozenset(
    {"dockerfile", "containerfile", "makefile", "modelfile", "caddyfile", "gemfile", "procfile", "vagrantfile",
     ".bash_history", ".zsh_history", ".zhistory", ".sh_history", ".ksh_history", ".history", "fish_history",
     "consolehost_history.txt"}
)  # fmt: skip
_SLASH_FAMILY = frozenset(
    {".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".java", ".kt", ".kts", ".go", ".cs", ".c", ".h",
     ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".rs", ".swift", ".dart", ".scala", ".sc", ".php", ".groovy", ".gradle",
     ".proto", ".jsonc", ".json5", ".zig", ".v", ".sol", ".vue", ".svelte", ".fs", ".dhall"}
)  # fmt: skip
"""Languages where ``//`` starts a comment anywhere on a line (outside quotes and ``://``)."""
_LEADERS = LazyPattern(
    r"^\s*(?:#(?!!|\{|(?:define|include|if|ifdef|ifndef|pragma|import|region)\b)|//|/\*|\*(?!\*)|-- |--$|"
    r";(?![(\[`])|REM\s|::(?=\s|$)|<!--)",
    re.IGNORECASE,
)
"""A line that is a comment in whatever language it is (not a shebang, a template or a C preprocessor line;
not JavaScript's ``;(`` or C++'s ``::name``)."""
_BLOCK_WORDS = LazyPattern(
    r"(?<![\w.$/-])(?:deny|denied|block(?:ed|list|ing)?|blacklist(?:ed)?|disallow(?:ed)?|reject(?:ed)?|sinkhole|"
    r"forbid(?:den)?|ban(?:ned)?|drop|abort)(?![\w-])|\b(?:return|respond)\s+4\d\d\b|"
    r"^\s*(?:0\.0\.0\.0|127\.0\.0\.1|::1?)\s|^\s*\|\|",
    re.IGNORECASE,
)
"""A directive that refuses (``deny``, ``Disallow:``, ``return 403``, ``0.0.0.0 host``, ``||host^``), as a
word of its own: not a flag (``--block-size``), a name (``drop_in``) or a path."""
IDENTIFIER_LANGUAGES = frozenset(
    {".py", ".pyw", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".go", ".java", ".kt", ".kts",
     ".cs", ".rs", ".rb", ".php", ".swift", ".scala", ".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".lua", ".r",
     ".jl", ".dart", ".vue", ".svelte", ".groovy"}
)  # fmt: skip
"""Programming languages, where ``block``, ``reject`` or ``drop`` are names (``for block in chunks``,
``(resolve, reject) =>``), never directives; there a block list is a variable's name (``BLOCKED_HOSTS``)."""
_BLOCK_NAME_WORDS = frozenset(
    {"block", "blocked", "blocklist", "blocklists", "deny", "denylist", "blacklist", "banned", "adblock"}
)
_RULE_SUFFIXES = frozenset({".rules", ".yar", ".yara", ".rego"})
"""Detection and policy rule languages (Suricata and Snort, YARA, Open Policy Agent): they name what to
catch or refuse."""
_COMMAND = LazyPattern(
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
RULE = Mention("a detection or policy rule")
SENTENCE = Mention("a sentence (a message, help or a description)")
_ALTERNATION = LazyPattern(r"[\w.@/-]+(?:\\?\|[\w.@/-]+){4,}")
"""Five or more names joined by ``|`` (no spaces: a pipeline of commands is not one): a pattern that
matches many things (a user-agent filter, a tokenizer's token list), not a setting of one."""
_SETTING = LazyPattern(r"[\"']?([A-Za-z_][\w.|-]*)[\"']?\s*:?[:=]\s*[\"'`\[({]?(?:[^:=]|:(?=//))*$")
"""A key and the start of its value (which may hold URLs): ``"URLBlocklist": ["https://…", ``."""
_KEY_WORDS = LazyPattern(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_EXCLUDING_WORDS = frozenset(
    {"ignore", "ignored", "ignores", "exclude", "excluded", "excludes", "exclusion", "exclusions", "skip", "skipped",
     "skips", "blocked", "blocklist", "blacklist", "blacklisted", "denylist", "deny", "denied", "disable", "disabled",
     "disallow", "disallowed", "hide", "hidden", "except", "exceptions", "unsupported", "deprecated", "ban", "banned",
     "bans", "banlist", "forbid", "forbidden", "prohibit", "prohibited", "reject", "rejected", "detect", "detection",
     "detections", "selection", "condition", "contains", "startswith", "endswith"}
)  # fmt: skip
"""Words of keys whose values are what a program leaves out or looks for (``thinkIgnore``, ``banned_models``,
``URLBlocklist``, Sigma's ``CommandLine|contains``, Falco's ``condition``); a key is split into words
(``_``, ``-``, ``.``, camel case), so ``filtered_llm`` or ``content-filter`` are not among them."""
_FUNCTION_WORDS = frozenset(
    {"the", "a", "an", "and", "or", "of", "for", "with", "to", "in", "on", "is", "are", "was", "were", "be", "not",
     "such", "as", "e.g", "eg", "i.e", "ie", "vs", "versus", "than", "this", "that", "these", "those", "which", "when",
     "but", "by", "from", "like", "example", "instead", "any", "you", "we", "your", "our", "it", "its", "can",
     "should", "will", "may", "here", "there", "only"}
)  # fmt: skip
"""Words of sentences, not of commands or values: two of them around a name make it a sentence."""


def is_prose(name: str, path: str = "") -> bool:
    """A document for people to read, not code or configuration a program reads."""
    lower = name.lower()
    if CONFIG_TEXT.match(lower) or "/requirements/" in path:
        return False
    dot = lower.rfind(".")
    suffix, stem = (lower[dot:], lower[:dot]) if dot > 0 else ("", lower)
    return suffix in PROSE_SUFFIXES or (suffix in ("", ".txt") and stem.startswith(PROSE_STEMS))


def is_ignore_list(name: str) -> bool:
    """``.gitignore``, ``.dockerignore``...: paths a tool leaves out, never a setting."""
    return name.startswith(".") and name.endswith("ignore")


def is_block_list(name: str) -> bool:
    """A file that lists what to refuse (``blocklist.txt``, ``robots.txt``, ``deny-ai.conf``), by a word of
    its name; never a program (``CodeBlock.tsx``, ``blockchain_agent.py``)."""
    lower = name.lower()
    dot = lower.rfind(".")
    if dot > 0 and lower[dot:] in IDENTIFIER_LANGUAGES:
        return False
    return lower == "robots.txt" or any(w.lower() in _BLOCK_NAME_WORDS for w in _KEY_WORDS.findall(name))


def is_rule_file(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in _RULE_SUFFIXES


def _family(name: str) -> tuple[bool, bool]:
    """Whether ``#`` and ``//`` start inline comments in this file's language."""
    lower = name.lower()
    dot = lower.rfind(".")
    suffix = lower[dot:] if dot > 0 else ""
    return suffix in _HASH_FAMILY or lower in _HASH_NAMES or lower.startswith(".env"), suffix in _SLASH_FAMILY


_MARKERS: dict[tuple[bool, bool], LazyPattern[str] | None] = {
    (False, False): None,
    (True, False): LazyPattern(r"[\"'`]|(?:^|(?<=\s))#"),
    (False, True): LazyPattern(r"[\"'`]|(?<![:/\\])//"),
    (True, True): LazyPattern(r"[\"'`]|(?:^|(?<=\s))#|(?<![:/\\])//"),
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


def mention_of(
    line: str, column: int, name: str, block_list: bool, enclosing: str = "", commented: bool = False
) -> Mention | None:
    """Why the text at ``column`` of ``line`` is only a mention, or ``None`` when it is use. ``enclosing`` is
    the line that opens the list or block the line sits in (``denied_models:`` above ``- deepseek-chat``);
    ``commented``: the line is inside a block comment or a docstring.

    Read within ``WINDOW`` characters either side of the column (and of the enclosing line's start): the
    syntax that makes a mention is near what it names, and every test stays linear on a huge line."""
    if block_list:
        return BLOCK_RULE
    if is_rule_file(name):
        return RULE
    if commented or _LEADERS.match(line):
        return COMMENT
    if len(line) > 2 * WINDOW:
        cut = max(0, column - WINDOW)
        line, column = line[cut : column + WINDOW], column - cut
    start = comment_start(line, name)
    if start is not None and column >= start:
        return COMMENT
    code = line[:start] if start is not None else line
    if not _in_language(name, IDENTIFIER_LANGUAGES) and _BLOCK_WORDS.search(code):
        return BLOCK_RULE
    opener = _SETTING.match(enclosing[: 2 * WINDOW].strip(" \t-,{"))
    if opener and _excluding(opener.group(1)):
        return EXCLUSION
    if any(m.start() <= column < m.end() for m in _ALTERNATION.finditer(code)):
        return NAME_LIST
    setting = _SETTING.match(line[:column].lstrip(" \t-,{"))
    if setting and _excluding(setting.group(1)):
        return EXCLUSION
    if _in_sentence(code, column, prose_values=not _in_language(name, IDENTIFIER_LANGUAGES | _SHELLS)):
        return SENTENCE
    return None


_SHELLS = frozenset({".sh", ".bash", ".zsh", ".fish", ".ksh", ".ps1", ".psm1", ".bat", ".cmd"})


def _in_language(name: str, suffixes: frozenset[str]) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in suffixes


def _excluding(key: str) -> bool:
    return any(word.lower() in _EXCLUDING_WORDS for word in _KEY_WORDS.findall(key))


def _in_sentence(code: str, column: int, prose_values: bool) -> bool:
    """The name sits in a sentence: the quoted string around it (help text, a message, a description),
    or — outside code, where keywords are no words of a sentence — the unquoted text around it, holds
    two function words (``e.g.``, ``or``, ``such as``, ``the``)."""
    quoted = _quoted_around(code, column)
    if quoted is None:
        if not prose_values:
            return False
        phrase = _QUOTED.sub(" ", code)
    else:
        phrase = quoted
    words = {w.strip(",.;:!?()[]\"'").lower() for w in phrase.split()}
    return len(words & _FUNCTION_WORDS) >= 2


_QUOTED = LazyPattern(r"\"[^\"]*\"|'[^']*'|`[^`]*`")


def _quoted_around(code: str, column: int) -> str | None:
    """The text of the quoted string that holds ``column``, or ``None`` when it is not inside quotes."""
    for match in _QUOTED.finditer(code):
        if match.start() < column < match.end():
            return match.group(0)[1:-1]
        if match.start() > column:
            break
    return None


_PYTHON = frozenset({".py", ".pyw", ".pyi"})
_TRIPLE = LazyPattern(r"\"\"\"|\'\'\'")
_C_COMMENT = LazyPattern(r"/\*|\*/")
_STRING_PREFIX = frozenset({"", "r", "u", "b", "f", "rb", "br", "rf", "fr"})


def comment_blocks(text: str, name: str) -> list[tuple[int, int]]:
    """The spans (start and end offsets, in order) of the block comments of the C family (``/*`` first on
    a line, to ``*/``) and of Python docstrings (a triple-quoted string that starts a statement), found
    in one C-speed pass over their markers; strings of data (``PROMPT = \"\"\"...``) are not among them."""
    if _in_language(name, _PYTHON):
        return _docstrings(text) if '"""' in text or "'''" in text else []
    if _in_language(name, _SLASH_FAMILY | {".css", ".scss", ".less"}):
        return _c_comments(text) if "/*" in text else []
    return []


def _docstrings(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    opened, start, docstring = "", 0, False
    for match in _TRIPLE.finditer(text):
        quote, at = match.group(0), match.start()
        if not opened:
            line_start = text.rfind("\n", 0, at) + 1
            opened, start = quote, at
            docstring = text[line_start:at].strip().lower() in _STRING_PREFIX
        elif quote == opened:
            if docstring:
                spans.append((start, match.end()))
            opened = ""
    if opened and docstring:
        spans.append((start, len(text)))
    return spans


def _c_comments(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = -1
    for match in _C_COMMENT.finditer(text):
        if match.group(0) == "/*" and start < 0:
            line_start = text.rfind("\n", 0, match.start()) + 1
            if not text[line_start : match.start()].strip():
                start = match.start()
        elif match.group(0) == "*/" and start >= 0:
            spans.append((start, match.end()))
            start = -1
    if start >= 0:
        spans.append((start, len(text)))
    return spans


_SCRIPT_OPEN = LazyPattern(r"<script\b", re.IGNORECASE)
_SCRIPT_CLOSE = LazyPattern(r"</script\s*>", re.IGNORECASE)


def script_lines_only(text: str) -> str:
    """A web page's text with every line outside its ``<script>`` elements blanked (line numbers kept):
    the page's words are prose, its scripts are code."""
    kept: list[str] = []
    inside = False
    for line in text.split("\n"):
        opens = _SCRIPT_OPEN.search(line) is not None
        closes = _SCRIPT_CLOSE.search(line) is not None
        kept.append(line if inside or opens else "")
        if opens and not closes:
            inside = True
        elif closes:
            inside = False
    return "\n".join(kept)


_OPENER = LazyPattern(r"[:=\[{(]\s*$")


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


_CONFIGURES = LazyPattern(
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
