#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2015,SC2016  # A && ok || fail is meant; dpkg-query formats in single quotes
#
# System test of the Debian package: installed with apt in a booted Debian 12 (bookworm) or
# Debian 13 (trixie) container, under a real systemd system manager.
#
#   tests/system/deb-test.sh DEB|OUTDIR [SUITE]
#
# SUITE is bookworm (the default) or trixie: the .deb should have been built there
# (build-deb.sh on a Debian 12 host, build-deb-in.sh trixie for Debian 13).
# DEB is timerbeat_*.deb (or a directory with exactly one, as build-deb.sh leaves it). Needs
# root and, the first time, the network to deb.debian.org (debootstrap into
# $TB_DEB_DIR/base, or base-SUITE, about a minute, reused afterwards). Every run boots a fresh copy of that
# tree with systemd-nspawn: systemd runs as PID 1 of the container only, never on the host.
#
# What it checks:
#   - README.md's "Verified on" row for the release names the booted systemd version and bus;
#   - apt install of the .deb: the system user timerbeat exists (sysusers.d), timerbeat.service
#     is enabled and active with the shipped configuration, the user unit is not enabled;
#   - with a drop-in for a timer whose service succeeds and one whose service fails,
#     systemctl reload applies it (same PID), and exactly one GET for the successful run
#     arrives at a receiver on the host's 127.0.0.1, none for the failed one;
#   - the daemon runs as the unprivileged system user timerbeat, not root;
#   - no full (secret) URL in the journal; a second reload applies a changed URL;
#   - /etc/timerbeat and conf.d are root:timerbeat 2750; a broken drop-in makes systemctl reload
#     fail with the reason while the old configuration pings; the world-readable warning's
#     command, run as written, and the fix `check` prints for root:root 0640 leave the service
#     active and pinging; hostnamectl hostname: the next {hostname} ping carries the new name;
#   - systemd-analyze security exposure is at most $TB_MAX_EXPOSURE (default 1.5; printed);
#   - /etc/timerbeat/timerbeat.conf is a conffile: a local change survives a reinstall and
#     apt remove; apt purge removes it;
#   - after apt purge nothing of the package is left but the system user timerbeat (kept,
#     as is usual in Debian); systemd's /var/lib/private may stay, empty.
#
# Environment:
#   TB_DEB_DIR       work directory (default /var/tmp/tb-deb): base/ is the cached tree,
#                    root/ the container of this run, run/ logs and the receiver (another
#                    SUITE: base-SUITE/, root-SUITE/, run-SUITE/)
#   TB_MIRROR        Debian mirror (default http://deb.debian.org/debian)
#   TB_MAX_EXPOSURE  highest acceptable systemd-analyze security exposure (default 1.5)
#   TB_KEEP=1        leave the container running at the end
#
# Exit status 0 when everything passed, 1 on a failed check, 2 on a setup problem.

set -euo pipefail

WORK=${TB_DEB_DIR:-/var/tmp/tb-deb}
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "Usage: $0 DEB|OUTDIR [SUITE]" >&2; exit 2; }
SUITE=${2:-bookworm}
SFX=
[ "$SUITE" = bookworm ] || SFX=-$SUITE
BASE=$WORK/base$SFX
ROOT=$WORK/root$SFX
RUN=$WORK/run$SFX
MAX_EXPOSURE=${TB_MAX_EXPOSURE:-1.5}
# The container: systemd as init, the system bus, and the package's run-time dependencies
# (so that installing needs no download; apt would fetch anything missing).
PACKAGES=$(tb_packages "$SUITE")
SECRET_JOB="secret-0123456789abcdef"
SECRET_JOB2="secret-aaaabbbbccccdddd"
SECRET_FAIL="secret-fedcba9876543210"
DROPIN=/etc/timerbeat/conf.d/50-system-test.conf

cleanup() {
        local rc=$?
        set +e
        tb_cleanup
        [ "${TB_KEEP:-0}" = 1 ] || [ "$rc" != 0 ] || rm -rf "$ROOT"
        log "Took $(( $(date +%s) - TB_START ))s."
        exit "$rc"
}

