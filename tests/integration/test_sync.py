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

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, free_port, main  # noqa: E402
from test_manual_ping import Peer  # noqa: E402

TZ = "Europe/Riga"
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


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
