#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2015,SC2016  # A && B || fail is meant; awk/dpkg-query programs in single quotes
#
# System test: the generated system unit (units/timerbeat.service) under a real systemd
# system manager, booted in a systemd-nspawn container of Debian 12 (bookworm).
#
#   tests/system/nspawn-test.sh BUILDDIR
#
# BUILDDIR is a meson build directory configured with -Dprefix=/usr, e.g.
#   meson setup /var/tmp/tb-nspawn/build -Dprefix=/usr -Dintegration-tests=disabled
#   ninja -C /var/tmp/tb-nspawn/build
#
# Needs root, the network to deb.debian.org the first time (debootstrap, ~1 min; the tree
# in $TB_NSPAWN_DIR/root is reused afterwards) and a Debian-compatible host (the binary is
# copied into the container as is). It never boots systemd on the host itself: systemd
# runs as PID 1 of the container only.
#
# What it checks, on the unit exactly as built:
#   - timerbeat.service starts (Type=notify), stays active, runs as a non-root user;
#   - a timer-triggered run ending with Result=success sends exactly one GET to its URL,
#     a failing run sends nothing;
#   - the journal has timerbeat's lines and never a full (secret) URL;
#   - systemctl reload applies a changed configuration;
#   - no busy loop while the watched timers are unloaded (warning; fatal with TB_STRICT=1);
#   - systemd-analyze security exposure is at most $TB_MAX_EXPOSURE (default 2.0);
#   - systemctl stop ends it cleanly (Result=success).
#
# Environment:
#   TB_NSPAWN_DIR    work directory (default /var/tmp/tb-nspawn); root/ is the container
#   TB_MIRROR        Debian mirror (default http://deb.debian.org/debian)
#   TB_SYSUSERS      sysusers.d file for the unit's User= (default: searched in BUILDDIR
#                    and the source tree's units/)
#   TB_MAX_EXPOSURE  highest acceptable systemd-analyze security exposure (default 2.0)
#   TB_STRICT=1      make warnings (busy loop) fatal
#   TB_KEEP=1        leave the container running at the end (prints how to reach it)
#
# Exit status 0 when everything passed, 1 on a failed check, 2 on a setup problem.

set -euo pipefail

