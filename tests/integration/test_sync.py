#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`timerbeat sync` (issue 15) against the real healthchecks server (v3.9, the test peer, started
once per test on a free port): the checks it creates, read back through healthchecks' Management
API, carry the timers' own schedules (OnCalendar= with its time zone, or a monotonic period as
timeout) and a grace that covers RandomizedDelaySec= and AccuracySec=; a second sync changes
nothing; a changed timer is an update; --dry-run writes nothing; --prune removes only this
host's timerbeat checks whose timer is gone; the daemon pings the provisioned checks without any
url=; a wrong API key or a server that is down is a clear error that changes nothing and never
shows the key. No test is skipped: without the peer, each fails.

Run one test: test_sync.py NAME (meson test runs each as its own test)."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, free_port, main  # noqa: E402
from test_manual_ping import Peer  # noqa: E402

TZ = "Europe/Riga"
AUTOSYNC_RETRY_ENV = "TIMERBEAT_TEST_SYNC_RETRY"   # src/autosync.h
HOST = socket.gethostname()


def setup(env, hc, api_url=None, key=None):
    """Three started timers (daily with a random delay, weekdays, monotonic) and one pattern
    section that provisions every timer; the API key in a file of its own (mode 0600)."""
    env.oneshot("daily.service", "/bin/true")
    env.timer("daily.timer", "OnCalendar=daily\nRandomizedDelaySec=10min")
    env.oneshot("weekdays.service", "/bin/true")
    env.timer("weekdays.timer", "OnCalendar=Mon..Fri 09:00")
    env.oneshot("mono.service", "/bin/true")
    env.timer("mono.timer", "OnUnitActiveSec=2h\nOnBootSec=3h")
    env.daemon_reload()
    for t in ("daily.timer", "weekdays.timer", "mono.timer"):
        env.systemctl("start", t)
    key_file = f"{env.dir}/hc-api-key"
    with open(key_file, "w") as f:
        f.write((key or hc.api_key) + "\n")
    os.chmod(key_file, 0o600)
    os.chmod(env.write_config(
        f"[*.timer]\npreset = healthchecks\nprovision = healthchecks\napi-url = {api_url or hc.url}\n"
        f"api-key = file:{key_file}\ntags = team-a\n"), 0o600)


def sync(env, *args, expect=0, key=None):
    r = subprocess.run([env.binary, "--user", "sync"] + list(args), env=dict(env.env, TZ=TZ),
                       capture_output=True, text=True, timeout=60 * SLOWDOWN)
    out = r.stdout + r.stderr
    assert r.returncode == expect, (args, r.returncode, out)
    for secret in filter(None, (key,)):
        assert secret not in out and secret[-8:] not in out, out
    return {line.split()[1]: line for line in r.stdout.splitlines() if line and not line.startswith(" ")
            and len(line.split()) > 1 and line.split()[1].endswith(".timer")}, out


def checks(hc):
    return {c["name"]: c for c in hc.api("checks/")["checks"]}


def mapping(env):
    try:
        with open(f"{env.state_dir()}/provisioned") as f:
            return {line.split("\t")[0]: line.rstrip("\n").split("\t")[1:] for line in f if line.strip()}
    except FileNotFoundError:
        return None


def test_create_and_unchanged(env):
    with Peer() as hc:
        setup(env, hc)
        lines, out = sync(env, key=hc.api_key)
        assert lines["daily.timer"].split()[0] == "create", out
        # daily: RandomizedDelaySec=10min + AccuracySec=1ms, never run → 11 min (whole minutes).
        assert "schedule '*-*-* 00:00:00' tz Europe/Riga grace 11min" in lines["daily.timer"], out
        assert "schedule 'Mon..Fri *-*-* 09:00:00' tz Europe/Riga grace 1min" in lines["weekdays.timer"], out
        assert "timeout 2h grace 1min" in lines["mono.timer"], out
        c = checks(hc)
        assert set(c) == {"daily.timer", "weekdays.timer", "mono.timer"}, c
        d = c["daily.timer"]
        assert (d["schedule"], d["tz"], d["grace"], d["slug"]) == ("*-*-* 00:00:00", TZ, 660, "daily"), d
        assert d["tags"] == f"timerbeat {HOST} team-a", d
        assert "on " + HOST in d["desc"], d
        w = c["weekdays.timer"]
        assert (w["schedule"], w["tz"], w["grace"]) == ("Mon..Fri *-*-* 09:00:00", TZ, 60), w
        m = c["mono.timer"]
        assert (m.get("schedule"), m["timeout"], m["grace"]) == (None, 7200, 60), m
        # The ping URLs are in the state directory, readable by its owner only.
        mp = mapping(env)
        assert mp["daily.timer"] == [d["uuid"], d["ping_url"]], mp
        assert os.stat(f"{env.state_dir()}/provisioned").st_mode & 0o077 == 0
        # A second run changes nothing.
        lines, out = sync(env, key=hc.api_key)
        assert all(line.split()[0] == "unchanged" for line in lines.values()) and len(lines) == 3, out
        assert checks(hc) == c


