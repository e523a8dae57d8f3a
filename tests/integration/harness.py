# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: a real systemd user manager on a private bus, a loopback HTTP
receiver that records every request, and the timerbeat daemon under test.

Each test runs in its own mount namespace (so /run/systemd can be a tmpfs), with its own
HOME/XDG directories, bus (dbus-daemon, or dbus-broker with TIMERBEAT_TEST_BUS=broker),
systemd --user and receiver; all are torn down when the
test ends, pass or fail. Standard library only."""

import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

SECRET = "5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"   # never allowed in any daemon output

# Globals that keep retries and timeouts short enough for tests.
FAST = """[timerbeat]
retry-delay = 100ms
retry-max-delay = 400ms
timeout = 2s
connect-timeout = 1s
"""
# Waits for what the daemon does take this many times longer when it runs under valgrind
# (`meson test --setup valgrind` sets it); 1 otherwise.
SLOWDOWN = float(os.environ.get("TIMERBEAT_TEST_SLOWDOWN") or 1)
# What valgrind prints about an error or a leak ("==123== Invalid read of size 8", …).
VALGRIND_REPORT = re.compile(r"^==\d+== (ERROR SUMMARY: [1-9]|Invalid |Conditional jump|Use of uninitialised|"
                             r"Syscall param|Mismatched free|Source and destination overlap|"
                             r".* (definitely|possibly) lost in loss record|Process terminating)", re.M)
SYSTEMD = "/usr/lib/systemd/systemd"


class Skip(Exception):
    pass


def reexec_in_namespace():
    """Re-runs this script in a private mount namespace; returns only inside it."""
    if os.environ.get("TIMERBEAT_TEST_NS") == "1":
        return
    if os.geteuid() != 0:
        print("integration tests need root (for a private mount namespace)", file=sys.stderr)
        sys.exit(77)
    for tool in ("unshare", "dbus-daemon", "systemctl"):
        if not shutil.which(tool):
            print(f"integration tests need {tool}", file=sys.stderr)
            sys.exit(77)
    if not os.path.exists(SYSTEMD):
        print(f"integration tests need {SYSTEMD}", file=sys.stderr)
        sys.exit(77)
    os.environ["TIMERBEAT_TEST_NS"] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                          sys.executable] + sys.argv)


class Request:
    def __init__(self, method, path, headers, body, when):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.when = when

    def __repr__(self):
        return f"<{self.method} {self.path}>"


class Receiver:
    """A loopback HTTP server. `script` is a list of actions, one per request in order;
    when it runs out, requests get 200. An action is an int (status), ("sleep", secs,
    status) or ("close",) (drop the connection without an answer).

    `routes` maps a path prefix to an action for every request whose path starts with it
    (before the script). Hostile actions (tests/integration/test_hostile.py), each closing the
    connection when done; `sent` counts the bytes they wrote:
      ("raw", bytes)                    these bytes, whatever they are, then close
      ("redirect", status, location)    a redirect
      ("huge-body", status, size)       a body of size bytes, made up as it is sent, until the
                                        client hangs up
      ("endless-headers",)              a status line, then header lines until the client hangs up
    Hostile actions stop after 120 s whatever the client does."""

    HOSTILE_ACTIONS = ("raw", "redirect", "huge-body", "endless-headers")

    def __init__(self, port=0):
        self.requests = []
        self.script = []
        self.routes = {}
        self.sent = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.cond:
                    receiver.requests.append(Request(self.command, self.path,
                                                     {k.lower(): v for k, v in self.headers.items()},
                                                     body, time.monotonic()))
                    route = next((a for p, a in receiver.routes.items() if self.path.startswith(p)), None)
                    action = route if route is not None else (receiver.script.pop(0) if receiver.script else 200)
                    receiver.cond.notify_all()
                status = action
                if isinstance(action, tuple):
                    if action[0] in Receiver.HOSTILE_ACTIONS:
                        receiver._hostile(self, action)
                        return
                    if action[0] == "close":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if action[0] == "sleep":
                        time.sleep(action[1])
                        status = action[2]
                    if action[0] == "body":             # ("body", status, bytes)
                        try:
                            self.send_response(action[1])
                            self.send_header("Content-Length", str(len(action[2])))
                            self.end_headers()
                            self.wfile.write(action[2])
                        except (BrokenPipeError, ConnectionResetError):
                            pass
                        return
                    if action[0] == "retry-after":
                        self.send_response(action[2])
                        self.send_header("Retry-After", str(action[1]))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                payload = b"OK" if status == 200 else b"error"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = do_PUT = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path=f"/ping/{SECRET}"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _send(self, handler, data):
        handler.wfile.write(data)
        with self.lock:
            self.sent += len(data)

    def _hostile(self, handler, action):
        kind = action[0]
        deadline = time.monotonic() + 120
        handler.close_connection = True
        try:
            if kind == "raw":
                self._send(handler, action[1])
            elif kind == "redirect":
                self._send(handler, f"HTTP/1.1 {action[1]} Moved\r\nLocation: {action[2]}\r\n"
                                    "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            elif kind == "huge-body":
                left = action[2]
                self._send(handler, f"HTTP/1.1 {action[1]} Whatever\r\nContent-Length: {left}\r\n\r\n".encode())
                chunk = b"x" * 65536
                while left > 0 and time.monotonic() < deadline:
                    self._send(handler, chunk[:left])
                    left -= min(left, len(chunk))
            elif kind == "endless-headers":
                self._send(handler, b"HTTP/1.1 200 OK\r\n")
                line = 0
                while time.monotonic() < deadline:
                    self._send(handler, b"".join(b"X-Filler-%d: %s\r\n" % (line + i, b"y" * 100) for i in range(64)))
                    line += 64
        except OSError:
            pass  # the client hung up: what we wanted
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait(self, n, timeout=10):
        """Waits until at least n requests arrived; returns all of them."""
        deadline = time.monotonic() + timeout * SLOWDOWN
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests, got {len(self.requests)}: {self.requests}")
                self.cond.wait(left)
            return list(self.requests)

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


OUTBOX_MAGIC = b"timerbeat-outbox 1\n"


def outbox_entries(state_dir):
    """The pings in STATE/outbox/log not answered yet, as {seq: check}, read as timerbeat reads
    it (src/outbox.h): records between a magic line and a CRC-32 line; add records (seq=) minus
    done records (done=); damaged records and a torn tail ignored."""
    try:
        with open(f"{state_dir}/outbox/log", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    live = {}
    for part in re.split(b"(?m)^" + re.escape(OUTBOX_MAGIC), data)[1:]:
        m = re.search(b"(?m)^crc=([0-9a-f]{8})\n", part)
        if not m or zlib.crc32(OUTBOX_MAGIC + part[:m.start()]) != int(m.group(1), 16):
            continue
        fields = dict(line.split(b"=", 1) for line in part[:m.start()].split(b"\n") if b"=" in line)
        if b"seq" in fields:
            live[int(fields[b"seq"])] = fields[b"check"].decode()
        elif b"done" in fields:
            live.pop(int(fields[b"done"]), None)
    return live


def outbox_record(seq, check, unit, url, created_usec, invocation=""):
    """One add record as timerbeat writes it (for tests that fill an outbox)."""
    body = (OUTBOX_MAGIC + f"seq={seq}\ncheck={check}\nunit={unit}\ninvocation={invocation}\nurl={url}\n"
            f"method=GET\nsource=\ncreated={created_usec}\nevent=success\n".encode())
    return body + b"crc=%08x\n" % zlib.crc32(body)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# The user manager runs the session bus itself (dbus-user-session's dbus.socket and
# dbus.service, as in a real login session), so this config reaches dbus-daemon through a
# drop-in for dbus.service. It takes the standard session config and tightens the per-
# connection limits when a test asks for it.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <limit name="max_match_rules_per_connection">{matches}</limit>
  <limit name="max_replies_per_connection">{replies}</limit>
</busconfig>
"""