# ---------------------------------------------------------------- arguments and host
DEB=$1
if [ -d "$DEB" ]; then
        shopt -s nullglob
        debs=("$DEB"/timerbeat_*.deb)
        shopt -u nullglob
        [ ${#debs[@]} = 1 ] || setup_error "expected exactly one timerbeat_*.deb in $DEB, found ${#debs[@]}"
        DEB=${debs[0]}
fi
[ -f "$DEB" ] || setup_error "no such package: $DEB"
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
tb_host_tools

mkdir -p "$WORK" "$RUN"
exec 9>"$WORK/container$SFX.lock"
flock -n 9 || setup_error "another deb-test.sh is using $WORK"
trap cleanup EXIT

# ---------------------------------------------------------------- 1. a fresh container
tb_base "$BASE" "$PACKAGES" "$SUITE"
rm -rf "$ROOT"
cp -a --reflink=auto "$BASE" "$ROOT"
tb_receiver
tb_boot "$ROOT" "tb-deb-test$SFX"
log "Debian $(tb_suite_version "$SUITE") ($SUITE): $(cat "$ROOT/etc/debian_version"), $(C systemctl --version | head -1)"

# README.md's "Verified on" row for this release names the systemd version and the bus booted.
README=$(dirname "$0")/../../README.md
SD_MAJOR=$(C systemctl --version | head -1 | cut -d' ' -f2)
BUS=$(C sh -c 'cat "/proc/$(systemctl show -p MainPID --value dbus.service)/comm"')
case $BUS in dbus-broker*) BUS=dbus-broker ;; esac
row=$(grep -E "^\| Debian $(tb_suite_version "$SUITE") " "$README" || true)
[ -n "$row" ] || fail "README.md has no 'Verified on' row for Debian $(tb_suite_version "$SUITE")"
grep -qF "| $SD_MAJOR |" <<<"$row" && grep -qF "| $BUS (system bus) |" <<<"$row" ||
        fail "README.md's 'Verified on' row is '$row', but systemd $SD_MAJOR with $BUS booted: update it"
ok "README.md's 'Verified on' row for Debian $(tb_suite_version "$SUITE"): systemd $SD_MAJOR, $BUS"

# What is on the system before the package: compared with what is left after apt purge.
# (The journal, apt's and dpkg's logs, caches and databases change anyway.)
snapshot() {
        C find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
                          -o -path /var/log/journal -o -path /var/log/apt -o -path /var/cache/apt \
                          -o -path /var/cache/debconf -o -path /var/cache/ldconfig -o -path /var/lib/apt \
                          -o -path /var/lib/dpkg \) -prune -o -print | sort
}
snapshot >"$RUN/before.list"

# ---------------------------------------------------------------- 2. apt install
install -m 0644 "$DEB" "$ROOT/var/tmp/$(basename "$DEB")"
CDEB=/var/tmp/$(basename "$DEB")
apt_install() {
        C apt-get install -y -q --no-install-recommends "$@" >>"$RUN/apt.log" 2>&1 && return 0
        # A dependency the tree lacks, and stale lists: once more with fresh ones.
        C apt-get update -q >>"$RUN/apt.log" 2>&1 && C apt-get install -y -q --no-install-recommends "$@" >>"$RUN/apt.log" 2>&1
}
: >"$RUN/apt.log"
apt_install "$CDEB" || { tail -30 "$RUN/apt.log"; fail "apt install $(basename "$DEB") failed (log: $RUN/apt.log)"; }
VERSION=$(C dpkg-query -W -f '${Version} (${db:Status-Abbrev})' timerbeat | sed 's/ )$/)/')
ok "apt install $(basename "$DEB"): timerbeat $VERSION"

