# SPDX-License-Identifier: LGPL-2.1-or-later
"""The run history (src/history.c) against a real user manager that logs into a journald of
the test's own, as user@.service does: tests/unit/history-dump prints the records it reads
from the journal since its saved state, one line each."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SECRET, main  # noqa: E402

DUMP = os.environ.get("HISTORY_DUMP", "")
FAILURE_RESULT = "d9b373ed55a64feb8242e02dbe79a49c"
SUCCESS = "7ad2d189f7e94e70a38c781354912448"
PROCESS_EXIT = "98e322203f7a4ed290d09fe03c09fe15"


class Record:
    def __init__(self, line):
        f = line.split()
        self.unit, self.inv, self.result = f[1], f[2], f[3]
        self.code, self.status, self.stop, self.own = int(f[4]), int(f[5]), f[6] == "1", f[7]
        self.start, self.end = int(f[8]), int(f[9])

    def __repr__(self):
        return f"<{self.unit} {self.inv} {self.result} {self.code}/{self.status} stop={self.stop} own={self.own}>"


def dump(env, state=None, pin_pid=True):
    """Runs history-dump once (trusting the user manager of uid 0, by its PID too unless
    pin_pid is false); returns (records, other lines)."""
    state = state or f"{env.dir}/history-state"
    os.makedirs(state, exist_ok=True)
    r = subprocess.run([DUMP, state, "--user", "0"] + ([str(env.systemd.pid)] if pin_pid else []),
                       capture_output=True, text=True)
    assert r.returncode == 0, f"history-dump failed: {r.stdout}{r.stderr}"
    lines = r.stdout.splitlines()
    return [Record(x) for x in lines if x.startswith("record ")], [x for x in lines if not x.startswith("record ")]


def wait_journal(env, *matches, count=1):
    """Waits until journald has written count entries matching all of matches."""
    def n():
        r = subprocess.run(["journalctl", "--no-pager", "-o", "cat"] + list(matches), capture_output=True, text=True)
        return len([x for x in r.stdout.splitlines() if x.strip()])
    env._wait_for(lambda: n() >= count, 10, f"{matches} in the journal")


def inv_of(env, unit):
    return env.show(unit, "InvocationID")


def started_invs(unit):
    """The InvocationIDs of unit's runs, oldest first, from the manager's "Starting" messages
    (systemd unloads a unit that ended well and nothing references: show has none then)."""
    import json
    r = subprocess.run(["journalctl", "--no-pager", "-o", "json", f"USER_UNIT={unit}",
                        "MESSAGE_ID=7d4958e842da4a758f6c1cdc7b36dcc5"], capture_output=True, text=True)
    return [json.loads(x)["USER_INVOCATION_ID"] for x in r.stdout.splitlines() if x.strip()]


def wait_state(env, unit, states):
    env._wait_for(lambda: env.show(unit, "ActiveState") in states, 10, f"{unit} in {states}")


def run_oneshot(env, unit):
    """Runs unit to its end; returns its InvocationID."""
    before = len(started_invs(unit))
    env.systemctl("start", unit, check=False)
    env._wait_for(lambda: len(started_invs(unit)) > before, 10, f"{unit}'s start in the journal")
    return started_invs(unit)[-1]


def test_three_runs(env):
    """ok, exit 3, ok → three records in order, each with its own InvocationID and exit code; read
    again → nothing (each once); one more run → only that one."""
    counter = f"{env.dir}/counter"
    with open(counter, "w") as f:
        f.write("0")
    env.oneshot("job.service", f"/bin/sh -c 'n=$(cat {counter}); echo $((n+1)) > {counter}; "
                               f"test $n = 1 && exit 3; exit 0'")
    env.daemon_reload()
    invs = [run_oneshot(env, "job.service") for _ in range(3)]
    assert len(set(invs)) == 3, invs
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={invs[2]}")
    recs, other = dump(env)
    recs = [r for r in recs if r.unit == "job.service"]
    assert [r.inv for r in recs] == invs, (recs, invs)
    assert [(r.result, r.code, r.status) for r in recs] == [("success", 0, -1), ("exit-code", 1, 3),
                                                           ("success", 0, -1)], recs
    assert all(r.own == "yes" and not r.stop for r in recs), recs
    assert all(r.start <= r.end for r in recs) and recs[0].end <= recs[1].end <= recs[2].end, recs
    assert other == [], other

    recs, _ = dump(env)
    assert [r for r in recs if r.unit == "job.service"] == [], recs

    inv4 = run_oneshot(env, "job.service")
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={inv4}")
    recs, _ = dump(env)
    assert [(r.inv, r.result) for r in recs if r.unit == "job.service"] == [(inv4, "success")], recs


test_three_runs.journald = True
test_three_runs.manager_log_journal = True


def test_sigkill_then_reset_failed(env):
    """A SIGKILLed run is killed/9, and `reset-failed` (after which systemd says Result=success)
    changes nothing in what the journal says."""
    env.oneshot("job.service", "/bin/sleep 30")
    env.daemon_reload()
    env.systemctl("start", "--no-block", "job.service")
    wait_state(env, "job.service", ("activating",))
    inv = inv_of(env, "job.service")
    env.systemctl("kill", "-s", "KILL", "job.service")
    wait_state(env, "job.service", ("failed",))
    env.systemctl("reset-failed")
    assert env.show("job.service", "Result") == "success"
    wait_journal(env, f"MESSAGE_ID={FAILURE_RESULT}", f"USER_INVOCATION_ID={inv}")
    recs, _ = dump(env)
    recs = [r for r in recs if r.unit == "job.service"]
    assert [(r.inv, r.result, r.code, r.status, r.own) for r in recs] == [(inv, "signal", 2, 9, "no")], recs


test_sigkill_then_reset_failed.journald = True
test_sigkill_then_reset_failed.manager_log_journal = True


def test_simple_stopped_mid_run(env):
    """A Type=simple job stopped with `systemctl stop` ends with Result=success; the record says
    a stop job ended it, not the job itself."""
    env.write_unit("job.service", "[Service]\nType=simple\nExecStart=/bin/sleep 30\n")
    env.daemon_reload()
    env.systemctl("start", "job.service")
    inv = inv_of(env, "job.service")
    time.sleep(0.2)
    env.systemctl("stop", "job.service")
    assert env.show("job.service", "Result") == "success"
    wait_journal(env, "MESSAGE_ID=9d1aaa27d60140bd96365438aad20286", f"USER_INVOCATION_ID={inv}")
    recs, _ = dump(env)
    recs = [r for r in recs if r.unit == "job.service"]
    assert len(recs) == 1 and recs[0].inv == inv and recs[0].stop and recs[0].own == "no", recs
    assert recs[0].result == "success", recs


test_simple_stopped_mid_run.journald = True
test_simple_stopped_mid_run.manager_log_journal = True


def test_forged_entries(env):
    """Run messages written by anyone but the manager — logger --journald and systemd-cat from
    the test (same uid, in the manager's init.scope) and from a process of a user unit — make no
    record; a genuine run after them does."""
    fake = "0123456789abcdef0123456789abcdef"
    fields = [f"MESSAGE_ID={FAILURE_RESULT}", "USER_UNIT=victim.service", f"USER_INVOCATION_ID={fake}",
              "UNIT_RESULT=exit-code", "MESSAGE=victim.service: Failed with result 'exit-code'."]
    ok_fields = [f"MESSAGE_ID={SUCCESS}", "USER_UNIT=victim.service", f"USER_INVOCATION_ID={fake[::-1]}",
                 "MESSAGE=victim.service: Deactivated successfully."]
    for fs in (fields, ok_fields):
        subprocess.run(["logger", "--journald"], input="\n".join(fs) + "\n", text=True, check=True)
    subprocess.run(["systemd-cat", "-t", "systemd", "echo", "\n".join(fields)], check=True)
    # From inside a user unit, which shares the manager's uid and _SYSTEMD_UNIT=user@0.service.
    script = f"{env.dir}/forge.sh"
    with open(script, "w") as f:
        f.write("#!/bin/sh\nprintf '%s\\n' " + " ".join(f"'{x}'" for x in ok_fields) + " | logger --journald\n"
                "sleep 0.5\n")
    os.chmod(script, 0o755)
    env.oneshot("forger.service", script)
    env.oneshot("after.service", "/bin/true")
    env.daemon_reload()
    env.systemctl("start", "forger.service")
    wait_journal(env, "USER_UNIT=victim.service", count=3)
    inv = run_oneshot(env, "after.service")
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={inv}")
    # The test itself sits in the manager's init.scope (systemd --user moved it there at start),
    # with its uid: only the manager's PID tells the two apart. Without it, nothing is trusted.
    recs, _ = dump(env)
    assert [r for r in recs if r.unit == "victim.service" or r.inv in (fake, fake[::-1])] == [], recs
    assert [r.inv for r in recs if r.unit == "after.service"] == [inv], recs
    recs, _ = dump(env, f"{env.dir}/state-nopid", pin_pid=False)
    assert recs == [], recs


test_forged_entries.journald = True
test_forged_entries.manager_log_journal = True


def test_unloaded_service(env):
    """A service without a timer that systemd unloads when its run ends (a transient one, and
    one whose unit file is gone) is still recorded."""
    env.oneshot("gone.service", "/bin/sh -c 'exit 5'")
    env.daemon_reload()
    inv = run_oneshot(env, "gone.service")
    os.unlink(f"{env.unit_dir}/gone.service")
    env.systemctl("reset-failed")
    env.daemon_reload()
    assert env.show("gone.service", "LoadState") == "not-found"
    subprocess.run(["systemd-run", "--user", "--quiet", "--unit=transient-job", "--collect", "--wait", "/bin/sh", "-c",
                    "exit 6"], env=env.env, capture_output=True)
    assert env.show("transient-job.service", "LoadState") == "not-found"
    wait_journal(env, f"MESSAGE_ID={FAILURE_RESULT}", "USER_UNIT=transient-job.service")
    recs, _ = dump(env)
    got = {r.unit: (r.inv, r.result, r.code, r.status) for r in recs}
    assert got.get("gone.service") == (inv, "exit-code", 1, 5), recs
    assert got.get("transient-job.service", (None,))[1:] == ("exit-code", 1, 6), recs


test_unloaded_service.journald = True
test_unloaded_service.manager_log_journal = True


def test_corrupt_state(env):
    """A corrupt state file is reported (the caller logs it) and reading starts over; the file
    is then replaced by a good one."""
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    inv = run_oneshot(env, "job.service")
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={inv}")
    state = f"{env.dir}/history-state"
    os.makedirs(state)
    with open(f"{state}/history", "w") as f:
        f.write("timerbeat-history 1\ncursor s=1;i=2\nopen garbage\n")
    recs, other = dump(env)
    assert other == ["state corrupt"], other
    assert [r.inv for r in recs if r.unit == "job.service"] == [inv], recs
    recs, other = dump(env)
    assert other == [] and recs == [], (recs, other)


test_corrupt_state.journald = True
test_corrupt_state.manager_log_journal = True


# --- the daemon's catch-up from the journal ------------------------------------------------

QUIET = 0.6
CATCHUP_DONE = "Journal catch-up done"


def hc_daemon(env, rcv, unit="job.service", keys="failure = yes\n"):
    """timerbeat with a healthchecks check for unit; returns once its first catch-up is done."""
    from harness import FAST, SECRET
    n = env.log().count(CATCHUP_DONE)
    env.write_config(FAST + f"[{unit}]\npreset = healthchecks\nurl = {rcv.url('/p/' + SECRET)}\n{keys}")
    env.start_daemon()
    env.wait_log(CATCHUP_DONE, count=n + 1)


def hc_paths(invs_codes):
    """The healthchecks paths for [(InvocationID, exit code or None for success)]."""
    from harness import SECRET

    def rid(h):
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return [f"/p/{SECRET}{'' if c is None else '/' + str(c)}?rid={rid(i)}" for i, c in invs_codes]


def counter_job(env, codes):
    """job.service exits with codes[n] on its n-th run."""
    counter = f"{env.dir}/counter"
    with open(counter, "w") as f:
        f.write("0")
    case = " ".join(f"{i}) exit {c};;" for i, c in enumerate(codes))
    env.oneshot("job.service", f"/bin/sh -c 'n=$(cat {counter}); echo $((n+1)) > {counter}; "
                               f"case $n in {case} esac'")
    env.daemon_reload()


def test_catchup_three_runs(env):
    """ok, exit 3, ok while timerbeat is stopped → three requests in order, each with its own
    run id, /3 for the failure; a restart after that sends nothing more."""
    rcv = env.receiver()
    counter_job(env, [0, 3, 0])
    hc_daemon(env, rcv)
    env.stop_daemon()
    invs = [run_oneshot(env, "job.service") for _ in range(3)]
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={invs[2]}")
    hc_daemon(env, rcv)
    rcv.wait(3)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(invs[0], None), (invs[1], 3), (invs[2], None)]), \
        rcv.requests
    env.stop_daemon()
    hc_daemon(env, rcv)
    time.sleep(QUIET)
    assert rcv.count() == 3, rcv.requests


test_catchup_three_runs.journald = True
test_catchup_three_runs.manager_log_journal = True


def failed_and_killed_then_reset(env, rcv, keys):
    """A failed run (exit 1) and a SIGKILLed one while stopped, then reset-failed (systemd says
    Result=success now), then start; returns the two InvocationIDs."""
    counter = f"{env.dir}/counter"
    with open(counter, "w") as f:
        f.write("0")
    env.oneshot("job.service", f"/bin/sh -c 'n=$(cat {counter}); echo $((n+1)) > {counter}; "
                               "test $n = 0 && exit 1; exec sleep 30'")
    env.daemon_reload()
    hc_daemon(env, rcv, keys=keys)
    env.stop_daemon()
    inv1 = run_oneshot(env, "job.service")
    env.systemctl("start", "--no-block", "job.service")
    wait_state(env, "job.service", ("activating",))
    inv2 = inv_of(env, "job.service")
    env.systemctl("kill", "-s", "KILL", "job.service")
    wait_state(env, "job.service", ("failed",))
    env.systemctl("reset-failed")
    assert env.show("job.service", "Result") == "success"
    wait_journal(env, f"MESSAGE_ID={FAILURE_RESULT}", f"USER_INVOCATION_ID={inv2}")
    hc_daemon(env, rcv, keys=keys)
    return inv1, inv2


def test_catchup_reset_failed_no_success(env):
    """Failed + SIGKILLed while stopped, reset-failed, start: no success."""
    rcv = env.receiver()
    failed_and_killed_then_reset(env, rcv, "")
    time.sleep(QUIET)
    assert rcv.count() == 0, rcv.requests


test_catchup_reset_failed_no_success.journald = True
test_catchup_reset_failed_no_success.manager_log_journal = True


def test_catchup_reset_failed_failures(env):
    """The same with failure = yes: /1 and /137, once each, in order; nothing more on restart."""
    rcv = env.receiver()
    inv1, inv2 = failed_and_killed_then_reset(env, rcv, "failure = yes\n")
    rcv.wait(2)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(inv1, 1), (inv2, 137)]), rcv.requests
    env.stop_daemon()
    hc_daemon(env, rcv, keys="failure = yes\n")
    time.sleep(QUIET)
    assert rcv.count() == 2, rcv.requests


test_catchup_reset_failed_failures.journald = True
test_catchup_reset_failed_failures.manager_log_journal = True


def test_catchup_live_then_restart(env):
    """Runs reported live are not sent again by the journal's catch-up at the next start."""
    rcv = env.receiver()
    counter_job(env, [0, 4])
    hc_daemon(env, rcv)
    invs = [run_oneshot(env, "job.service") for _ in range(2)]
    rcv.wait(2)
    wait_journal(env, f"MESSAGE_ID={FAILURE_RESULT}", f"USER_INVOCATION_ID={invs[1]}")
    env.stop_daemon()
    hc_daemon(env, rcv)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(invs[0], None), (invs[1], 4)]), rcv.requests