START=$(date +%s)
WORK=${TB_NSPAWN_DIR:-/var/tmp/tb-nspawn}
ROOT=$WORK/root
RUN=$WORK/run
MIRROR=${TB_MIRROR:-http://deb.debian.org/debian}
MAX_EXPOSURE=${TB_MAX_EXPOSURE:-2.0}
PACKAGES=dbus,libcurl4,libinih1,systemd,systemd-sysv,libnss-systemd,curl,python3
SECRET_JOB="secret-0123456789abcdef"
SECRET_JOB2="secret-aaaabbbbccccdddd"
SECRET_FAIL="secret-fedcba9876543210"

NSPAWN_PID=
PID1=
RECV_PID=
PASSED=0
WARNED=0

log() { printf '%s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf 'ok %d - %s\n' "$PASSED" "$*"; }
warn() {
        WARNED=$((WARNED + 1))
        printf 'WARNING: %s\n' "$*"
        if [ "${TB_STRICT:-0}" = 1 ]; then fail "$* (TB_STRICT=1)"; fi
}
setup_error() { printf 'SETUP ERROR: %s\n' "$*" >&2; exit 2; }

# Runs a command inside the container (all namespaces of its PID 1).
C() { nsenter -t "$PID1" -a -- "$@"; }

diagnose() {
        [ -n "$PID1" ] && kill -0 "$PID1" 2>/dev/null || return 0
        log "--- systemctl status timerbeat"
        C systemctl status --no-pager -l timerbeat.service 2>&1 | sed 's/^/    /' || true
        log "--- journalctl -b -u timerbeat (last 40 lines)"
        C journalctl -b --no-pager -o short-monotonic -u timerbeat.service -n 40 2>&1 | sed 's/^/    /' || true
        local j
        j=$(C journalctl -b --no-pager -o cat -u timerbeat.service 2>/dev/null || true)
        if grep -q 'Lost the connection to the system bus\|Connection terminated' <<<"$j" &&
           grep -qx 'DynamicUser=yes' "$UNIT" && ! grep -q '^User=' "$UNIT"; then
                log "HINT: dbus-daemon drops connections from DynamicUser= UIDs: systemd runs dbus.service with"
                log "      SYSTEMD_NSS_DYNAMIC_BYPASS=1, so the daemon cannot resolve the UID and disconnects right"
                log "      after Hello. Give the unit a static User= (created by a sysusers.d file)."
        fi
        if grep -q 'Failed to locate executable /bin/kill' <<<"$j"; then
                log "HINT: ExecReload= needs /bin/kill, which is in procps (not installed here)."
        fi
}

fail() {
        printf 'FAIL: %s\n' "$*"
        diagnose
        printf '%d passed, 1 failed\n' "$PASSED"
        exit 1
}

cleanup() {
        local rc=$?
        set +e
        if [ -n "$RECV_PID" ]; then kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; fi
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                if [ "${TB_KEEP:-0}" = 1 ]; then
                        log "Container left running (TB_KEEP=1): nsenter -t $PID1 -a systemctl ...;" \
                            "stop it with: nsenter -t $PID1 -a systemctl poweroff"
                else
                        # A clean poweroff first; nspawn exits when the container's PID 1 does.
                        [ -n "$PID1" ] && nsenter -t "$PID1" -a -- systemctl poweroff --no-block >/dev/null 2>&1
                        for _ in $(seq 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
                        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
                                log "Container did not power off in 30s; terminating systemd-nspawn ($NSPAWN_PID)."
                                kill -TERM "$NSPAWN_PID"
                                for _ in $(seq 20); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
                                kill -0 "$NSPAWN_PID" 2>/dev/null && kill -KILL "$NSPAWN_PID"
                        fi
                        wait "$NSPAWN_PID" 2>/dev/null
                fi
        fi
        log "Took $(( $(date +%s) - START ))s."
        exit "$rc"
}

# Waits up to $1 seconds for the command in $2... to succeed.
wait_for() {
        local t=$1; shift
        local end=$(( $(date +%s) + t ))
        until "$@"; do
                [ "$(date +%s)" -ge "$end" ] && return 1
                sleep 0.2
        done
}

count_requests() { grep -c -- " $1\$" "$RUN/requests.log" 2>/dev/null || true; }
has_requests() { [ "$(count_requests "$1")" -ge "${2:-1}" ]; }

# ---------------------------------------------------------------- arguments and host
[ $# -eq 1 ] || { echo "Usage: $0 BUILDDIR" >&2; exit 2; }
BUILD=$(cd "$1" 2>/dev/null && pwd) || setup_error "no such build directory: $1"
BIN=$BUILD/src/timerbeat
UNIT=$BUILD/units/timerbeat.service
[ -x "$BIN" ] || setup_error "$BIN missing: build first (ninja -C $BUILD)"
[ -f "$UNIT" ] || setup_error "$UNIT missing: build first (ninja -C $BUILD)"
grep -q '^ExecStart=/usr/bin/timerbeat' "$UNIT" ||
        setup_error "$UNIT does not run /usr/bin/timerbeat: configure the build with -Dprefix=/usr"
[ "$(id -u)" = 0 ] || setup_error "must run as root (debootstrap, systemd-nspawn, nsenter)"
SRC=
if [ -f "$BUILD/meson-info/meson-info.json" ]; then
        SRC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
                "$BUILD/meson-info/meson-info.json" 2>/dev/null || true)
fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v nsenter >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
        log "Installing on the host: ${need[*]}"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >/dev/null ||
                setup_error "apt-get install ${need[*]} failed"
fi

mkdir -p "$WORK" "$RUN"
exec 9>"$WORK/lock"
flock -n 9 || setup_error "another nspawn-test.sh is using $WORK"
for p in $(pgrep -x systemd-nspawn || true); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-D $ROOT "; then
                setup_error "a container is already running on $ROOT (systemd-nspawn PID $p); stop it first"
        fi
done
trap cleanup EXIT

# ---------------------------------------------------------------- 1. the container tree
if [ -f "$WORK/root.done" ] && [ -x "$ROOT/usr/lib/systemd/systemd" ]; then
        log "Reusing $ROOT"
else
        log "Debootstrapping Debian 12 into $ROOT (about a minute)"
        rm -rf "$ROOT" "$WORK/root.done"
        debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" "$MIRROR" >"$RUN/debootstrap.log" 2>&1 ||
                { tail -20 "$RUN/debootstrap.log"; setup_error "debootstrap failed (log: $RUN/debootstrap.log)"; }
        touch "$WORK/root.done"
fi
missing=()
for pkg in ${PACKAGES//,/ }; do
        grep -q "^$pkg\$" <(chroot "$ROOT" dpkg-query -W -f '${Package}\n' 2>/dev/null) || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
        log "Installing into the container tree: ${missing[*]}"
        systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --pipe -E DEBIAN_FRONTEND=noninteractive \
                sh -c "apt-get update -q && apt-get install -y -q ${missing[*]}" >"$RUN/apt.log" 2>&1 ||
                setup_error "installing ${missing[*]} into $ROOT failed (log: $RUN/apt.log)"
fi

# ---------------------------------------------------------------- 2. the HTTP receiver
rm -f "$RUN/requests.log" "$RUN/port"
cat >"$RUN/receiver.py" <<'EOF'
import http.server, sys
log = open(sys.argv[1], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write("%s %s\n" % (self.command, self.path))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
    do_POST = do_HEAD = do_GET
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
python3 "$RUN/receiver.py" "$RUN/requests.log" "$RUN/port" </dev/null >"$RUN/receiver.log" 2>&1 &
RECV_PID=$!
wait_for 10 test -s "$RUN/port" || setup_error "the HTTP receiver did not start (log: $RUN/receiver.log)"
PORT=$(cat "$RUN/port")
touch "$RUN/requests.log"
log "HTTP receiver on 127.0.0.1:$PORT"

# ---------------------------------------------------------------- 3. install into the tree
# Leftovers of earlier runs go first, so that every run starts from the same state.
rm -rf "$ROOT"/etc/systemd/system/timerbeat.service* "$ROOT"/etc/systemd/system/{job,fail}.{service,timer} \
       "$ROOT"/etc/timerbeat "$ROOT"/var/lib/timerbeat "$ROOT"/var/lib/private/timerbeat \
       "$ROOT"/usr/lib/sysusers.d/timerbeat.conf "$ROOT"/etc/sysusers.d/timerbeat.conf \
       "$ROOT"/etc/systemd/system/multi-user.target.wants/timerbeat.service
install -m 0755 "$BIN" "$ROOT/usr/bin/timerbeat"
install -m 0644 "$UNIT" "$ROOT/etc/systemd/system/timerbeat.service"

# A static User= needs its sysusers.d file; the user is removed first so that the file is
# what creates it (systemd-sysusers.service at boot). A static "timerbeat" left from an
# earlier run goes too: DynamicUser=yes would silently use it instead of a dynamic user.
SVC_USER=$(sed -n 's/^User=//p' "$UNIT" | tail -1)
for u in timerbeat $SVC_USER; do
        for f in passwd group shadow gshadow; do
                [ -f "$ROOT/etc/$f" ] && sed -i "/^$u:/d" "$ROOT/etc/$f"
        done
done
if [ -n "$SVC_USER" ]; then
        SYSUSERS=${TB_SYSUSERS:-}
        if [ -z "$SYSUSERS" ]; then
                SYSUSERS=$(find "$BUILD/units" ${SRC:+"$SRC/units"} -maxdepth 2 -type f -name '*sysusers*' \
                                2>/dev/null | head -1)
        fi
        [ -n "$SYSUSERS" ] && [ -f "$SYSUSERS" ] ||
                setup_error "the unit sets User=$SVC_USER but no sysusers.d file was found (set TB_SYSUSERS)"
        grep -Eq "^u[[:space:]]+${SVC_USER}[[:space:]]" "$SYSUSERS" ||
                setup_error "$SYSUSERS does not create user $SVC_USER"
        mkdir -p "$ROOT/usr/lib/sysusers.d"
        install -m 0644 "$SYSUSERS" "$ROOT/usr/lib/sysusers.d/timerbeat.conf"
        log "Static user $SVC_USER from $SYSUSERS"
fi

mkdir -p "$ROOT/etc/timerbeat"
write_config() {
        cat >"$ROOT/etc/timerbeat/timerbeat.conf" <<EOF
[job.timer]
url = http://127.0.0.1:$PORT/$1

[fail.timer]
url = http://127.0.0.1:$PORT/fail/$SECRET_FAIL
EOF
        chmod 0644 "$ROOT/etc/timerbeat/timerbeat.conf"
}
write_config "ping/$SECRET_JOB"
for n in job fail; do
        exe=/bin/true; [ $n = fail ] && exe=/bin/false
        printf '[Unit]\nDescription=timerbeat test %s\n\n[Service]\nType=oneshot\nExecStart=%s\n' \
                "$n" "$exe" >"$ROOT/etc/systemd/system/$n.service"
        printf '[Unit]\nDescription=timerbeat test %s timer\n\n[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n' \
                "$n" >"$ROOT/etc/systemd/system/$n.timer"
done

# ---------------------------------------------------------------- 4. boot
log "Booting the container"
# Not a process group leader here, so setsid execs in place: $! is systemd-nspawn itself.
setsid systemd-nspawn -D "$ROOT" --register=no --keep-unit --console=passive -b \
        </dev/null >"$RUN/nspawn.log" 2>&1 &
NSPAWN_PID=$!
# The container's PID 1 is the child of systemd-nspawn that runs systemd (an intermediate
# child exists briefly, and PID 1 is a plain process until it execs systemd).
find_pid1() {
        local c
        kill -0 "$NSPAWN_PID" 2>/dev/null || setup_error "systemd-nspawn exited (log: $RUN/nspawn.log)"
        for c in $(pgrep -P "$NSPAWN_PID"); do
                if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then PID1=$c; return 0; fi
        done
        return 1
}
wait_for 30 find_pid1 || { tail -20 "$RUN/nspawn.log"; setup_error "the container did not start (log: $RUN/nspawn.log)"; }
# "offline" while PID 1 has not yet opened its private bus socket: ask again.
boot_done() {
        state=$(timeout 60 nsenter -t "$PID1" -a -- systemctl is-system-running --wait 2>/dev/null || true)
        [ "$state" != offline ] && [ -n "$state" ]
}
state=
wait_for 90 boot_done || true
case "$state" in
running) ok "container booted (systemd $(C systemctl --version | head -1 | cut -d' ' -f2), state running)" ;;
degraded)
        ok "container booted (state degraded)"
        C systemctl --failed --no-pager --plain | sed 's/^/    /' ;;
*) setup_error "the container did not finish booting (state '$state', log: $RUN/nspawn.log)" ;;
esac
if [ -n "$SVC_USER" ]; then
        C getent passwd "$SVC_USER" >/dev/null || fail "systemd-sysusers did not create user $SVC_USER"
        ok "sysusers.d created $SVC_USER ($(C getent passwd "$SVC_USER" | cut -d: -f3))"
fi

# ---------------------------------------------------------------- 5. the checks
C systemctl start timerbeat.service || fail "systemctl start timerbeat failed"
sleep 1
[ "$(C systemctl is-active timerbeat.service)" = active ] || fail "timerbeat is not active after starting"
[ "$(C systemctl show -p NRestarts --value timerbeat.service)" = 0 ] || fail "timerbeat restarted after starting"
MAINPID=$(C systemctl show -p MainPID --value timerbeat.service)
UID_=$(C awk '/^Uid:/ {print $2}' "/proc/$MAINPID/status")
[ -n "$UID_" ] && [ "$UID_" != 0 ] || fail "timerbeat runs as UID '$UID_', expected a non-root user"
ok "timerbeat.service active (Type=notify), PID $MAINPID, UID $UID_ ($(C systemctl show -p StatusText --value timerbeat.service))"

C systemctl start job.timer fail.timer || fail "cannot start the test timers"
wait_for 15 has_requests "/ping/$SECRET_JOB" || fail "no request for job.timer arrived within 15s"
wait_for 10 sh -c "[ \"\$(nsenter -t $PID1 -a -- systemctl show -p Result --value fail.service)\" = exit-code ]" ||
        fail "fail.service did not fail"
sleep 2 # time for a duplicate or a wrong ping to show up
n=$(count_requests "/ping/$SECRET_JOB")
[ "$n" = 1 ] || fail "expected exactly 1 request for job.timer, got $n: $(cat "$RUN/requests.log")"
ok "exactly one GET for job.timer's successful run"
n=$(grep -c '/fail/' "$RUN/requests.log" || true)
[ "$n" = 0 ] || fail "expected no request for fail.timer, got $n"
[ "$(wc -l <"$RUN/requests.log")" = 1 ] || fail "unexpected requests: $(cat "$RUN/requests.log")"
ok "no request for fail.timer's failed run"

J=$(C journalctl -b --no-pager -o cat -u timerbeat.service)
JV=$(C journalctl -b --no-pager -o verbose) # every field of every entry, not only timerbeat's
for want in "timerbeat started, watching 2 checks on the system manager." \
            "of job.service succeeded; pinging" "Pinged http://127.0.0.1:$PORT/" \
            "of fail.service ended with result 'exit-code'"; do
        grep -qF -- "$want" <<<"$J" || fail "journal lacks '$want'"
done
ok "journal has timerbeat's lines"
for secret in "$SECRET_JOB" "$SECRET_FAIL" "${SECRET_JOB#secret-}" "${SECRET_FAIL#secret-}"; do
        if grep -qF -- "$secret" <<<"$J$JV"; then
                fail "the journal contains the secret '$secret'"
        fi
done
ok "no full URL (secret) anywhere in the journal"

write_config "ping2/$SECRET_JOB2"
C systemctl reload timerbeat.service || fail "systemctl reload timerbeat failed"
wait_for 5 sh -c "nsenter -t $PID1 -a -- journalctl -b --no-pager -o cat -u timerbeat.service |
                  grep -q 'Configuration reloaded'" || fail "no 'Configuration reloaded' in the journal"
[ "$(C systemctl is-active timerbeat.service)" = active ] || fail "timerbeat is not active after reload"
[ "$(C systemctl show -p MainPID --value timerbeat.service)" = "$MAINPID" ] || fail "reload restarted timerbeat"
C systemctl restart job.timer
wait_for 15 has_requests "/ping2/$SECRET_JOB2" || fail "the reloaded URL got no request within 15s"
sleep 1
[ "$(count_requests "/ping2/$SECRET_JOB2")" = 1 ] && [ "$(count_requests "/ping/$SECRET_JOB")" = 1 ] ||
        fail "after reload, expected one request at the new URL only: $(cat "$RUN/requests.log")"
ok "systemctl reload applied the new URL (same PID)"

# Watched timers that are not loaded must not make timerbeat (and PID 1) spin.
C systemctl stop job.timer fail.timer
C systemctl reset-failed fail.service 2>/dev/null || true
C systemctl daemon-reload
sleep 2
csw() { C awk '/^voluntary_ctxt_switches:/ {print $2}' "/proc/$MAINPID/status"; }
a=$(csw); sleep 3; b=$(csw)
if [ $((b - a)) -gt 300 ]; then
        warn "timerbeat busy-loops while its timers are unloaded: $((b - a)) wakeups in 3s (UnitNew/Get cycle)"
else
        ok "idle while the watched timers are unloaded ($((b - a)) wakeups in 3s)"
fi

SEC=$(C systemd-analyze security --no-pager timerbeat.service 2>&1 || true)
EXPOSURE=$(sed -n 's/.*Overall exposure level for timerbeat.service: \([0-9.]*\).*/\1/p' <<<"$SEC")
[ -n "$EXPOSURE" ] || fail "systemd-analyze security printed no exposure level"
awk -v e="$EXPOSURE" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
        fail "systemd-analyze security exposure $EXPOSURE is above $MAX_EXPOSURE"
ok "systemd-analyze security: exposure $EXPOSURE (at most $MAX_EXPOSURE)"
{ grep '✗' <<<"$SEC" || true; } | sed -E 's/ {2,}/  /g; s/^/    /'

C systemctl stop timerbeat.service || fail "systemctl stop timerbeat failed"
[ "$(C systemctl show -p Result --value timerbeat.service)" = success ] ||
        fail "timerbeat stopped with Result=$(C systemctl show -p Result --value timerbeat.service)"
J=$(C journalctl -b --no-pager -o cat -u timerbeat.service)
grep -q 'Received SIGTERM, stopping.' <<<"$J" ||
        fail "no 'Received SIGTERM, stopping.' in the journal"
ok "systemctl stop: clean exit (Result=success)"

log "--- journalctl -b -u timerbeat"
C journalctl -b --no-pager -o short-monotonic -u timerbeat.service | sed 's/^/    /'
printf '%d passed, 0 failed\n' "$PASSED"
[ "$WARNED" = 0 ] || log "($WARNED warning(s) above)"
