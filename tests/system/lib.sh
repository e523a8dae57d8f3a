# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034,SC2317  # variables for the caller; functions run through wait_for
#
# Shared by the system tests: a cached Debian 12 tree, a container booted from a fresh copy
# of it with systemd-nspawn (systemd is PID 1 of the container only, never of the host), a
# loopback HTTP receiver on the host, and TAP-like reporting. Sourced, not run.
#
# The caller sets WORK (its work directory) before sourcing, uses diagnose() below (called
# by fail while the container runs), and calls tb_cleanup from its EXIT trap.

TB_START=$(date +%s)
TB_MIRROR=${TB_MIRROR:-http://deb.debian.org/debian}
RUN=$WORK/run
NSPAWN_PID=
PID1=
RECV_PID=
PORT=
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
fail() {
        printf 'FAIL: %s\n' "$*"
        if [ -n "$PID1" ] && kill -0 "$PID1" 2>/dev/null && declare -F diagnose >/dev/null; then diagnose; fi
        printf '%d passed, 1 failed\n' "$PASSED"
        exit 1
}

# Runs a command inside the container (all namespaces of its PID 1), with a clean environment.
C() {
        nsenter -t "$PID1" -a -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# Waits up to $1 seconds for the command $2... to succeed.
wait_for() {
        local t=$1; shift
        local end=$(( $(date +%s) + t ))
        until "$@"; do
                [ "$(date +%s)" -ge "$end" ] && return 1
                sleep 0.2
        done
}

# Installs what the host needs (debootstrap, systemd-nspawn, nsenter, python3).
tb_host_tools() {
        local need=()
        [ "$(id -u)" = 0 ] || setup_error "must run as root (debootstrap, systemd-nspawn, nsenter)"
        command -v debootstrap >/dev/null || need+=(debootstrap)
        command -v systemd-nspawn >/dev/null || need+=(systemd-container)
        command -v nsenter >/dev/null || need+=(util-linux)
        command -v python3 >/dev/null || need+=(python3)
        if [ ${#need[@]} -gt 0 ]; then
                log "Installing on the host: ${need[*]}"
                { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >/dev/null ||
                        setup_error "apt-get install ${need[*]} failed"
        fi
}

# The cached tree's packages: systemd as init, the system bus, and the package's run-time
# dependencies (so that installing the .deb needs no download). Shared by every system test,
# so that there is one cache (one debootstrap) for all.
TB_BASE_PACKAGES=systemd,systemd-sysv,dbus,libnss-systemd,libcurl4,libinih1,libsystemd0

# tb_packages SUITE: TB_BASE_PACKAGES for the Debian SUITE. Debian 13 (trixie) renamed
# libcurl4 to libcurl4t64 (the 64-bit time_t transition).
tb_packages() {
        case $1 in
        bookworm) printf '%s' "$TB_BASE_PACKAGES" ;;
        *) printf '%s' "${TB_BASE_PACKAGES/libcurl4,/libcurl4t64,}" ;;
        esac
}

# What building the package in a SUITE container needs on top of tb_packages (debian/control's
# Build-Depends by their real names, debootstrap knows no virtual ones), and lintian and man-db
# for deb-check.sh. systemd-dev exists from Debian 13 on (the .pc files were in systemd before).
tb_build_packages() {
        local p=build-essential,fakeroot,debhelper,bash-completion,libcurl4-openssl-dev,libinih-dev,libsystemd-dev
        p+=,meson,pkgconf,python3,scdoc,lintian,man-db
        # lintian's libnet-ssleay-perl depends on the virtual perl-openssl-abi-3, which
        # debootstrap cannot resolve: the package that provides it, by name.
        p+=,perl-openssl-defaults
        case $1 in
        bookworm) printf '%s' "$p" ;;
        *) printf '%s' "$p,systemd-dev" ;;
        esac
}

# tb_suite_version SUITE: the Debian release number, for messages.
tb_suite_version() {
        case $1 in
        bookworm) echo 12 ;; trixie) echo 13 ;; *) echo "$1" ;;
        esac
}

