#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2015,SC2016,SC2001  # A && ok || fail is meant; $1 in sh -c '…' is the inner shell's; sed on a whole block
#
# The README's install commands, run exactly as written, as a new user would (issue 19):
#
#   tests/system/readme-test.sh source|deb SRCDIR
#
# In a fresh booted Debian 12 container (a copy of the tree cached by lib.sh, with apt's
# package lists REMOVED, as in the official debian:12 image and many minimal VMs) and a git
# clone of SRCDIR's committed HEAD in /root/timerbeat:
#   source: the first command of README.md's "Quick start" (build, meson install, enable);
#   deb:    the "Debian package" command of its "Packaging" section (dpkg-buildpackage, apt install).
# The commands are read from the clone's README.md, not copied here: when the README changes,
# this test runs the new text. Each runs in bash (root's shell) in the clone, without a terminal.
#
# Then, for both: timerbeat.service is active, runs as the system user timerbeat, and
# `timerbeat check` passes on the shipped configuration; the drop-in of the README's "A first
# configuration" (its URL's scheme and host pointed at a receiver on the host's 127.0.0.1, path
# kept), the README's `timerbeat check && systemctl reload timerbeat` as written, and a timer
# whose service succeeds: exactly one request arrives, and the journal holds no full URL.
#
# Needs root and the network to the Debian archive (apt-get update, the build dependencies).
#
# Environment:
#   TB_DEB_DIR     where lib.sh caches the Debian tree (default /var/tmp/tb-deb; shared with
#                  deb-test.sh: base/ for Debian 12, base-SUITE/ for another suite)
#   TB_README_DIR  work directory (default /var/tmp/tb-readme): MODE/root is this run's container
#                  (removed at the end, even on failure, unless TB_KEEP=1), MODE/run its logs
#   TB_SUITE       Debian suite of the container (default bookworm; trixie for Debian 13)
#   TB_MIRROR      Debian mirror (default http://deb.debian.org/debian)
#   TB_KEEP=1      leave the container running and its tree in place at the end
#
# Exit status 0 when everything passed, 1 on a failed check, 2 on a setup problem.

set -euo pipefail