C getent passwd timerbeat >/dev/null || fail "the package did not create the system user timerbeat"
IFS=: read -r _ _ TB_UID TB_GID _ TB_HOME TB_SHELL <<<"$(C getent passwd timerbeat)"
[ "$TB_UID" -gt 0 ] && [ "$TB_UID" -lt 1000 ] || fail "timerbeat has UID $TB_UID, not a system UID"
ok "system user timerbeat created by sysusers.d (UID $TB_UID, GID $TB_GID, home $TB_HOME, shell $TB_SHELL)"

[ "$(C systemctl is-enabled timerbeat.service)" = enabled ] || fail "timerbeat.service is not enabled after install"
wait_for 10 sh -c "[ \"\$(nsenter -t $PID1 -a -- systemctl is-active timerbeat.service)\" = active ]" ||
        fail "timerbeat.service is not active after install"
ok "timerbeat.service enabled and active after install ($(C systemctl show -p StatusText --value timerbeat.service))"
st=$(C systemctl --global is-enabled timerbeat.service 2>&1 || true)
[ "$st" = disabled ] || fail "the user unit is '$st' for all users, expected disabled"
ok "the user unit is installed, not enabled (systemctl --global is-enabled: $st)"
modes=$(C stat -c '%U:%G %a' /etc/timerbeat /etc/timerbeat/conf.d | tr '\n' ' ')
[ "$modes" = "root:timerbeat 2750 root:timerbeat 2750 " ] ||
        fail "/etc/timerbeat and conf.d are '$modes', expected root:timerbeat 2750 (setgid)"
ok "/etc/timerbeat and conf.d: root:timerbeat 2750 (the service's group reads, others stay out)"
[ -f "$ROOT/usr/share/bash-completion/completions/timerbeat" ] && [ -f "$ROOT/usr/share/man/man8/timerbeat.8.gz" ] &&
        [ -f "$ROOT/usr/share/man/man5/timerbeat.conf.5.gz" ] || fail "man pages or bash completion not installed"

# ---------------------------------------------------------------- 3. configuration and reload
write_dropin() {
        cat >"$ROOT$DROPIN" <<EOF
[job.timer]
url = http://127.0.0.1:$PORT/$1

[fail.timer]
url = http://127.0.0.1:$PORT/fail/$SECRET_FAIL
EOF
        chmod 0644 "$ROOT$DROPIN"
}
for n in job fail; do
        exe=/bin/true; [ $n = fail ] && exe=/bin/false
        printf '[Unit]\nDescription=timerbeat test %s\n\n[Service]\nType=oneshot\nExecStart=%s\n' \
                "$n" "$exe" >"$ROOT/etc/systemd/system/$n.service"
        printf '[Unit]\nDescription=timerbeat test %s timer\n\n[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n' \
                "$n" >"$ROOT/etc/systemd/system/$n.timer"
done
C systemctl daemon-reload
write_dropin "ping/$SECRET_JOB"
out=$(C timerbeat check 2>&1) || fail "timerbeat check refused the test configuration: $out"
grep -q '^OK: watching 2 units from 2 sections\.$' <<<"$out" || fail "timerbeat check: $out"

MAINPID=$(C systemctl show -p MainPID --value timerbeat.service)
C systemctl reload timerbeat.service || fail "systemctl reload timerbeat failed"
reloaded() { [ "$(C journalctl -b --no-pager -o cat -u timerbeat.service | grep -c 'Configuration reloaded')" -ge "$1" ]; }
wait_for 10 reloaded 1 || fail "no 'Configuration reloaded' in the journal after systemctl reload"
[ "$(C systemctl is-active timerbeat.service)" = active ] || fail "timerbeat is not active after reload"
[ "$(C systemctl show -p MainPID --value timerbeat.service)" = "$MAINPID" ] || fail "reload restarted timerbeat"
wait_for 10 sh -c "nsenter -t $PID1 -a -- journalctl -b --no-pager -o cat -u timerbeat.service | grep -q 'watching 2 units from 2 sections'" ||
        warn "no 'watching 2 units from 2 sections' in the journal after reload"
ok "systemctl reload timerbeat: configuration reloaded, same PID $MAINPID, active"

