#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timerbeat benchmark (issues 7, 14, 20): what a ping costs with timerbeat and with the usual
alternatives (ExecStartPost=curl, an OnSuccess= unit running curl), on dbus-daemon and on
dbus-broker; what timerbeat makes systemd, the bus and journald spend per unrelated unit
change, and what following the journal instead would cost; start-up with many checks and
patterns, outbox replay and `timerbeat check` at scale. Everything side by side in the same
run, against a real systemd user manager (logging into a journald of its own, as a login
session's does) and a loopback receiver.

Run it with bench/run (it builds a release binary and the journal follower first), or
directly as root:
    TIMERBEAT=/path/to/timerbeat JOURNAL_FOLLOW=/path/to/journal-follow \
        python3 bench/bench.py [--quick] [--reps N] [--idle S] [--out FILE]

It reuses the integration harness (tests/integration/harness.py): a private mount namespace,
its own cgroup, journald, session bus and `systemd --user`; it never touches the host's
systemd. Standard library only. Prints a Markdown report and writes it to bench/results.md."""

import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

N_PING = 200            # runs per method in the per-ping and latency measurement
SPACING = 0.020         # seconds between two of those runs (timers, so nothing else is involved)
N_BURST = 1000          # services started at once (1,000 timers with the same OnCalendar=)
N_CHURN = 5000          # state changes of unrelated units: 2,500 targets started, then stopped
N_CHURN_RUNS = 500      # and runs of unrelated services (2 state changes each: activating, inactive)
N_SYSTEMIC = 500        # issue 20: unrelated targets started and stopped twice (2,000 state changes)
SCALE_SLOW = 15         # s: a start-up slower than this is not repeated
SCALE_TIMEOUT = 45      # s: nor waited for longer than this
N_CURL_ALONE = 10
OFFSET = 0.8            # first timer elapses this long after the timers are (re)started
WATCHDOG_USEC = 30_000_000  # as the shipped units (WatchdogSec=30s)
CURL = "/usr/bin/curl"
CURL_ARGS = "-fsS -m 10 --retry 5 -o /dev/null"   # what monitors' docs tell users to paste
JOURNAL_FOLLOW = os.environ.get("JOURNAL_FOLLOW", "")
# Sizes of the scale phases: the issue's (full) and a few minutes' worth (--quick).
SIZES = {
    "full": {"scales": (10, 1000, 10000), "pattern": 5000, "replay": 100_000, "replay_checks": 100,
             "dropins": 10_000},
    "quick": {"scales": (10, 1000), "pattern": 1000, "replay": 10_000, "replay_checks": 100, "dropins": 2000},
}
BUSES = {"daemon": "dbus-daemon", "broker": "dbus-broker"}
# The run messages the run history reads (src/history.c): what the journal follower matches.
MID_SUCCESS = "7ad2d189f7e94e70a38c781354912448"   # "Deactivated successfully."
MID_STARTED = "39f53479d3a045ac8e11786248231fbf"   # "Finished X." for a oneshot

METHODS = ("base", "tb", "tbt", "sp", "os", "jf")
METHODS_BROKER = ("base", "tb", "sp", "os")
METHOD_NAMES = {
    "jf": "journal follower (no ping)",
    "tb": "timerbeat",
    "tbt": "timerbeat, state directory on tmpfs",
    "sp": "`ExecStartPost=curl …`",
    "os": "`OnSuccess=` unit running curl",
}


def progress(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- measurement helpers ------------------------------------------------------------------

def cg_usage_us(cg):
    with open(f"{cg}/cpu.stat") as f:
        for line in f:
            if line.startswith("usage_usec "):
                return int(line.split()[1])
    raise RuntimeError(f"no usage_usec in {cg}/cpu.stat")


def schedstat_us(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1000


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def wakeups(pid):
    s = proc_status(pid)
    return int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])


def private_dirty_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                return kib(line.split(":", 1)[1])
    return 0


def rss_by_kind_kib(pid):
    """Resident memory by what is mapped: anonymous (heap, stacks), the journal files (sd-journal's
    mappings), the outbox log, other files (shared libraries, ...)."""
    out = {"anon": 0, "journal": 0, "outbox": 0, "files": 0}
    kind = "anon"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 6)
            if len(head) >= 5 and "-" in head[0] and ":" in head[3]:     # a mapping's header line
                path = head[5].strip() if len(head) >= 6 else ""
                kind = ("journal" if path.endswith(".journal") or path.endswith(".journal~") else
                        "outbox" if path.endswith("/outbox/log") else
                        "files" if path.startswith("/") else "anon")
            elif line.startswith("Rss:"):
                out[kind] += kib(line.split(":", 1)[1])
    return out


def pct(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def key(unit):
    """The receiver path of a unit's pings: pp-tb@1020.timer -> pp-tb-1020."""
    return unit.rsplit(".", 1)[0].replace("@", "-")


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    return None


def move_to_cgroup(cg, pid=0):
    with open(f"{cg}/cgroup.procs", "w") as f:
        f.write(str(pid))


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


class RecvLog:
    """Reads the receiver's log: a list of (arrival ns, path)."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.items = []
        self.partial = ""

    def poll(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return len(self.items)
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            t, _, path = line.split(" ", 2)
            self.items.append((int(t), path))
        return len(self.items)

    def since(self, mark, prefix):
        self.poll()
        return [(t, p) for t, p in self.items[mark:] if p.startswith(prefix)]

    def wait(self, mark, prefix, n, timeout):
        deadline = time.monotonic() + timeout
        while True:
            got = self.since(mark, prefix)
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.02)


# --- the benchmark ------------------------------------------------------------------------

class Bench:
    def __init__(self, env, args):
        self.env = env
        self.args = args
        self.r = {}   # metric -> list of per-repetition values
        self.scale_skip = set()
        self.timed_out = set()  # metrics whose value is a lower bound
        self.notes = []
        cgs = [c for c in env.cgroups if os.path.exists(f"{c}/cpu.stat")]
        if not cgs:
            raise SystemExit("bench: no cgroup v2 hierarchy with cpu.stat (need cgroup accounting)")
        self.cg = cgs[0]                                  # ours; systemd --user manages below it
        self.cg_systemd = f"{self.cg}/init.scope"         # the user manager itself
        # systemd --user moved us into its init.scope: out of it, so that init.scope is the
        # manager alone. The driver, the receiver and the systemctl calls run in one cgroup,
        # timerbeat in another.
        # journald (started by the harness before the manager) and the journal follower get
        # cgroups of their own too.
        self.size = SIZES["quick" if args.quick else "full"]
        base = f"{os.path.dirname(self.cg)}/timerbeat-bench-{os.getpid()}"
        self.cg_driver, self.cg_tb, self.cg_journald, self.cg_jf = (
            f"{base}-{x}" for x in ("driver", "daemon", "journald", "follower"))
        for cg in (self.cg_driver, self.cg_tb, self.cg_journald, self.cg_jf):
            os.makedirs(cg, exist_ok=True)
        move_to_cgroup(self.cg_driver)
        for p in env.procs:
            with open(f"/proc/{p.pid}/comm") as f:
                if f.read().strip() == "systemd-journal":
                    move_to_cgroup(self.cg_journald, p.pid)
        self.bus = "daemon"
        self.jf = None
        self.cpu_start = self.machine_cpu()
        with open("/proc/loadavg") as f:
            self.load_start = f.read().split()[0]
        # timerbeat starts in a cgroup of its own, so that all its CPU time (every thread,
        # from exec on) is counted: a wrapper moves itself there and execs the daemon.
        self.wrapper = f"{env.dir}/timerbeat-in-cgroup"
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\necho $$ > {self.cg_tb}/cgroup.procs && exec {env.binary} \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        self.real_binary = env.binary
        env.binary = self.wrapper
        # On a loaded machine systemd --user may not answer within systemctl's 25 s: a call
        # that timed out is made again (twice at most) instead of ending the phase.
        plain = env.systemctl

        def systemctl(*a, check=True):
            for attempt in range(3):
                r = plain(*a, check=False)
                if r.returncode == 0 or "timed out" not in r.stderr or attempt == 2:
                    break
                progress(f"systemctl {a[0]} timed out; again")
            if check and r.returncode != 0:
                raise AssertionError(f"systemctl {' '.join(a)[:200]} failed: {r.stderr}")
            return r
        env.systemctl = systemctl

    def find_dbus(self):
        """The session bus's dbus-daemon: a unit of the user manager (dbus.service, as in a
        login session), or a process the harness started itself."""
        env = self.env
        self.cg_dbus = None
        self.dbus_pid = None
        if os.path.exists(f"{env.unit_dir}/dbus.service.d"):
            env.systemctl("start", "dbus.service")
            root = cgroup2_mount()
            path = env.systemctl("show", "-p", "ControlGroup", "--value", "dbus.service").stdout.strip()
            if root and path and os.path.isdir(root + path):
                self.cg_dbus = root + path
                return
        self.cg_dbus = None
        for p in env.procs:
            with open(f"/proc/{p.pid}/comm") as f:
                if f.read().strip() == "dbus-daemon":
                    self.dbus_pid = p.pid
        if self.dbus_pid is None:
            raise SystemExit("bench: cannot find the session bus's dbus-daemon")

    def diagnose(self):
        """What the user manager and its bus look like, when something failed."""
        env = self.env
        print(f"bench: systemd --user exit status: {env.systemd.poll()}; dbus-daemon cgroup: {self.cg_dbus}",
              file=sys.stderr)
        subprocess.run(["ls", "-la", env.env["XDG_RUNTIME_DIR"], f"{env.env['XDG_RUNTIME_DIR']}/systemd"])
        for f in ("systemd.log", "timerbeat.log"):
            try:
                with open(f"{env.dir}/{f}", errors="replace") as fh:
                    print(f"--- {f} (end) ---\n{fh.read()[-3000:]}", file=sys.stderr)
            except OSError:
                pass

    def machine_cpu(self):
        """(busy CPU seconds of the whole machine, of everything this benchmark started)."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")     # minus idle, iowait
        return busy, cg_usage_us(os.path.dirname(self.cg)) / 1e6

    def add(self, key, value):
        self.r.setdefault(key, []).append(value)

    def set_bus(self, kind):
        """Makes the user manager's dbus.service run dbus-daemon or dbus-broker (with the
        harness's bus configuration), restarts it and waits until systemd is back on it."""
        env = self.env
        progress(f"session bus: {BUSES[kind]}")
        if kind == "broker":
            cmd = f"/usr/bin/dbus-broker-launch --scope user --config-file={env.dir}/bus.conf"
        else:
            cmd = (f"/usr/bin/dbus-daemon --config-file={env.dir}/bus.conf --address=systemd: --nofork "
                   "--nopidfile --systemd-activation --syslog-only")
        with open(f"{env.unit_dir}/dbus.service.d/test.conf", "w") as f:
            f.write(f"[Service]\nExecStart=\nExecStart={cmd}\n")
        env.daemon_reload()
        env.systemctl("restart", "dbus.service")

        def on_bus():
            r = subprocess.run(["busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.DBus.Peer", "Ping"], env=env.env, capture_output=True)
            return r.returncode == 0
        env._wait_for(on_bus, 20, f"systemd --user on {BUSES[kind]}")
        comm = env.systemctl("show", "-p", "MainPID", "--value", "dbus.service").stdout.strip()
        self.bus = kind
        self.find_dbus()
        progress(f"session bus: {BUSES[kind]} (main PID {comm}) up")
        time.sleep(0.5)

    def start_jf(self):
        """The journal follower (bench/journal-follow.c) in its cgroup; its output file."""
        env = self.env
        if not JOURNAL_FOLLOW:
            raise SystemExit("bench: set JOURNAL_FOLLOW to the journal follower (bench/run does)")
        out = f"{env.dir}/jf-{time.monotonic_ns()}.out"
        self.jf_out = out
        self.jf = subprocess.Popen(["/bin/sh", "-c", f'echo $$ > {self.cg_jf}/cgroup.procs && exec "$0" "$@"',
                                    JOURNAL_FOLLOW, out, str(os.getuid())], env=env.env,
                                   stderr=open(f"{env.dir}/jf.log", "ab"))
        env._wait_for(lambda: os.path.exists(out), 10, "the journal follower")
        time.sleep(0.3)

    def stop_jf(self):
        """Stops the follower; returns what it saw: [(ns, message id, unit)]."""
        # SIGKILL: sd_journal_wait() goes on through signals, and the follower flushes its
        # output after each wake-up, so nothing it saw is lost.
        self.jf.kill()
        self.jf.wait()
        self.jf = None
        seen = []
        with open(self.jf_out) as f:
            for line in f:
                t, mid, unit = line.split()
                seen.append((int(t), mid, unit))
        os.unlink(self.jf_out)
        return seen

    def cleanup(self):
        self.reader_stop = True
        if self.jf:
            self.jf.kill()
        for cg in (self.cg_tb, self.cg_driver, self.cg_jf, self.cg_journald):
            try:
                os.rmdir(cg)
            except OSError:
                pass

    # --- setup ----------------------------------------------------------------------------
    def setup(self):
        env = self.env
        progress("writing units")
        rlog = f"{env.dir}/receiver.log.tsv"
        portfile = f"{env.dir}/receiver.port"
        self.receiver = env.spawn([sys.executable, os.path.join(HERE, "receiver.py"), rlog, portfile],
                                  "receiver.out")
        env._wait_for(lambda: os.path.exists(portfile), 10, "the receiver")
        with open(portfile) as f:
            self.port = int(f.read())
        self.base_url = f"http://127.0.0.1:{self.port}/ping"
        self.rl = RecvLog(rlog)

        # Template units only: systemd 252 reads every unit directory entry when it computes a
        # unit's UnitFileState (which GetAll includes), so 20,000 unit files would make each
        # unit load cost milliseconds; a real system has a few hundred. Timer instances are
        # named after their delay (OnActiveSec=%ims), so one file serves every run.
        w = env.write_unit
        w("ping@.service", f"[Service]\nType=oneshot\nExecStart={CURL} {CURL_ARGS} {self.base_url}/%i\n")
        for m in METHODS:
            unit = "[Unit]\nOnSuccess=ping@pp-os-%i.service\n" if m == "os" else ""
            unit += "[Service]\nType=oneshot\nExecStart=/bin/true\n"
            if m == "sp":
                unit += f"ExecStartPost={CURL} {CURL_ARGS} {self.base_url}/pp-sp-%i\n"
            w(f"pp-{m}@.service", unit)
            w(f"pp-{m}@.timer", "[Timer]\nAccuracySec=1us\nOnActiveSec=%ims\n")
        self.pp_inst = [str(round(OFFSET * 1000) + i * round(SPACING * 1000)) for i in range(N_PING)]
        # Units that stay loaded are referenced by an active target, as a timer keeps its
        # service loaded; unreferenced ones are loaded for each use and collected afterwards.
        def anchor(name, units):
            w(name, "[Unit]\n" + "".join(f"Before={u}\n" for u in units))
        w("bs@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        self.bs_units = [f"bs@{i:04d}" for i in range(N_BURST)]
        anchor("bs-anchor.target", [f"{u}.service" for u in self.bs_units])
        w("cha@.target", "[Unit]\n")
        w("chb@.target", "[Unit]\n")
        w("chs@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        anchor("cha-anchor.target", [f"cha@{i:04d}.target" for i in range(N_CHURN // 2)])
        anchor("chs-anchor.target", [f"chs@{i:04d}.service" for i in range(N_CHURN_RUNS)])
        w("sc@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        n_sc = max(max(self.size["scales"]), self.size["dropins"])
        anchor("sc-anchor.target", [f"sc@{i:05d}.service" for i in range(n_sc)])
        # Issue 20: unrelated targets, and the one monitored timer (waiting, as timers do).
        w("sy@.target", "[Unit]\n")
        self.sy_units = [f"sy@{i:03d}.target" for i in range(N_SYSTEMIC)]
        anchor("sy-anchor.target", self.sy_units)
        w("one.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        w("one.timer", "[Timer]\nOnCalendar=2099-01-01\n")
        # Idle timers for the pattern start-up: started, elapsing in 2099.
        w("pt@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
        w("pt@.timer", "[Timer]\nOnCalendar=2099-01-01\n")
        # Outbox replay: one service, watched by replay_checks timers' checks, so that each
        # run makes replay_checks pings (more than 64 checks on a service: every run is
        # everyone's, src/watch.c WATCH_OWNERS_MAX).
        w("rq.service", "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
        w("rq@.timer", "[Timer]\nUnit=rq.service\nOnCalendar=2099-01-01\n")
        self.rq_timers = [f"rq@{i:03d}.timer" for i in range(self.size["replay_checks"])]
        env.daemon_reload()
        self.find_dbus()
        self.start_notify_reader()

        def conf(name, sections):
            path = f"{env.conf_dir}/{name}.conf"
            with open(path, "w") as f:
                f.write("".join(f"[{s}]\nurl = {self.base_url}/{key(s)}\n" for s in sections))
            return path
        self.conf_pp = {m: conf(f"perping-{m}", [f"pp-{m}@{x}.timer" for x in self.pp_inst]) for m in ("tb", "tbt")}
        # timerbeat keeps each ping in an outbox file (written and fsync'ed before it is sent)
        # in its state directory; "tbt" puts that on a tmpfs, to show what the disk costs.
        self.state_tmpfs = f"{env.dir}/state-tmpfs"
        os.makedirs(self.state_tmpfs)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.state_tmpfs], check=True)
        self.conf_burst = conf("burst", [f"{u}.service" for u in self.bs_units])
        self.conf_scale = {n: conf(f"scale-{n}", [f"sc@{i:05d}.service" for i in range(n)])
                           for n in self.size["scales"]}
        self.conf_one = conf("one", ["one.timer"])
        self.conf_pattern = f"{env.conf_dir}/pattern.conf"
        with open(self.conf_pattern, "w") as f:
            f.write(f"[pt@*.timer]\nurl = {self.base_url}/pt-{{unit}}\n")
        env.systemctl("start", "one.timer")

    # --- the daemon -----------------------------------------------------------------------
    def start_notify_reader(self):
        """systemd reads a service's notifications at once; so must we: the socket queue holds
        10 datagrams, and a full queue blocks sd_notify() (WATCHDOG=1 every few seconds) and
        with it the daemon's whole event loop. A thread reads them all, with arrival times."""
        env = self.env
        env.notify_path = f"{env.dir}/notify.sock"
        env.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)   # start_daemon reuses it
        env.notify.bind(env.notify_path)
        env.notify.settimeout(0.1)
        self.notifications = []     # (monotonic time, message)
        self.notify_seen = 0
        self.reader_stop = False

        def read():
            while not self.reader_stop:
                try:
                    msg = env.notify.recv(4096).decode()
                except socket.timeout:
                    continue
                except OSError:
                    return
                self.notifications.append((time.monotonic(), msg))
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def drain_notify(self):
        """The notification messages timerbeat sent since the last call: [(time, message)]."""
        n = len(self.notifications)
        msgs = self.notifications[self.notify_seen:n]
        self.notify_seen = n
        return msgs

    def start_tb(self, config, state_home=None, timeout=300):
        """Starts timerbeat as its shipped unit would (default log level, watchdog 30 s);
        returns (seconds from exec to READY=1, its CPU µs until then, systemd's CPU µs until then);
        the seconds are None if READY=1 did not come within timeout (the daemon is left running)."""
        env = self.env
        self.drain_notify()
        env.env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        saved_state = env.env["XDG_STATE_HOME"]
        if state_home:
            env.env["XDG_STATE_HOME"] = state_home
        tb0, sd0 = cg_usage_us(self.cg_tb), cg_usage_us(self.cg_systemd)
        t0 = time.monotonic()
        try:
            env.start_daemon("--log-level=info", "--config", config, wait_ready=False)
        finally:
            env.env.pop("WATCHDOG_USEC", None)
            env.env["XDG_STATE_HOME"] = saved_state
        deadline = t0 + timeout
        while True:
            ready = [t for t, m in self.drain_notify() if "READY=1" in m.split("\n")]
            if ready:
                break
            if env.daemon.poll() is not None:
                raise AssertionError(f"timerbeat did not send READY=1 (exit={env.daemon.poll()}): {env.log()[-2000:]}")
            if time.monotonic() > deadline:
                return None, cg_usage_us(self.cg_tb) - tb0, cg_usage_us(self.cg_systemd) - sd0
            time.sleep(0.002)
        return ready[0] - t0, cg_usage_us(self.cg_tb) - tb0, cg_usage_us(self.cg_systemd) - sd0

    def settle(self, cg, quiet_us=2000, window=0.5, timeout=60):
        """Waits until cg spends less than quiet_us of CPU in window seconds: after READY=1
        the catch-up from the journal (everything since the last stop) and the state reads
        go on, and must not be counted as what the next measurement causes."""
        deadline = time.monotonic() + timeout
        c0 = cg_usage_us(cg)
        while time.monotonic() < deadline:
            time.sleep(window)
            c1 = cg_usage_us(cg)
            if c1 - c0 < quiet_us:
                return
            c0 = c1
        self.notes.append(f"{os.path.basename(cg)} was still busy {timeout} s after its start")

    def stop_tb(self, timeout=10):
        env = self.env
        env.daemon.send_signal(signal.SIGTERM)
        try:
            env.daemon.wait(timeout)
        except subprocess.TimeoutExpired:
            pid = env.daemon.pid
            try:
                with open(f"/proc/{pid}/wchan") as f:
                    wchan = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().split(") ", 1)[1].split()[0]
            except OSError:
                wchan = state = "?"
            self.notes.append(f"timerbeat did not exit within {timeout} s of SIGTERM (state {state}, wchan {wchan}); "
                              "killed it")
            env.daemon.kill()
            env.daemon.wait()
        self.drain_notify()

    def snap(self):
        # Unit cgroups come and go (app.slice too, when no unit is left in it); their usage
        # then lives on in their parent's. So units = the manager's whole tree - systemd - bus.
        tree = cg_usage_us(self.cg)
        systemd = cg_usage_us(self.cg_systemd)
        dbus = cg_usage_us(self.cg_dbus) if self.cg_dbus else schedstat_us(self.dbus_pid)
        return {
            "systemd": systemd,
            "units": tree - systemd - dbus,
            "dbus": dbus,
            "journald": cg_usage_us(self.cg_journald),
            "tb": cg_usage_us(self.cg_tb),
            "jf": cg_usage_us(self.cg_jf),
        }

    def show(self, units, props):
        """{unit: {prop: value}} for many units in one systemctl call."""
        # On a loaded machine systemd may answer too late for systemctl's 25 s: again, twice.
        for attempt in range(3):
            r = self.env.systemctl("show", "-p", "Id", *[x for p in props for x in ("-p", p)], *units, check=False)
            if r.returncode == 0:
                break
            if attempt == 2:
                raise AssertionError(f"systemctl show ({len(units)} units) failed: {r.stderr.strip()}")
            time.sleep(1)
        out = r.stdout
        res = {}
        for block in out.strip().split("\n\n"):
            d = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            res[d.get("Id")] = d
        return res

    def wait_jobs(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.env.systemctl("list-jobs", "--no-legend").stdout.strip():
                return
            time.sleep(0.2)
        raise AssertionError("systemd jobs did not finish")

    # --- 1 + 2: per-ping cost and latency ---------------------------------------------------
    def per_ping(self, rep):
        """Each method's N_PING runs, side by side; on dbus-broker the metrics are prefixed b_."""
        methods = METHODS if self.bus == "daemon" else METHODS_BROKER
        px = "" if self.bus == "daemon" else "b_"
        order = list(methods[rep % len(methods):] + methods[:rep % len(methods)])
        delta = {}
        for m in order:
            progress(f"rep {rep + 1}: per-ping on {BUSES[self.bus]}, {METHOD_NAMES.get(m, 'no pinging (baseline)')}")
            units = [f"pp-{m}@{x}" for x in self.pp_inst]
            if m in ("tb", "tbt"):
                self.start_tb(self.conf_pp[m], state_home=self.state_tmpfs if m == "tbt" else None)
                self.settle(self.cg_tb)
            if m == "jf":
                self.start_jf()
            t_start = time.monotonic()
            self.env.systemctl("restart", *[f"{u}.timer" for u in units])
            mark = self.rl.poll()
            s0 = self.snap()
            time.sleep(OFFSET + N_PING * SPACING + 0.3)
            # On a loaded machine the runs end late: every run done (its unit inactive again,
            # ExecStartPost= included), every ping in, every run end read by the follower.
            self.runs_done(units, t_start)
            got = []
            if m not in ("base", "jf"):
                got = self.rl.wait(mark, f"/ping/pp-{m}-", N_PING, 120)
            if m == "jf":
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with open(self.jf_out) as f:
                        if f.read().count(f" {MID_SUCCESS} pp-jf@") >= N_PING:
                            break
                    time.sleep(0.1)
            time.sleep(0.5)
            s1 = self.snap()
            if m in ("tb", "tbt"):
                self.stop_tb()
            seen = self.stop_jf() if m == "jf" else []
            d = {k: s1[k] - s0[k] for k in s0}
            delta[m] = d
            props = self.show([f"{u}.service" for u in units],
                              ["Result", "ExecMainExitTimestampMonotonic", "InactiveEnterTimestampMonotonic"])
            exits = {}
            held = []
            for u in units:
                p = props[f"{u}.service"]
                if p.get("Result") != "success":
                    raise AssertionError(f"{u}: {p}")
                exits[u] = int(p["ExecMainExitTimestampMonotonic"])
                held.append(int(p["InactiveEnterTimestampMonotonic"]) - exits[u])
            self.add(f"{px}held_{m}", statistics.median(held) / 1000)
            # Elapsed timers stay loaded, and keep their services loaded: stop them, so that
            # later phases (timerbeat lists every timer at start) see a system of normal size.
            self.env.systemctl("stop", *[f"{u}.timer" for u in units])
            if m == "base":
                continue
            arrivals = {}
            if m == "jf":
                # The first run message of each run's end: "Deactivated successfully."
                # (or "Finished X."), in ns of CLOCK_MONOTONIC as the receiver's.
                for t, mid, unit in seen:
                    if mid in (MID_SUCCESS, MID_STARTED) and unit.endswith(".service"):
                        arrivals.setdefault(key(unit), []).append(t)
                self.add("jf_entries", len(seen) / N_PING)
            for t, path in got:
                arrivals.setdefault(path.rsplit("/", 1)[1], []).append(t)
            missing = [u for u in units if key(u) not in arrivals]
            dups = sum(len(v) - 1 for v in arrivals.values()) if m != "jf" else 0
            if missing or dups:
                self.notes.append(f"rep {rep + 1}, {BUSES[self.bus]}, {METHOD_NAMES[m]}: {len(missing)} "
                                  f"{'run ends not seen' if m == 'jf' else 'pings missing'}, {dups} twice")
            lat = [(min(arrivals[key(u)]) / 1000 - exits[u]) / 1000 for u in units if key(u) in arrivals]   # ms
            if lat:
                self.add(f"{px}lat50_{m}", pct(lat, 50))
                self.add(f"{px}lat99_{m}", pct(lat, 99))
                self.add(f"{px}latmax_{m}", max(lat))
        # Everything the system spends besides timerbeat and the follower: the manager, the
        # units (curl included), the bus, journald.
        total = {m: delta[m]["systemd"] + delta[m]["units"] + delta[m]["dbus"] + delta[m]["journald"]
                 for m in methods}
        self.add(f"{px}cpu_tb_own", delta["tb"]["tb"] / N_PING)
        self.add(f"{px}cpu_tb_all", (delta["tb"]["tb"] + total["tb"] - total["base"]) / N_PING)
        self.add(f"{px}cpu_tb_sd", (delta["tb"]["systemd"] - delta["base"]["systemd"]) / N_PING)
        self.add(f"{px}cpu_tb_dbus", (delta["tb"]["dbus"] - delta["base"]["dbus"]) / N_PING)
        if "tbt" in methods:
            self.add(f"{px}cpu_tbt_own", delta["tbt"]["tb"] / N_PING)
        if "jf" in methods:
            self.add(f"{px}cpu_jf_own", delta["jf"]["jf"] / N_PING)
            self.add(f"{px}cpu_jf_all", (delta["jf"]["jf"] + total["jf"] - total["base"]) / N_PING)
        for m in ("sp", "os"):
            self.add(f"{px}cpu_{m}", (total[m] - total["base"]) / N_PING)
            self.add(f"{px}cpu_{m}_sd", (delta[m]["systemd"] - delta["base"]["systemd"]) / N_PING)
            self.add(f"{px}cpu_{m}_units", (delta[m]["units"] - delta["base"]["units"]) / N_PING)
            self.add(f"{px}cpu_{m}_dbus", (delta[m]["dbus"] - delta["base"]["dbus"]) / N_PING)
        self.add(f"{px}cpu_base_total", total["base"] / N_PING)
        self.add(f"{px}cpu_base_journald", delta["base"]["journald"] / N_PING)

    # --- issue 20: what unrelated unit changes cost the system --------------------------------
    def systemic(self, rep):
        """N_SYSTEMIC loaded targets started and stopped twice (4 x N_SYSTEMIC state changes),
        with nothing watching, with timerbeat watching one timer, with timerbeat watching
        1,000 services, and with the journal follower: CPU per change of the manager, the bus,
        journald and the watcher itself."""
        conds = ("none", "tb1", "tb1000", "jf")
        order = list(conds[rep % len(conds):] + conds[:rep % len(conds)])
        changes = 4 * N_SYSTEMIC
        bx = BUSES[self.bus]
        for c in order:
            progress(f"rep {rep + 1}: {changes:,} unrelated state changes on {bx}, "
                     f"{ {'none': 'nothing watching', 'tb1': 'timerbeat, 1 check', 'tb1000': 'timerbeat, 1,000 checks', 'jf': 'journal follower'}[c]}")
            if c in ("tb1", "tb1000"):
                self.start_tb(self.conf_one if c == "tb1" else self.conf_burst)
                self.settle(self.cg_tb)
            elif c == "jf":
                self.start_jf()
            s0 = self.snap()
            for _ in range(2):
                for verb in ("start", "stop"):
                    for i in range(0, len(self.sy_units), 500):
                        self.env.systemctl(verb, "--no-block", *self.sy_units[i:i + 500])
                    self.wait_jobs()
            time.sleep(0.3)
            s1 = self.snap()
            if c in ("tb1", "tb1000"):
                self.stop_tb()
            elif c == "jf":
                seen = self.stop_jf()
                self.add(f"sys_{self.bus}_jf_entries", len(seen) / changes)
            for k in ("systemd", "dbus", "journald"):
                self.add(f"sys_{self.bus}_{c}_{k}", (s1[k] - s0[k]) / changes)
            own = "jf" if c == "jf" else "tb"
            self.add(f"sys_{self.bus}_{c}_own", (s1[own] - s0[own]) / changes if c != "none" else 0)

    def runs_done(self, units, t_start, timeout=120):
        """Waits until each of units (services) became inactive after t_start."""
        deadline = time.monotonic() + timeout
        while True:
            props = self.show([f"{u}.service" for u in units], ["InactiveEnterTimestampMonotonic", "ActiveState"])
            done = sum(1 for u in units if int(props[f"{u}.service"].get("InactiveEnterTimestampMonotonic") or 0) / 1e6
                       > t_start and props[f"{u}.service"].get("ActiveState") in ("inactive", "failed"))
            if done == len(units) or time.monotonic() > deadline:
                return
            time.sleep(0.5)

    def curl_alone(self):
        """One curl process on loopback, as in the issue: CPU from wait4(); peak RSS from
        /usr/bin/time if there is one (a process forked from this one inherits our RSS until
        it execs, and wait4's ru_maxrss would count that)."""
        cpu, rss = [], []
        argv = [CURL] + CURL_ARGS.split() + [f"{self.base_url}/curl-alone"]
        for _ in range(N_CURL_ALONE):
            pid = os.posix_spawn(CURL, argv, self.env.env)
            _, status, ru = os.wait4(pid, 0)
            if status != 0:
                raise AssertionError("curl failed")
            cpu.append((ru.ru_utime + ru.ru_stime) * 1e6)
            if os.path.exists("/usr/bin/time"):
                r = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True, text=True)
                rss.append(int(r.stderr.strip().splitlines()[-1]) / 1024)
        self.add("curl_alone_cpu", statistics.median(cpu))
        if rss:
            self.add("curl_alone_rss", statistics.median(rss))

    # --- 3 + 4: burst, idle, churn (one daemon watching 1,000 services) -------------------
    def burst_exits(self, units, t_start, timeout=60):
        """Waits until every unit ran after t_start; returns {unit: (Result, exit µs)}."""
        deadline = time.monotonic() + timeout
        while True:
            props = self.show([f"{u}.service" for u in units], ["Result", "ExecMainExitTimestampMonotonic"])
            res = {u: (props[f"{u}.service"].get("Result"),
                       int(props[f"{u}.service"].get("ExecMainExitTimestampMonotonic") or 0)) for u in units}
            if all(e / 1e6 > t_start for _, e in res.values()) or time.monotonic() > deadline:
                return res
            time.sleep(0.5)

    def thousand(self, rep):
        # The same burst without timerbeat: how fast systemd alone gets through it.
        progress(f"rep {rep + 1}: burst of {N_BURST} runs without timerbeat")
        units = self.bs_units
        t_start = time.monotonic()
        self.env.systemctl("start", "--no-block", *[f"{u}.service" for u in units])
        exits = [e for _, e in self.burst_exits(units, t_start).values()]
        self.add("burst_spread_base", (max(exits) - min(exits)) / 1e6)

        progress(f"rep {rep + 1}: starting timerbeat with {N_BURST} checks")
        self.start_tb(self.conf_burst)
        pid = self.env.daemon.pid
        self.settle(self.cg_tb)
        self.add("pd_1000_settled", private_dirty_kib(pid))

        # Idle.
        progress(f"rep {rep + 1}: idle for {self.args.idle:g} s")
        self.drain_notify()
        c0, w0 = cg_usage_us(self.cg_tb), wakeups(pid)
        time.sleep(self.args.idle)
        c1, w1 = cg_usage_us(self.cg_tb), wakeups(pid)
        wd = sum(m.split("\n").count("WATCHDOG=1") for _, m in self.drain_notify())
        self.add("idle_cpu", c1 - c0)
        self.add("idle_wakeups", w1 - w0)
        self.add("idle_watchdog", wd)

        # Churn of unrelated units.
        def churn(kind, what, starts, stops, changes):
            progress(f"rep {rep + 1}: churn, {changes} state changes of unrelated units ({what})")
            c0, w0 = cg_usage_us(self.cg_tb), wakeups(pid)
            for batch in (starts, stops):
                for i in range(0, len(batch), 500):
                    self.env.systemctl("start" if batch is starts else "stop", "--no-block", *batch[i:i + 500])
                self.wait_jobs()
            time.sleep(0.5)
            c1, w1 = cg_usage_us(self.cg_tb), wakeups(pid)
            self.add(f"churn_{kind}_cpu", (c1 - c0) / changes)
            self.add(f"churn_{kind}_wakeups", w1 - w0)
        n = N_CHURN // 2
        churn("cha", "loaded targets started and stopped", [f"cha@{i:04d}.target" for i in range(n)],
              [f"cha@{i:04d}.target" for i in range(n)], N_CHURN)
        churn("chb", "targets loaded for each start", [f"chb@{i:04d}.target" for i in range(n)],
              [f"chb@{i:04d}.target" for i in range(n)], N_CHURN)
        t_start = time.monotonic()
        churn("chs", "oneshot service runs", [f"chs@{i:04d}.service" for i in range(N_CHURN_RUNS)], [],
              2 * N_CHURN_RUNS)
        ran = self.burst_exits([f"chs@{i:04d}" for i in range(N_CHURN_RUNS)], t_start, timeout=0)
        if sum(1 for r, e in ran.values() if r == "success" and e / 1e6 > t_start) != N_CHURN_RUNS:
            self.notes.append(f"rep {rep + 1}: not all {N_CHURN_RUNS} unrelated service runs happened")

        # Burst.
        progress(f"rep {rep + 1}: burst of {N_BURST} successful runs")
        mark = self.rl.poll()
        c0 = cg_usage_us(self.cg_tb)
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")        # resets VmHWM (peak RSS) to the current RSS
        rss0 = kib(proc_status(pid)["VmRSS"])
        pd_max = 0
        t_start = time.monotonic()
        self.env.systemctl("start", "--no-block", *[f"{u}.service" for u in units])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pd_max = max(pd_max, private_dirty_kib(pid))
            if len(self.rl.since(mark, "/ping/bs-")) >= N_BURST:
                break
            time.sleep(0.01)
        time.sleep(1.0)         # anything sent twice would arrive now
        c1 = cg_usage_us(self.cg_tb)
        st = proc_status(pid)
        got = self.rl.since(mark, "/ping/bs-")
        res = self.burst_exits(units, t_start)
        exits = {u: e for u, (_, e) in res.items()}
        arrivals = {}
        for t, path in got:
            arrivals.setdefault(path.rsplit("/", 1)[1], []).append(t / 1000)
        lost = sum(1 for u in units if key(u) not in arrivals)
        dups = sum(len(v) - 1 for v in arrivals.values())
        last_exit = max(exits.values())
        last_arrival = max(t for v in arrivals.values() for t in v) if arrivals else float("nan")
        lat = [(arrivals[key(u)][0] - exits[u]) / 1000 for u in units if key(u) in arrivals]
        self.add("burst_lost", lost)
        self.add("burst_dups", dups)
        self.add("burst_spread", (last_exit - min(exits.values())) / 1e6)
        self.add("burst_drain", (last_arrival - last_exit) / 1e6)
        self.add("burst_lat50", pct(lat, 50))
        self.add("burst_lat99", pct(lat, 99))
        self.add("burst_rss0", rss0 / 1024)
        self.add("burst_hwm", kib(st["VmHWM"]) / 1024)
        self.add("burst_pd", pd_max / 1024)
        self.add("burst_cpu", (c1 - c0) / N_BURST)
        self.add("burst_failed_runs", sum(1 for r, _ in res.values() if r != "success"))
        self.stop_tb()

    # --- 5: scale ---------------------------------------------------------------------------
    def startup(self, rep, what, prefix, config):
        """First start (empty state directory: timerbeat writes a record per check), then a
        restart with that state, as after a reboot. Metrics PREFIX_{first,restart}_{k}."""
        if prefix in self.scale_skip:
            return
        state = f"{self.env.dir}/state-scale"
        shutil.rmtree(state, ignore_errors=True)
        os.makedirs(state)
        for phase in ("first", "restart"):
            progress(f"rep {rep + 1}: start-up with {what} ({'first start' if phase == 'first' else 'restart'})")
            log_mark = len(self.env.log())
            ready, cpu, sd_cpu = self.start_tb(config, state_home=state, timeout=SCALE_TIMEOUT)
            pid = self.env.daemon.pid
            if ready is None:
                self.timed_out.update(f"{prefix}_{phase}_{k}" for k in ("ready", "cpu", "sdcpu"))
                ready = SCALE_TIMEOUT
            pd = private_dirty_kib(pid)
            time.sleep(0.5)
            self.add(f"{prefix}_{phase}_ready", ready * 1000)
            self.add(f"{prefix}_{phase}_cpu", cpu / 1000)
            self.add(f"{prefix}_{phase}_sdcpu", sd_cpu / 1000)
            self.add(f"{prefix}_{phase}_pd", max(pd, private_dirty_kib(pid)) / 1024)
            self.add(f"{prefix}_{phase}_rss", kib(proc_status(pid)["VmHWM"]) / 1024)
            if "one match instead" in self.env.log()[log_mark:]:
                self.broad_match = True
            self.stop_tb(timeout=60)
            if ready >= SCALE_SLOW:
                self.scale_skip.add(prefix)
                took = (f"had not sent READY=1 after {SCALE_TIMEOUT} s (stopped there)" if ready >= SCALE_TIMEOUT
                        else f"took {ready:.1f} s")
                self.notes.append(f"{what}: the {phase} start {took}; measured once"
                                  + (", the restart not at all" if phase == "first" else "")
                                  + f" (starts slower than {SCALE_SLOW} s are not repeated, to keep the run short)")
                break

    def scale(self, rep):
        for n in self.size["scales"]:
            self.startup(rep, f"{n:,} checks", f"scale_{n}", self.conf_scale[n])

    def pattern(self, rep):
        n = self.size["pattern"]
        self.startup(rep, f"a [pt@*.timer] pattern over {n:,} idle timers", "pat", self.conf_pattern)

    # --- outbox replay ------------------------------------------------------------------------
    def replay_generate(self):
        """Stored outbox entries, made by the daemon itself (whatever its on-disk format): the
        replay checks' URLs point at a port that accepts connections and never answers, so
        the first max-parallel requests hang and the rest wait in the queue; rq.service runs
        until timerbeat holds size["replay"] pings (its metrics file says so), then SIGTERM
        leaves them all in the state directory. Made on a tmpfs (fast), copied to the disk."""
        env = self.env
        n, k = self.size["replay"], self.size["replay_checks"]
        runs = -(-n // k)
        hang = socket.socket()
        hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hang.bind(("127.0.0.1", 0))
        hang.listen(1024)
        self.replay_port = hang.getsockname()[1]
        sections = "".join(f"[{t}]\nurl = http://127.0.0.1:{self.replay_port}/ping/{key(t)}\n" for t in self.rq_timers)
        prom = f"{self.state_tmpfs}/gen.prom"
        gen_conf = f"{env.conf_dir}/replay-gen.conf"
        with open(gen_conf, "w") as f:
            f.write(f"[timerbeat]\nmax-queue = 100000\nmax-queue-per-check = 100000\ntimeout = 10min\n"
                    f"metrics-file = {prom}\n" + sections)
        self.conf_replay = f"{env.conf_dir}/replay.conf"
        with open(self.conf_replay, "w") as f:
            f.write(sections)
        gen_state = f"{self.state_tmpfs}/gen"
        os.makedirs(gen_state)
        for i in range(0, len(self.rq_timers), 500):
            env.systemctl("start", *self.rq_timers[i:i + 500])
        progress(f"replay: generating {n:,} outbox entries through timerbeat ({runs:,} runs x {k} checks)")
        t0 = time.monotonic()
        self.start_tb(gen_conf, state_home=gen_state)
        time.sleep(1)
        r = subprocess.run(["sh", "-c", f'i=0; while [ $i -lt {runs} ]; do systemctl --user start rq.service || exit 1; '
                                        'i=$((i+1)); done'], env=env.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"replay: rq.service runs failed: {r.stderr}")

        def pending():
            try:
                with open(prom) as f:
                    for line in f:
                        if line.startswith("timerbeat_outbox_pending "):
                            return int(float(line.split()[1]))
            except OSError:
                pass
            return 0
        deadline = time.monotonic() + max(180, n / 100)
        while pending() < n and time.monotonic() < deadline:
            time.sleep(0.5)
        got = pending()
        self.stop_tb(timeout=300)
        hang.close()
        self.replay_gen_s = time.monotonic() - t0
        self.replay_pending = got
        if got < n:
            self.notes.append(f"replay: timerbeat held only {got:,} pings of the {n:,} wanted after {runs:,} runs "
                              f"of a service watched by {k} checks (the stored entries are what it wrote)")
        self.replay_src = f"{env.dir}/replay-src"
        shutil.copytree(gen_state, self.replay_src, symlinks=True)
        shutil.rmtree(gen_state)
        for i in range(0, len(self.rq_timers), 500):
            env.systemctl("stop", *self.rq_timers[i:i + 500])
        progress(f"replay: {got:,} entries generated in {self.replay_gen_s:.0f} s")
        # The monitor is up again, on the same port: the entries keep the URL they were built with.
        rlog, portfile = f"{env.dir}/replay-receiver.tsv", f"{env.dir}/replay-receiver.port"
        env.spawn([sys.executable, os.path.join(HERE, "receiver.py"), rlog, portfile, str(self.replay_port)],
                  "replay-receiver.out")
        env._wait_for(lambda: os.path.exists(portfile), 10, "the replay receiver")
        self.replay_rl = RecvLog(rlog)

    def replay(self, rep):
        """Start with the stored entries (a copy on the disk, as shipped): READY=1, CPU until
        then, log lines, memory, and how the queue drains (max-queue at its default)."""
        if "replay" in self.scale_skip:
            return
        env = self.env
        state = f"{env.dir}/state-replay"
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(self.replay_src, state, symlinks=True)
        subprocess.run(["sync"])
        progress(f"rep {rep + 1}: replay of {self.replay_pending:,} stored entries")
        with open(f"{env.dir}/timerbeat.log", "rb") as f:
            log0 = f.read().count(b"\n")
        mark = self.replay_rl.poll()
        t0 = time.monotonic()
        ready, cpu, sd_cpu = self.start_tb(self.conf_replay, state_home=state, timeout=SCALE_TIMEOUT)
        pid = self.env.daemon.pid
        if ready is None:
            self.timed_out.update({"replay_ready", "replay_cpu"})
            ready = SCALE_TIMEOUT
        with open(f"{env.dir}/timerbeat.log", "rb") as f:
            log_ready = f.read().count(b"\n") - log0
        # Drained: nothing new at the receiver for 2 s (max 60 s after READY).
        last, last_n, deadline = time.monotonic(), -1, time.monotonic() + 60
        pd_max = 0
        kinds_max = {}
        while time.monotonic() < deadline:
            pd_max = max(pd_max, private_dirty_kib(pid))
            for k, v in rss_by_kind_kib(pid).items():
                kinds_max[k] = max(kinds_max.get(k, 0), v)
            got = len(self.replay_rl.since(mark, "/ping/rq-"))
            if got != last_n:
                last, last_n = time.monotonic(), got
            elif time.monotonic() - last > 2:
                break
            time.sleep(0.1)
        st = proc_status(pid)
        self.stop_tb(timeout=120)
        with open(f"{env.dir}/timerbeat.log", "rb") as f:
            text = f.read().split(b"\n")[log0:]
        log_all = len(text) - 1
        # Lines about dropped entries: the one summary line, and any per-entry drop line.
        drop_lines = sum(1 for line in text if b"dropped the" in line or b"dropping the oldest" in line)
        self.add("replay_ready", ready * 1000)
        self.add("replay_drop_lines", drop_lines)
        self.add("replay_cpu", cpu / 1000)
        self.add("replay_log_ready", log_ready)
        self.add("replay_log", log_all)
        self.add("replay_delivered", last_n)
        self.add("replay_drained", last - t0)
        self.add("replay_rss", kib(st["VmHWM"]) / 1024)
        self.add("replay_pd", pd_max / 1024)
        for k, v in kinds_max.items():
            self.add(f"replay_rss_{k}", v / 1024)
        if ready >= SCALE_SLOW:
            self.scale_skip.add("replay")
            self.notes.append(f"replay: READY=1 came after {ready:.1f} s{' (stopped waiting there)' if ready >= SCALE_TIMEOUT else ''}; "
                              f"measured once (starts slower than {SCALE_SLOW} s are not repeated)")

    # --- timerbeat check with many drop-ins -----------------------------------------------------
    def check_dropins(self, rep):
        if "check" in self.scale_skip:
            return
        env = self.env
        n = self.size["dropins"]
        d = f"{env.conf_dir}/conf.d"
        progress(f"rep {rep + 1}: timerbeat check with {n:,} drop-in files")
        for i in range(n):
            with open(f"{d}/c{i:05d}.conf", "w") as f:
                f.write(f"[sc@{i:05d}.service]\nurl = {self.base_url}/c{i:05d}\n")
        t0 = time.monotonic()
        pid = os.posix_spawn(self.real_binary, [self.real_binary, "--user", "check"], env.env,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                           (os.POSIX_SPAWN_OPEN, 2, f"{env.dir}/check.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
        deadline = t0 + 2 * SCALE_TIMEOUT
        while True:
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                _, status, ru = os.wait4(pid, 0)
                self.timed_out.update({"check_wall", "check_cpu"})
                self.notes.append(f"timerbeat check with {n:,} drop-ins had not finished after {2 * SCALE_TIMEOUT} s "
                                  "(killed there)")
                break
            time.sleep(0.05)
        wall = time.monotonic() - t0
        for i in range(n):
            os.unlink(f"{d}/c{i:05d}.conf")
        self.add("check_wall", wall * 1000)
        self.add("check_cpu", (ru.ru_utime + ru.ru_stime) * 1000)
        self.add("check_rss", ru.ru_maxrss / 1024)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 and "check_wall" not in self.timed_out:
            with open(f"{env.dir}/check.err", errors="replace") as f:
                err = f.read().strip().splitlines()
            self.notes.append(f"timerbeat check with {n:,} drop-ins exited {code}: {(err or ['?'])[-1][:200]}")
        if wall >= SCALE_SLOW:
            self.scale_skip.add("check")

    # --- report ---------------------------------------------------------------------------
    def machine(self):
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
        osname = "?"
        try:
            with open("/etc/os-release") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        osname = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip() or "?"
        h = hashlib.sha256()
        for path in sorted(glob.glob(os.path.join(ROOT, "src", "*.[ch]"))):
            with open(path, "rb") as f:
                h.update(f.read())
        build = os.path.dirname(os.path.dirname(self.real_binary))
        buildtype = "?"
        try:
            with open(f"{build}/meson-info/intro-buildoptions.json") as f:
                buildtype = [o["value"] for o in json.load(f) if o["name"] == "buildtype"][0]
        except (OSError, ValueError, IndexError, KeyError):
            pass
        cc = first_line(["cc", "--version"])
        return [
            f"- Machine: {model}, {os.cpu_count()} CPUs, {mem:.1f} GiB RAM; Linux {platform.release()}; {osname}",
            f"- timerbeat: `{first_line([self.real_binary, '--version'])}`, git `{git}` "
            f"(src/*.[ch] sha256 `{h.hexdigest()[:12]}`), meson buildtype {buildtype}, {cc}",
            f"- {first_line([harness.SYSTEMD, '--version'])}; {first_line(['dbus-daemon', '--version'])}; "
            f"{first_line([CURL, '--version'])}; Python {platform.python_version()}",
        ]

    def save_raw(self, elapsed):
        busy, ours = self.machine_cpu()
        other = (busy - self.cpu_start[0]) - (ours - self.cpu_start[1])
        with open("/proc/loadavg") as f:
            load_end = f.read().split()[0]
        self.raw = {
            "r": self.r, "timed_out": sorted(self.timed_out), "notes": self.notes, "elapsed": elapsed,
            "size": self.size, "idle": self.args.idle, "quick": self.args.quick, "phases": sorted(self.args.phases),
            "broad_match": getattr(self, "broad_match", False),
            "replay_gen_s": getattr(self, "replay_gen_s", None), "replay_pending": getattr(self, "replay_pending", None),
            "header": self.machine() + [
                f"- Other load: processes outside the benchmark used {other / elapsed * 100:.0f}% of one CPU on "
                f"average during the run (load average {self.load_start} at the start, {load_end} at the end)."],
            "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        }
        with open(RAW, "w") as f:
            json.dump(self.raw, f)

    def report(self, elapsed):
        return report(self.raw)


def report(d):
    r = d["r"]
    timed_out = set(d["timed_out"])
    size = d["size"]

    def has(*keys):
        return all(r.get(k) for k in keys)

    def med(key):
        return statistics.median(r[key]) if r.get(key) else float("nan")

    def fmt(key, nd=0, unit=""):
        v = r.get(key)
        if not v:
            return "n/a"
        f = f"{{:,.{nd}f}}"
        s = ("> " if key in timed_out else "") + f.format(statistics.median(v))
        if len(v) > 1:
            s += f" ({f.format(min(v))}–{f.format(max(v))})"
        return s + unit

    def ratio(a, b):
        """a/b as '1/N', the median of per-repetition ratios (and their range)."""
        vals = sorted(x / y for x, y in zip(r.get(a, []), r.get(b, [])) if y > 0)
        if not vals:
            return "n/a"
        m = statistics.median(vals)

        def one(x):
            return f"1/{1 / x:,.0f}" if x > 0 else "≤ 0 (noise)"
        s = one(m)
        if len(vals) > 1:
            s += f" ({one(vals[-1])}–{one(vals[0])})"
        return s

    def rmed(a, b):
        vals = [x / y for x, y in zip(r.get(a, []), r.get(b, [])) if y > 0]
        return statistics.median(vals) if vals else float("nan")

    def status(ok, value=1):
        if ok is None or ok != ok:
            return "n/a"
        if value <= 0:
            return "n/a (the Δ is within the noise)"
        return "**met**" if ok else "**MISSED**"

    def cmp(key, limit):
        return None if not r.get(key) else med(key) <= limit

    reps = max((len(v) for v in r.values()), default=0)
    L = ["# timerbeat benchmark results", ""]
    L.append(f"Written by `bench/run{' --quick' if d['quick'] else ''}` on {d['date']} UTC in "
             f"{d['elapsed'] / 60:.1f} min. Every value: **median (min–max) over the repetitions** ({reps} at most; "
             "slow start-ups are measured once); all methods measured side by side in each repetition, against one "
             "real `systemd --user` (logging into its own journald) and one loopback receiver. Ratios are taken "
             "within a repetition, so they hold even though the machine was loaded by other work.")
    L.append("")
    L += d["header"]
    L.append("")
    L.append("## Targets (issues 14 and 20)")
    L.append("")
    L.append("| issue | target | result | |")
    L.append("|---|---|---|---|")
    for px, bus in (("", "dbus-daemon"), ("b_", "dbus-broker")):
        if has(f"{px}cpu_tb_own"):
            L.append(f"| 14.1 | timerbeat's own CPU per ping ≤ 1/20 of `ExecStartPost=curl` and of an `OnSuccess=` unit "
                     f"({bus}) | {ratio(f'{px}cpu_tb_own', f'{px}cpu_sp')} and {ratio(f'{px}cpu_tb_own', f'{px}cpu_os')} | "
                     f"{status(max(rmed(f'{px}cpu_tb_own', f'{px}cpu_sp'), rmed(f'{px}cpu_tb_own', f'{px}cpu_os')) <= 1 / 20)} |")
    for px, bus in (("", "dbus-daemon"), ("b_", "dbus-broker")):
        if has(f"{px}cpu_tb_all"):
            L.append(f"| 20 | all-in CPU per ping (timerbeat + what it adds to systemd, bus, journald) ≤ 1/10 of "
                     f"`ExecStartPost=curl` ({bus}) | {ratio(f'{px}cpu_tb_all', f'{px}cpu_sp')} | "
                     f"{status(rmed(f'{px}cpu_tb_all', f'{px}cpu_sp') <= 1 / 10, rmed(f'{px}cpu_tb_all', f'{px}cpu_sp'))} |")
    for phase, what in (("first", "first start"), ("restart", "restart")):
        if has(f"scale_10_{phase}_ready", f"scale_1000_{phase}_ready"):
            x = rmed(f"scale_1000_{phase}_ready", f"scale_10_{phase}_ready")
            L.append(f"| 14.2 | READY=1 with 1,000 checks ≤ 2.5× with 10 ({what}) | {x:.1f}× "
                     f"({fmt(f'scale_1000_{phase}_ready', 1, ' ms')} vs {fmt(f'scale_10_{phase}_ready', 1, ' ms')}) | "
                     f"{status(x <= 2.5)} |")
            L.append(f"| 14.2 | READY=1 with 1,000 checks ≤ 100 ms ({what}) | {fmt(f'scale_1000_{phase}_ready', 1, ' ms')} | "
                     f"{status(cmp(f'scale_1000_{phase}_ready', 100))} |")
    for phase, what in (("first", "first start"), ("restart", "restart")):
        if has(f"scale_10000_{phase}_ready"):
            L.append(f"| 14.2 | READY=1 with 10,000 checks ≤ 1 s ({what}) | {fmt(f'scale_10000_{phase}_ready', 0, ' ms')} | "
                     f"{status(cmp(f'scale_10000_{phase}_ready', 1000))} |")
    for phase, what in (("first", "first start"), ("restart", "restart")):
        if has(f"pat_{phase}_ready"):
            L.append(f"| 14.2 | a pattern over {size['pattern']:,} idle timers: READY=1 ≤ 1 s ({what}) | "
                     f"{fmt(f'pat_{phase}_ready', 0, ' ms')} | {status(cmp(f'pat_{phase}_ready', 1000))} |")
    if has("replay_ready"):
        n = d["replay_pending"] or 0
        L.append(f"| 14.3 | {n:,} stored entries at start: READY=1 ≤ 1 s | {fmt('replay_ready', 0, ' ms')} | "
                 f"{status(cmp('replay_ready', 1000))} |")
        L.append(f"| 14.3 | … memory bounded by `max-queue` (1,000): peak RSS ≤ 16 MiB, as the burst of 1,000 | "
                 f"{fmt('replay_rss', 1, ' MiB')} | {status(cmp('replay_rss', 16))} |")
        if has("replay_drop_lines"):
            # The criterion: one line for all dropped entries, none per entry; the rest is two lines
            # per delivered ping and the start (a line per check monitored, timerbeat(8) LOGGING).
            checks = size["replay_checks"]
            L.append(f"| 14.3 | … one summary line for dropped entries (and ≤ 2 lines per delivered ping + 1 per "
                     f"check at start + 10) | {fmt('replay_drop_lines')} about drops; {fmt('replay_log')} lines in "
                     f"all, {fmt('replay_delivered')} delivered, {checks} checks | "
                     f"{status(med('replay_drop_lines') == 1 and med('replay_log') <= 2 * med('replay_delivered') + checks + 10)} |")
        else:
            L.append(f"| 14.3 | … one summary line for dropped entries (≤ 2 lines per delivered ping + 100) | "
                     f"{fmt('replay_log')} lines, {fmt('replay_delivered')} delivered | "
                     f"{status(med('replay_log') <= 2 * med('replay_delivered') + 100)} |")
    if has("check_wall"):
        L.append(f"| 14.4 | `timerbeat check` with {size['dropins']:,} drop-ins ≤ 2 s | {fmt('check_wall', 0, ' ms')} | "
                 f"{status(cmp('check_wall', 2000))} |")
    if has("scale_1000_restart_pd"):
        L.append(f"| 14.5 | 1,000 checks: private dirty ≤ 3 MiB | {fmt('scale_1000_restart_pd', 2, ' MiB')} | "
                 f"{status(cmp('scale_1000_restart_pd', 3))} |")
    if has("churn_chb_cpu"):
        L.append(f"| 14.5 | `UnitNew` of unrelated units ≤ 5 µs each (timerbeat's own CPU per state change, targets loaded "
                 f"for each start) | {fmt('churn_chb_cpu', 2, ' µs')} | {status(cmp('churn_chb_cpu', 5))} |")
        idle_extra = [w - x for w, x in zip(r["idle_wakeups"], r["idle_watchdog"])]
        L.append(f"| 14.5 | idle: watchdog wake-ups only | {fmt('idle_wakeups')} wake-ups in {d['idle']:g} s, "
                 f"{fmt('idle_watchdog')} of them watchdog | {status(max(idle_extra) <= 0)} |")
        L.append(f"| 14.5 | burst of {N_BURST:,}: lossless | {max(r['burst_lost'])} lost, {max(r['burst_dups'])} twice "
                 f"(worst repetition) | {status(max(r['burst_lost']) == 0 and max(r['burst_dups']) == 0)} |")
    if has("lat99_tb"):
        L.append(f"| 14.6 | p99 exit → request ≤ 10 ms | {fmt('lat99_tb', 2, ' ms')} (dbus-broker: "
                 f"{fmt('b_lat99_tb', 2, ' ms')}) | {status(cmp('lat99_tb', 10))} |")
    if has("sys_daemon_none_systemd"):
        L.append("| 20 | systemic cost per unrelated unit change stated and minimised | see section 3 | stated |")
    L.append("")

    # --- 1. per ping
    if has("cpu_tb_own") or has("b_cpu_tb_own"):
        L.append(f"## 1. CPU per ping ({N_PING} timer-started oneshot services per method, {SPACING * 1000:.0f} ms apart)")
        L.append("")
        L.append("*Own*: the process's own cgroup. *All-in*: own + what it makes the rest spend: the user manager, "
                 "the units, the bus and journald, against the same runs without any pinging.")
        L.append("")
        L.append("| | dbus-daemon | ÷ `ExecStartPost=curl` | ÷ `OnSuccess=` | dbus-broker | ÷ `ExecStartPost=curl` | ÷ `OnSuccess=` |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")

        def row(what, k):
            cells = []
            for px in ("", "b_"):
                if r.get(px + k):
                    cells += [fmt(px + k, 0, " µs"), f"**{ratio(px + k, px + 'cpu_sp')}**", f"**{ratio(px + k, px + 'cpu_os')}**"]
                else:
                    cells += ["", "", ""]
            L.append(f"| {what} | " + " | ".join(cells) + " |")
        row("**timerbeat, own CPU**", "cpu_tb_own")
        row("**timerbeat, all-in**", "cpu_tb_all")
        row("timerbeat, own CPU, state directory on tmpfs (diagnostic)", "cpu_tbt_own")
        row("journal follower per run end, own CPU (issue 20's alternative; reads, sends nothing)", "cpu_jf_own")
        row("journal follower per run end, all-in", "cpu_jf_all")
        for m in ("sp", "os"):
            L.append(f"| {METHOD_NAMES[m]}, all-in (systemd + unit + bus + journald) | {fmt(f'cpu_{m}', 0, ' µs')} | | | "
                     f"{fmt(f'b_cpu_{m}', 0, ' µs')} | | |")
        L.append(f"| one `curl` process alone (reference, `wait4`) | {fmt('curl_alone_cpu', 0, ' µs')}"
                 + (f", peak RSS {fmt('curl_alone_rss', 1, ' MiB')}" if r.get("curl_alone_rss") else "") + " | | | | | |")
        L.append("")
        for px, bus in (("", "dbus-daemon"), ("b_", "dbus-broker")):
            if not r.get(px + "cpu_tb_own"):
                continue
            L.append(f"Breakdown on {bus}, per ping, against the same {N_PING} runs without any pinging (which cost "
                     f"{fmt(px + 'cpu_base_total', 0, ' µs')} per run in systemd, the bus, journald "
                     f"({fmt(px + 'cpu_base_journald', 0, ' µs')}) and the job): timerbeat makes systemd spend "
                     f"{fmt(px + 'cpu_tb_sd', 0, ' µs')} and the bus {fmt(px + 'cpu_tb_dbus', 0, ' µs')} (the "
                     f"`PropertiesChanged` signals it subscribes to); `ExecStartPost=curl` costs "
                     f"{fmt(px + 'cpu_sp_units', 0, ' µs')} in the unit (curl), {fmt(px + 'cpu_sp_sd', 0, ' µs')} in "
                     f"systemd and {fmt(px + 'cpu_sp_dbus', 0, ' µs')} in the bus; the `OnSuccess=` unit "
                     f"{fmt(px + 'cpu_os_units', 0, ' µs')} in its unit, {fmt(px + 'cpu_os_sd', 0, ' µs')} in systemd and "
                     f"{fmt(px + 'cpu_os_dbus', 0, ' µs')} in the bus.")
            L.append("")
        L.append("Δ values are differences of totals of a few hundred ms and carry their noise. timerbeat's log "
                 "(2 lines per ping at the default level) goes to a file here; under systemd it goes to journald, "
                 "which this table does not charge to it.")
        L.append("")
        L.append("## 2. Latency: service's `ExecMainExitTimestampMonotonic` → request at the receiver")
        L.append("")
        L.append("| method | p50 | p99 | max | job held up by (p50) |")
        L.append("|---|---:|---:|---:|---:|")
        for m in ("tb", "tbt", "sp", "os", "jf"):
            L.append(f"| {METHOD_NAMES[m]}{' (exit → entry read by the follower)' if m == 'jf' else ''} | "
                     f"{fmt(f'lat50_{m}', 2, ' ms')} | {fmt(f'lat99_{m}', 2, ' ms')} | "
                     f"{fmt(f'latmax_{m}', 2, ' ms')} | {fmt(f'held_{m}', 2, ' ms')} |")
        if r.get("b_lat50_tb"):
            L.append(f"| timerbeat on dbus-broker | {fmt('b_lat50_tb', 2, ' ms')} | {fmt('b_lat99_tb', 2, ' ms')} | "
                     f"{fmt('b_latmax_tb', 2, ' ms')} | {fmt('b_held_tb', 2, ' ms')} |")
        L.append("")
        L.append("\"Job held up\": from the main process's exit to the unit becoming inactive "
                 f"(without pinging: {fmt('held_base', 2, ' ms')}). The journal follower's latency is what a "
                 "journal-driven timerbeat would add before its request: journald tells readers of new entries "
                 "through inotify, batched.")
        L.append("")

    # --- 3. systemic
    if has("sys_daemon_none_systemd") or has("sys_broker_none_systemd"):
        n = 4 * N_SYSTEMIC
        L.append(f"## 3. What an unrelated unit change costs the system (issue 20)")
        L.append("")
        L.append(f"{N_SYSTEMIC} loaded targets started and stopped twice ({n:,} state changes), CPU per change of "
                 "the user manager (`init.scope`), the bus (`dbus.service`'s cgroup: dbus-daemon, or dbus-broker with "
                 "its launcher), journald (which logs \"Reached target\"/\"Stopped target\" for each) and the watcher "
                 "itself. *Added* = the sum minus the same without any watcher.")
        L.append("")
        L.append("| bus | watching | systemd | bus | journald | watcher | added per change |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        names = {"none": "nothing", "tb1": "timerbeat, 1 check", "tb1000": "timerbeat, 1,000 checks",
                 "jf": "journal follower"}
        for bus in ("daemon", "broker"):
            base = [sum(x) for x in zip(*(r.get(f"sys_{bus}_none_{k}", []) for k in ("systemd", "dbus", "journald")))]
            for c in ("none", "tb1", "tb1000", "jf"):
                k = f"sys_{bus}_{c}"
                if not r.get(f"{k}_systemd"):
                    continue
                tot = [sum(x) for x in zip(*(r[f"{k}_{j}"] for j in ("systemd", "dbus", "journald", "own")))]
                r[f"{k}_added"] = [t - b for t, b in zip(tot, base)]
                L.append(f"| {BUSES[bus]} | {names[c]} | {fmt(f'{k}_systemd', 1, ' µs')} | {fmt(f'{k}_dbus', 1, ' µs')} | "
                         f"{fmt(f'{k}_journald', 1, ' µs')} | {fmt(f'{k}_own', 1, ' µs') if c != 'none' else ''} | "
                         f"{fmt(f'{k}_added', 1, ' µs') if c != 'none' else ''} |")
        if r.get("sys_daemon_jf_entries"):
            L.append("")
            L.append(f"The journal follower read {fmt('sys_daemon_jf_entries', 2)} matching entries per unrelated change "
                     "(\"Reached target\" and \"Stopped target\" carry run-message IDs too, so the journal's index "
                     f"cannot filter them out), and {fmt('jf_entries', 1)} per run in section 1.")
        L.append("")

    # --- 4. burst, idle, churn
    if has("burst_lost"):
        L.append(f"## 4. Burst: {N_BURST:,} services started at once (timerbeat watching {N_BURST:,})")
        L.append("")
        L.append("| | |")
        L.append("|---|---:|")
        L.append(f"| first to last exit (the same burst without timerbeat) | {fmt('burst_spread', 2, ' s')} "
                 f"({fmt('burst_spread_base', 2, ' s')}) |")
        L.append(f"| pings lost / sent twice / failed runs | {fmt('burst_lost')} / {fmt('burst_dups')} / "
                 f"{fmt('burst_failed_runs')} |")
        L.append(f"| last exit → last arrival | {fmt('burst_drain', 3, ' s')} |")
        L.append(f"| latency p50 / p99 during the burst | {fmt('burst_lat50', 1, ' ms')} / {fmt('burst_lat99', 1, ' ms')} |")
        L.append(f"| timerbeat CPU per ping | {fmt('burst_cpu', 0, ' µs')} |")
        L.append(f"| RSS before → peak during the burst (VmHWM reset before) | {fmt('burst_rss0', 1, ' MiB')} → "
                 f"{fmt('burst_hwm', 1, ' MiB')} |")
        L.append(f"| peak private dirty (sampled every 10 ms) | {fmt('burst_pd', 2, ' MiB')} |")
        L.append("")
        L.append(f"## 5. Idle and churn: timerbeat's own CPU (watching {N_BURST:,} services)")
        L.append("")
        L.append("| | timerbeat CPU | wake-ups |")
        L.append("|---|---:|---:|")
        L.append(f"| idle, {d['idle']:g} s | {fmt('idle_cpu', 0, ' µs')} | {fmt('idle_wakeups')} "
                 f"(watchdog: {fmt('idle_watchdog')}) |")
        n = N_CHURN // 2
        L.append(f"| {n:,} loaded targets started, then stopped ({N_CHURN:,} state changes) | "
                 f"{fmt('churn_cha_cpu', 2, ' µs')} per change | {fmt('churn_cha_wakeups')} |")
        L.append(f"| {n:,} targets loaded, started, stopped, unloaded ({N_CHURN:,} state changes, {n:,} `UnitNew`) | "
                 f"{fmt('churn_chb_cpu', 2, ' µs')} per change | {fmt('churn_chb_wakeups')} |")
        L.append(f"| {N_CHURN_RUNS:,} runs of loaded oneshot services ({2 * N_CHURN_RUNS:,} state changes) | "
                 f"{fmt('churn_chs_cpu', 2, ' µs')} per change | {fmt('churn_chs_wakeups')} |")
        L.append("")
        L.append("Wake-ups: voluntary + involuntary context switches of the daemon; the watchdog as in the shipped "
                 f"units (`WatchdogSec=30s`, `WATCHDOG_USEC={WATCHDOG_USEC}`), counted from the `WATCHDOG=1` messages. "
                 "What these changes cost systemd and the bus is section 3.")
        L.append("")

    # --- 6. start-up
    rows = [(f"{n:,} checks", f"scale_{n}") for n in size["scales"]] + \
           [(f"`[pt@*.timer]` over {size['pattern']:,} idle timers", "pat")]
    if any(r.get(f"{p}_first_ready") for _, p in rows):
        L.append("## 6. Start-up (exec → READY=1) and memory")
        L.append("")
        L.append("First start: empty state directory. Restart: the state the first start left, as after a reboot. The "
                 "checks' services are loaded (as a timer keeps its service loaded); the pattern's timers are started, "
                 "elapsing in 2099. systemd computes some unit properties (`UnitFileState`, …) at a unit's first "
                 "`GetAll` and caches them: that cost falls on the first start of repetition 1.")
        L.append("")
        L.append("| | first start: READY=1 after | timerbeat CPU | systemd CPU | restart: READY=1 after | "
                 "timerbeat CPU | systemd CPU | private dirty | peak RSS |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for what, p in rows:
            if not r.get(f"{p}_first_ready"):
                continue
            L.append(f"| {what} | " + " | ".join(
                fmt(f"{p}_{ph}_{k}", nd, u) for ph, k, nd, u in (
                    ("first", "ready", 1, " ms"), ("first", "cpu", 1, " ms"), ("first", "sdcpu", 1, " ms"),
                    ("restart", "ready", 1, " ms"), ("restart", "cpu", 1, " ms"), ("restart", "sdcpu", 1, " ms"),
                    ("restart", "pd", 2, " MiB"), ("restart", "rss", 1, " MiB"))) + " |")
        L.append("")
        if d.get("broad_match"):
            L.append("At some size timerbeat logged that it watches all units with one match instead of one per service.")
            L.append("")

    # --- 7. replay, 8. check
    if has("replay_ready"):
        L.append(f"## 7. Outbox replay: {d['replay_pending']:,} stored entries of {size['replay_checks']} checks")
        L.append("")
        L.append(f"Made by timerbeat itself ({d['replay_gen_s']:.0f} s): {size['replay_checks']} timers' checks on one "
                 "service, the monitor accepting connections and never answering, `max-queue` raised to 100,000, "
                 "then SIGTERM; copied to the disk for each start. Replayed with `max-queue` at its default (1,000), "
                 "the monitor answering 200.")
        L.append("")
        L.append("| | |")
        L.append("|---|---:|")
        L.append(f"| exec → READY=1 | {fmt('replay_ready', 0, ' ms')} |")
        L.append(f"| timerbeat CPU until READY=1 | {fmt('replay_cpu', 0, ' ms')} |")
        L.append(f"| pings delivered / exec → last delivery | {fmt('replay_delivered')} / {fmt('replay_drained', 1, ' s')} |")
        L.append(f"| log lines until READY=1 / in all | {fmt('replay_log_ready')} / {fmt('replay_log')} |")
        L.append(f"| peak RSS / peak private dirty | {fmt('replay_rss', 1, ' MiB')} / {fmt('replay_pd', 2, ' MiB')} |")
        if has("replay_rss_journal"):
            L.append(f"| RSS after READY=1 by mapping, peaks sampled every 0.1 s: anonymous / journal files / outbox "
                     f"log / other files (libraries) | {fmt('replay_rss_anon', 1, ' MiB')} / "
                     f"{fmt('replay_rss_journal', 1, ' MiB')} / {fmt('replay_rss_outbox', 1, ' MiB')} / "
                     f"{fmt('replay_rss_files', 1, ' MiB')} |")
        L.append("")
    if has("check_wall"):
        L.append(f"## 8. `timerbeat check` with {size['dropins']:,} drop-in files")
        L.append("")
        L.append(f"One section per file, each naming a loaded service: {fmt('check_wall', 0, ' ms')} "
                 f"({fmt('check_cpu', 0, ' ms')} CPU, peak RSS {fmt('check_rss', 1, ' MiB')}).")
        L.append("")

    L.append("## How it is measured")
    L.append("")
    L.append(
        "- Per-ping and latency: every job is a `Type=oneshot` service running `/bin/true`, started "
        "by its own timer (`AccuracySec=1us`), so nothing but systemd is involved in starting it. "
        f"The alternatives run `curl {CURL_ARGS} URL`, as monitors' docs suggest: in the unit "
        "(`ExecStartPost=`), or in `ping@%N.service` named by `OnSuccess=`. timerbeat runs as its "
        "shipped user unit would run it (default log level, watchdog, state in `$XDG_STATE_HOME`, "
        "on the root file system here), in a cgroup of its own.\n"
        "- The session bus is the user manager's `dbus.service` (as in a login session): dbus-daemon, then "
        "dbus-broker (`dbus-broker-launch --scope user` through a drop-in), the same configuration file.\n"
        "- CPU is cgroup v2 `cpu.stat` `usage_usec` (all threads and children, µs; for a one-process cgroup the "
        "same as utime + stime in `/proc/PID/stat`): timerbeat's cgroup, the journal follower's, journald's; "
        "below the user manager's cgroup: `init.scope` (systemd itself), `dbus.service` (the bus) and the rest "
        "(every unit, curl included). An alternative's cost per ping is (systemd + units + bus + journald) "
        "minus the same for the same number of runs without pinging, in the same repetition.\n"
        "- The journal follower (bench/journal-follow.c) is a C program on sd-journal with the run history's "
        "matches (the run messages' `MESSAGE_ID`s, `_UID`, `_SYSTEMD_UNIT=user@UID.service`), reading the "
        "fields a run end needs from each matching entry; it sends nothing.\n"
        "- Latency: the receiver (bench/receiver.py, its own process) and the follower stamp with "
        "CLOCK_MONOTONIC; systemd's `ExecMainExitTimestampMonotonic` is the same clock.\n"
        "- Memory: `Private_Dirty` from `/proc/PID/smaps_rollup`, peak RSS from `VmHWM`.")
    if d["notes"]:
        L.append("")
        L.append("## Notes from this run")
        L.append("")
        L += [f"- {n}" for n in d["notes"]]
    L.append("")
    return "\n".join(L)


PHASES = ("ping", "broker", "systemic", "thousand", "replay", "pattern", "scale")
# Every value of the last run, for --report (TIMERBEAT_BENCH_RAW: another file, for a second run).
RAW = os.environ.get("TIMERBEAT_BENCH_RAW") or "/var/tmp/.timerbeat-bench/last-results.json"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="one repetition, 10 s idle, smaller scale phases (a few minutes)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    ap.add_argument("--idle", type=float, default=None, help="idle window in seconds (default 30; 10 with --quick)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"), help="report file (default bench/results.md)")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help=f"comma-separated phases to run (default all: {','.join(PHASES)})")
    ap.add_argument("--report", nargs="*", metavar="RAW",
                    help=f"only write the report again from the last run's values ({RAW}), or from these "
                         "files' (a later file's phases replace an earlier one's)")
    args = ap.parse_args()
    if args.report is not None:
        raw = None
        for path in args.report or [RAW]:
            with open(path) as f:
                d = json.load(f)
            if raw is None:
                raw = d
                continue
            # The later file's phases win; a phase it ran again loses its failure note.
            phases = d.get("phases", [])
            raw["r"].update(d["r"])
            raw["notes"] = [n for n in raw["notes"] if not any(n.startswith(f"phase {p} failed") for p in phases)] + \
                [f"({', '.join(phases)}) {n}" for n in d["notes"]]
            raw["elapsed"] += d["elapsed"]
            raw["timed_out"] = sorted(set(raw["timed_out"]) | set(d["timed_out"]))
            raw["header"][-1] += f" During the run of the phases {', '.join(phases)}: " + \
                d["header"][-1].removeprefix("- Other load: ")
        text = report(raw)
        print(text)
        with open(args.out, "w") as f:
            f.write(text.rstrip("\n") + "\n")
        return
    args.phases = set(args.phases.split(","))
    if args.phases - set(PHASES):
        raise SystemExit(f"bench: unknown phases {args.phases - set(PHASES)}")
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.idle is None:
        args.idle = 10 if args.quick else 30
    if not os.environ.get("TIMERBEAT"):
        raise SystemExit("bench: set TIMERBEAT to the timerbeat binary (bench/run does)")
    for tool in ("/usr/bin/dbus-broker-launch", JOURNAL_FOLLOW or "JOURNAL_FOLLOW"):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"bench: {tool} is missing (dbus-broker: apt-get install dbus-broker; "
                             "the journal follower: bench/run builds it)")
    # The harness makes its directory with tempfile: not in /tmp, where a cleanup of test
    # leftovers (timerbeat-*) could take it away mid-run. On the disk still, as /var/lib is.
    if "TIMERBEAT_BENCH_TMPDIR" not in os.environ:
        os.environ["TIMERBEAT_BENCH_TMPDIR"] = "/var/tmp/.timerbeat-bench"
    os.makedirs(os.environ["TIMERBEAT_BENCH_TMPDIR"], exist_ok=True)
    os.environ["TMPDIR"] = os.environ["TIMERBEAT_BENCH_TMPDIR"]
    harness.reexec_in_namespace()
    # A journald of its own, and the manager logging into it as user@.service does: dbus-broker
    # logs only there, and the journal follower reads the manager's run messages from it.
    harness.Env.journald = True
    harness.Env.manager_log_journal = True
    start = time.monotonic()
    b = None
    try:
        with harness.Env("bench") as env:
            b = Bench(env, args)
            b.setup()
            # Phase by phase, each repeated: the units a phase needs loaded are loaded for it
            # once (thousands of loaded units slow systemd down for everything, and unloading
            # them takes systemd 252 longer than the rest of the benchmark).
            reps = range(args.reps)
            ph = args.phases

            def per_ping_daemon():
                for rep in reps:
                    b.curl_alone()
                    b.per_ping(rep)

            def per_ping_broker():
                b.set_bus("broker")
                for rep in reps:
                    b.per_ping(rep)

            def anchors():
                b.env.systemctl("start", "bs-anchor.target", "cha-anchor.target", "chs-anchor.target",
                                "sy-anchor.target")

            def systemic():
                anchors()
                if b.bus != "broker":
                    b.set_bus("broker")
                for rep in reps:
                    b.systemic(rep)
                b.set_bus("daemon")
                for rep in reps:
                    b.systemic(rep)

            def thousand():
                anchors()
                if b.bus != "daemon":
                    b.set_bus("daemon")
                for rep in reps:
                    b.thousand(rep)

            def replay():
                b.replay_generate()
                for rep in reps:
                    b.replay(rep)

            def pattern():
                pts = [f"pt@{i:05d}.timer" for i in range(b.size["pattern"])]
                progress(f"starting {len(pts):,} idle timers")
                for i in range(0, len(pts), 500):
                    b.env.systemctl("start", *pts[i:i + 500])
                try:
                    for rep in reps:
                        b.pattern(rep)
                finally:
                    for i in range(0, len(pts), 500):
                        b.env.systemctl("stop", *pts[i:i + 500])

            def scale():
                b.env.systemctl("start", "sc-anchor.target")
                for rep in reps:
                    b.scale(rep)
                    b.check_dropins(rep)

            # A phase that fails is noted and the others still run: one run's numbers are
            # too dear to lose to one phase.
            try:
                for name, f in (("ping", per_ping_daemon), ("broker", per_ping_broker), ("systemic", systemic),
                                ("thousand", thousand), ("replay", replay), ("pattern", pattern), ("scale", scale)):
                    if name not in ph:
                        continue
                    try:
                        f()
                    except Exception as e:
                        import traceback
                        traceback.print_exc()
                        b.diagnose()
                        b.notes.append(f"phase {name} failed: {type(e).__name__}: {str(e)[:300]}")
                        if b.env.daemon and b.env.daemon.poll() is None:
                            b.stop_tb()
                        if b.jf:
                            b.stop_jf()
                    b.save_raw(time.monotonic() - start)
            finally:
                if getattr(b, "state_tmpfs", None):
                    subprocess.run(["umount", "-l", b.state_tmpfs], capture_output=True)
            b.save_raw(time.monotonic() - start)
            text = b.report(time.monotonic() - start)
    finally:
        if b:
            b.cleanup()
    print(text)
    tmp = os.path.join(os.path.dirname(os.path.abspath(args.out)), "results.tmp")
    with open(tmp, "w") as f:
        f.write(text.rstrip("\n") + "\n")
    os.replace(tmp, args.out)
    progress(f"done in {(time.monotonic() - start) / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
