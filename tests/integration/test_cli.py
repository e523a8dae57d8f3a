#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timerbeat list / ping / check against a real systemd user manager (no daemon needed,
except to have a last ping to show)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, main  # noqa: E402



def setup(env, rcv):
    for n in ("backup", "other", "annotated"):
        env.oneshot(f"{n}.service", "/bin/true")
        env.timer(f"{n}.timer", "OnActiveSec=1h")
    os.makedirs(f"{env.unit_dir}/annotated.timer.d")
    env.write_unit("annotated.timer.d/hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/annotated/' + SECRET)}\n")
    env.daemon_reload()
    env.systemctl("start", "backup.timer", "other.timer", "annotated.timer")
    return env.write_config(FAST + f"[backup.timer]\nurl = {rcv.url()}\nmethod = POST\n")


def busctl_t(env, unit, iface, prop):
    path = "/org/freedesktop/systemd1/unit/" + unit.replace(".", "_2e").replace("-", "_2d")
    r = subprocess.run(["busctl", "--user", "get-property", "org.freedesktop.systemd1", path,
                        f"org.freedesktop.systemd1.{iface}", prop], env=env.env, capture_output=True,
                       text=True, check=True)
    return int(r.stdout.split()[1])


def test_list_json(env):
    rcv = env.receiver()
    conf = setup(env, rcv)
    env.start_daemon()
    env.systemctl("start", "backup.service")
    rcv.wait(1)
    env.wait_log("Pinged ")
    time.sleep(0.2)
    r = env.run_tb("--user", "list", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    units = {u["timer"]: u for u in doc["units"]}
    assert doc["manager"] == "user"
    b = units["backup.timer"]
    assert b["service"] == "backup.service" and b["monitored"] is True
    # The line of url=, as `check` and the daemon's log show it.
    assert b["origin"] == {"kind": "config", "section": "backup.timer", "file": conf, "line": FAST.count("\n") + 2,
                           "enabled": True}, b["origin"]
    assert b["method"] == "POST"
    assert b["url"] == f"http://127.0.0.1:{rcv.port}/ping/…a4b5", b["url"]
    assert b["last_run"]["invocation"] == env.show("backup.service", "InvocationID")
    assert b["last_run"]["result"] == env.show("backup.service", "Result") == "success"
    assert b["last_run"]["exit_usec"] == busctl_t(env, "backup.service", "Service", "ExecMainExitTimestamp")
    # Never triggered: null, not 0.
    assert b["last_trigger_usec"] == (busctl_t(env, "backup.timer", "Timer", "LastTriggerUSec") or None)
    # OnActiveSec=1h: only a monotonic elapse, shown in CLOCK_REALTIME (about an hour from now).
    assert busctl_t(env, "backup.timer", "Timer", "NextElapseUSecRealtime") == 0
    now = time.time() * 1e6
    assert now + 3500e6 < b["next_elapse_usec"] < now + 3700e6, b["next_elapse_usec"]
    assert b["state"] == "waiting" and b["running_since_usec"] is None, b
    assert b["last_ping"]["outcome"] == "delivered" and b["last_ping"]["status"] == 200, b["last_ping"]
    a = units["annotated.timer"]
    assert a["monitored"] and a["origin"]["kind"] == "annotation", a
    assert a["origin"]["file"] == f"{env.unit_dir}/annotated.timer.d/hb.conf" and a["origin"]["line"] == 2
    o = units["other.timer"]
    assert o["monitored"] is False and o["origin"] is None and o["url"] is None, o
    assert SECRET not in r.stdout


def test_list_table(env):
    rcv = env.receiver()
    setup(env, rcv)
    r = env.run_tb("--user", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TIMER", "SERVICE", "CHECK", "URL", "NEXT", "LAST", "RUN", "RESULT", "STATE", "LAST",
                                "PING", "DELIVERED", "UNDELIVERED"]
    # Columns line up: every row's SERVICE starts where the header's does.
    col = lines[0].index("SERVICE")
    rows = lines[1:lines.index("")]
    assert rows and all(row[col:].startswith(row.split()[1]) for row in rows), lines
    url = lines[0].index("URL")
    assert all(row[url:].startswith(("http:", "-")) for row in rows), lines
    assert "3 units, 2 with a heartbeat. Without: other.timer" in r.stdout, r.stdout
    assert SECRET not in r.stdout + r.stderr


def test_ping(env):
    rcv = env.receiver()
    setup(env, rcv)
    r = env.run_tb("--user", "ping", "backup.timer")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"POST http://127.0.0.1:{rcv.port}/ping/…a4b5: HTTP 200 in "), r.stdout
    req = rcv.wait(1)[0]
    assert req.method == "POST" and req.path == f"/ping/{SECRET}" and req.headers["user-agent"].startswith("timerbeat/")
    # The service name finds its timer's check; annotations work without the daemon.
    for unit in ("backup.service", "annotated.timer"):
        r = env.run_tb("--user", "ping", unit)
        assert r.returncode == 0, (unit, r.returncode, r.stdout, r.stderr)
    assert rcv.wait(3)[2].path == f"/annotated/{SECRET}"