def test_dry_run(env):
    with Peer() as hc:
        setup(env, hc)
        lines, out = sync(env, "--dry-run")
        assert [line.split()[0] for line in lines.values()] == ["create"] * 3, out
        assert "nothing was changed" in out, out
        assert checks(hc) == {}, checks(hc)
        assert mapping(env) is None


def test_update(env):
    with Peer() as hc:
        setup(env, hc)
        sync(env)
        uuid = checks(hc)["daily.timer"]["uuid"]
        env.timer("daily.timer", "OnCalendar=*-*-* 03:30\nRandomizedDelaySec=30min")
        env.daemon_reload()
        lines, out = sync(env, "--dry-run")
        assert lines["daily.timer"].split()[0] == "update", out
        assert checks(hc)["daily.timer"]["grace"] == 660
        lines, out = sync(env)
        assert lines["daily.timer"].startswith("update"), out
        assert "(changed: schedule, grace)" in lines["daily.timer"], out
        assert lines["weekdays.timer"].startswith("unchanged") and lines["mono.timer"].startswith("unchanged"), out
        d = checks(hc)["daily.timer"]
        assert (d["uuid"], d["schedule"], d["grace"]) == (uuid, "*-*-* 03:30:00", 1860), d
        # Only the one timer named.
        env.timer("weekdays.timer", "OnCalendar=Sat 10:00")
        env.timer("mono.timer", "OnUnitActiveSec=3h")
        env.daemon_reload()
        lines, out = sync(env, "weekdays.timer")
        assert list(lines) == ["weekdays.timer"] and lines["weekdays.timer"].startswith("update"), out
        c = checks(hc)
        assert c["weekdays.timer"]["schedule"] == "Sat *-*-* 10:00:00" and c["mono.timer"]["timeout"] == 7200, c


def test_prune(env):
    with Peer() as hc:
        setup(env, hc)
        sync(env)
        # Not timerbeat's, or another host's: never pruned.
        hc.api("checks/", {"name": "cron-job", "tags": "prod", "timeout": 3600})
        hc.api("checks/", {"name": "gone.timer", "tags": "timerbeat other-host", "timeout": 3600})
        env.systemctl("stop", "mono.timer")
        os.unlink(f"{env.unit_dir}/mono.timer")
        env.daemon_reload()
        lines, out = sync(env)
        assert "mono.timer" not in lines and "mono.timer" in checks(hc), out   # no --prune: kept
        lines, out = sync(env, "--prune", "--dry-run")
        assert lines["mono.timer"].split()[0] == "prune", out
        assert "mono.timer" in checks(hc)
        lines, out = sync(env, "--prune")
        assert lines["mono.timer"].split()[0] == "prune", out
        assert set(checks(hc)) == {"daily.timer", "weekdays.timer", "cron-job", "gone.timer"}, checks(hc)
        assert "mono.timer" not in mapping(env)
        lines, out = sync(env, "--prune")
        assert "mono.timer" not in lines, out


def wait_pings(hc, uuid, n):
    deadline = time.monotonic() + 20 * SLOWDOWN
    while time.monotonic() < deadline:
        c = hc.api(f"checks/{uuid}")
        if c["n_pings"] >= n:
            return c
        time.sleep(0.2)
    raise AssertionError(f"check {uuid} has {c['n_pings']} pings, expected {n}")


def test_daemon_pings(env):
    with Peer() as hc:
        setup(env, hc)
        r = env.run_tb("--user", "check")
        assert r.returncode == 0, r.stderr          # no url= anywhere: accepted
        sync(env)
        c = checks(hc)
        env.start_daemon()
        env.systemctl("start", "daily.service")
        d = wait_pings(hc, c["daily.timer"]["uuid"], 1)
        assert d["status"] == "up", d
        env.systemctl("start", "mono.service")
        wait_pings(hc, c["mono.timer"]["uuid"], 1)
        assert hc.api(f"checks/{c['weekdays.timer']['uuid']}")["n_pings"] == 0
        env.stop_daemon()
        env.check_no_secrets()
        log = env.log()
        for secret in (hc.api_key, c["daily.timer"]["uuid"], c["mono.timer"]["uuid"]):
            assert secret not in log, log


