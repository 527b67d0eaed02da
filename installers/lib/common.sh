# shellcheck shell=sh
# The install steps the Linux and macOS installers share: options, the venv, the agent
# configuration, the record of what was added, and uninstalling it. Sourced by
# installers/linux/install.sh and installers/macos/install.sh; POSIX sh (dash, bash, macOS sh).
#
# Every path is a path on the target machine (what the unit files, the plist and agent.yaml
# name). DESTDIR, when set, is a staging root put in front of each of them when files are
# written: `--destdir /tmp/t` installs the venv at /tmp/t/opt/scanner and the configuration at
# /tmp/t/etc/scanner, and never calls systemctl or launchctl.

SCANNER_LABEL=scanner-audit
MANIFEST_NAME=install-manifest.txt

say() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; }
die() { say "error: $*"; exit 2; }

# --- options -------------------------------------------------------------------------------

set_defaults() {
    DESTDIR=${SCANNER_DESTDIR:-}
    PREFIX=${SCANNER_PREFIX:-/opt/scanner}
    CONFIG_DIR=${SCANNER_CONFIG_DIR:-/etc/scanner}
    STATE_DIR=${SCANNER_STATE_DIR:-/var/lib/scanner}
    PYTHON=${SCANNER_PYTHON:-}
    WHEEL=""
    WHEELHOUSE=""
    FIND_LINKS=""
    ACCELERATOR=1
    WHEELHOUSE_FAST=0
    COLLECTOR=""
    TOKEN_FILE=""
    TOKEN_FROM=""
    CA_CERT=""
    POLICY_KEY=""
    POLICY_GIVEN=0
    FORCE=0
    START=1
    UNINSTALL=0
    PURGE=0
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/scanner-install.XXXXXX")
    CONFIG_ARGS="$WORK/config-args"   # one "key<TAB>value" line per config option, in order
    NEW_PATHS="$WORK/new-paths"       # what this run created: "dir PATH" / "file PATH"
    : >"$CONFIG_ARGS"
    : >"$NEW_PATHS"
    PREVIOUS_VENV=""
    VENV_IN_PROGRESS=0
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

cleanup() {
    status=$?
    if [ "$VENV_IN_PROGRESS" = 1 ]; then
        # Stopped while making the new venv: remove it, and put the previous one back.
        rm -rf "$DESTDIR$PREFIX"
        if [ -n "$PREVIOUS_VENV" ] && [ -d "$PREVIOUS_VENV" ]; then
            mv "$PREVIOUS_VENV" "$DESTDIR$PREFIX"
            say "the previous installation at $PREFIX was restored"
        fi
    fi
    rm -rf "$WORK"
    exit "$status"
}

# The value of an option that takes one: "$2", or an error naming the option.
need_value() {
    [ $# -ge 2 ] || die "$1 needs a value"
}

config_arg() {
    case $2 in
        *'	'* | *'
'*) die "$1: tabs and newlines are not allowed in a value" ;;
    esac
    printf '%s\t%s\n' "$1" "$2" >>"$CONFIG_ARGS"
}

# Parses one shared option at "$1"; sets SHIFT to how many words it took.
common_option() {
    SHIFT=2
    case $1 in
        --destdir) need_value "$@"; DESTDIR=$2 ;;
        --prefix) need_value "$@"; PREFIX=$2 ;;
        --config-dir) need_value "$@"; CONFIG_DIR=$2 ;;
        --state-dir) need_value "$@"; STATE_DIR=$2 ;;
        --python) need_value "$@"; PYTHON=$2 ;;
        --wheel) need_value "$@"; WHEEL=$2 ;;
        --wheelhouse) need_value "$@"; WHEELHOUSE=$2 ;;
        --find-links) need_value "$@"; FIND_LINKS=$2 ;;
        --no-accelerator) SHIFT=1; ACCELERATOR=0 ;;
        --collector) need_value "$@"; COLLECTOR=$2 ;;
        --token-file) need_value "$@"; TOKEN_FILE=$2 ;;
        --token-from) need_value "$@"; TOKEN_FROM=$2 ;;
        --ca-cert) need_value "$@"; CA_CERT=$2 ;;
        --policy-key) need_value "$@"; POLICY_KEY=$2 ;;
        --policy) need_value "$@"; config_arg policy "$2"; POLICY_GIVEN=1 ;;
        --path) need_value "$@"; config_arg paths "$2" ;;
        --exclude) need_value "$@"; config_arg exclude "$2" ;;
        --tag)
            need_value "$@"
            case $2 in
                [!=]*=*) config_arg tag "$2" ;;
                *) die "--tag $2: expected KEY=VALUE, e.g. department=finance" ;;
            esac
            ;;
        --force) SHIFT=1; FORCE=1 ;;
        --no-start) SHIFT=1; START=0 ;;
        --uninstall) SHIFT=1; UNINSTALL=1 ;;
        --purge) SHIFT=1; PURGE=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
}

