#!/bin/sh
# Installs the scanner agent on a Linux machine: a venv under /opt/scanner, /etc/scanner/agent.yaml,
# and a daily systemd timer (or a cron line where systemd does not run). README.md beside this file
# lists every change and how to undo it; --uninstall undoes them.
set -eu

PROGRAM=install.sh
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$HERE/../lib/common.sh"

usage() {
    cat <<'EOF'
Usage: install.sh (--wheel FILE [--find-links DIR] | --wheelhouse FILE.tar.gz) [options]
       install.sh --uninstall [--purge] [path options]

What to install:
  --wheel FILE             the scanner wheel; its dependencies come from the configured index,
                           or only from --find-links DIR (offline) when given
  --wheelhouse FILE        a tarball from installers/build-wheelhouse.sh (or its unpacked folder):
                           fully offline, pip never looks at an index; with the text scan's
                           accelerator (google-re2) when the wheelhouse has it
  --no-accelerator         install scanner without the accelerator even when the wheelhouse has it
  --python PY              the interpreter for the venv (3.10+); default: the newest python3.X found

The agent configuration (/etc/scanner/agent.yaml; an existing one is kept unless --force):
  --collector URL          the collector to submit reports to (`submit:`)
  --token-file PATH        where this host's token lives (default: /etc/scanner/token)
  --token-from FILE|-      copy the token there now (mode 0600); - reads it from standard input
  --ca-cert PATH           a CA bundle for the collector (a private PKI)
  --policy-key PATH        judge by the collector's signed policy bundle, verified with this public
                           key already on the host (`policy_key:`); needs --collector, not --policy
  --policy NAME|FILE       a policy (repeatable; default: the bundled default policy)
  --path DIR               scan DIR instead of the whole machine (repeatable)
  --exclude GLOB           skip what matches (repeatable)
  --tag KEY=VALUE          a label for the fleet views (repeatable), e.g. department=finance
  --force                  replace an existing agent.yaml

The schedule:
  --scheduler auto|systemd|cron|none
                           auto (default): the systemd timer when systemd runs, else /etc/cron.d
  --no-start               install the timer but do not enable or start it

Where (each also from the environment variable named):
  --destdir DIR            SCANNER_DESTDIR: stage every file under DIR instead of /; never calls
                           systemctl (for tests and inspection: the venv only works from there)
  --prefix DIR             SCANNER_PREFIX      (default /opt/scanner)
  --config-dir DIR         SCANNER_CONFIG_DIR  (default /etc/scanner)
  --state-dir DIR          SCANNER_STATE_DIR   (default /var/lib/scanner)
  --unit-dir DIR           SCANNER_UNIT_DIR    (default /etc/systemd/system)
  --cron-dir DIR           SCANNER_CRON_DIR    (default /etc/cron.d)

Undo:
  --uninstall              remove the venv, the units or the cron file; keep the configuration and
                           the state (the store with its spool, the last report)
  --purge                  with --uninstall: also remove the configuration and state directories
EOF
}

set_defaults
UNIT_DIR=${SCANNER_UNIT_DIR:-/etc/systemd/system}
CRON_DIR=${SCANNER_CRON_DIR:-/etc/cron.d}
SCHEDULER=auto

while [ $# -gt 0 ]; do
    case $1 in
        --*=*)
            option=${1%%=*}
            value=${1#*=}
            shift
            set -- "$option" "$value" "$@"
            continue
            ;;
        --unit-dir) need_value "$@"; UNIT_DIR=$2; shift 2 ;;
        --cron-dir) need_value "$@"; CRON_DIR=$2; shift 2 ;;
        --scheduler) need_value "$@"; SCHEDULER=$2; shift 2 ;;
        *) common_option "$@"; shift "$SHIFT" ;;
    esac
done
check_common_options
UNIT_DIR=${UNIT_DIR%/}
CRON_DIR=${CRON_DIR%/}
check_target_path --unit-dir "$UNIT_DIR"
check_target_path --cron-dir "$CRON_DIR"
case $SCHEDULER in
    auto | systemd | cron | none) ;;
    *) die "--scheduler $SCHEDULER: expected auto, systemd, cron or none" ;;
esac

SERVICE=$SCANNER_LABEL.service
TIMER=$SCANNER_LABEL.timer
CRON_FILE=$CRON_DIR/$SCANNER_LABEL

# systemctl is only for the live machine, when systemd is its init (sd_booted's test) and the
# units go where systemd reads them: units placed anywhere else are staged, never enabled.
systemd_live() {
    live && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
        case $UNIT_DIR in
            /etc/systemd/system | /usr/local/lib/systemd/system | /usr/lib/systemd/system | /lib/systemd/system) true ;;
            *) false ;;
        esac
}

