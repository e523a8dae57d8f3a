#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 16: the metrics file, scraped by Debian's real prometheus-node-exporter; timerbeat's own
heartbeat (self-url=) while healthy and not while not; `timerbeat list` with the last delivered
ping and the undelivered count. Run one test: test_metrics.py NAME."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, SLOWDOWN, free_port, main  # noqa: E402

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
QUIET = 0.5


class NodeExporter:
    """Debian's node_exporter with only the textfile collector, on a loopback port of its own."""

    def __init__(self, env, directory):
        assert os.path.exists(NODE_EXPORTER), f"{NODE_EXPORTER} is missing: apt-get install prometheus-node-exporter"
        self.port = free_port()
        env.spawn([NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
                   f"--collector.textfile.directory={directory}",
                   f"--web.listen-address=127.0.0.1:{self.port}"], "node-exporter.log")
        env._wait_for(self._up, 10, "node_exporter")

    def _up(self):
        try:
            self.scrape()
            return True
        except OSError:
            return False

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()


def samples(text, name):
    """{frozenset(labels): value} of one metric in a scrape."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^' + re.escape(name) + r'(\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[labels] = float(m.group(3))
    return out


def value(text, name, **labels):
    return samples(text, name).get(frozenset(labels.items()))


def job_env(env, keys="", cmd="/bin/true", name="job"):
    """textfile directory, a receiver, NAME.service (oneshot) and its section."""
    textdir = f"{env.dir}/textfile"
    os.makedirs(textdir, exist_ok=True)
    rcv = env.receiver()
    env.oneshot(f"{name}.service", cmd)
    env.oneshot("fail.service", "/bin/sh -c 'exit 3'")
    env.daemon_reload()
    env.write_config(FAST + f"metrics-file = {textdir}/timerbeat.prom\n{keys}"
                     f"[{name}.service]\nurl = {rcv.url()}\n[fail.service]\nurl = {rcv.url('/fail/' + SECRET)}\n")
    return textdir, rcv


def wait_scrape(env, ne, pred, what, timeout=10):
    last = [""]

    def ok():
        last[0] = ne.scrape()
        return pred(last[0])
    try:
        env._wait_for(ok, timeout, what)
    except AssertionError:
        raise AssertionError(f"{what}; last scrape:\n{last[0]}")
    return last[0]


def test_node_exporter_scrape(env):
    textdir, rcv = job_env(env)
    ne = NodeExporter(env, textdir)
    env.start_daemon()
    env.systemctl("start", "job.service")
    ended = time.time()
    env.systemctl("start", "fail.service", check=False)
    rcv.wait(1)
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_pings_total", check="job.service", event="success",
                                                outcome="delivered") == 1
                       and value(t, "timerbeat_runs_total", check="fail.service", unit="fail.service",
                                 result="exit-code") == 1, "both runs and the delivered ping in the scrape")
    assert value(text, "node_textfile_scrape_error") == 0, text
    assert value(text, "timerbeat_runs_total", check="job.service", unit="job.service", result="success") == 1
    last_ok = value(text, "timerbeat_last_success_timestamp_seconds", check="job.service", unit="job.service")
    assert last_ok and abs(last_ok - ended) < 5, (last_ok, ended)
    assert value(text, "timerbeat_last_run_timestamp_seconds", check="fail.service", unit="fail.service")
    assert value(text, "timerbeat_last_success_timestamp_seconds", check="fail.service", unit="fail.service") is None
    assert value(text, "timerbeat_outbox_pending") == 0, text
    assert value(text, "timerbeat_outbox_oldest_seconds") == 0, text
    assert any(dict(k).get("version") for k in samples(text, "timerbeat_build_info")), text
    assert "# TYPE timerbeat_runs_total counter" in text and "# HELP timerbeat_pings_total" in text
    assert SECRET not in text and "127.0.0.1" not in text and "/ping/" not in text, text
    with open(f"{textdir}/timerbeat.prom") as f:
        assert SECRET not in f.read()
    assert os.listdir(textdir) == ["timerbeat.prom"], os.listdir(textdir)   # no temporary file left
    assert os.stat(f"{textdir}/timerbeat.prom").st_mode & 0o777 == 0o644
    # Written only after a change: idle, the file stays the same file (a write is a rename).
    inode = os.stat(f"{textdir}/timerbeat.prom").st_ino
    time.sleep(2.5)
    assert os.stat(f"{textdir}/timerbeat.prom").st_ino == inode, "rewritten while nothing changed"

    # A restart keeps the counters (STATE_DIR/metrics): the file is written again at start
    # with them, and the next run adds to them.
    env.stop_daemon()
    os.unlink(f"{textdir}/timerbeat.prom")
    env.start_daemon()
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_runs_total", check="job.service", unit="job.service",
                                                result="success") == 1, "the counters after a restart")
    assert value(text, "timerbeat_pings_total", check="job.service", event="success", outcome="delivered") == 1
    env.systemctl("start", "job.service")
    rcv.wait(2)
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_runs_total", check="job.service", unit="job.service",
                                                result="success") == 2, "the second run counted on top")
    assert value(text, "timerbeat_runs_total", check="fail.service", unit="fail.service", result="exit-code") == 1
    assert value(text, "node_textfile_scrape_error") == 0, text


def test_rejected_and_pending(env):
    """A 404 counts as rejected; a ping retrying shows in the outbox gauges, in `list` as
    undelivered, and `list` shows when the last one was delivered."""
    textdir, rcv = job_env(env)
    rcv.routes["/fail/"] = 404
    env.oneshot("fail.service", "/bin/true")           # succeeds: pings /fail/…, answered 404
    env.daemon_reload()
    ne = NodeExporter(env, textdir)
    env.start_daemon()
    env.systemctl("start", "job.service")
    env.systemctl("start", "fail.service")
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_pings_total", check="fail.service", event="success",
                                                outcome="rejected") == 1, "a rejected ping")
    rcv.wait(2)
    rcv.routes["/ping/"] = 503                          # job.service's next ping retries
    env.systemctl("start", "job.service")
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_outbox_pending") == 1, "a pending ping")
    r = env.run_tb("--user", "list", "--json")
    assert r.returncode == 0, r.stderr
    units = {u["service"]: u for u in json.loads(r.stdout)["units"]}
    assert units["job.service"]["undelivered"] == 1, units["job.service"]
    assert units["job.service"]["last_delivered_usec"] > 0, units["job.service"]
    assert units["fail.service"]["undelivered"] == 0 and units["fail.service"]["last_delivered_usec"] is None
    table = env.run_tb("--user", "list").stdout
    assert "DELIVERED" in table and "UNDELIVERED" in table, table
    # The age of the oldest pending ping grows while it waits (the file is refreshed).
    age = value(text, "timerbeat_outbox_oldest_seconds")
    text = wait_scrape(env, ne, lambda t: (value(t, "timerbeat_outbox_oldest_seconds") or 0) > age + 5,
                       "the oldest pending ping's age growing", timeout=25)
    del rcv.routes["/ping/"]
    text = wait_scrape(env, ne, lambda t: value(t, "timerbeat_outbox_pending") == 0, "the ping delivered",
                       timeout=15)
    assert value(text, "timerbeat_pings_total", check="job.service", event="success", outcome="delivered") == 2


def test_hostile_labels(env):
    """Unit names with escapes (backslashes through the daemon), and labels with quotes, newlines,
    UTF-8 and bytes that are not UTF-8 (rendered by the unit test's writer): node_exporter parses
    them all."""
    weird = subprocess.run(["systemd-escape", 'we"ird \\ café'], capture_output=True, text=True,
                           check=True).stdout.strip()
    textdir, rcv = job_env(env, name=weird)
    ne = NodeExporter(env, textdir)
    env.start_daemon()
    env.systemctl("start", f"{weird}.service")
    rcv.wait(1)
    text = wait_scrape(env, ne, lambda t: "timerbeat_runs_total{" in t and "delivered" in t, "the weird unit")
    assert value(text, "node_textfile_scrape_error") == 0, text
    assert value(text, "timerbeat_runs_total", check=f"{weird}.service".replace("\\", "\\\\"),
                 unit=f"{weird}.service".replace("\\", "\\\\"), result="success") == 1, text

    helper = os.environ.get("TIMERBEAT_TEST_METRICS")
    assert helper, "TIMERBEAT_TEST_METRICS must point at the test-metrics binary"
    other = f"{env.dir}/textfile2"
    os.makedirs(other)
    subprocess.run([helper, f"{other}/hostile.prom"], check=True)
    ne2 = NodeExporter(env, other)
    text = ne2.scrape()
    assert value(text, "node_textfile_scrape_error") == 0, text
    runs = samples(text, "timerbeat_runs_total")
    assert frozenset({("check", 'quote\\".timer'), ("unit", "back\\\\slash.service"),
                      ("result", "success")}) in runs, runs
    assert frozenset({("check", "café-✓.timer"), ("unit", "new\\nline\ufffd.service"),
                      ("result", "exit-code")}) in runs, runs


def test_metrics_file_bad_directory(env):
    """A metrics-file in a directory that is missing or read-only fails at load, naming the line."""
    missing = f"{env.dir}/nope/timerbeat.prom"
    env.write_config(FAST + f"metrics-file = {missing}\n")
    r = env.run_tb("--user", "check")
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert f"timerbeat.conf:6: metrics-file= {missing}: the directory {env.dir}/nope cannot be used: " \
           "No such file or directory; create it" in r.stderr, r.stderr
    env.start_daemon(wait_ready=False)
    assert env.daemon.wait(10) == 78
    assert "cannot be used" in env.log()

    ro = f"{env.dir}/ro"
    os.makedirs(ro)
    subprocess.run(["mount", "--bind", ro, ro], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
    try:
        env.write_config(FAST + f"metrics-file = {ro}/timerbeat.prom\n")
        r = env.run_tb("--user", "check")
        assert r.returncode == 78, (r.returncode, r.stderr)
        assert f"metrics-file= {ro}/timerbeat.prom: the directory {ro} is not writable for timerbeat: " \
               "Read-only file system; make it writable (and list it in ReadWritePaths=" in r.stderr, r.stderr
    finally:
        subprocess.run(["umount", ro], check=True)

    # A reload to a bad directory keeps the previous configuration (and its file).
    textdir = f"{env.dir}/textfile"
    os.makedirs(textdir)
    env.write_config(FAST + f"metrics-file = {textdir}/timerbeat.prom\n")
    env.start_daemon()
    env._wait_for(lambda: os.path.exists(f"{textdir}/timerbeat.prom"), 5, "the metrics file")
    env.write_config(FAST + f"metrics-file = {missing}\n")
    env.daemon.send_signal(signal.SIGHUP)
    env.wait_log("Configuration not reloaded")
    assert os.path.exists(f"{textdir}/timerbeat.prom")


def self_env(env, keys=""):
    rcv = env.receiver()
    conf = FAST + f"self-url = {rcv.url('/self/' + SECRET)}\nself-interval = 1s\n{keys}"
    env.write_config(conf)
    return rcv, conf


def self_pings(rcv):
    return [r for r in list(rcv.requests) if r.path.startswith("/self/")]


def expect_silence(rcv, seconds):
    n = len(self_pings(rcv))
    time.sleep(seconds)
    assert len(self_pings(rcv)) == n, f"self pings while unhealthy: {self_pings(rcv)[n:]}"


def wait_self(env, rcv, n, timeout=10):
    env._wait_for(lambda: len(self_pings(rcv)) >= n, timeout, f"{n} self pings")


def test_self_heartbeat_reload(env):
    """Pinged each self-interval; a refused configuration on reload stops it; a good one resumes it."""
    rcv, conf = self_env(env, "self-preset = healthchecks\n")
    env.start_daemon()
    wait_self(env, rcv, 3, timeout=6)
    pings = self_pings(rcv)
    gaps = [b.when - a.when for a, b in zip(pings, pings[1:])]
    assert all(0.5 < g < 2.5 * SLOWDOWN for g in gaps), gaps      # one per second, not a burst
    assert all(p.method == "GET" and p.path == f"/self/{SECRET}" for p in pings), pings

    env.write_config(conf + "[broken.timer]\nnope = 1\n")
    env.daemon.send_signal(signal.SIGHUP)
    env.wait_log("Not sending the self-heartbeat: the configuration on disk was refused at the last reload.")
    expect_silence(rcv, 3)

    env.write_config(conf)
    env.reload_daemon()
    n = len(self_pings(rcv))
    wait_self(env, rcv, n + 2, timeout=5)
    env.wait_log("Healthy again; the self-heartbeat resumes.")


def test_self_heartbeat_bus(env):
    """No bus (or systemd not on it): no self pings; once systemd is back, they resume."""
    rcv, _ = self_env(env)
    env.start_daemon()
    wait_self(env, rcv, 2, timeout=5)
    env.systemctl("stop", "dbus.socket", "dbus.service")
    env.wait_log("Lost the connection to the user bus")
    env.wait_log("Not sending the self-heartbeat: not connected to systemd")
    expect_silence(rcv, 3)
    env.systemctl("start", "dbus.socket")
    env.systemctl("daemon-reexec")                 # systemd connects to the new bus
    env.wait_log("Reconnected to the user bus.", timeout=20)
    env.wait_log("Healthy again; the self-heartbeat resumes.", timeout=10)
    n = len(self_pings(rcv))
    wait_self(env, rcv, n + 2, timeout=5)


def test_self_heartbeat_stuck_outbox(env):
    """A ping of a check that has waited more than 3 self-intervals makes timerbeat unhealthy."""
    rcv, conf = self_env(env)
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    rcv.routes["/ping/"] = 503
    env.write_config(conf + f"[job.service]\nurl = {rcv.url()}\n")
    env.start_daemon()
    wait_self(env, rcv, 1, timeout=5)
    env.systemctl("start", "job.service")
    env.wait_log("Not sending the self-heartbeat: the outbox is stuck", timeout=10)
    expect_silence(rcv, 2)
    del rcv.routes["/ping/"]
    env.wait_log("Healthy again; the self-heartbeat resumes.", timeout=10)
    n = len(self_pings(rcv))
    wait_self(env, rcv, n + 1, timeout=5)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
