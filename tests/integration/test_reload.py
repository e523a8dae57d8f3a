#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reload with a verdict (issue 13): `systemctl --user reload timerbeat` fails when the new
configuration is refused and the previous one keeps running; `timerbeat list` says which
configuration the daemon runs and when the files on disk differ."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, main  # noqa: E402


def shipped_unit(env):
    """The shipped user unit with this build's binary, its output in timerbeat.log."""
    with open(os.environ["TIMERBEAT_USER_UNIT"]) as f:
        unit = f.read()
    lines = []
    for line in unit.splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={env.binary} --user --log-level=debug run"
        elif line.startswith("ExecReload="):
            line = f"ExecReload={env.binary} --user reload"
        lines.append(line)
    env.write_unit("timerbeat.service", "\n".join(lines) + "\n")
    os.makedirs(f"{env.unit_dir}/timerbeat.service.d")
    env.write_unit("timerbeat.service.d/log.conf",
                   f"[Service]\nStandardOutput=append:{env.dir}/timerbeat.log\nStandardError=inherit\n")


def test_reload_refused_fails(env):
    """A broken drop-in: systemctl --user reload exits non-zero, the unit stays active with the
    same PID, and the previous configuration still pings; fixed, the reload succeeds."""
    rcv = env.receiver()
    shipped_unit(env)
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/old/' + SECRET)}\n")
    env.systemctl("start", "timerbeat.service")
    pid = env.show("timerbeat.service", "MainPID")

    bad = env.write_config(f"[job.service]\nurl = {rcv.url('/new/' + SECRET)}\nretries = lots\n", name="50-bad.conf")
    r = env.systemctl("reload", "timerbeat.service", check=False)
    assert r.returncode != 0, f"systemctl reload succeeded with a refused configuration: {r.stdout}{r.stderr}"
    assert env.show("timerbeat.service", "ActiveState") == "active"
    assert env.show("timerbeat.service", "MainPID") == pid, "the failed reload restarted the daemon"
    env.wait_log(f"{bad}:3: ")                            # the reason, file:line, in the unit's log
    env.wait_log("timerbeat refused the new configuration")
    env.systemctl("start", "job.service")
    assert rcv.wait(1)[0].path == f"/old/{SECRET}", "the previous configuration does not run"

    env.write_config(f"[job.service]\nurl = {rcv.url('/new/' + SECRET)}\n", name="50-bad.conf")
    r = env.systemctl("reload", "timerbeat.service", check=False)
    assert r.returncode == 0, f"systemctl reload failed with a valid configuration: {r.stderr}"
    env.systemctl("start", "job.service")
    assert rcv.wait(2)[1].path == f"/new/{SECRET}"
    assert env.show("timerbeat.service", "MainPID") == pid


def list_json(env):
    r = env.run_tb("--user", "list", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_list_shows_running_config(env):
    """list: the daemon's PID and files; 'new' and 'changed' files on disk until a reload; a
    refused reload (timerbeat reload exits 78 with the error) is shown as such."""
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    main_conf = env.write_config(FAST + f"[job.service]\nurl = {rcv.url()}\n")
    env.start_daemon()

    d = list_json(env)["daemon"]
    assert d["pid"] == env.daemon.pid and d["files"] == [main_conf] and not d["disk_differs"], d
    assert not d["last_reload_refused"], d
    table = env.run_tb("--user", "list").stdout
    assert f"The daemon (PID {env.daemon.pid}) runs the configuration loaded at" in table, table
    assert "the same as on disk" in table, table

    dropin = env.write_config("[other.service]\nurl = https://example.com/x\n", name="10-other.conf")
    with open(main_conf, "a") as f:
        f.write("# changed\n")
    d = list_json(env)["daemon"]
    assert d["disk_differs"] and d["new"] == [dropin] and d["changed"] == [main_conf], d
    table = env.run_tb("--user", "list").stdout
    assert f"the files on disk differ: changed: {main_conf}; new: {dropin};" in table, table

    r = env.run_tb("--user", "reload")
    assert r.returncode == 0 and "Configuration reloaded (2 files)." in r.stdout, (r.returncode, r.stdout, r.stderr)
    d = list_json(env)["daemon"]
    assert not d["disk_differs"] and d["files"] == [main_conf, dropin] and d["reloads"] == 1, d

    env.write_config("[other.service]\nurl = ftp://example.com/x\n", name="10-other.conf")
    r = env.run_tb("--user", "reload")
    assert r.returncode == 78, (r.returncode, r.stdout, r.stderr)
    assert f"{dropin}:2: url= ftp://" in r.stderr and "timerbeat refused the new configuration" in r.stderr, r.stderr
    r = env.run_tb("--user", "list")
    assert r.returncode == 78 and f"{dropin}:2: url= ftp://" in r.stderr, (r.returncode, r.stderr)
    assert f"The daemon (PID {env.daemon.pid}) runs the configuration loaded at" in r.stdout, r.stdout
    assert "the configuration on disk is refused" in r.stdout and "last reload was refused" in r.stdout, r.stdout
    assert env.daemon.poll() is None

    # Fixed on disk, not yet reloaded: list works again and still says the last reload failed.
    env.write_config("[other.service]\nurl = https://example.com/y\n", name="10-other.conf")
    d = list_json(env)["daemon"]
    assert d["last_reload_refused"] and d["changed"] == [dropin] and d["reloads"] == 2, d
    assert any(e.startswith(f"{dropin}:2:") for e in d["last_reload_errors"]), d


def test_hostname_fallback(env):
    """No systemd-hostnamed here (no system bus): {hostname} is gethostname(), in the daemon's
    ping and in ping --dry-run alike."""
    import socket
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/h/' + SECRET)}?host={{hostname}}\n")
    env.start_daemon()
    env.systemctl("start", "job.service")
    sent = rcv.wait(1)[0].path
    assert sent == f"/h/{SECRET}?host={socket.gethostname()}", sent
    r = env.run_tb("--user", "ping", "job.service", "--dry-run", "--show-secrets")
    assert r.returncode == 0 and r.stdout.splitlines()[0].endswith(sent), (r.stdout, r.stderr)


def test_reload_without_daemon(env):
    """timerbeat reload with no daemon: a clear error, not a hang."""
    env.write_config(FAST)
    r = env.run_tb("--user", "reload")
    assert r.returncode == 1 and "The timerbeat daemon is not running" in r.stderr, (r.returncode, r.stderr)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