[ $# -eq 2 ] && { [ "$1" = source ] || [ "$1" = deb ]; } || { echo "Usage: $0 source|deb SRCDIR" >&2; exit 2; }
MODE=$1
SRC=$(cd "$2" && pwd) || exit 2
WORK=${TB_README_DIR:-/var/tmp/tb-readme}/$MODE
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"

SUITE=${TB_SUITE:-bookworm}
CACHE=${TB_DEB_DIR:-/var/tmp/tb-deb}
BASE=$CACHE/base
PACKAGES=$TB_BASE_PACKAGES
# Another suite has a tree of its own, the one deb-test.sh boots for it (the library packages'
# names differ between releases: libcurl4t64 in Debian 13; see tb_packages in lib.sh).
[ "$SUITE" = bookworm ] || { BASE=$CACHE/base-$SUITE; PACKAGES=$(tb_packages "$SUITE"); }
ROOT=$WORK/root
CLONE=/root/timerbeat
# What the command may take: apt-get update, downloads, a build on a busy 2-core machine.
CMD_TIMEOUT=${TB_CMD_TIMEOUT:-1500}

cleanup() {
        local rc=$?
        set +e
        tb_cleanup
        # The tree holds a build and a few hundred MB of packages: not kept after a failure
        # either (the logs in $RUN are), unless asked.
        [ "${TB_KEEP:-0}" = 1 ] || rm -rf "$ROOT"
        log "Took $(( $(date +%s) - TB_START ))s."
        exit "$rc"
}

# readme_block FILE HEADING LANG [TEXT]: the first ```LANG block (containing TEXT, if given)
# of the "## HEADING" section of the Markdown FILE. Fails if there is none.
readme_block() {
        awk -v sec="## $2" -v lang="$3" -v want="${4:-}" '
                /^## / && !inblk { insec = ($0 == sec); next }
                insec && !inblk && $0 == "```" lang { inblk = 1; buf = ""; next }
                inblk && $0 == "```" {
                        inblk = 0
                        if (want == "" || index(buf, want)) { printf "%s", buf; found = 1; exit }
                        next
                }
                inblk { buf = buf $0 "\n" }
                END { exit !found }' "$1"
}

# one_command WHAT TEXT: TEXT is one line, a command a person can paste.
one_command() {
        [ -n "$2" ] || fail "README.md: no $1"
        [ "$(printf '%s\n' "$2" | wc -l)" = 1 ] || fail "README.md: the $1 is not one line: $2"
}

# in_clone LOG TIMEOUT COMMAND: runs the shell COMMAND as written, in bash (root's shell on
# Debian), as root in the clone, without a terminal. Its output goes to LOG.
in_clone() {
        C env HOME=/root USER=root LOGNAME=root timeout "$2" bash -c 'cd "$1" && eval "$2"' bash "$CLONE" "$3" \
                </dev/null >"$1" 2>&1
}

# ---------------------------------------------------------------- 1. a fresh container
tb_host_tools
command -v git >/dev/null || setup_error "git is needed on the host (to clone $SRC)"
mkdir -p "$WORK" "$RUN"
exec 9>"$WORK/container.lock"
flock -n 9 || setup_error "another readme-test.sh $MODE is using $WORK"
trap cleanup EXIT

HEAD=$(git -C "$SRC" rev-parse HEAD) || setup_error "$SRC is not a git checkout"
[ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
        log "NOTE: $SRC has uncommitted changes; this test uses its committed HEAD ${HEAD:0:12}."

tb_base "$BASE" "$PACKAGES" "$SUITE"
rm -rf "$ROOT"
cp -a --reflink=auto "$BASE" "$ROOT"
# No package lists: `apt-get install` alone finds nothing to install.
rm -rf "$ROOT"/var/lib/apt/lists/*
git clone -q --no-hardlinks "$SRC" "$ROOT$CLONE"
git -C "$ROOT$CLONE" fetch -q "$SRC" HEAD
git -C "$ROOT$CLONE" checkout -q --detach FETCH_HEAD
README=$ROOT$CLONE/README.md
[ -f "$README" ] || setup_error "no README.md in the clone of $SRC"

# ---------------------------------------------------------------- 2. the README's commands
if [ "$MODE" = source ]; then
        WHAT='first Quick-start command'
        CMD=$(readme_block "$README" 'Quick start' sh || true)
else
        WHAT='Debian-package command'
        CMD=$(readme_block "$README" Packaging sh dpkg-buildpackage || true)
fi
one_command "$WHAT" "$CMD"
CONF_INI=$(readme_block "$README" 'A first configuration' ini || true)
CONF_CMD=$(readme_block "$README" 'A first configuration' sh || true)
one_command "command of 'A first configuration'" "$CONF_CMD"
[ -n "$CONF_INI" ] || fail "README.md: no configuration (ini block) in 'A first configuration'"
ok "README.md at ${HEAD:0:12}: the $WHAT, the first configuration and its command"

tb_receiver
tb_boot "$ROOT" "tb-readme-$MODE"
[ -z "$(ls -A "$ROOT/var/lib/apt/lists")" ] || fail "the container has package lists: $(ls "$ROOT/var/lib/apt/lists")"
# shellcheck disable=SC1091  # the container's file
OS=$(. "$ROOT/etc/os-release" && echo "$PRETTY_NAME")

# ---------------------------------------------------------------- 3. the command, as written
log "Running the README's $WHAT in $CLONE on $OS (log: $RUN/command.log):"
printf '    %s\n' "$CMD"
T0=$(date +%s)
if ! in_clone "$RUN/command.log" "$CMD_TIMEOUT" "$CMD"; then
        tail -40 "$RUN/command.log" | sed 's/^/    /'
        fail "the README's $WHAT failed after $(( $(date +%s) - T0 ))s on $OS with empty package lists (log: $RUN/command.log)"
fi
CMD_TIME=$(( $(date +%s) - T0 ))
grep -q 'systemd is not PID 1' "$RUN/command.log" && fail "the command took the 'not PID 1' branch in a booted container"
ok "the README's $WHAT succeeded in ${CMD_TIME}s ($OS, empty package lists)"

# ---------------------------------------------------------------- 4. the daemon, as installed
is_active() { [ "$(C systemctl is-active timerbeat.service)" = active ]; }
wait_for 10 is_active || fail "timerbeat.service is not active after the $WHAT"
[ "$(C systemctl is-enabled timerbeat.service)" = enabled ] || fail "timerbeat.service is not enabled"
ok "timerbeat.service enabled and active ($(C systemctl show -p StatusText --value timerbeat.service))"

MAINPID=$(C systemctl show -p MainPID --value timerbeat.service)
read -r _ RUID EUID_ _ FSUID < <(C grep '^Uid:' "/proc/$MAINPID/status")
USER_=$(C getent passwd "$EUID_" | cut -d: -f1)
[ "$RUID" != 0 ] && [ "$EUID_" != 0 ] && [ "$FSUID" != 0 ] || fail "timerbeat (PID $MAINPID) runs as root"
[ "$USER_" = timerbeat ] || fail "timerbeat (PID $MAINPID) runs as UID $EUID_ ($USER_), not as the user timerbeat"
ok "timerbeat (PID $MAINPID) runs as the system user timerbeat (UID $EUID_)"

out=$(C timerbeat check 2>&1) || fail "timerbeat check fails on the shipped configuration: $out"
ok "timerbeat check on the shipped configuration: $out"

# ---------------------------------------------------------------- 5. the first configuration
# Its first line names the file; its URLs go to the receiver (scheme and host replaced, path
# kept: the path is the secret the journal must not show).
DROPIN=$(sed -n '1s/^# *\(\/etc\/timerbeat\/[^ ]*\.conf\) *$/\1/p' <<<"$CONF_INI")
[ -n "$DROPIN" ] || fail "README.md: the first configuration does not start with '# /etc/timerbeat/….conf': $CONF_INI"
TIMER=$(sed -n 's/^\[\([^]*]*\.timer\)\]$/\1/p' <<<"$CONF_INI" | head -1)
[ -n "$TIMER" ] || fail "README.md: the first configuration has no [NAME.timer] section: $CONF_INI"
URL_PATH=$(sed -n 's/^url *= *https\?:\/\/[^/]*\(\/.*\)$/\1/p' <<<"$CONF_INI" | head -1)
[ -n "$URL_PATH" ] || fail "README.md: the first configuration has no 'url = http(s)://HOST/PATH': $CONF_INI"
SECRET=${URL_PATH##*/}
sed "s|^\(url *= *\)https\?://[^/]*|\1http://127.0.0.1:$PORT|" <<<"$CONF_INI" >"$RUN/dropin.conf"
# Written the way a person would, in the directory the install provides (not created here).
C sh -c 'cat >"$1"' sh "$DROPIN" <"$RUN/dropin.conf" || fail "cannot write $DROPIN (does its directory exist?)"

SERVICE=${TIMER%.timer}.service
printf '[Unit]\nDescription=README test job\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n' \
        >"$ROOT/etc/systemd/system/$SERVICE"
printf '[Unit]\nDescription=README test timer\n\n[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n' \
        >"$ROOT/etc/systemd/system/$TIMER"
C systemctl daemon-reload

# (grep without -q: with pipefail, journalctl killed by SIGPIPE would turn a match into a failure.)
reloaded() { C journalctl -b --no-pager -o cat -u timerbeat.service | grep '^Configuration reloaded' >/dev/null; }
reloaded && fail "'Configuration reloaded' in the journal before any reload"
if ! in_clone "$RUN/conf-command.log" 60 "$CONF_CMD"; then
        sed 's/^/    /' "$RUN/conf-command.log"
        fail "the README's '$CONF_CMD' failed"
fi
wait_for 10 reloaded || fail "no 'Configuration reloaded' in the journal after '$CONF_CMD'"
ok "'$CONF_CMD' with $DROPIN ([$TIMER]): $(head -1 "$RUN/conf-command.log")"

C systemctl start "$TIMER" || fail "cannot start $TIMER"
wait_for 20 has_requests "$URL_PATH" || fail "no request for $TIMER arrived within 20s: $(cat "$RUN/requests.log")"
wait_for 10 sh -c "[ \"\$(nsenter -t $PID1 -a -- systemctl show -p Result --value $SERVICE)\" = success ]" ||
        fail "$SERVICE did not succeed"
sleep 2 # time for a second request to show up
[ "$(count_requests "$URL_PATH")" = 1 ] && [ "$(wc -l <"$RUN/requests.log")" = 1 ] ||
        fail "expected exactly one request at $URL_PATH, got: $(cat "$RUN/requests.log")"
ok "one run of $TIMER, exactly one request: $(cat "$RUN/requests.log")"

J=$(C journalctl -b --no-pager -o verbose)
grep -qF -- "$SECRET" <<<"$J" && fail "the journal shows the full URL (…$SECRET)"
ok "the journal does not show the URL's secret path"

printf '%d passed, 0 failed\n' "$PASSED"
[ "$WARNED" = 0 ] || log "($WARNED warning(s) above)"
log "The README's $WHAT took ${CMD_TIME}s on $OS."