# A path that unit files, cron lines and plists use unquoted: absolute, no spaces or quotes.
check_target_path() {
    case $2 in
        /*) ;;
        *) die "$1 $2: must be an absolute path" ;;
    esac
    case $2 in
        *[!A-Za-z0-9._/+@:-]*) die "$1 $2: only letters, digits and . _ / + @ : - are allowed (it is written unquoted into unit files and cron lines)" ;;
    esac
}

check_common_options() {
    DESTDIR=${DESTDIR%/}
    if [ -n "$DESTDIR" ]; then
        case $DESTDIR in
            /*) ;;
            *) DESTDIR=$(pwd)/$DESTDIR ;;
        esac
        [ "$UNINSTALL" = 1 ] || mkdir -p "$DESTDIR" || die "--destdir $DESTDIR: cannot create it"
    fi
    PREFIX=${PREFIX%/}
    CONFIG_DIR=${CONFIG_DIR%/}
    STATE_DIR=${STATE_DIR%/}
    check_target_path --prefix "$PREFIX"
    check_target_path --config-dir "$CONFIG_DIR"
    check_target_path --state-dir "$STATE_DIR"
    [ -n "$TOKEN_FILE" ] || TOKEN_FILE=$CONFIG_DIR/token
    check_target_path --token-file "$TOKEN_FILE"
    [ -z "$CA_CERT" ] || check_target_path --ca-cert "$CA_CERT"
    [ -z "$POLICY_KEY" ] || check_target_path --policy-key "$POLICY_KEY"
    [ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge goes with --uninstall"
    [ "$UNINSTALL" = 1 ] && return 0
    [ -n "$WHEEL" ] || [ -n "$WHEELHOUSE" ] || die "name what to install: --wheel FILE or --wheelhouse FILE.tar.gz"
    [ -z "$WHEEL" ] || [ -z "$WHEELHOUSE" ] || die "--wheel and --wheelhouse exclude each other"
    [ -z "$WHEEL" ] || [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file"
    [ -z "$WHEELHOUSE" ] || [ -e "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE: no such file"
    [ -z "$FIND_LINKS" ] || [ -d "$FIND_LINKS" ] || die "--find-links $FIND_LINKS: no such directory"
    [ -z "$TOKEN_FROM" ] || [ "$TOKEN_FROM" = - ] || [ -f "$TOKEN_FROM" ] || die "--token-from $TOKEN_FROM: no such file"
    if [ -n "$COLLECTOR" ]; then
        case $COLLECTOR in
            https://* | http://*) ;;
            *) die "--collector $COLLECTOR: expected an https:// URL" ;;
        esac
    fi
    # The agent fetches the signed bundle from the collector it submits to, and judges by it alone.
    if [ -n "$POLICY_KEY" ]; then
        [ -n "$COLLECTOR" ] || die "--policy-key verifies the signed policy bundle of the --collector: it needs --collector URL"
        [ "$POLICY_GIVEN" = 0 ] || die "--policy-key judges by the collector's signed policy bundle: it cannot be used with --policy"
    fi
    # Resolve relative inputs now: later steps run in other directories.
    [ -z "$WHEEL" ] || WHEEL=$(absolute "$WHEEL")
    [ -z "$WHEELHOUSE" ] || WHEELHOUSE=$(absolute "$WHEELHOUSE")
    [ -z "$FIND_LINKS" ] || FIND_LINKS=$(absolute "$FIND_LINKS")
    [ -z "$TOKEN_FROM" ] || [ "$TOKEN_FROM" = - ] || TOKEN_FROM=$(absolute "$TOKEN_FROM")
}

absolute() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

# True when this run changes the live machine (not a staging DESTDIR).
live() {
    [ -z "$DESTDIR" ]
}

# --- the record of what was added ------------------------------------------------------------

# mkdir -p that records each directory it creates, so --uninstall removes exactly those, and
# gives the last one MODE when it creates it (an existing directory keeps the mode it has).
# (POSIX sh has no local variables: each function's names carry its own prefix.)
make_dir() {
    md_target=$1
    md_mode=${2:-}
    md_partial=""
    md_rest=${md_target#/}
    while [ -n "$md_rest" ]; do
        md_part=${md_rest%%/*}
        if [ "$md_part" = "$md_rest" ]; then md_rest=""; else md_rest=${md_rest#*/}; fi
        md_partial=$md_partial/$md_part
        if [ ! -d "$DESTDIR$md_partial" ]; then
            mkdir "$DESTDIR$md_partial"
            printf 'dir %s\n' "$md_partial" >>"$NEW_PATHS"
            if [ "$md_partial" = "$md_target" ] && [ -n "$md_mode" ]; then
                chmod "$md_mode" "$DESTDIR$md_target"
            fi
        fi
    done
}

