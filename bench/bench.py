#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timerbeat benchmark (issue 7): what a ping costs with timerbeat and with the usual
alternatives (ExecStartPost=curl, an OnSuccess= unit running curl), measured side by side in
the same run against a real systemd user manager and a loopback receiver.

Run it with bench/run (it builds a release binary first), or directly as root:
    TIMERBEAT=/path/to/timerbeat python3 bench/bench.py [--reps N] [--idle S] [--out FILE]

It reuses the integration harness (tests/integration/harness.py): a private mount namespace,
its own cgroup, dbus-daemon and `systemd --user`; it never touches the host's systemd.
Standard library only. Prints a Markdown report and writes it to bench/results.md."""

import argparse
import datetime
import glob
import hashlib
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
SCALE_SLOW = 15         # s: a start-up slower than this is not repeated
SCALE_TIMEOUT = 45      # s: nor waited for longer than this
SCALES = (10, 1000, 10000)
N_CURL_ALONE = 10
OFFSET = 0.8            # first timer elapses this long after the timers are (re)started
WATCHDOG_USEC = 30_000_000  # as the shipped units (WatchdogSec=30s)
CURL = "/usr/bin/curl"
CURL_ARGS = "-fsS -m 10 --retry 5 -o /dev/null"   # what monitors' docs tell users to paste

METHODS = ("base", "tb", "tbt", "sp", "os")
METHOD_NAMES = {
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
        self.cg_driver = f"{os.path.dirname(self.cg)}/timerbeat-bench-{os.getpid()}-driver"
        self.cg_tb = f"{os.path.dirname(self.cg)}/timerbeat-bench-{os.getpid()}-daemon"
        for cg in (self.cg_driver, self.cg_tb):
            os.makedirs(cg, exist_ok=True)
        move_to_cgroup(self.cg_driver)
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

    def cleanup(self):
        self.reader_stop = True
        for cg in (self.cg_tb, self.cg_driver):
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
        anchor("sc-anchor.target", [f"sc@{i:05d}.service" for i in range(max(SCALES))])
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
        self.conf_scale = {n: conf(f"scale-{n}", [f"sc@{i:05d}.service" for i in range(n)]) for n in SCALES}

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

    def stop_tb(self):
        env = self.env
        env.daemon.send_signal(signal.SIGTERM)
        try:
            env.daemon.wait(10)
        except subprocess.TimeoutExpired:
            pid = env.daemon.pid
            try:
                with open(f"/proc/{pid}/wchan") as f:
                    wchan = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().split(") ", 1)[1].split()[0]
            except OSError:
                wchan = state = "?"
            self.notes.append(f"timerbeat did not exit within 10 s of SIGTERM (state {state}, wchan {wchan}); "
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
            "tb": cg_usage_us(self.cg_tb),
        }

    def show(self, units, props):
        """{unit: {prop: value}} for many units in one systemctl call."""
        r = self.env.systemctl("show", "-p", "Id", *[x for p in props for x in ("-p", p)], *units, check=False)
        if r.returncode != 0:
            raise AssertionError(f"systemctl show ({len(units)} units) failed: {r.stderr.strip()}")
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
        order = list(METHODS[rep % len(METHODS):] + METHODS[:rep % len(METHODS)])
        delta = {}
        for m in order:
            progress(f"rep {rep + 1}: per-ping, {METHOD_NAMES.get(m, 'no pinging (baseline)')}")
            units = [f"pp-{m}@{x}" for x in self.pp_inst]
            if m in ("tb", "tbt"):
                self.start_tb(self.conf_pp[m], state_home=self.state_tmpfs if m == "tbt" else None)
                time.sleep(0.5)
            self.env.systemctl("restart", *[f"{u}.timer" for u in units])
            mark = self.rl.poll()
            s0 = self.snap()
            time.sleep(OFFSET + N_PING * SPACING + 0.3)
            got = []
            if m != "base":
                got = self.rl.wait(mark, f"/ping/pp-{m}-", N_PING, 30)
            time.sleep(0.5)
            s1 = self.snap()
            if m in ("tb", "tbt"):
                self.stop_tb()
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
            self.add(f"held_{m}", statistics.median(held) / 1000)
            # Elapsed timers stay loaded, and keep their services loaded: stop them, so that
            # later phases (timerbeat lists every timer at start) see a system of normal size.
            self.env.systemctl("stop", *[f"{u}.timer" for u in units])
            if m == "base":
                continue
            arrivals = {}
            for t, path in got:
                arrivals.setdefault(path.rsplit("/", 1)[1], []).append(t)
            missing = [u for u in units if key(u) not in arrivals]
            dups = sum(len(v) - 1 for v in arrivals.values())
            if missing or dups:
                self.notes.append(f"rep {rep + 1}, {METHOD_NAMES[m]}: {len(missing)} pings missing, {dups} twice")
            lat = [(arrivals[key(u)][0] / 1000 - exits[u]) / 1000 for u in units if key(u) in arrivals]   # ms
            self.add(f"lat50_{m}", pct(lat, 50))
            self.add(f"lat99_{m}", pct(lat, 99))
            self.add(f"latmax_{m}", max(lat))
        total = {m: delta[m]["systemd"] + delta[m]["units"] + delta[m]["dbus"] for m in METHODS}
        self.add("cpu_tb_own", delta["tb"]["tb"] / N_PING)
        self.add("cpu_tbt_own", delta["tbt"]["tb"] / N_PING)
        self.add("cpu_tb_all", (delta["tb"]["tb"] + total["tb"] - total["base"]) / N_PING)
        self.add("cpu_tb_sd", (delta["tb"]["systemd"] - delta["base"]["systemd"]) / N_PING)
        self.add("cpu_tb_dbus", (delta["tb"]["dbus"] - delta["base"]["dbus"]) / N_PING)
        for m in ("sp", "os"):
            self.add(f"cpu_{m}", (total[m] - total["base"]) / N_PING)
            self.add(f"cpu_{m}_sd", (delta[m]["systemd"] - delta["base"]["systemd"]) / N_PING)
            self.add(f"cpu_{m}_units", (delta[m]["units"] - delta["base"]["units"]) / N_PING)
        self.add("cpu_base_total", total["base"] / N_PING)

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
        time.sleep(1)
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
    def scale(self, rep):
        """Start-up with n checks: first start (empty state directory: timerbeat writes a record
        per check), then a restart with that state, as after a reboot."""
        for n in SCALES:
            if n in self.scale_skip:
                continue
            state = f"{self.env.dir}/state-scale"
            shutil.rmtree(state, ignore_errors=True)
            os.makedirs(state)
            for phase in ("first", "restart"):
                progress(f"rep {rep + 1}: start-up with {n:,} checks ({'first start' if phase == 'first' else 'restart'})")
                log_mark = len(self.env.log())
                ready, cpu, sd_cpu = self.start_tb(self.conf_scale[n], state_home=state, timeout=SCALE_TIMEOUT)
                pid = self.env.daemon.pid
                if ready is None:
                    self.timed_out.update(f"scale_{phase}_{k}_{n}" for k in ("ready", "cpu", "sdcpu"))
                    ready = SCALE_TIMEOUT
                pd = private_dirty_kib(pid)
                time.sleep(0.5)
                self.add(f"scale_{phase}_ready_{n}", ready * 1000)
                self.add(f"scale_{phase}_cpu_{n}", cpu / 1000)
                self.add(f"scale_{phase}_sdcpu_{n}", sd_cpu / 1000)
                self.add(f"scale_{phase}_pd_{n}", max(pd, private_dirty_kib(pid)) / 1024)
                self.add(f"scale_{phase}_rss_{n}", kib(proc_status(pid)["VmHWM"]) / 1024)
                if "one match instead" in self.env.log()[log_mark:]:
                    self.broad_match = min(n, getattr(self, "broad_match", n))
                self.stop_tb()
                if ready >= SCALE_SLOW:
                    self.scale_skip.add(n)
                    took = (f"had not sent READY=1 after {SCALE_TIMEOUT} s (stopped there)" if ready >= SCALE_TIMEOUT
                            else f"took {ready:.1f} s")
                    self.notes.append(f"{n:,} checks: the {phase} start {took}; measured once"
                                      + (", the restart not at all" if phase == "first" else "")
                                      + f" (starts slower than {SCALE_SLOW} s are not repeated, to keep the run short)")
                    break

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
            import json
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

    def report(self, elapsed):
        r = self.r

        def med(key):
            return statistics.median(r[key])

        def fmt(key, nd=0, unit=""):
            v = r.get(key)
            if not v:
                return "n/a"
            f = f"{{:,.{nd}f}}"
            s = ("> " if key in self.timed_out else "") + f.format(statistics.median(v))
            if len(v) > 1:
                s += f" ({f.format(min(v))}–{f.format(max(v))})"
            return s + unit

        def ratio(a, b):
            """a/b as '1/N', from the medians of per-repetition ratios."""
            vals = sorted(x / y for x, y in zip(r[a], r[b]) if y > 0)
            if not vals:
                return "n/a"
            m = statistics.median(vals)
            s = f"1/{1 / m:,.0f}" if m > 0 else "0"
            if len(vals) > 1:
                s += f" (1/{1 / vals[-1]:,.0f}–1/{1 / vals[0]:,.0f})" if vals[0] > 0 else ""
            return s

        def status(ok):
            return "**met**" if ok else "**MISSED**"

        reps = len(r["cpu_tb_own"])
        cheapest = min(("sp", "os"), key=lambda m: med(f"cpu_{m}"))
        own_ratio = med("cpu_tb_own") / med(f"cpu_{cheapest}")
        L = []
        L.append("# timerbeat benchmark results")
        L.append("")
        L.append(f"Written by `bench/run` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
                 f"in {elapsed / 60:.1f} min. Every value: **median (min–max) over {reps} repetitions**; "
                 "all methods measured side by side in each repetition, against one real "
                 "`systemd --user` and one loopback receiver.")
        L.append("")
        L += self.machine()
        busy, ours = self.machine_cpu()
        other = (busy - self.cpu_start[0]) - (ours - self.cpu_start[1])
        with open("/proc/loadavg") as f:
            load_end = f.read().split()[0]
        L.append(f"- Other load: processes outside the benchmark used {other / elapsed * 100:.0f}% of one CPU on "
                 f"average during the run (load average {self.load_start} at the start, {load_end} at the end).")
        L.append("")
        L.append("## Targets")
        L.append("")
        L.append("| # | target | result | |")
        L.append("|---|---|---|---|")
        L.append(f"| 1 | timerbeat CPU per ping ≤ 1/20 of the cheapest alternative | "
                 f"{ratio('cpu_tb_own', f'cpu_{cheapest}')} of {METHOD_NAMES[cheapest]} | {status(own_ratio <= 1 / 20)} |")
        L.append(f"| 2 | latency p99 ≤ 10 ms on loopback | {fmt('lat99_tb', 2, ' ms')} | "
                 f"{status(med('lat99_tb') <= 10)} |")
        L.append(f"| 3 | burst of {N_BURST:,}: 0 lost, none twice | {max(r['burst_lost'])} lost, "
                 f"{max(r['burst_dups'])} twice (worst repetition) | "
                 f"{status(max(r['burst_lost']) == 0 and max(r['burst_dups']) == 0)} |")
        L.append(f"| 3 | burst drained ≤ 2 s after the last exit | {fmt('burst_drain', 3, ' s')} | "
                 f"{status(med('burst_drain') <= 2)} |")
        L.append(f"| 3 | peak RSS during the burst ≤ 16 MiB | {fmt('burst_hwm', 1, ' MiB')} | "
                 f"{status(med('burst_hwm') <= 16)} |")
        idle_extra = [w - d for w, d in zip(r["idle_wakeups"], r["idle_watchdog"])]
        L.append(f"| 4 | idle: no wake-ups besides the watchdog | {fmt('idle_wakeups')} wake-ups in "
                 f"{self.args.idle:g} s, {fmt('idle_watchdog')} of them watchdog | {status(max(idle_extra) <= 0)} |")
        churn_worst = max(med(f"churn_{k}_cpu") for k in ("cha", "chb", "chs"))
        L.append(f"| 4 | ≤ 5 µs CPU per unrelated state change | {fmt('churn_cha_cpu', 2, ' µs')} (loaded targets), "
                 f"{fmt('churn_chb_cpu', 2, ' µs')} (targets loaded for each start), "
                 f"{fmt('churn_chs_cpu', 2, ' µs')} (service runs) | {status(churn_worst <= 5)} |")
        for phase in ("first", "restart"):
            L.append(f"| 5 | 1,000 checks: READY=1 ≤ 100 ms ({'first start' if phase == 'first' else 'restart'}) | "
                     f"{fmt(f'scale_{phase}_ready_1000', 1, ' ms')} | {status(med(f'scale_{phase}_ready_1000') <= 100)} |")
        L.append(f"| 5 | 1,000 checks: private dirty ≤ 3 MiB | {fmt('scale_restart_pd_1000', 2, ' MiB')} | "
                 f"{status(med('scale_restart_pd_1000') <= 3)} |")
        L.append("")

        L.append(f"## 1. CPU per ping ({N_PING} timer-started oneshot services per method, {SPACING * 1000:.0f} ms apart)")
        L.append("")
        L.append("| | CPU per ping | ÷ `ExecStartPost=curl` | ÷ `OnSuccess=` unit |")
        L.append("|---|---:|---:|---:|")
        for k, what in (("cpu_tb_own", "**timerbeat**, its own CPU (its cgroup)"),
                        ("cpu_tb_all", "timerbeat, all-in: own + what it adds to systemd and dbus-daemon"),
                        ("cpu_tbt_own", "timerbeat, own CPU, state directory on tmpfs (diagnostic)")):
            L.append(f"| {what} | {fmt(k, 0, ' µs')} | **{ratio(k, 'cpu_sp')}** | **{ratio(k, 'cpu_os')}** |")
        for m in ("sp", "os"):
            L.append(f"| {METHOD_NAMES[m]} (systemd + unit + dbus-daemon) | {fmt(f'cpu_{m}', 0, ' µs')} | | |")
        L.append(f"| one `curl` process alone (reference, `wait4`) | {fmt('curl_alone_cpu', 0, ' µs')}"
                 + (f", peak RSS {fmt('curl_alone_rss', 1, ' MiB')}" if r.get("curl_alone_rss") else "")
                 + " | | |")
        L.append("")
        L.append(f"Breakdown per ping, against the same {N_PING} runs without any pinging "
                 f"(which cost {fmt('cpu_base_total', 0, ' µs')} per run in systemd, dbus-daemon and the job): "
                 f"timerbeat makes systemd spend {fmt('cpu_tb_sd', 0, ' µs')} and dbus-daemon "
                 f"{fmt('cpu_tb_dbus', 0, ' µs')} (the `PropertiesChanged` signals it subscribes to); "
                 f"`ExecStartPost=curl` costs {fmt('cpu_sp_units', 0, ' µs')} in the unit (curl) and "
                 f"{fmt('cpu_sp_sd', 0, ' µs')} in systemd; the `OnSuccess=` unit "
                 f"{fmt('cpu_os_units', 0, ' µs')} in its unit and {fmt('cpu_os_sd', 0, ' µs')} in systemd. "
                 "Δ values are differences of totals of a few hundred ms and carry their noise.")
        L.append("")
        L.append("## 2. Latency: service's `ExecMainExitTimestampMonotonic` → request at the receiver")
        L.append("")
        L.append("| method | p50 | p99 | max | job held up by (p50) |")
        L.append("|---|---:|---:|---:|---:|")
        for m in ("tb", "tbt", "sp", "os"):
            L.append(f"| {METHOD_NAMES[m]} | {fmt(f'lat50_{m}', 2, ' ms')} | {fmt(f'lat99_{m}', 2, ' ms')} | "
                     f"{fmt(f'latmax_{m}', 2, ' ms')} | {fmt(f'held_{m}', 2, ' ms')} |")
        L.append("")
        L.append("\"Job held up\": from the main process's exit to the unit becoming inactive "
                 f"(without pinging: {fmt('held_base', 2, ' ms')}).")
        L.append("")
        L.append(f"## 3. Burst: {N_BURST:,} services started at once (timerbeat watching {N_BURST:,})")
        L.append("")
        L.append("As 1,000 timers with the same `OnCalendar=` would: one `systemctl start --no-block` of all "
                 "of them, so they end as fast as systemd can run them.")
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
        L.append(f"## 4. Idle and churn (timerbeat watching {N_BURST:,} services)")
        L.append("")
        L.append("| | timerbeat CPU | wake-ups |")
        L.append("|---|---:|---:|")
        L.append(f"| idle, {self.args.idle:g} s | {fmt('idle_cpu', 0, ' µs')} | {fmt('idle_wakeups')} "
                 f"(watchdog: {fmt('idle_watchdog')}) |")
        n = N_CHURN // 2
        L.append(f"| {n:,} loaded targets started, then stopped ({N_CHURN:,} state changes) | "
                 f"{fmt('churn_cha_cpu', 2, ' µs')} per change | {fmt('churn_cha_wakeups')} |")
        L.append(f"| {n:,} targets loaded, started, stopped, unloaded ({N_CHURN:,} state changes, {n:,} `UnitNew`) | "
                 f"{fmt('churn_chb_cpu', 2, ' µs')} per change | {fmt('churn_chb_wakeups')} |")
        L.append(f"| {N_CHURN_RUNS:,} runs of loaded oneshot services ({2 * N_CHURN_RUNS:,} state changes) | "
                 f"{fmt('churn_chs_cpu', 2, ' µs')} per change | {fmt('churn_chs_wakeups')} |")
        L.append("")
        L.append("Wake-ups: voluntary + involuntary context switches of the daemon. The watchdog is set as in "
                 f"the shipped units (`WatchdogSec=30s`, so `WATCHDOG_USEC={WATCHDOG_USEC}`); its pings are counted "
                 "from the `WATCHDOG=1` messages received.")
        if getattr(self, "broad_match", None):
            L.append(f"With {self.broad_match:,} checks or more, timerbeat logged that it watches all units with "
                     "one match instead of one per service.")
        L.append("")
        L.append("## 5. Scale: start-up (exec → READY=1) and memory")
        L.append("")
        L.append("First start: empty state directory (timerbeat writes a record per check). Restart: the state "
                 "the first start left, as after a reboot. The checks' services are loaded (as a timer keeps its "
                 "service loaded). systemd computes some unit properties (`UnitFileState`, …) at the first "
                 "`GetAll` of a unit and caches them: in repetition 1 that cost falls on the first start (it is "
                 "the maximum of its range); later starts find them cached.")
        L.append("")
        L.append("| checks | first start: READY=1 after | timerbeat CPU | systemd CPU | restart: READY=1 after | "
                 "timerbeat CPU | systemd CPU | private dirty | peak RSS |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in SCALES:
            L.append(f"| {n:,} | " + " | ".join(
                fmt(f"scale_{ph}_{k}_{n}", nd, u) for ph, k, nd, u in (
                    ("first", "ready", 1, " ms"), ("first", "cpu", 1, " ms"), ("first", "sdcpu", 1, " ms"),
                    ("restart", "ready", 1, " ms"), ("restart", "cpu", 1, " ms"), ("restart", "sdcpu", 1, " ms"),
                    ("restart", "pd", 2, " MiB"), ("restart", "rss", 1, " MiB"))) + " |")
        L.append("")
        L.append("## How it is measured")
        L.append("")
        L.append(
            "- Per-ping and latency: every job is a `Type=oneshot` service running `/bin/true`, started "
            "by its own timer (`AccuracySec=1us`), so nothing but systemd is involved in starting it. "
            f"The alternatives run `curl {CURL_ARGS} URL`, as monitors' docs suggest: in the unit "
            "(`ExecStartPost=`), or in `ping@%N.service` named by `OnSuccess=`. timerbeat runs as its "
            "shipped user unit would run it (default log level, watchdog, state in `$XDG_STATE_HOME`, "
            "which is on the root file system here), in a cgroup of its own.\n"
            "- All units are template instances: systemd 252 reads every entry of the unit directories "
            "when it computes a unit's `UnitFileState`, so thousands of unit files would make systemd, "
            "not timerbeat, the subject of the measurement.\n"
            "- CPU is cgroup v2 `cpu.stat` `usage_usec` (all threads and children, µs): timerbeat's own "
            "cgroup; below the user manager's cgroup: `init.scope` (systemd itself), dbus-daemon's unit "
            "(the session bus, as in a login session), and the rest (every unit, curl included). An alternative's cost per ping is "
            "(systemd + units + dbus-daemon) minus the same for the same number of runs without pinging, "
            "measured in the same repetition.\n"
            "- Latency: the receiver (bench/receiver.py, its own process) stamps each request with "
            "CLOCK_MONOTONIC when its header is complete; systemd's `ExecMainExitTimestampMonotonic` is "
            "the same clock.\n"
            "- Memory: `Private_Dirty` from `/proc/PID/smaps_rollup`, peak RSS from `VmHWM` (reset with "
            "`clear_refs` before the burst).")
        if self.notes:
            L.append("")
            L.append("## Notes from this run")
            L.append("")
            L += [f"- {n}" for n in self.notes]
        L.append("")
        return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--idle", type=float, default=60, help="idle window in seconds (default 60)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"), help="report file (default bench/results.md)")
    args = ap.parse_args()
    if not os.environ.get("TIMERBEAT"):
        raise SystemExit("bench: set TIMERBEAT to the timerbeat binary (bench/run does)")
    # The harness makes its directory with tempfile: not in /tmp, where a cleanup of test
    # leftovers (timerbeat-*) could take it away mid-run. On the disk still, as /var/lib is.
    if "TIMERBEAT_BENCH_TMPDIR" not in os.environ:
        os.environ["TIMERBEAT_BENCH_TMPDIR"] = "/var/tmp/.timerbeat-bench"
    os.makedirs(os.environ["TIMERBEAT_BENCH_TMPDIR"], exist_ok=True)
    os.environ["TMPDIR"] = os.environ["TIMERBEAT_BENCH_TMPDIR"]
    harness.reexec_in_namespace()
    start = time.monotonic()
    b = None
    try:
        with harness.Env("bench") as env:
            b = Bench(env, args)
            b.setup()
            # Phase by phase, each repeated: the units a phase needs loaded are loaded for it
            # once (thousands of loaded units slow systemd down for everything, and unloading
            # them takes systemd 252 longer than the rest of the benchmark).
            try:
                for rep in range(args.reps):
                    b.curl_alone()
                    b.per_ping(rep)
                b.env.systemctl("start", "bs-anchor.target", "cha-anchor.target", "chs-anchor.target")
                for rep in range(args.reps):
                    b.thousand(rep)
                b.env.systemctl("start", "sc-anchor.target")
                for rep in range(args.reps):
                    b.scale(rep)
            except BaseException:
                b.diagnose()
                raise
            finally:
                if getattr(b, "state_tmpfs", None):
                    subprocess.run(["umount", "-l", b.state_tmpfs], capture_output=True)
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
