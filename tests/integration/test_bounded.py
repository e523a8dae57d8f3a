#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 13 on a user manager: quiet logs (monitoring logged when it changes), one count
everywhere, a timer that triggers no service, memory and logs bounded whatever units anyone
makes systemd load, `ping` of a unit that does not exist, timers that cannot run (list, check,
on-skip=), outbox entries of checks that are gone."""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, SLOWDOWN, free_port, main, outbox_entries  # noqa: E402

QUIET = 0.5


def timer_job(env, name, cmd="/bin/true", timer_extra="", service_extra=""):
    env.oneshot(f"{name}.service", cmd, service_extra)
    env.timer(f"{name}.timer", f"OnActiveSec=1h\n{timer_extra}")


def log_lines_since(env, mark):
    return env.log()[mark:].splitlines()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tb(env, *args):
    return env.run_tb("--user", *args)


def test_reloads_quiet_and_one_count(env):
    """Monitoring is logged once per unit; three daemon-reloads and a SIGHUP with nothing changed
    add no "monitored" line. READY's STATUS=, the start line and `check` give one count. The first
    bus connect is no reconnect; a world-readable file draws one warning, not one per url= line."""
    rcv = env.receiver()
    for n in ("alpha", "beta", "gamma"):
        timer_job(env, n)
    env.daemon_reload()
    env.systemctl("start", "alpha.timer", "beta.timer", "gamma.timer")
    path = env.write_config(FAST + f"[*.timer]\nurl = {rcv.url('/hc/' + SECRET + '/{unit}')}\n"
                            f"[other.timer]\nurl = {rcv.url('/other/' + SECRET)}\n")
    os.chmod(path, 0o644)
    # o+r is a warning only where others can reach the file (the test's directory is 0700).
    d = os.path.dirname(path)
    while d.startswith(env.dir):
        os.chmod(d, 0o755)
        d = os.path.dirname(d)
    env.start_daemon()
    env.wait_log("is monitored", count=3)
    time.sleep(QUIET)
    log = env.log()
    assert log.count(" is monitored") == 3, log
    assert "watching 3 units from 1 section on the user manager" in log, log
    assert "STATUS=Watching 3 units from 1 section." in env.last_ready, env.last_ready
    assert "on the bus again" not in log, log
    assert log.count("readable by all users") == 1, log
    r = tb(env, "check")
    assert r.returncode == 0, r.stderr
    assert "OK: watching 3 units from 1 section." in r.stdout, r.stdout
    mark = len(env.log())
    for _ in range(3):
        env.daemon_reload()
    time.sleep(1)
    env.reload_daemon()
    time.sleep(QUIET)
    new = "\n".join(log_lines_since(env, mark))
    assert "monitored" not in new, new
    assert "readable by all users" not in new, new
    # A change is said: a timer goes away, one line.
    env.systemctl("stop", "gamma.timer")
    os.unlink(f"{env.unit_dir}/gamma.timer")
    env.daemon_reload()
    env.wait_log("gamma.timer is no longer monitored.")
    time.sleep(QUIET)
    assert env.log()[mark:].count("monitored") == 1, env.log()[mark:]


def test_unit_target_one_warning(env):
    """A timer whose Unit= is a target: one warning, no loop; flagged by check and list."""
    rcv = env.receiver()
    env.write_unit("nightly.target", "[Unit]\nDescription=nightly\n")
    env.timer("nightly.timer", "OnCalendar=*-*-* 03:00\nUnit=nightly.target")
    timer_job(env, "fine")
    env.daemon_reload()
    env.systemctl("start", "fine.timer")
    env.write_config(FAST + f"[nightly.timer]\nurl = {rcv.url('/n/' + SECRET)}\n"
                     f"[fine.timer]\nurl = {rcv.url('/f/' + SECRET)}\n")
    env.start_daemon()
    mark = len(env.log())
    cpu = cpu_seconds(env.daemon.pid)
    time.sleep(10)
    lines = log_lines_since(env, mark)
    assert len(lines) <= 5, "\n".join(lines[:40])
    # No silent loop either (reading the timer loads it, which sent UnitNew, which read it…).
    cpu = cpu_seconds(env.daemon.pid) - cpu
    assert cpu < 0.5 * SLOWDOWN, f"timerbeat used {cpu:.2f}s of CPU in 10s"
    log = env.log()
    assert log.count("which is not a service") == 1, log
    assert "STATUS=Watching 1 unit from 1 section." in env.last_ready, env.last_ready
    r = tb(env, "check")
    assert r.returncode == 0, r.stderr
    assert "nightly.timer" in r.stderr and "not a service: nightly.target" in r.stderr, r.stderr
    assert "OK: watching 1 unit from 1 section." in r.stdout, r.stdout
    r = tb(env, "list", "--json")
    units = {u["timer"]: u for u in json.loads(r.stdout)["units"]}
    assert units["nightly.timer"]["state"] == "not a service: nightly.target", units["nightly.timer"]
    assert units["nightly.timer"]["monitored"] is False
    assert units["fine.timer"]["monitored"] is True
    # Still one warning after a daemon-reload with nothing changed.
    env.daemon_reload()
    time.sleep(1)
    assert env.log().count("which is not a service") == 1


def native_memory(binary):
    """RSS says something about timerbeat's own memory only when it runs natively: valgrind's
    shadow memory and ASan's quarantine of freed blocks grow with every allocation, freed or
    not (those runs check leaks instead)."""
    if os.environ.get("TIMERBEAT_WRAPPER", "").strip():
        return False
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    return "libasan" not in r.stdout


def test_nonexistent_pattern_services_bounded(env):
    """5,000 `systemctl status` of names a [job-*.service] pattern matches and that do not exist:
    no watcher stays, RSS grows by at most 2 MiB (natively: see native_memory), at most 20 log
    lines. An installed one still pings."""
    rcv = env.receiver()
    env.oneshot("job-real.service", "/bin/true")
    env.timer("keep.timer", "OnActiveSec=1h\nUnit=job-real.service")
    env.daemon_reload()
    env.systemctl("start", "keep.timer")
    env.write_config(FAST + f"[job-*.service]\nurl = {rcv.url('/job/' + SECRET + '/{unit}')}\n")
    env.start_daemon()
    time.sleep(1)
    mark = len(env.log())
    before = rss_kib(env.daemon.pid)
    for batch in range(10):
        names = [f"job-{batch * 500 + i}.service" for i in range(500)]
        env.systemctl("status", *names, check=False)
    time.sleep(3)
    after = rss_kib(env.daemon.pid)
    lines = log_lines_since(env, mark)
    if native_memory(env.binary):
        assert after - before <= 2048, f"RSS grew by {after - before} KiB"
    assert len(lines) <= 20, "\n".join(lines[:40])
    env.systemctl("start", "job-real.service")
    assert rcv.wait(1)[0].path == f"/job/{SECRET}/job-real.service"


def test_ping_unknown_unit(env):
    """`ping` of a name systemd does not know fails, even when a pattern matches it; a known one
    prints one line."""
    rcv = env.receiver()
    timer_job(env, "backup")
    env.daemon_reload()
    env.systemctl("start", "backup.timer")
    path = env.write_config(FAST + f"[*.timer]\nurl = {rcv.url('/hc/' + SECRET + '/{unit}')}?create=1\n")
    os.chmod(path, 0o600)
    r = tb(env, "ping", "bakcup.timer")
    assert r.returncode != 0, r
    assert "systemd knows no such unit" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    time.sleep(QUIET)
    assert rcv.count() == 0, rcv.requests
    r = tb(env, "ping", "backup.timer")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 and r.stderr == "", (r.stdout, r.stderr)
    assert rcv.wait(1)[0].path == f"/hc/{SECRET}/backup.timer?create=1"


def test_condition_skipped(env):
    """A timer whose condition fails: `list --json` says why it does not run, and has no next
    elapse (null). A service skipped by its condition: on-skip=success pings, the default does
    not."""
    rcv = env.receiver()
    # Enabled, as fstrim.timer is on Debian: it stays loaded with its failed condition.
    timer_job(env, "never",
              timer_extra="[Unit]\nConditionPathExists=/nonexistent-timerbeat\n[Install]\nWantedBy=timers.target")
    timer_job(env, "skipme", service_extra="[Unit]\nConditionPathExists=/nonexistent-timerbeat\n")
    timer_job(env, "quiet", service_extra="[Unit]\nConditionPathExists=/nonexistent-timerbeat\n")
    env.daemon_reload()
    env.systemctl("enable", "never.timer")
    env.systemctl("start", "never.timer", "skipme.timer", "quiet.timer")
    env.write_config(FAST + f"[never.timer]\nurl = {rcv.url('/never/' + SECRET)}\n"
                     f"[skipme.timer]\nurl = {rcv.url('/skip/' + SECRET)}\non-skip = success\n"
                     f"[quiet.timer]\nurl = {rcv.url('/quiet/' + SECRET)}\n")
    env.start_daemon()
    r = tb(env, "list", "--json")
    assert r.returncode == 0, r.stderr
    units = {u["timer"]: u for u in json.loads(r.stdout)["units"]}
    never = units["never.timer"]
    assert never["state"] == "skipped: ConditionPathExists=/nonexistent-timerbeat", never
    assert never["next_elapse_usec"] is None and never["runs_here"] is False, never
    assert isinstance(units["skipme.timer"]["next_elapse_usec"], int), units["skipme.timer"]
    r = tb(env, "list")
    assert "NEXT" in r.stdout and "skipped: ConditionPathExists=/nonexistent-timerbeat" in r.stdout, r.stdout
    r = tb(env, "check")
    assert "never.timer" in r.stderr and "skipped: ConditionPathExists" in r.stderr, r.stderr
    env.systemctl("start", "skipme.service", "quiet.service")
    assert rcv.wait(1)[0].path == f"/skip/{SECRET}"
    env.wait_log("on-skip=ignore, not pinging [quiet.timer]")
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_stale_outbox_entry_dropped(env):
    """An entry whose check is gone is dropped at the next start (one summary line); an entry of
    a check whose URL changed goes to the URL it was built with."""
    port = free_port()
    timer_job(env, "gone")
    timer_job(env, "moved")
    env.daemon_reload()
    env.systemctl("start", "gone.timer", "moved.timer")
    env.write_config(FAST + f"[gone.timer]\nurl = http://127.0.0.1:{port}/gone/{SECRET}\n"
                     f"[moved.timer]\nurl = http://127.0.0.1:{port}/old/{SECRET}\n")
    env.start_daemon()
    env.systemctl("start", "gone.service", "moved.service")
    env.wait_log("failed (Couldn't connect", count=2)
    env.stop_daemon()
    assert len(outbox_entries(env.state_dir())) == 2
    env.write_config(FAST + f"[moved.timer]\nurl = http://127.0.0.1:{port}/new/{SECRET}\n")
    rcv = env.receiver(port)
    env.start_daemon()
    rcv.wait(1)
    env.wait_log("Pinged ")
    time.sleep(1)
    assert [r.path for r in rcv.requests] == [f"/old/{SECRET}"], rcv.requests
    log = env.log()
    assert log.count("Dropped 1 outbox entry of 1 check no longer configured (gone.timer)") == 1, log
    assert outbox_entries(env.state_dir()) == {}


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
