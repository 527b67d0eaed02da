#!/bin/sh
# Builds scanner's wheel and fetches the wheels of all its runtime dependencies into one tarball,
# scanner-wheelhouse-VERSION-PYTAG-PLATFORM.tar.gz, from which the installers install with no
# network at all (pip install --no-index --find-links). Needs the network (or a mirror) here, once.
# The text scan's accelerator (the `fast` extra: google-re2) goes in too where the target has a
# wheel for it, and the file EXTRAS then says so ("fast"); where it has none, the wheelhouse is
# built without it (agents then use the pure-Python search: the same findings, more CPU).
set -eu

PROGRAM=build-wheelhouse.sh
say() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; }
die() { say "error: $*"; exit 2; }

usage() {
    cat <<'EOF'
Usage: build-wheelhouse.sh [--python PY] [--out DIR] [--project DIR] [--no-accelerator]
                           [--python-version X.Y --platform TAG [--platform TAG]... [--abi TAG]]
                           [-- PIP OPTIONS]

  --python PY          the Python that runs pip (default: python3); without --python-version the
                       wheelhouse is for this interpreter and this platform
  --out DIR            where to write the tarball (default: the current directory)
  --project DIR        the scanner source tree (default: the one this script is in)
  --no-accelerator     leave out the text scan's accelerator (the fast extra: google-re2), which
                       is otherwise included where the target has a wheel for it
  --python-version X.Y, --platform TAG, --abi TAG, --implementation NAME
                       build for another target, e.g. for Windows fleet machines with Python 3.12:
                       --python-version 3.12 --platform win_amd64; for older Linux:
                       --platform manylinux2014_x86_64 (pip download's own options)
  -- PIP OPTIONS       passed to pip wheel and pip download, e.g. --index-url URL, or
                       --no-index --find-links DIR --no-build-isolation to build offline
EOF
}

PYTHON=python3
OUT=$(pwd)
PROJECT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_VERSION=""
TARGET_PLATFORM=""
TARGET_OPTIONS=""
ACCELERATOR=1
while [ $# -gt 0 ]; do
    case $1 in
        --python) [ $# -ge 2 ] || die "$1 needs a value"; PYTHON=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "$1 needs a value"; OUT=$2; shift 2 ;;
        --project) [ $# -ge 2 ] || die "$1 needs a value"; PROJECT=$2; shift 2 ;;
        --no-accelerator) ACCELERATOR=0; shift ;;
        --python-version)
            [ $# -ge 2 ] || die "$1 needs a value"
            TARGET_VERSION=$2
            TARGET_OPTIONS="$TARGET_OPTIONS --python-version $2"
            shift 2
            ;;
        --platform)
            [ $# -ge 2 ] || die "$1 needs a value"
            [ -n "$TARGET_PLATFORM" ] || TARGET_PLATFORM=$2
            TARGET_OPTIONS="$TARGET_OPTIONS --platform $2"
            shift 2
            ;;
        --abi | --implementation)
            [ $# -ge 2 ] || die "$1 needs a value"
            TARGET_OPTIONS="$TARGET_OPTIONS $1 $2"
            shift 2
            ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
# What remains in "$@" are pip options.
case $TARGET_OPTIONS in
    *[!A-Za-z0-9._\ -]*) die "--python-version, --platform, --abi and --implementation take tags such as 3.12 or manylinux2014_x86_64" ;;
esac
[ -f "$PROJECT/pyproject.toml" ] || die "--project $PROJECT: no pyproject.toml"
command -v "$PYTHON" >/dev/null 2>&1 || die "--python $PYTHON: not found"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scanner-wheelhouse.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
WHEELS=$WORK/wheels
mkdir "$WHEELS"

say "building the scanner wheel from $PROJECT"
"$PYTHON" -m pip wheel --no-deps --wheel-dir "$WHEELS" -q "$@" "$PROJECT"
set -- "$WHEELS"/scanner-*.whl "$@"
[ -f "$1" ] || die "pip wheel made no scanner-*.whl"
SCANNER_WHEEL=$1
shift

# --only-binary: a fleet machine must not compile anything, and pip download can only fetch for
# another platform when it fetches wheels.
say "fetching the runtime dependencies"
# shellcheck disable=SC2086 # TARGET_OPTIONS is a list of checked words
"$PYTHON" -m pip download --only-binary=:all: --dest "$WHEELS" -q $TARGET_OPTIONS "$@" "$SCANNER_WHEEL"

# The fast extra, resolved with scanner's own requirements for the same target, into a folder of
# its own: only when all of it resolves do its new wheels join the wheelhouse. Having no wheel for
# the target (google-re2 has none for some platforms and new Pythons) is not an error.
if [ "$ACCELERATOR" = 1 ]; then
    say "fetching the text scan's accelerator (the fast extra: google-re2)"
    mkdir "$WORK/fast"
    # shellcheck disable=SC2086 # TARGET_OPTIONS is a list of checked words
    if "$PYTHON" -m pip download --only-binary=:all: --dest "$WORK/fast" -q $TARGET_OPTIONS "$@" \
        "${SCANNER_WHEEL}[fast]" 2>"$WORK/fast.log"; then
        for wheel in "$WORK/fast"/*.whl; do
            [ -e "$WHEELS/$(basename "$wheel")" ] || mv "$wheel" "$WHEELS/"
        done
        printf 'fast\n' >"$WHEELS/EXTRAS"
    else
        say "the accelerator could not be fetched for this target (pip: $(grep '^ERROR' "$WORK/fast.log" | tail -n 1)):" \
            "building the wheelhouse without it; agents will use the pure-Python text search (the same findings, more CPU)"
    fi
fi

VERSION=$(basename "$SCANNER_WHEEL" | cut -d- -f2)
if [ -n "$TARGET_VERSION" ]; then
    PYTAG=cp$(printf '%s' "$TARGET_VERSION" | tr -d .)
else
    PYTAG=$("$PYTHON" -I -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
fi
if [ -z "$TARGET_PLATFORM" ]; then
    TARGET_PLATFORM=$("$PYTHON" -I -c 'import sysconfig; print(sysconfig.get_platform())')
fi
PLATFORM=$(printf '%s' "$TARGET_PLATFORM" | tr -- '-.' '__')
NAME=scanner-wheelhouse-$VERSION-$PYTAG-$PLATFORM

"$PYTHON" -I - "$WHEELS" <<'PY'
import hashlib, pathlib, sys
folder = pathlib.Path(sys.argv[1])
lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(folder.glob("*.whl"))]
(folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
PY
mv "$WHEELS" "$WORK/$NAME"
tar -czf "$OUT/$NAME.tar.gz.new" -C "$WORK" "$NAME"
mv -f "$OUT/$NAME.tar.gz.new" "$OUT/$NAME.tar.gz"
if [ -f "$WORK/$NAME/EXTRAS" ]; then
    INCLUDED="with the accelerator"
else
    INCLUDED="without the accelerator"
fi
say "wrote $OUT/$NAME.tar.gz ($(find "$WORK/$NAME" -name '*.whl' | wc -l | tr -d ' ') wheels, $INCLUDED)"
printf '%s\n' "$OUT/$NAME.tar.gz"