# tb_base DIR PACKAGES [SUITE]: a minimal Debian SUITE (default bookworm, Debian 12) in DIR with
# the comma-separated PACKAGES and apt's package lists, debootstrapped once (about a minute)
# and reused while PACKAGES is unchanged. Callers boot copies of it, never DIR itself.
tb_base() {
        local dir=$1 packages=$2 suite=${3:-bookworm}
        mkdir -p "$(dirname "$dir")"
        # Two tests sharing the cache: one debootstraps, the other waits for it.
        exec 8>"$dir.lock"
        flock -w 900 8 || setup_error "another test holds $dir.lock"
        if [ -f "$dir.done" ] && [ "$(cat "$dir.done")" = "$suite:$packages" ] && [ -x "$dir/usr/lib/systemd/systemd" ]; then
                log "Reusing the Debian ($suite) tree $dir"
                exec 8>&-
                return 0
        fi
        log "Debootstrapping Debian ($suite) into $dir (about a minute)"
        rm -rf "$dir" "$dir.done"
        mkdir -p "$RUN"
        debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$TB_MIRROR" >"$RUN/debootstrap.log" 2>&1 ||
                { tail -20 "$RUN/debootstrap.log"; setup_error "debootstrap failed (log: $RUN/debootstrap.log)"; }
        # apt's lists, so that a dependency the tree lacks can still be installed.
        systemd-nspawn -q -D "$dir" --register=no --keep-unit --pipe apt-get update -q >"$RUN/apt-update.log" 2>&1 ||
                { tail -20 "$RUN/apt-update.log"; setup_error "apt-get update in $dir failed"; }
        rm -f "$dir"/var/cache/apt/archives/*.deb
        printf '%s' "$suite:$packages" >"$dir.done"
        exec 8>&-
}

# tb_receiver: an HTTP server on 127.0.0.1 (the container shares the host's network) that
# answers 200 to everything and logs "METHOD PATH" lines to $RUN/requests.log. Sets PORT.
tb_receiver() {
        rm -f "$RUN/requests.log" "$RUN/port"
        cat >"$RUN/receiver.py" <<'EOF'
import http.server, os, sys
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
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
        touch "$RUN/requests.log"
        python3 "$RUN/receiver.py" "$RUN/requests.log" "$RUN/port" </dev/null >"$RUN/receiver.log" 2>&1 &
        RECV_PID=$!
        wait_for 30 test -s "$RUN/port" || setup_error "the HTTP receiver did not start (log: $RUN/receiver.log)"
        PORT=$(cat "$RUN/port")
        log "HTTP receiver on 127.0.0.1:$PORT"
}
count_requests() { grep -c -- " $1\$" "$RUN/requests.log" 2>/dev/null || true; }
has_requests() { [ "$(count_requests "$1")" -ge "${2:-1}" ]; }

# tb_boot ROOT NAME: boots ROOT with systemd-nspawn and waits until the boot is done. Sets
# NSPAWN_PID and PID1 (the container's systemd, as seen from the host).
tb_boot() {
        local root=$1 name=$2 state c p
        for p in $(pgrep -x systemd-nspawn || true); do
                if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-D $root "; then
                        setup_error "a container is already running on $root (systemd-nspawn PID $p); stop it first"
                fi
        done
        log "Booting the container"
        # Not a process group leader here, so setsid execs in place: $! is systemd-nspawn itself.
        setsid systemd-nspawn -D "$root" -M "$name" --register=no --keep-unit --console=passive -b \
                </dev/null >"$RUN/nspawn.log" 2>&1 &
        NSPAWN_PID=$!
        _tb_find_pid1() {
                kill -0 "$NSPAWN_PID" 2>/dev/null || setup_error "systemd-nspawn exited (log: $RUN/nspawn.log)"
                for c in $(pgrep -P "$NSPAWN_PID"); do
                        if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then PID1=$c; return 0; fi
                done
                return 1
        }
        wait_for 30 _tb_find_pid1 ||
                { tail -20 "$RUN/nspawn.log"; setup_error "the container did not start (log: $RUN/nspawn.log)"; }
        # "offline" while PID 1 has not yet opened its private bus socket: ask again.
        _tb_boot_done() {
                state=$(timeout 60 nsenter -t "$PID1" -a -- systemctl is-system-running --wait 2>/dev/null || true)
                [ "$state" != offline ] && [ -n "$state" ]
        }
        state=
        wait_for 90 _tb_boot_done || true
        case "$state" in
        running) ok "container booted (systemd $(C systemctl --version | head -1 | cut -d' ' -f2), state running)" ;;
        degraded)
                ok "container booted (state degraded)"
                C systemctl --failed --no-pager --plain | sed 's/^/    /' ;;
        *) setup_error "the container did not finish booting (state '$state', log: $RUN/nspawn.log)" ;;
        esac
}

# tb_cleanup: stops the receiver and powers the container off (TB_KEEP=1: leaves it running).
# The service's state and its last journal lines, after a failed step.
diagnose() {
        log "--- systemctl status timerbeat"
        C systemctl status --no-pager -l timerbeat.service 2>&1 | sed 's/^/    /' || true
        log "--- journalctl -b -u timerbeat (last 40 lines)"
        C journalctl -b --no-pager -o short-monotonic -u timerbeat.service -n 40 2>&1 | sed 's/^/    /' || true
}

tb_cleanup() {
        if [ -n "$RECV_PID" ]; then kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; fi
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                if [ "${TB_KEEP:-0}" = 1 ]; then
                        log "Container left running (TB_KEEP=1): nsenter -t $PID1 -a systemctl ...;" \
                            "stop it with: nsenter -t $PID1 -a systemctl poweroff"
                        return 0
                fi
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
        NSPAWN_PID=
        return 0
}