# Which bus the user manager runs as dbus.service: "daemon" (dbus-daemon, the default) or
# "broker" (dbus-broker, as on Fedora and Arch; `meson test --setup broker` sets
# TIMERBEAT_TEST_BUS=broker). Installing Debian's dbus-broker points the system's dbus.service
# at it, so the drop-in below names the implementation in either mode.
BUS = os.environ.get("TIMERBEAT_TEST_BUS") or "daemon"
BUS_COMMANDS = {
    "daemon": "/usr/bin/dbus-daemon --config-file={conf} --address=systemd: --nofork --nopidfile "
              "--systemd-activation --syslog-only",
    # dbus-broker takes its policy from the config file too, but not dbus-daemon's <limit>s: it
    # has per-user quotas of its own. It logs to the journal only.
    "broker": "/usr/bin/dbus-broker-launch --scope user --config-file={conf}",
}


class Env:
    # (matches, replies) per connection; the system bus defaults are (512, 128). dbus-daemon
    # only: a test that sets it runs on dbus-daemon whatever the bus mode (see `bus`).
    bus_limits = (50000, 50000)
    # The bus implementation of this test: BUS unless the test names one.
    bus = BUS
    # Run a systemd-journald of the test's own (on a private /run/log), for tests that read
    # a run's journal output.
    journald = False
    # Have the user manager log into that journald, as user@.service does on a real system
    # (SYSTEMD_LOG_TARGET=journal): its structured run messages are what the history reads.
    manager_log_journal = False

    def __init__(self, name):
        self.name = name
        self.procs = []
        self.daemon = None
        self.receivers = []
        self.binary = os.environ.get("TIMERBEAT")
        if not self.binary:
            raise RuntimeError("TIMERBEAT must point at the timerbeat binary")

    # --- setup and teardown -------------------------------------------------------------
    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _own_cgroup(self):
        """systemd --user manages the cgroup subtree it starts in; two test managers in one
        cgroup would stop each other's units. So each test moves itself into a cgroup of its
        own (in every hierarchy systemd uses) before starting its manager."""
        self.cgroups = []
        with open("/proc/self/cgroup") as f:
            entries = [line.rstrip("\n").split(":", 2) for line in f]
        for _, controllers, path in entries:
            if controllers == "name=systemd":
                base = "/sys/fs/cgroup/systemd"
            elif controllers == "":
                base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
            else:
                continue
            parent = os.path.dirname(path.rstrip("/")) if path.endswith(".scope") else path
            # Named like a login session's manager, so that journald attributes the output of
            # the test units as on a real system (_SYSTEMD_USER_UNIT, invocation IDs).
            cg = f"{base}{parent.rstrip('/')}/timerbeat-test-{os.getpid()}.slice/user@0.service"
            try:
                os.makedirs(cg, exist_ok=True)
                with open(f"{cg}/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))
                self.cgroups.append(cg)
            except OSError as e:
                print(f"note: cannot use cgroup {cg}: {e}", file=sys.stderr)

    def _release_cgroups(self):
        for cg in getattr(self, "cgroups", []):
            cg = os.path.dirname(cg)              # timerbeat-test-PID.slice: ours, all of it
            parent = os.path.dirname(cg)
            try:
                with open(f"{parent}/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass
            # Leftover children of a test manager, deepest first.
            for root, dirs, _ in sorted(os.walk(cg, topdown=False), key=lambda x: -len(x[0])):
                try:
                    os.rmdir(root)
                except OSError:
                    pass

    def _setup(self):
        self._own_cgroup()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
        os.makedirs("/run/systemd/system", exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"timerbeat-{self.name}-")
        d = self.dir
        self.env = dict(os.environ)
        self.env.update({
            "HOME": f"{d}/home",
            "XDG_RUNTIME_DIR": f"{d}/run",
            "XDG_CONFIG_HOME": f"{d}/config",
            "XDG_STATE_HOME": f"{d}/state",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={d}/run/bus",
            "SYSTEMD_LOG_LEVEL": "info",
        })
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("JOURNAL_STREAM", None)
        for k in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            os.makedirs(self.env[k])
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.unit_dir = f"{d}/config/systemd/user"
        self.conf_dir = f"{d}/config/timerbeat"
        os.makedirs(self.unit_dir)
        os.makedirs(f"{self.conf_dir}/conf.d")

        with open(f"{d}/bus.conf", "w") as f:
            f.write(BUS_CONFIG.format(matches=self.bus_limits[0], replies=self.bus_limits[1]))
        os.makedirs(f"{self.unit_dir}/dbus.service.d")
        if self.bus not in BUS_COMMANDS:
            raise RuntimeError(f"TIMERBEAT_TEST_BUS={self.bus}: expected one of {', '.join(BUS_COMMANDS)}")
        if self.bus == "broker" and not os.path.exists("/usr/bin/dbus-broker-launch"):
            raise AssertionError("TIMERBEAT_TEST_BUS=broker needs /usr/bin/dbus-broker-launch (apt-get install dbus-broker)")
        with open(f"{self.unit_dir}/dbus.service.d/test.conf", "w") as f:
            # Both implementations tell systemd when they are ready; the socket comes from
            # dbus.socket ($XDG_RUNTIME_DIR/bus) either way.
            f.write("[Service]\nType=notify\nNotifyAccess=main\nExecStart=\n"
                    f"ExecStart={BUS_COMMANDS[self.bus].format(conf=f'{d}/bus.conf')}\n")
        if self.bus == "broker":
            self.journald = True              # dbus-broker-launch logs nowhere else
        if self.journald:
            os.makedirs("/run/log", exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/log"], check=True)
            os.makedirs("/run/systemd/journal", exist_ok=True)
            self.spawn(["/usr/lib/systemd/systemd-journald"], "journald.log")
            self._wait_for(lambda: os.path.exists("/run/systemd/journal/stdout"), 5, "journald")
        if self.manager_log_journal:
            self.env["SYSTEMD_LOG_TARGET"] = "journal"
        self.systemd = self.spawn([SYSTEMD, "--user"], "systemd.log")
        self.env.pop("SYSTEMD_LOG_TARGET", None)

        def running():
            r = subprocess.run(["systemctl", "--user", "is-system-running"], env=self.env,
                               capture_output=True, text=True)
            return r.stdout.strip() in ("running", "degraded")
        self._wait_for(running, 15, "systemd --user")
        self._check_bus()
        self._wrap_binary()

    def _check_bus(self):
        """Starts dbus.service and checks that it runs the implementation asked for: a broker
        run that silently tested dbus-daemon would prove nothing."""
        self.systemctl("start", "dbus.service")
        pid = self.show("dbus.service", "MainPID")
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        want = {"daemon": "dbus-daemon", "broker": "dbus-broker-lau"}[self.bus]
        if comm != want:
            raise AssertionError(f"dbus.service runs {comm} (PID {pid}), expected {want}")

    def _wrap_binary(self):
        """With TIMERBEAT_WRAPPER set (`meson test --setup valgrind` sets it to a valgrind command
        line), every timerbeat the test starts runs under it: self.binary becomes a launcher that
        execs the wrapper, which keeps the PID, so signals and sd_notify work as before."""
        wrapper = os.environ.get("TIMERBEAT_WRAPPER", "").strip()
        if not wrapper:
            return
        launcher = f"{self.dir}/timerbeat-wrapped"
        with open(launcher, "w") as f:
            # Started by the test's user manager, under the shipped unit: its
            # MemoryDenyWriteExecute=yes leaves valgrind no way to run, so run it as it is there.
            f.write(f'#!/bin/sh\nif [ "$(cat /proc/$PPID/comm)" = systemd ]; then exec "{self.binary}" "$@"; fi\n'
                    f'exec {wrapper} "{self.binary}" "$@"\n')
        os.chmod(launcher, 0o755)
        self.binary = launcher

    def __exit__(self, *exc):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(5)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for r in self.receivers:
            r.close()
        if exc and exc[0] is not None:
            self.dump()
        self.check_no_secrets()
        subprocess.run(["umount", "-l", "/run/systemd"], capture_output=True)
        if self.journald:
            subprocess.run(["umount", "-l", "/run/log"], capture_output=True)
        self._release_cgroups()
        if getattr(self, "dir", None) and not os.environ.get("TIMERBEAT_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def dump(self):
        for f in ("timerbeat.log", "systemd.log"):
            path = f"{self.dir}/{f}"
            if os.path.exists(path):
                print(f"----- {f} -----", file=sys.stderr)
                with open(path, errors="replace") as fh:
                    print(fh.read()[-6000:], file=sys.stderr)
        if self.bus == "broker":
            r = subprocess.run(["journalctl", "--no-pager", "-n", "40", "-t", "dbus-broker-launch",
                                "-t", "dbus-broker"], capture_output=True, text=True)
            print(f"----- dbus-broker (journal) -----\n{r.stdout[-4000:]}", file=sys.stderr)

    def check_no_secrets(self):
        """Heartbeat URLs are secrets: no line the daemon wrote may contain one."""
        path = f"{getattr(self, 'dir', '')}/timerbeat.log"
        if os.path.exists(path):
            with open(path, errors="replace") as fh:
                text = fh.read()
            if SECRET in text or SECRET[-12:] in text:
                raise AssertionError("a heartbeat URL's secret appeared in timerbeat's output")
            # In a sanitizer build, a report anywhere in the daemon's output fails the test.
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if marker in text:
                    raise AssertionError(f"sanitizer report in timerbeat's output:\n{text[-4000:]}")
            # Under valgrind (TIMERBEAT_WRAPPER), so does any error or leak it reports.
            if VALGRIND_REPORT.search(text):
                raise AssertionError(f"valgrind report in timerbeat's output:\n{text[-4000:]}")

    def spawn(self, argv, log, **kw):
        out = open(f"{self.dir}/{log}", "ab")
        p = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, **kw)
        out.close()
        self.procs.append(p)
        return p

    @staticmethod
    def _wait_for(pred, timeout, what):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    # --- systemd ------------------------------------------------------------------------
    def systemctl(self, *args, check=True):
        r = subprocess.run(["systemctl", "--user", "--no-pager"] + list(args), env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"systemctl {' '.join(args)} failed: {r.stderr}")
        return r

    def write_unit(self, name, text):
        with open(f"{self.unit_dir}/{name}", "w") as f:
            f.write(text)

    def oneshot(self, name, cmd, extra=""):
        self.write_unit(name, f"[Service]\nType=oneshot\nExecStart={cmd}\n{extra}")

    def timer(self, name, extra):
        self.write_unit(name, f"[Timer]\nAccuracySec=1ms\n{extra}\n")

    def daemon_reload(self):
        self.systemctl("daemon-reload")

    def show(self, unit, prop):
        return self.systemctl("show", unit, "-p", prop, "--value").stdout.strip()

    # --- receiver -----------------------------------------------------------------------
    def receiver(self, port=0):
        r = Receiver(port)
        self.receivers.append(r)
        return r

    # --- the daemon ---------------------------------------------------------------------
    def write_config(self, text, name=None):
        path = f"{self.conf_dir}/timerbeat.conf" if name is None else f"{self.conf_dir}/conf.d/{name}"
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_daemon(self, *extra_args, wait_ready=True):
        self.notify_path = f"{self.dir}/notify.sock"
        if not getattr(self, "notify", None):
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(self.notify_path)
        self.notify_messages = []
        env = dict(self.env, NOTIFY_SOCKET=self.notify_path)
        out = open(f"{self.dir}/timerbeat.log", "ab")
        self.daemon = subprocess.Popen([self.binary, "--user", "--log-level=debug"] + list(extra_args),
                                       env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        out.close()
        if wait_ready:
            self.wait_notify("READY=1")
            self.wait_settled()

    def wait_settled(self, timeout=10):
        """READY=1 comes as soon as systemd's signals reach the daemon, before it has read the
        units; "STATUS=Watching N units…" says it has read them all once. Most tests start
        from there; last_ready then holds that STATUS=."""
        if "STATUS=Watching" not in self.last_ready:
            self.wait_notify("STATUS=Watching", timeout, prefix=True)

    def drain_notify(self):
        """The daemon's notifications received so far and not yet waited for."""
        self.notify.setblocking(False)
        try:
            while True:
                self.notify_messages.append(self.notify.recv(4096).decode())
        except (BlockingIOError, socket.timeout):
            pass
        return list(self.notify_messages)

    def woken_during(self, *commands):
        """Runs each systemctl command (a list of arguments) and returns how often the daemon
        was woken meanwhile (its context switches), from a settled daemon to a second after."""
        time.sleep(1)
        with open(f"/proc/{self.daemon.pid}/status") as f:
            before = dict(line.split(":", 1) for line in f)
        for args in commands:
            self.systemctl(*args)
        time.sleep(1)
        with open(f"/proc/{self.daemon.pid}/status") as f:
            after = dict(line.split(":", 1) for line in f)
        return sum(int(after[k]) - int(before[k]) for k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))

    def wait_notify(self, what, timeout=10, prefix=False):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while True:
            for i, m in enumerate(self.notify_messages):
                if any(line.startswith(what) if prefix else line == what for line in m.split("\n")):
                    if what == "READY=1" or what == "STATUS=Watching":
                        self.last_ready = m     # with its STATUS=, for the tests that read it
                    del self.notify_messages[: i + 1]
                    return
            left = deadline - time.monotonic()
            exited = self.daemon and self.daemon.poll() is not None
            if exited:
                # It may have said it just before exiting: read what is left first.
                self.drain_notify()
                if any(line.startswith(what) if prefix else line == what
                       for m in self.notify_messages for line in m.split("\n")):
                    continue
            if left <= 0 or exited:
                raise AssertionError(f"timerbeat did not send {what} (exit={self.daemon.poll()}): "
                                     f"{self.log()[-2000:]}")
            self.notify.settimeout(min(left, 0.2))
            try:
                self.notify_messages.append(self.notify.recv(4096).decode())
            except socket.timeout:
                pass

    def stop_daemon(self, sig=signal.SIGTERM, expect=0):
        """Stops the daemon with sig and waits for it; checks its exit status unless expect is None."""
        self.daemon.send_signal(sig)
        rc = self.daemon.wait(10)
        if expect is not None:
            assert rc == expect, f"timerbeat exited {rc}, expected {expect}: {self.log()[-2000:]}"
        return rc

    def restart_bus(self):
        """Restarts the session bus's dbus-daemon (a dbus.service of the user manager)."""
        self.systemctl("restart", "dbus.service")

    def state_dir(self):
        return f"{self.env['XDG_STATE_HOME']}/timerbeat"

    def reload_daemon(self):
        self.daemon.send_signal(signal.SIGHUP)
        self.wait_notify("RELOADING=1")
        self.wait_notify("READY=1")

    def log(self):
        try:
            with open(f"{self.dir}/timerbeat.log", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10, count=1):
        self._wait_for(lambda: self.log().count(text) >= count, timeout, f"'{text}' in timerbeat's log")

    def run_tb(self, *args):
        return subprocess.run([self.binary] + list(args), env=self.env, capture_output=True, text=True)


def main(tests):
    """Entry point for a test script: runs the test named in argv[1]."""
    if sys.argv[1:] == ["--list"]:
        print("\n".join(sorted(tests)))
        return
    reexec_in_namespace()
    if len(sys.argv) != 2 or sys.argv[1] not in tests:
        print(f"usage: {sys.argv[0]} TEST; tests: {' '.join(sorted(tests))}", file=sys.stderr)
        sys.exit(2)
    name = sys.argv[1]
    Env.bus_limits = getattr(tests[name], "bus_limits", Env.bus_limits)
    # A test of dbus-daemon's limits runs on dbus-daemon in either mode.
    Env.bus = getattr(tests[name], "bus", "daemon" if hasattr(tests[name], "bus_limits") else BUS)
    Env.journald = getattr(tests[name], "journald", False)
    Env.manager_log_journal = getattr(tests[name], "manager_log_journal", False)
    with Env(name) as env:
        tests[name](env)
    print(f"ok {name}")
