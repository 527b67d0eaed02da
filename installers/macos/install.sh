#!/bin/sh
# Installs the scanner agent on a Mac: a venv under /opt/scanner, /etc/scanner/agent.yaml, and the
# LaunchDaemon gov.scanner.audit that runs the audit daily. README.md beside this file lists every
# change and how to undo it; --uninstall undoes them.
set -eu

PROGRAM=install.sh
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$HERE/../lib/common.sh"

LABEL=gov.scanner.audit

usage() {
    cat <<'EOF'
Usage: install.sh (--wheel FILE [--find-links DIR] | --wheelhouse FILE.tar.gz) [options]
       install.sh --uninstall [--purge] [path options]

What to install:
  --wheel FILE             the scanner wheel; its dependencies come from the configured index,
                           or only from --find-links DIR (offline) when given
  --wheelhouse FILE        a tarball from installers/build-wheelhouse.sh built for macOS (or its
                           unpacked folder): fully offline; with the text scan's accelerator
                           (google-re2) when the wheelhouse has it
  --no-accelerator         install scanner without the accelerator even when the wheelhouse has it
  --python PY              the interpreter for the venv (3.10+; /usr/bin/python3 is 3.9): e.g.
                           /Library/Frameworks/Python.framework/Versions/3.12/bin/python3

The agent configuration (/etc/scanner/agent.yaml; an existing one is kept unless --force):
  --collector URL, --token-file PATH, --token-from FILE|-, --ca-cert PATH, --policy-key PATH,
  --policy NAME|FILE, --path DIR, --exclude GLOB, --tag KEY=VALUE (repeatable), --force
                           as for installers/linux/install.sh

The schedule:
  --no-start               install the LaunchDaemon but do not load it

Where (each also from the environment variable named):
  --destdir DIR            SCANNER_DESTDIR: stage every file under DIR; never calls launchctl
  --prefix DIR             SCANNER_PREFIX       (default /opt/scanner)
  --config-dir DIR         SCANNER_CONFIG_DIR   (default /etc/scanner)
  --state-dir DIR          SCANNER_STATE_DIR    (default /var/lib/scanner)
  --launchd-dir DIR        SCANNER_LAUNCHD_DIR  (default /Library/LaunchDaemons)

Undo:
  --uninstall              unload and remove the LaunchDaemon and the venv; keep the
                           configuration and the state
  --purge                  with --uninstall: also remove the configuration and state directories
EOF
}

set_defaults
LAUNCHD_DIR=${SCANNER_LAUNCHD_DIR:-/Library/LaunchDaemons}

while [ $# -gt 0 ]; do
    case $1 in
        --*=*)
            option=${1%%=*}
            value=${1#*=}
            shift
            set -- "$option" "$value" "$@"
            continue
            ;;
        --launchd-dir) need_value "$@"; LAUNCHD_DIR=$2; shift 2 ;;
        *) common_option "$@"; shift "$SHIFT" ;;
    esac
done
check_common_options
LAUNCHD_DIR=${LAUNCHD_DIR%/}
check_target_path --launchd-dir "$LAUNCHD_DIR"
PLIST=$LAUNCHD_DIR/$LABEL.plist

# launchctl only on the live machine, for the folder launchd reads daemons from.
launchd_live() {
    live && [ "$LAUNCHD_DIR" = /Library/LaunchDaemons ] && command -v launchctl >/dev/null 2>&1
}

remove_daemon() {
    if launchd_live; then
        launchctl bootout "system/$LABEL" >/dev/null 2>&1 || true
    fi
    if [ -e "$DESTDIR$PLIST" ]; then
        rm -f "$DESTDIR$PLIST"
        say "removed $PLIST"
    fi
}

install_daemon() {
    "$PYTHON" -I - "$HERE/$LABEL.plist" "$WORK/plist" "$(random_below 4)" "$(random_below 60)" \
        /opt/scanner "$PREFIX" /etc/scanner "$CONFIG_DIR" /var/lib/scanner "$STATE_DIR" <<'PY'
"""The plist with the chosen paths and this machine's own time of day (a fleet's reports spread)."""
import plistlib, re, sys

source, target, hour, minute, *pairs = sys.argv[1:]
mapping = dict(zip(pairs[::2], pairs[1::2]))
pattern = re.compile("|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True)))


def paths(value):
    if isinstance(value, str):
        return pattern.sub(lambda match: mapping[match.group(0)], value)
    if isinstance(value, list):
        return [paths(item) for item in value]
    if isinstance(value, dict):
        return {key: paths(item) for key, item in value.items()}
    return value


with open(source, "rb") as handle:
    document = paths(plistlib.load(handle))
document["StartCalendarInterval"] = {"Hour": int(hour), "Minute": int(minute)}
with open(target, "wb") as handle:
    plistlib.dump(document, handle, sort_keys=False)
PY
    if command -v plutil >/dev/null 2>&1; then
        plutil -lint "$WORK/plist" >/dev/null || die "the rendered $PLIST is not a valid plist"
    fi
    place_file "$WORK/plist" "$PLIST" 0644
    if live; then
        chown root:wheel "$DESTDIR$PLIST" # launchd refuses a daemon's plist owned by anyone else
    fi
    say "installed $PLIST"
    if ! live; then
        say "staged under $DESTDIR: launchctl not called"
    elif ! launchd_live; then
        say "launchd does not read $LAUNCHD_DIR: load the daemon where it does"
    elif [ "$START" = 0 ]; then
        say "not loaded (--no-start): launchctl bootstrap system $PLIST"
    else
        launchctl bootout "system/$LABEL" >/dev/null 2>&1 || true
        launchctl bootstrap system "$PLIST"
        launchctl enable "system/$LABEL"
        say "loaded $LABEL (launchctl print system/$LABEL shows it)"
    fi
}

if [ "$UNINSTALL" = 1 ]; then
    remove_daemon
    uninstall_common
    exit 0
fi

if live && [ "$(id -u)" != 0 ]; then
    say "warning: not root: this only works if every directory named is writable by you (or stage with --destdir DIR)"
fi

install_venv
write_config
install_daemon
write_manifest
say "done: $PREFIX/bin/scanner audit --config $CONFIG_DIR/agent.yaml"
say "for protected folders (Documents, Desktop, Mail...) grant the interpreter behind $PREFIX/bin/python3 Full Disk Access with an MDM PPPC profile: see README.md"