# Copies SOURCE to TARGET (a target path) atomically with MODE, and records it as ours.
place_file() {
    make_dir "$(dirname "$2")"
    cp "$1" "$DESTDIR$2.new.$$"
    chmod "$3" "$DESTDIR$2.new.$$"
    mv -f "$DESTDIR$2.new.$$" "$DESTDIR$2"
    printf 'file %s\n' "$2" >>"$NEW_PATHS"
}

is_scanner_venv() {
    [ -f "$1/pyvenv.cfg" ] && { [ -f "$1/$MANIFEST_NAME" ] || [ -x "$1/bin/scanner" ]; }
}

# --- the venv --------------------------------------------------------------------------------

python_ok() {
    "$1" -I -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

find_python() {
    if [ -n "$PYTHON" ]; then
        command -v "$PYTHON" >/dev/null 2>&1 || die "--python $PYTHON: not found"
        python_ok "$PYTHON" || die "--python $PYTHON: needs Python 3.10 or later with the venv and ensurepip modules (Debian/Ubuntu: apt-get install python3-venv)"
        return 0
    fi
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            PYTHON=$candidate
            return 0
        fi
    done
    die "no Python 3.10 or later with the venv and ensurepip modules found; install one (Debian/Ubuntu: python3-venv) or name it with --python"
}

# pip run so that nothing on the machine (pip.conf, PIP_* variables, an index) takes part.
hermetic_pip() {
    hp_venv=$1
    shift
    PIP_CONFIG_FILE=/dev/null "$hp_venv/bin/python" -I -m pip --isolated --disable-pip-version-check \
        install --no-index --no-cache-dir --no-warn-script-location -q "$@"
}

# Unpacks (or takes) the wheelhouse, checks its SHA256SUMS, and sets WHEELHOUSE_DIR and WHEEL.
open_wheelhouse() {
    if [ -d "$WHEELHOUSE" ]; then
        WHEELHOUSE_DIR=$WHEELHOUSE
    else
        mkdir "$WORK/wheelhouse"
        tar -xzf "$WHEELHOUSE" -C "$WORK/wheelhouse" || die "--wheelhouse $WHEELHOUSE: not a readable .tar.gz"
        WHEELHOUSE_DIR=$(find "$WORK/wheelhouse" -name SHA256SUMS -exec dirname {} \; | head -n 1)
        [ -n "$WHEELHOUSE_DIR" ] || die "--wheelhouse $WHEELHOUSE: no SHA256SUMS inside; build it with installers/build-wheelhouse.sh"
    fi
    if [ -f "$WHEELHOUSE_DIR/SHA256SUMS" ]; then
        "$PYTHON" -I - "$WHEELHOUSE_DIR" <<'PY' || die "--wheelhouse $WHEELHOUSE: damaged (see above)"
import hashlib, pathlib, sys
folder = pathlib.Path(sys.argv[1])
bad = []
for line in (folder / "SHA256SUMS").read_text().splitlines():
    digest, _, name = line.partition("  ")
    path = folder / name.lstrip("*")
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        bad.append(name)
for name in bad:
    print(f"  {name}: missing or its SHA-256 differs from SHA256SUMS", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    fi
    set -- "$WHEELHOUSE_DIR"/scanner-*.whl
    if [ $# != 1 ] || [ ! -f "$1" ]; then
        die "--wheelhouse $WHEELHOUSE: expected exactly one scanner-*.whl inside"
    fi
    WHEEL=$1
    # build-wheelhouse.sh writes EXTRAS ("fast") when the accelerator's wheels are inside.
    if [ -f "$WHEELHOUSE_DIR/EXTRAS" ] && grep -qx fast "$WHEELHOUSE_DIR/EXTRAS"; then
        WHEELHOUSE_FAST=1
    fi
    # scanner-wheelhouse-VERSION-PYTAG-PLATFORM: compiled dependencies only load in that Python.
    want=$(basename "$WHEELHOUSE_DIR" | sed -n 's/^scanner-wheelhouse-[^-]*-\(cp[0-9]*\)-.*/\1/p')
    have=$("$PYTHON" -I -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    if [ -n "$want" ] && [ "$want" != "$have" ]; then
        die "--wheelhouse $WHEELHOUSE is for $want but $PYTHON is $have: use that Python (--python) or build a wheelhouse for it (build-wheelhouse.sh --python-version)"
    fi
}

pip_install() {
    pi_venv=$1
    if [ -n "$WHEELHOUSE" ]; then
        # scanner[fast] when the wheelhouse has the accelerator; when pip refuses it here (a wheel
        # for a newer macOS than this one, say), scanner alone: the accelerator never fails an install.
        if [ "$WHEELHOUSE_FAST" = 1 ] && [ "$ACCELERATOR" = 1 ]; then
            if hermetic_pip "$pi_venv" --find-links "$WHEELHOUSE_DIR" "${WHEEL}[fast]" 2>"$WORK/pip-fast"; then
                return 0
            fi
            say "warning: pip could not install the accelerator from the wheelhouse ($(grep '^ERROR' "$WORK/pip-fast" | tail -n 1)): installing scanner without it"
        fi
        hermetic_pip "$pi_venv" --find-links "$WHEELHOUSE_DIR" "$WHEEL"
    elif [ -n "$FIND_LINKS" ]; then
        hermetic_pip "$pi_venv" --find-links "$FIND_LINKS" "$WHEEL"
    else
        # The dependencies come from the index pip is configured for (pip.conf: a mirror, a proxy).
        "$pi_venv/bin/python" -I -m pip --disable-pip-version-check \
            install --no-cache-dir --no-warn-script-location -q "$WHEEL"
    fi
}

# A fresh venv at PREFIX with scanner installed; the previous one is kept aside until it works.
install_venv() {
    iv_target=$DESTDIR$PREFIX
    find_python
    [ -z "$WHEELHOUSE" ] || open_wheelhouse
    if [ -e "$iv_target" ]; then
        if ! is_scanner_venv "$iv_target"; then
            die "$iv_target exists and is not a scanner installation; choose another --prefix or remove it"
        fi
        [ ! -f "$iv_target/$MANIFEST_NAME" ] || cat "$iv_target/$MANIFEST_NAME" >>"$NEW_PATHS"
        PREVIOUS_VENV=$iv_target.previous.$$
        VENV_IN_PROGRESS=1
        mv "$iv_target" "$PREVIOUS_VENV"
    else
        make_dir "$(dirname "$PREFIX")"
        VENV_IN_PROGRESS=1
    fi
    say "creating the venv $PREFIX with $PYTHON"
    "$PYTHON" -m venv "$iv_target" || die "python -m venv $iv_target failed"
    say "installing $(basename "$WHEEL")"
    pip_install "$iv_target" || die "pip could not install $(basename "$WHEEL") (the previous installation, if any, is kept)"
    "$iv_target/bin/scanner" --version >/dev/null || die "$iv_target/bin/scanner does not run"
    VENV_IN_PROGRESS=0
    if [ -n "$PREVIOUS_VENV" ]; then
        rm -rf "$PREVIOUS_VENV"
        PREVIOUS_VENV=""
    fi
    VENV_PYTHON=$iv_target/bin/python
    report_accelerator
}

# One line on whether the text scan runs with google-re2 or with the pure-Python fallback.
report_accelerator() {
    if "$VENV_PYTHON" -I -c 'import re2' 2>/dev/null; then
        say "the text scan's accelerator (google-re2) is active"
        return 0
    fi
    if [ "$ACCELERATOR" = 0 ]; then
        ra_why="--no-accelerator"
    elif [ -z "$WHEELHOUSE" ]; then
        ra_why="--wheel installs scanner alone; $PREFIX/bin/python -m pip install google-re2 adds it"
    elif [ "$WHEELHOUSE_FAST" = 0 ]; then
        ra_why="the wheelhouse has no wheel of it for this platform"
    else
        ra_why="pip could not install it here, see above"
    fi
    say "the text scan's accelerator (google-re2) is not installed ($ra_why): the pure-Python search gives the same findings with more CPU"
}

write_manifest() {
    {
        printf '# Written by the scanner installer; read by --uninstall. Target paths ("dir" ones are removed when empty).\n'
        grep -v '^#' "$NEW_PATHS" | sort -u
    } >"$DESTDIR$PREFIX/$MANIFEST_NAME"
}

# --- configuration ---------------------------------------------------------------------------

# Writes agent.yaml from the options, unless one exists and --force was not given.
write_config() {
    config=$CONFIG_DIR/agent.yaml
    make_dir "$CONFIG_DIR" 0755
    make_dir "$STATE_DIR" 0700
    if [ -e "$DESTDIR$config" ] && [ "$FORCE" = 0 ]; then
        say "keeping the existing $config (use --force to replace it)"
        if ! "$DESTDIR$PREFIX/bin/scanner" audit --config "$DESTDIR$config" --help >/dev/null 2>"$WORK/check"; then
            say "warning: the existing $config is not valid: $(cat "$WORK/check")"
        fi
    else
        if [ -n "$COLLECTOR" ]; then
            config_arg submit "$COLLECTOR"
            config_arg token_file "$TOKEN_FILE"
        fi
        [ -z "$CA_CERT" ] || config_arg ca_cert "$CA_CERT"
        [ -z "$POLICY_KEY" ] || config_arg policy_key "$POLICY_KEY"
        config_arg db "$STATE_DIR/scanner.db"
        "$VENV_PYTHON" -I - "$DESTDIR$config" "$CONFIG_ARGS" "$PROGRAM" <<'PY'
"""agent.yaml from the installer's options; yaml.safe_dump does the quoting."""
import os, sys, tempfile
import yaml

target, arguments, program = sys.argv[1:]
single = {}
lists = {"policy": [], "paths": [], "exclude": []}
tags = {}
with open(arguments, encoding="utf-8") as handle:
    for line in handle:
        key, _, value = line.rstrip("\n").partition("\t")
        if key == "tag":
            name, _, tag_value = value.partition("=")
            tags[name.strip()] = tag_value.strip()
        elif key in lists:
            lists[key].append(value)
        else:
            single[key] = value
document = {}
for key in ("submit", "token_file", "ca_cert", "policy_key"):
    if key in single:
        document[key] = single[key]
document.update({key: values for key, values in lists.items() if values})
document["db"] = single["db"]
if tags:
    document["tags"] = tags
text = (
    f"# The scanner agent's configuration, written by {program}.\n"
    "# Keys are `scanner audit` option names (see `scanner audit --help`); the command line wins.\n"
    + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
)
folder = os.path.dirname(target)
with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False) as handle:
    handle.write(text)
os.chmod(handle.name, 0o644)
os.replace(handle.name, target)
PY
        "$DESTDIR$PREFIX/bin/scanner" audit --config "$DESTDIR$config" --help >/dev/null 2>"$WORK/check" ||
            die "the written $config is not valid: $(cat "$WORK/check")"
        say "wrote $config"
    fi
    if [ -n "$TOKEN_FROM" ]; then
        make_dir "$(dirname "$TOKEN_FILE")"
        (
            umask 077
            if [ "$TOKEN_FROM" = - ]; then cat >"$DESTDIR$TOKEN_FILE.new"; else cat "$TOKEN_FROM" >"$DESTDIR$TOKEN_FILE.new"; fi
        )
        [ -s "$DESTDIR$TOKEN_FILE.new" ] || { rm -f "$DESTDIR$TOKEN_FILE.new"; die "--token-from $TOKEN_FROM: empty"; }
        mv -f "$DESTDIR$TOKEN_FILE.new" "$DESTDIR$TOKEN_FILE"
        say "wrote the token to $TOKEN_FILE (mode 0600)"
    elif [ -n "$COLLECTOR" ] && [ ! -e "$DESTDIR$TOKEN_FILE" ]; then
        say "warning: put this host's token (scanner fleet token add HOST) in $TOKEN_FILE, mode 0600, before the first run"
    fi
    # Not copied by the installer: like the CA bundle it is one public file for the whole fleet,
    # shipped the way that is (an image, configuration management), not a per-host secret like the token.
    if [ -n "$POLICY_KEY" ] && [ ! -e "$DESTDIR$POLICY_KEY" ]; then
        say "warning: put the collector's policy public key (scanner policy keygen's .pub) in $POLICY_KEY before the first run"
    fi
}

# Copies a template (unit, plist, cron line) to TARGET with the default paths replaced by the
# chosen ones in one pass, so that a new path containing an old one is not replaced twice.
# Further OLD NEW pairs may follow.
render() {
    r_source=$1
    r_target=$2
    r_mode=$3
    shift 3
    "$PYTHON" -I - "$r_source" "$WORK/rendered" \
        /opt/scanner "$PREFIX" /etc/scanner "$CONFIG_DIR" /var/lib/scanner "$STATE_DIR" "$@" <<'PY'
import re, sys
source, target, *pairs = sys.argv[1:]
mapping = dict(zip(pairs[::2], pairs[1::2]))
pattern = re.compile("|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True)))
with open(source, encoding="utf-8") as handle:
    text = handle.read()
with open(target, "w", encoding="utf-8") as handle:
    handle.write(pattern.sub(lambda match: mapping[match.group(0)], text))
PY
    place_file "$WORK/rendered" "$r_target" "$r_mode"
}

random_below() {
    # od on /dev/urandom: POSIX sh has no $RANDOM.
    echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1))
}

# --- uninstall -------------------------------------------------------------------------------

# Removes the venv, then (with --purge) the configuration and state, then the directories the
# installer created when they are empty. The platform script removes its scheduler files first.
uninstall_common() {
    un_target=$DESTDIR$PREFIX
    : >"$WORK/manifest"
    if [ -f "$un_target/$MANIFEST_NAME" ]; then
        grep -v '^#' "$un_target/$MANIFEST_NAME" >"$WORK/manifest" || true
    fi
    while read -r kind path; do
        if [ "$kind" = file ]; then rm -f "$DESTDIR$path"; fi
    done <"$WORK/manifest"
    if [ -e "$un_target" ]; then
        if is_scanner_venv "$un_target"; then
            rm -rf "$un_target"
            say "removed $PREFIX"
        else
            say "warning: $un_target is not a scanner venv; left in place"
        fi
    else
        say "nothing installed at $PREFIX"
    fi
    if [ "$PURGE" = 1 ]; then
        for folder in "$CONFIG_DIR" "$STATE_DIR"; do
            case $(basename "$folder") in
                *scanner*)
                    rm -rf "$DESTDIR$folder"
                    say "removed $folder"
                    ;;
                *) say "warning: --purge only removes directories named after scanner; remove $folder yourself" ;;
            esac
        done
    else
        say "kept $CONFIG_DIR and $STATE_DIR (--purge removes them)"
    fi
    # Deepest first; the kept configuration and state, and a directory that still holds something
    # (other software's files), stay.
    grep '^dir ' "$WORK/manifest" | sed 's/^dir //' | sort -r -u | while read -r path; do
        case $path in
            "$CONFIG_DIR" | "$STATE_DIR") ;;
            *) rmdir "$DESTDIR$path" 2>/dev/null || true ;;
        esac
    done
}