# ---------------------------------------------------------------- 4. one ping for the success only
C systemctl start job.timer fail.timer || fail "cannot start the test timers"
wait_for 20 has_requests "/ping/$SECRET_JOB" || fail "no request for job.timer arrived within 20s"
wait_for 10 sh -c "[ \"\$(nsenter -t $PID1 -a -- systemctl show -p Result --value fail.service)\" = exit-code ]" ||
        fail "fail.service did not fail"
sleep 2 # time for a duplicate or a wrong ping to show up
n=$(count_requests "/ping/$SECRET_JOB")
[ "$n" = 1 ] || fail "expected exactly 1 request for job.timer, got $n: $(cat "$RUN/requests.log")"
[ "$(grep -c '/fail/' "$RUN/requests.log" || true)" = 0 ] || fail "a request for fail.timer arrived"
[ "$(wc -l <"$RUN/requests.log")" = 1 ] || fail "unexpected requests: $(cat "$RUN/requests.log")"
ok "exactly one request arrived: '$(cat "$RUN/requests.log")' for job.timer's success, none for fail.timer's failure"

# ---------------------------------------------------------------- 5. the user, not root
MAINPID=$(C systemctl show -p MainPID --value timerbeat.service)
read -r _ RUID EUID_ _ FSUID < <(C grep '^Uid:' "/proc/$MAINPID/status")
USER_=$(C getent passwd "$EUID_" | cut -d: -f1)
[ "$RUID" != 0 ] && [ "$EUID_" != 0 ] && [ "$FSUID" != 0 ] || fail "timerbeat (PID $MAINPID) runs as root"
[ "$USER_" = timerbeat ] && [ "$EUID_" = "$TB_UID" ] || fail "timerbeat runs as UID $EUID_ ($USER_), expected timerbeat ($TB_UID)"
caps=$(C grep '^CapEff:' "/proc/$MAINPID/status" | awk '{print $2}')
[ "$caps" = 0000000000000000 ] || fail "timerbeat has capabilities: CapEff $caps"
ok "timerbeat (PID $MAINPID) runs as the unprivileged system user timerbeat (UID $EUID_), no capabilities"

J=$(C journalctl -b --no-pager -o verbose)
for secret in "$SECRET_JOB" "$SECRET_FAIL" "${SECRET_JOB#secret-}" "${SECRET_FAIL#secret-}"; do
        if grep -qF -- "$secret" <<<"$J"; then fail "the journal contains the secret '$secret'"; fi
done
ok "no full URL (secret) in the journal"

write_dropin "ping2/$SECRET_JOB2"
C systemctl reload timerbeat.service || fail "the second systemctl reload failed"
wait_for 10 reloaded 2 || fail "no second 'Configuration reloaded' in the journal"
C systemctl restart job.timer
wait_for 20 has_requests "/ping2/$SECRET_JOB2" || fail "the reloaded URL got no request within 20s"
sleep 1
[ "$(count_requests "/ping2/$SECRET_JOB2")" = 1 ] && [ "$(wc -l <"$RUN/requests.log")" = 2 ] ||
        fail "after the second reload, expected one request at the new URL only: $(cat "$RUN/requests.log")"
ok "a second reload applied a changed URL (one request there)"