test_catchup_live_then_restart.journald = True
test_catchup_live_then_restart.manager_log_journal = True


def test_catchup_corrupt_state(env):
    """A corrupt STATE/history is logged; the journal of the last max-age is read instead, and
    the runs reported before are not sent again: only the one that ended while stopped."""
    rcv = env.receiver()
    counter_job(env, [0, 0, 5])
    hc_daemon(env, rcv)
    invs = [run_oneshot(env, "job.service") for _ in range(2)]
    rcv.wait(2)
    env.stop_daemon()
    invs.append(run_oneshot(env, "job.service"))
    wait_journal(env, f"MESSAGE_ID={FAILURE_RESULT}", f"USER_INVOCATION_ID={invs[2]}")
    with open(f"{env.state_dir()}/history", "w") as f:
        f.write("timerbeat-history 1\ncursor s=1;i=2\nopen garbage\n")
    hc_daemon(env, rcv)
    assert "history: cannot use the saved journal position" in env.log(), env.log()[-2000:]
    rcv.wait(3)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(invs[0], None), (invs[1], None), (invs[2], 5)]), \
        rcv.requests
    with open(f"{env.state_dir()}/history") as f:
        assert "garbage" not in f.read()


test_catchup_corrupt_state.journald = True
test_catchup_corrupt_state.manager_log_journal = True