remove_units() {
    if [ -e "$DESTDIR$UNIT_DIR/$SERVICE" ] || [ -e "$DESTDIR$UNIT_DIR/$TIMER" ]; then
        if systemd_live; then
            systemctl disable --now "$TIMER" >/dev/null 2>&1 || true
            systemctl stop "$SERVICE" >/dev/null 2>&1 || true
        fi
        rm -f "$DESTDIR$UNIT_DIR/$SERVICE" "$DESTDIR$UNIT_DIR/$TIMER"
        say "removed $UNIT_DIR/$SERVICE and $TIMER"
        if systemd_live; then
            systemctl daemon-reload
            systemctl reset-failed "$SERVICE" >/dev/null 2>&1 || true
        fi
    fi
}

remove_cron() {
    if [ -e "$DESTDIR$CRON_FILE" ]; then
        rm -f "$DESTDIR$CRON_FILE"
        say "removed $CRON_FILE"
    fi
}

install_units() {
    case $STATE_DIR in
        /var/lib/?*) state_name=${STATE_DIR#/var/lib/} ;;
        *) state_name="" ;;
    esac
    if [ -n "$state_name" ]; then
        state_line="StateDirectory=$state_name $state_name/tmp"
    else
        # StateDirectory= only names folders under /var/lib; install.sh made this one itself.
        make_dir "$STATE_DIR/tmp" 0700
        state_line="# StateDirectory= not used: $STATE_DIR is not under /var/lib"
    fi
    render "$HERE/$SERVICE" "$UNIT_DIR/$SERVICE" 0644 "StateDirectory=scanner scanner/tmp" "$state_line"
    render "$HERE/$TIMER" "$UNIT_DIR/$TIMER" 0644
    say "installed $UNIT_DIR/$SERVICE and $TIMER"
    if ! live; then
        say "staged under $DESTDIR: systemctl not called"
    elif ! systemd_live; then
        say "systemd does not read $UNIT_DIR here, or does not run: enable $TIMER where it does (systemctl enable --now $TIMER)"
    elif [ "$START" = 0 ]; then
        say "not enabled (--no-start): systemctl enable --now $TIMER"
    else
        systemctl daemon-reload
        systemctl enable --now "$TIMER"
        say "enabled $TIMER (systemctl list-timers $TIMER shows the next run)"
    fi
}

install_cron() {
    # A random minute and hour (00:00-03:59, like the timer's spread) per host.
    minute=$(random_below 60)
    hour=$(random_below 4)
    lower=""
    if command -v ionice >/dev/null 2>&1; then lower="ionice -c 3 "; fi
    {
        printf '# The daily scanner compliance audit, installed by installers/linux/install.sh (--uninstall removes it).\n'
        printf '# --fail-on never: findings go to the collector; cron would only mail them.\n'
        printf 'SCANNER_CACHE_DIR=%s/cache\n' "$STATE_DIR"
        printf 'HF_HOME=%s/huggingface\n' "$STATE_DIR"
        printf '%s %s * * * root cd / && nice -n 19 %s%s/bin/scanner audit --config %s/agent.yaml --output %s/last-report.json --format json --fail-on never >%s/last-run.log 2>&1\n' \
            "$minute" "$hour" "$lower" "$PREFIX" "$CONFIG_DIR" "$STATE_DIR" "$STATE_DIR"
    } >"$WORK/cron"
    place_file "$WORK/cron" "$CRON_FILE" 0644
    say "installed $CRON_FILE: daily at $(printf '%02d:%02d' "$hour" "$minute")"
}

if [ "$UNINSTALL" = 1 ]; then
    remove_units
    remove_cron
    uninstall_common
    exit 0
fi

if [ "$SCHEDULER" = auto ]; then
    if [ -d /run/systemd/system ]; then SCHEDULER=systemd; else SCHEDULER=cron; fi
fi
if live && [ "$(id -u)" != 0 ]; then
    say "warning: not root: this only works if every directory named is writable by you (or stage with --destdir DIR)"
fi

install_venv
write_config
case $SCHEDULER in
    systemd)
        remove_cron
        install_units
        ;;
    cron)
        remove_units
        install_cron
        ;;
    none)
        remove_units
        remove_cron
        say "no schedule installed (--scheduler none): run $PREFIX/bin/scanner audit --config $CONFIG_DIR/agent.yaml yourself"
        ;;
esac
write_manifest
say "done: $PREFIX/bin/scanner audit --config $CONFIG_DIR/agent.yaml"