# ---------------------------------------------------------------- 5b. a refused reload fails
journal_has() { C journalctl -b --no-pager -o cat -u timerbeat.service | grep -qF -- "$1"; }
pings_at() { # URL-PATH: one more request there after restarting job.timer
        local before
        before=$(count_requests "$1")
        C systemctl restart job.timer
        wait_for 20 has_requests "$1" $((before + 1))
}
BROKEN=/etc/timerbeat/conf.d/60-broken.conf
printf '[job.timer]\nurl = ftp://127.0.0.1/nope\n' >"$ROOT$BROKEN"
MAINPID=$(C systemctl show -p MainPID --value timerbeat.service)
if out=$(C systemctl reload timerbeat.service 2>&1); then fail "systemctl reload succeeded with a broken drop-in: $out"; fi
wait_for 10 journal_has "$BROKEN:2: url= ftp://" || fail "the reason ($BROKEN:2) is not in the unit's log"
journal_has "timerbeat refused the new configuration" || fail "no 'refused' verdict in the unit's log"
[ "$(C systemctl is-active timerbeat.service)" = active ] || fail "timerbeat is not active after a refused reload"
[ "$(C systemctl show -p MainPID --value timerbeat.service)" = "$MAINPID" ] || fail "the refused reload restarted timerbeat"
pings_at "/ping2/$SECRET_JOB2" || fail "after the refused reload, the previous configuration did not ping"
ok "a broken drop-in: systemctl reload exits non-zero ($(head -1 <<<"$out")), the reason is in the log, the old configuration pings"
rm -f "$ROOT$BROKEN"

# ---------------------------------------------------------------- 5c. following timerbeat's advice
# A world-readable drop-in where others can enter (an older install, or an admin's chmod): the
# warning names the command; run as written, the service still reads the file.
C chmod 0755 /etc/timerbeat /etc/timerbeat/conf.d
C chgrp root "$DROPIN"
C chmod 0644 "$DROPIN"
C systemctl reload timerbeat.service || fail "systemctl reload failed with a readable drop-in"
wait_for 10 journal_has "$DROPIN:2: this file is readable by all users" || fail "no world-readable warning for $DROPIN"
fix=$(C journalctl -b --no-pager -o cat -u timerbeat.service | grep -F "$DROPIN:2: this file is readable by all" | tail -1 |
      sed -n 's/.*; run: \(.*\) (or use url = .*/\1/p')
[ "$fix" = "chgrp timerbeat $DROPIN && chmod 0640 $DROPIN" ] || fail "the warning's command is '$fix'"
C sh -c "$fix" || fail "the advised command failed: $fix"
C systemctl restart timerbeat.service || fail "timerbeat does not restart after following the advice"
[ "$(C systemctl is-active timerbeat.service)" = active ] || fail "timerbeat is not active after following the advice"
pings_at "/ping2/$SECRET_JOB2" || fail "no ping after following the advice and restarting"
ok "the warning's command ($fix), then a restart: active and pinging"

# What `chmod o-r` alone made of it (issue 13): root:root 0640. check (as root) says the service
# cannot read it and how to fix it; reload fails; the fix from check works.
C chgrp root "$DROPIN"
C chmod 0640 "$DROPIN"
if out=$(C timerbeat check 2>&1); then fail "timerbeat check passed a file the service cannot read: $out"; fi
grep -qF "$DROPIN: the service's user timerbeat cannot read it" <<<"$out" || fail "timerbeat check: $out"
fix=$(sed -n 's/.*cannot read it.*; run: \(.*\)$/\1/p' <<<"$out" | head -1)
[ "$fix" = "chgrp timerbeat $DROPIN && chmod 0640 $DROPIN" ] || fail "check's command is '$fix': $out"
if C systemctl reload timerbeat.service >/dev/null 2>&1; then fail "systemctl reload succeeded with a file the service cannot read"; fi
wait_for 10 journal_has "$DROPIN: cannot read: Permission denied: $DROPIN (root:root 0640) keeps out user timerbeat; run: $fix" ||
        fail "the daemon's error does not name the file and the fix"
C sh -c "$fix" || fail "check's command failed: $fix"
out=$(C timerbeat check 2>&1) || fail "timerbeat check after its own fix: $out"
C systemctl restart timerbeat.service && [ "$(C systemctl is-active timerbeat.service)" = active ] ||
        fail "timerbeat is not active after check's fix"
pings_at "/ping2/$SECRET_JOB2" || fail "no ping after check's fix"
ok "root:root 0640: check names the file and '$fix', reload fails, the fix makes it active and pinging"
C chgrp timerbeat /etc/timerbeat /etc/timerbeat/conf.d
C chmod 2750 /etc/timerbeat /etc/timerbeat/conf.d