def test_ping_failure_exit(env):
    rcv = env.receiver()
    setup(env, rcv)
    rcv.script = [500]
    r = env.run_tb("--user", "ping", "backup.timer")
    assert r.returncode == 1 and "HTTP 500" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert rcv.count() == 1                      # no retries from the command line
    r = env.run_tb("--user", "ping", "other.timer")
    assert r.returncode == 3 and "other.timer has no heartbeat configured" in r.stderr, r.stderr
    r = env.run_tb("--user", "ping", "backup.timer", "--event", "failure")
    assert r.returncode == 3 and "backup.timer has no failure endpoint (preset generic)" in r.stderr, r.stderr


def test_ping_dry_run(env):
    rcv = env.receiver()
    setup(env, rcv)
    r = env.run_tb("--user", "ping", "backup.timer", "--dry-run")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f"POST http://127.0.0.1:{rcv.port}/ping/…a4b5", r.stdout
    assert "User-Agent: timerbeat/" in r.stdout and SECRET not in r.stdout
    r = env.run_tb("--user", "ping", "backup.timer", "--dry-run", "--show-secrets")
    assert r.stdout.splitlines()[0] == f"POST {rcv.url()}", r.stdout
    assert rcv.count() == 0
    assert env.run_tb("--user", "ping", "backup.timer", "--show-secrets").returncode == 2


def test_check_annotations(env):
    rcv = env.receiver()
    setup(env, rcv)
    r = env.run_tb("--user", "check")
    assert r.returncode == 0, r.stderr
    assert f"annotated.timer GET http://127.0.0.1:{rcv.port}/annotated/…a4b5 (annotation {env.unit_dir}/annotated.timer.d/hb.conf:2)" \
        in r.stdout, r.stdout
    env.write_unit("other.timer.d/hb.conf", "[X-Timerbeat]\nURL=gopher://x/1\n") if os.makedirs(
        f"{env.unit_dir}/other.timer.d") is None else None
    env.daemon_reload()
    r = env.run_tb("--user", "check")
    assert r.returncode == 78, (r.returncode, r.stdout, r.stderr)
    assert f"{env.unit_dir}/other.timer.d/hb.conf:2: url= gopher://x/…: only http:// and https://" in r.stderr


def test_check_many_services(env):
    """`check` over 2,000 drop-ins, one check each on a loaded service (issue 14: 9.7 s when each
    unit was read with one synchronous GetAll, systemd computing every property, UnitFileState's
    walk of the unit directories among them). The units are read with Gets, many in flight: a bus
    monitor counts the calls; the bound on the time is generous, the mechanism is what is asserted.
    TIMERBEAT_TEST_CHECK_UNITS sets another number (a measurement)."""
    n = int(os.environ.get("TIMERBEAT_TEST_CHECK_UNITS", "2000"))
    rcv = env.receiver()
    env.write_unit("sc@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("sc-anchor.target", "[Unit]\n" + "".join(f"Before=sc@{i:05d}.service\n" for i in range(n)))
    env.daemon_reload()
    env.systemctl("start", "sc-anchor.target")
    env.write_config(FAST)
    for i in range(n):
        env.write_config(f"[sc@{i:05d}.service]\nurl = {rcv.url('/sc/' + SECRET)}\n", f"sc-{i:05d}.conf")
    log = f"{env.dir}/monitor.log"
    monitor = env.spawn(["dbus-monitor", "--session", "type='method_call',interface='org.freedesktop.DBus.Properties'"],
                        "monitor.log")
    env._wait_for(lambda: os.path.getsize(log) > 0, 10, "dbus-monitor")
    t0 = time.monotonic()
    r = env.run_tb("--user", "check")
    took = time.monotonic() - t0
    time.sleep(0.5)
    monitor.terminate()
    with open(log, errors="replace") as f:
        calls = f.read()
    getall = calls.count("member=GetAll")
    gets = calls.count("member=Get\n") + calls.count("member=Get ")
    print(f"check of {n} services: {took:.2f} s; {gets} Get, {getall} GetAll calls", file=sys.stderr)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"OK: watching {n} units from {n} sections." in r.stdout, r.stdout[-2000:]
    assert getall == 0, f"{getall} GetAll calls"
    # A named service: its state, 4 Gets (not its files: it is not resolved; list reads 4 more).
    assert n * 4 <= gets < n * 5, f"{gets} Get calls"
    assert took < 60, f"check took {took:.1f} s"


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