def test_catchup_timerless_service(env):
    """A service without a timer that ran (and was unloaded by systemd) while timerbeat was
    stopped is reported once, with its run id."""
    rcv = env.receiver()
    env.oneshot("lone.service", "/bin/true")
    env.daemon_reload()
    hc_daemon(env, rcv, unit="lone.service")
    env.stop_daemon()
    inv = run_oneshot(env, "lone.service")
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={inv}")
    env._wait_for(lambda: env.show("lone.service", "InvocationID") == "", 10, "lone.service unloaded")
    hc_daemon(env, rcv, unit="lone.service")
    rcv.wait(1)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(inv, None)]), rcv.requests


test_catchup_timerless_service.journald = True
test_catchup_timerless_service.manager_log_journal = True


def test_first_start_window(env):
    """First start (no saved journal position, no run records). READY=1 comes before the units
    are read; a service without a timer that runs in between is unloaded by systemd before it
    is read (its state then shows no run), and the journal, read from the daemon's start (not
    from its first catch-up), still tells it: reported once. Its run before the start is not.
    The daemon is stopped right after READY=1 to hold that window open; the service is the
    last of 300 to be read."""
    import signal
    from harness import FAST
    rcv = env.receiver()
    n = 300
    for i in range(n):
        env.oneshot(f"fw{i:03d}.service", "/bin/true")
    env.oneshot("lone.service", "/bin/true")
    env.daemon_reload()
    unloaded = (lambda: env.show("lone.service", "InvocationID") == "", 10, "lone.service unloaded")
    run_oneshot(env, "lone.service")                     # before the daemon: not reported
    env._wait_for(*unloaded)
    time.sleep(0.1)
    env.write_config(FAST + "".join(f"[fw{i:03d}.service]\nurl = {rcv.url('/fw')}\n" for i in range(n))
                     + f"[lone.service]\npreset = healthchecks\nurl = {rcv.url('/p/' + SECRET)}\n")
    env.start_daemon(wait_ready=False)
    env.wait_notify("READY=1", timeout=30)
    env.daemon.send_signal(signal.SIGSTOP)
    inv = run_oneshot(env, "lone.service")
    wait_journal(env, "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", f"USER_INVOCATION_ID={inv}")
    env._wait_for(*unloaded)
    assert not any("STATUS=Watching" in m for m in env.drain_notify()), \
        "the daemon had read every unit before it was stopped: the test proves nothing"
    env.daemon.send_signal(signal.SIGCONT)
    env.wait_settled(timeout=60)
    env.wait_log(CATCHUP_DONE)
    rcv.wait(1)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(inv, None)]), rcv.requests