def test_bad_key(env):
    with Peer() as hc:
        bad = "wrongkey" + "x" * 24
        setup(env, hc, key=bad)
        lines, out = sync(env, expect=1, key=bad)
        assert "HTTP 401 (wrong api key)" in lines["daily.timer"], out
        assert all(line.split()[0] == "failed" for line in lines.values()) and len(lines) == 3, out
        assert checks(hc) == {}


def test_server_down(env):
    with Peer() as hc:
        port = free_port()
        setup(env, hc, api_url=f"http://127.0.0.1:{port}")
        lines, out = sync(env, expect=1, key=hc.api_key)
        assert all(line.split()[0] == "failed" for line in lines.values()) and len(lines) == 3, out
        assert f"GET http://127.0.0.1:{port}/api/v3/checks/" in lines["daily.timer"], out
        assert "onnect" in lines["daily.timer"], out      # libcurl's "Failed to connect …"
        assert checks(hc) == {}


# --- the daemon syncs by itself (sync = auto, the default with a provision section) ----------------

class LatePeer(Peer):
    """A healthchecks peer started on a port chosen before it runs (the server comes up after the
    daemon)."""

    def __init__(self, port):
        self.want_port = port

    def __enter__(self):
        import tempfile
        from test_manual_ping import find_peer
        self.script = find_peer()
        self.dir = tempfile.mkdtemp(prefix="timerbeat-hc-")
        self.port = self.want_port
        r = subprocess.run([self.script, "start", self.dir, str(self.port)], capture_output=True, text=True,
                           timeout=90 * SLOWDOWN)
        if r.returncode != 0:
            self.__exit__(None, None, None)
            raise AssertionError(f"the healthchecks peer did not start:\n{r.stdout}{r.stderr}")
        fields = dict(kv.split("=", 1) for kv in r.stdout.split())
        self.url, self.api_key = fields["url"], fields["api_key"]
        return self


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout * SLOWDOWN
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_checks(hc, names, timeout=30):
    return wait_for(lambda: (lambda c: c if set(names) <= set(c) else None)(checks(hc)), timeout,
                    f"checks {names} on the server (have {sorted(checks(hc))})")


def listing(env):
    """`timerbeat list` and `list --json`: the provisioning lines below the table, per timer, and the
    JSON's "provision" objects."""
    r = env.run_tb("--user", "list")
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout.split("Provisioning (timerbeat sync):\n", 1)
    lines = {line.split()[0]: line.split(None, 1)[1] for line in text[1].splitlines() if line.startswith("  ")} \
        if len(text) == 2 else {}
    j = env.run_tb("--user", "list", "--json")
    assert j.returncode == 0, j.stderr
    units = {u["timer"]: u for u in json.loads(j.stdout)["units"]}
    return lines, {t: u["provision"] for t, u in units.items()}


def test_daemon_creates(env):
    """No url=, no `timerbeat sync` ever run: the daemon creates the checks after READY=1 and pings
    them without a restart."""
    with Peer() as hc:
        setup(env, hc)
        lines, prov = listing(env)
        assert lines["daily.timer"] == "not provisioned yet", lines
        assert prov["daily.timer"]["state"] == "pending", prov
        env.start_daemon()
        c = wait_checks(hc, ["daily.timer", "weekdays.timer", "mono.timer"])
        assert c["daily.timer"]["grace"] == 660 and c["daily.timer"]["slug"] == "daily", c
        env.wait_log("newly provisioned checks are pinged from now on")
        env.systemctl("start", "daily.service")
        d = wait_pings(hc, c["daily.timer"]["uuid"], 1)
        assert d["n_pings"] == 1 and d["status"] == "up", d
        # (d) list says so, in the table's notes and in JSON.
        lines, prov = listing(env)
        assert lines["daily.timer"].startswith("provisioned as daily (synced "), lines
        assert prov["daily.timer"]["state"] == "provisioned" and prov["daily.timer"]["slug"] == "daily", prov
        assert prov["daily.timer"]["time_usec"] > 0 and prov["daily.timer"]["error"] is None, prov
        # A second start finds nothing to change: it says nothing about the checks.
        env.stop_daemon()
        env.start_daemon()
        env.wait_log("timerbeat sync is done.", count=2)
        assert env.log().count("create    ") == 3, env.log()
        assert "unchanged" not in env.log(), env.log()
        env.stop_daemon()
        for secret in (hc.api_key, c["daily.timer"]["uuid"]):
            assert secret not in env.log()