# ---------------------------------------------------------------- 5d. {hostname} follows a rename
printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$ROOT/etc/systemd/system/host.service"
printf '[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n' >"$ROOT/etc/systemd/system/host.timer"
C systemctl daemon-reload
printf '[host.timer]\nurl = http://127.0.0.1:%s/host/{hostname}\n' "$PORT" >"$ROOT/etc/timerbeat/conf.d/70-host.conf"
C systemctl reload timerbeat.service || fail "systemctl reload failed for the {hostname} drop-in"
C hostnamectl hostname tb-renamed-host || fail "hostnamectl hostname failed"
C systemctl start host.timer
wait_for 20 has_requests "/host/tb-renamed-host" || fail "no {hostname} ping with the new name: $(grep /host/ "$RUN/requests.log" || true)"
dry=$(C timerbeat ping host.timer --dry-run --show-secrets | head -1)
[ "$dry" = "GET http://127.0.0.1:$PORT/host/tb-renamed-host" ] || fail "ping --dry-run disagrees: $dry"
ok "hostnamectl hostname tb-renamed-host: the next {hostname} ping and ping --dry-run carry the new name, no restart"

# ---------------------------------------------------------------- 5c. no false success after reset-failed
# Issue 12 on the system manager: while timerbeat is stopped, fail.service fails (exit 1) and
# `systemctl reset-failed` makes systemd say Result=success for that run. At its next start
# timerbeat reads the run from the journal (and the exit status from the state): no success.
C systemctl stop timerbeat.service
C systemctl start fail.service >/dev/null 2>&1 && fail "fail.service did not fail"
INV=$(C systemctl show -p InvocationID --value fail.service)
C systemctl reset-failed fail.service
[ "$(C systemctl show -p Result --value fail.service)" = success ] ||
        fail "after reset-failed systemd does not say Result=success; the case is not reproduced"
C systemctl start timerbeat.service
wait_for 30 journal_has "Run $INV of fail.service ended while timerbeat was not watching, with result" ||
        fail "timerbeat did not catch up run $INV of fail.service: $(C journalctl -b --no-pager -o cat -u timerbeat.service | grep fail.service | tail -5)"
sleep 2 # time for a wrong ping to show up
[ "$(grep -c '/fail/' "$RUN/requests.log" || true)" = 0 ] || fail "a request for fail.timer arrived: $(cat "$RUN/requests.log")"
journal_has "Run $INV of fail.service succeeded" && fail "timerbeat judged the reset-failed run $INV a success"
ok "a failed run while stopped, then reset-failed (systemd: Result=success): caught up as failed, nothing sent"

# ---------------------------------------------------------------- 6. systemd-analyze security
SEC=$(C systemd-analyze security --no-pager timerbeat.service 2>&1 || true)
EXPOSURE=$(sed -n 's/.*Overall exposure level for timerbeat.service: \([0-9.]*\).*/\1/p' <<<"$SEC")
[ -n "$EXPOSURE" ] || fail "systemd-analyze security printed no exposure level: $SEC"
printf '%s\n' "$SEC" >"$RUN/security.txt"
{ grep '✗' <<<"$SEC" || true; } | sed -E 's/ {2,}/  /g; s/^/    /'
grep 'Overall exposure level' <<<"$SEC" | sed 's/^/    /'
awk -v e="$EXPOSURE" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
        fail "systemd-analyze security exposure $EXPOSURE is above $MAX_EXPOSURE"
ok "systemd-analyze security timerbeat.service: exposure $EXPOSURE (at most $MAX_EXPOSURE)"

# ---------------------------------------------------------------- 7. conffile, remove, purge
C dpkg-query -W -f '${Conffiles}\n' timerbeat | grep -q '^ /etc/timerbeat/timerbeat.conf ' ||
        fail "/etc/timerbeat/timerbeat.conf is not a conffile of the installed package"