test_first_start_window.journald = True
test_first_start_window.manager_log_journal = True


def test_catchup_no_journal(env):
    """No journal at all: said once, with why; the last run is caught up from systemd's state
    (a failure, exit 2), the one before it is not guessed."""
    rcv = env.receiver()
    counter_job(env, [0, 2])
    hc_daemon(env, rcv)
    env.stop_daemon()
    env.systemctl("start", "job.service")
    env.systemctl("start", "job.service", check=False)
    wait_state(env, "job.service", ("failed",))
    inv = inv_of(env, "job.service")
    hc_daemon(env, rcv)
    rcv.wait(1)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == hc_paths([(inv, 2)]), rcv.requests
    assert env.log().count("No journal file can be read") == 2, env.log()   # once per start


# No journald at all, and dbus-broker-launch logs only into one: on dbus-daemon in either bus mode.
test_catchup_no_journal.bus = "daemon"


def test_catchup_forged(env):
    """Run messages forged by an ordinary process (logger, systemd-cat) while timerbeat is
    stopped cause no request at its next start."""
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    hc_daemon(env, rcv)
    env.stop_daemon()
    fake = "0123456789abcdef0123456789abcdef"
    for mid, extra in ((FAILURE_RESULT, ["UNIT_RESULT=exit-code"]),
                       ("39f53479d3a045ac8e11786248231fbf", ["JOB_TYPE=start", "JOB_RESULT=done"])):
        fields = [f"MESSAGE_ID={mid}", "USER_UNIT=job.service", f"USER_INVOCATION_ID={fake}",
                  "MESSAGE=Finished job.service."] + extra
        subprocess.run(["logger", "--journald"], input="\n".join(fields) + "\n", text=True, check=True)
        subprocess.run(["systemd-cat", "-t", "systemd", "echo", "\n".join(fields)], check=True)
    wait_journal(env, "USER_UNIT=job.service", f"USER_INVOCATION_ID={fake}", count=2)
    hc_daemon(env, rcv)
    time.sleep(QUIET)
    assert rcv.count() == 0, rcv.requests


test_catchup_forged.journald = True
test_catchup_forged.manager_log_journal = True


if __name__ == "__main__":
    main({name[5:]: fn for name, fn in globals().items() if name.startswith("test_") and callable(fn)})