def test_daemon_server_down(env):
    """The server is down when the daemon starts: READY=1 at once, a url= check is pinged, the sync
    is retried with back-off (TIMERBEAT_TEST_SYNC_RETRY=1s makes the back-off 1 s instead of 30 s
    doubling to 1 h) and the check is created once the server is up."""
    port = free_port()
    key_file = f"{env.dir}/hc-api-key"
    rcv = env.receiver()
    env.oneshot("other.service", "/bin/true")
    env.timer("other.timer", "OnActiveSec=1h")

    class Down:     # what setup() needs before the server runs
        url = f"http://127.0.0.1:{port}"
        api_key = "notyetknown" + "k" * 21
    setup(env, Down)
    env.systemctl("start", "other.timer")
    os.chmod(env.write_config(f"[other.timer]\nurl = {rcv.url()}\n", "other.conf"), 0o600)
    env.env[AUTOSYNC_RETRY_ENV] = "1s"
    started = time.monotonic()
    env.start_daemon()
    assert time.monotonic() - started < 5 * SLOWDOWN
    env.systemctl("start", "other.service")
    assert len(rcv.wait(1)) == 1
    env.wait_log("timerbeat sync failed", count=2)      # tried, and tried again
    lines, prov = listing(env)
    assert lines["daily.timer"].startswith("sync failed "), lines
    assert f"GET http://127.0.0.1:{port}/api/v3/checks/" in lines["daily.timer"], lines
    assert prov["daily.timer"]["state"] == "failed" and "onnect" in prov["daily.timer"]["error"], prov
    assert "other.timer" not in lines and prov["other.timer"] is None, (lines, prov)
    with LatePeer(port) as hc:
        with open(key_file, "w") as f:
            f.write(hc.api_key + "\n")
        c = wait_checks(hc, ["daily.timer", "weekdays.timer", "mono.timer"], timeout=60)
        env.wait_log("newly provisioned checks are pinged from now on")
        env.systemctl("start", "daily.service")
        wait_pings(hc, c["daily.timer"]["uuid"], 1)
        lines, prov = listing(env)
        assert lines["daily.timer"].startswith("provisioned as daily"), lines
        assert prov["daily.timer"]["retry_usec"] is None, prov
        env.stop_daemon()
        assert hc.api_key not in env.log()
    assert rcv.count() == 1


def test_daemon_new_timer(env):
    """A timer installed while the daemon runs (daemon-reload, then started): its check is created
    without a restart; a changed schedule is updated after daemon-reload."""
    with Peer() as hc:
        setup(env, hc)
        env.start_daemon()
        wait_checks(hc, ["daily.timer", "weekdays.timer", "mono.timer"])
        env.wait_log("timerbeat sync is done.")
        env.oneshot("fresh.service", "/bin/true")
        env.timer("fresh.timer", "OnCalendar=hourly")
        env.daemon_reload()
        # The sync of the daemon-reload does not see it yet (a timer is loaded when started): the
        # daemon syncs again when it finds the timer, once started.
        env.wait_log("timerbeat sync is done.", count=2)
        assert "fresh.timer" not in checks(hc)
        env.systemctl("start", "fresh.timer")
        c = wait_checks(hc, ["fresh.timer"])
        assert c["fresh.timer"]["schedule"] == "*-*-* *:00:00", c
        env.wait_log("1 newly provisioned check is pinged from now on")
        env.systemctl("start", "fresh.service")
        wait_pings(hc, c["fresh.timer"]["uuid"], 1)
        # A changed timer: daemon-reload alone updates its check.
        env.timer("weekdays.timer", "OnCalendar=Sat 10:00")
        env.daemon_reload()
        wait_for(lambda: checks(hc)["weekdays.timer"]["schedule"] == "Sat *-*-* 10:00:00", 30,
                 "the changed schedule on the server")
        assert len(checks(hc)) == 4
        env.stop_daemon()


def test_daemon_sync_no(env):
    """sync = no: the daemon leaves the monitor alone — no API request at start, after a
    daemon-reload or for a new timer (a loopback receiver stands in for the API: with sync = auto
    it gets GET /api/v3/checks/ at once)."""
    rcv = env.receiver()

    class Api:
        url = f"http://127.0.0.1:{rcv.port}"
        api_key = "k" * 32
    setup(env, Api)
    with open(f"{env.conf_dir}/conf.d/nosync.conf", "w") as f:
        f.write("[timerbeat]\nsync = no\n")
    env.start_daemon()
    env.oneshot("fresh.service", "/bin/true")
    env.timer("fresh.timer", "OnCalendar=hourly")
    env.daemon_reload()
    env.systemctl("start", "fresh.timer")
    time.sleep(3 * SLOWDOWN)
    assert rcv.count() == 0, rcv.requests
    assert "Syncing" not in env.log() and "timerbeat sync" not in env.log(), env.log()
    env.stop_daemon()


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