echo '# a local change (deb-test.sh)' >>"$ROOT/etc/timerbeat/timerbeat.conf"
C chmod 0755 /etc/timerbeat
apt_install --reinstall "$CDEB" || { tail -30 "$RUN/apt.log"; fail "apt install --reinstall failed"; }
[ "$(C stat -c '%U:%G %a' /etc/timerbeat)" = "root:timerbeat 2750" ] ||
        fail "the reinstall left /etc/timerbeat $(C stat -c '%U:%G %a' /etc/timerbeat)"
! journal_has "already exists but the mode is different" || fail "systemd complains about /etc/timerbeat's mode"
grep -q '^# a local change (deb-test.sh)$' "$ROOT/etc/timerbeat/timerbeat.conf" ||
        fail "reinstalling overwrote the locally changed /etc/timerbeat/timerbeat.conf"
wait_for 10 sh -c "[ \"\$(nsenter -t $PID1 -a -- systemctl is-active timerbeat.service)\" = active ]" ||
        fail "timerbeat.service is not active after the reinstall"
ok "conffile: a local change to /etc/timerbeat/timerbeat.conf survives a reinstall; service active"

C apt-get remove -y -q timerbeat >>"$RUN/apt.log" 2>&1 || fail "apt remove timerbeat failed (log: $RUN/apt.log)"
[ "$(C dpkg-query -W -f '${db:Status-Abbrev}' timerbeat | tr -d ' ')" = rc ] || fail "timerbeat not in state rc after apt remove"
[ ! -e "$ROOT/usr/bin/timerbeat" ] || fail "apt remove left /usr/bin/timerbeat"
[ "$(C systemctl show -p LoadState --value timerbeat.service)" = not-found ] || fail "timerbeat.service still loaded after apt remove"
C sh -c 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = timerbeat ] && exit 0; done; exit 1' &&
        fail "timerbeat still runs after apt remove"
grep -q '^# a local change (deb-test.sh)$' "$ROOT/etc/timerbeat/timerbeat.conf" || fail "apt remove removed the conffile"
ok "apt remove: stopped, binary and units gone, the changed conffile kept"

# What the test itself added goes first (an administrator's files are not the package's).
rm -f "$ROOT$DROPIN" "$ROOT/etc/timerbeat/conf.d/70-host.conf" "$ROOT"/etc/systemd/system/{job,fail,host}.{service,timer} "$ROOT$CDEB"
C systemctl daemon-reload
C apt-get purge -y -q timerbeat >>"$RUN/apt.log" 2>&1 || fail "apt purge timerbeat failed (log: $RUN/apt.log)"
C dpkg-query -W timerbeat >/dev/null 2>&1 && fail "dpkg still knows timerbeat after apt purge: $(C dpkg -l timerbeat | tail -1)"
snapshot >"$RUN/after.list"
left=$(comm -13 "$RUN/before.list" "$RUN/after.list")
gone=$(comm -23 "$RUN/before.list" "$RUN/after.list")
# Allowed: systemd's directory for the state of every DynamicUser= service (empty now), and
# the backups systemd-sysusers makes of the user database when it adds a user.
unexpected=$(grep -vxE '/var/lib/private|/etc/(passwd|group|shadow|gshadow)-' <<<"$left" || true)
printf '    new since before the install, after purge: %s\n' "${left:-nothing}" | sed '2,$s/^/      /'
[ -z "$gone" ] || fail "apt purge removed what was there before: $gone"
[ -z "$unexpected" ] || fail "apt purge left: $unexpected"
[ -z "$(ls -A "$ROOT/var/lib/private" 2>/dev/null)" ] || fail "apt purge left state in /var/lib/private: $(ls -A "$ROOT/var/lib/private")"
USERLINE=$(C getent passwd timerbeat || true)
ok "apt purge: no file of the package left (new paths: ${left:-none}); kept: ${USERLINE:-no user}"

printf '%d passed, 0 failed\n' "$PASSED"
[ "$WARNED" = 0 ] || log "($WARNED warning(s) above)"
log "systemd-analyze security exposure: $EXPOSURE"
