#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Core behaviour against a real systemd user manager and a loopback receiver.
Run one test: test_core.py NAME (meson test runs each as its own test)."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, SLOWDOWN, free_port, main  # noqa: E402


QUIET = 0.5  # how long we watch for requests that must not come


def setup_job(env, cmd="/bin/true", extra="", section="job.timer", url=None, keys=""):
    """job.timer → job.service running cmd; config section for it; daemon started."""
    rcv = env.receiver()
    env.oneshot("job.service", cmd, extra)
    env.timer("job.timer", "OnActiveSec=50ms")
    env.daemon_reload()
    env.write_config(FAST + f"[{section}]\nurl = {url or rcv.url()}\n{keys}")
    env.start_daemon()
    return rcv


def fire_timer(env):
    """Starts job.timer, which runs job.service once 50ms later."""
    env.systemctl("start", "job.timer")


def expect_no_ping(env, rcv, result):
    env.wait_log(f"ended with result '{result}'")
    time.sleep(QUIET)
    assert rcv.count() == 0, f"pinged on a failed run: {rcv.requests}"


def test_success_one_ping(env):
    rcv = setup_job(env)
    fire_timer(env)
    reqs = rcv.wait(1)
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests
    r = reqs[0]
    assert r.method == "GET" and r.path == f"/ping/{SECRET}", r
    assert r.headers["user-agent"].startswith("timerbeat/"), r.headers
    assert "origin" not in r.headers
    inv = env.show("job.service", "InvocationID")
    assert inv and f"Run {inv} of job.service succeeded" in env.log(), env.log()


def test_exit_code_no_ping(env):
    rcv = setup_job(env, cmd="/bin/sh -c 'exit 3'")
    fire_timer(env)
    expect_no_ping(env, rcv, "exit-code")
    assert "status 3" in env.log()


def test_signal_no_ping(env):
    rcv = setup_job(env, cmd="/bin/sh -c 'kill -KILL $$$$'")
    fire_timer(env)
    expect_no_ping(env, rcv, "signal")
    assert "(killed, status 9)" in env.log(), env.log()


def simple_job(env, extra="", keys=""):
    """A Type=simple job.service that runs until stopped, monitored directly; started."""
    rcv = env.receiver()
    env.write_unit("job.service", f"[Service]\nType=simple\nExecStart=/bin/sleep 30\n{extra}")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url()}\n{keys}")
    env.start_daemon()
    env.systemctl("start", "job.service")
    env._wait_for(lambda: env.show("job.service", "SubState") == "running", 10, "job.service running")
    time.sleep(0.1)
    return rcv


def test_simple_stopped_no_ping(env):
    """systemctl stop of a Type=simple job mid-run: systemd says Result=success, but the main
    process was killed by SIGTERM: a failure, never a success."""
    rcv = simple_job(env)
    env.systemctl("stop", "job.service")
    assert env.show("job.service", "Result") == "success"
    expect_no_ping(env, rcv, "signal")
    assert "(killed, status 15)" in env.log(), env.log()


def test_simple_sigterm_no_ping(env):
    """kill -TERM of its main PID from outside: the same."""
    rcv = simple_job(env)
    os.kill(int(env.show("job.service", "MainPID")), signal.SIGTERM)
    expect_no_ping(env, rcv, "signal")


def test_simple_sigterm_listed_pings(env):
    """SuccessExitStatus=SIGTERM: the unit counts that signal as a clean end, and so do we."""
    rcv = simple_job(env, extra="SuccessExitStatus=SIGTERM\n")
    os.kill(int(env.show("job.service", "MainPID")), signal.SIGTERM)
    rcv.wait(1)
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_timeout_no_ping(env):
    rcv = setup_job(env, cmd="/bin/sleep 10", extra="TimeoutStartSec=300ms\n")
    fire_timer(env)
    expect_no_ping(env, rcv, "timeout")


def test_start_limit_no_ping(env):
    # An active timer references job.service, so systemd keeps it (and its start counter) loaded.
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true", "[Unit]\nStartLimitBurst=1\nStartLimitIntervalSec=1h\n")
    env.timer("job.timer", "OnActiveSec=1h")
    env.daemon_reload()
    env.systemctl("start", "job.timer")
    env.write_config(FAST + f"[job.timer]\nurl = {rcv.url()}\n")
    env.start_daemon()
    env.systemctl("start", "job.service")
    rcv.wait(1)
    env.systemctl("start", "job.service", check=False)
    assert env.show("job.service", "Result") == "start-limit-hit"
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_remain_after_exit(env):
    rcv = setup_job(env, extra="RemainAfterExit=yes\n", section="job.service")
    env.systemctl("start", "job.service")
    rcv.wait(1)
    assert env.show("job.service", "SubState") == "exited"
    env.systemctl("stop", "job.service")           # the end of the "active" state is no new run
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests
    env.systemctl("start", "job.service")
    rcv.wait(2)
    env.systemctl("stop", "job.service")
    time.sleep(QUIET)
    assert rcv.count() == 2, rcv.requests


def test_three_runs_three_pings(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.timer("job.timer", "OnActiveSec=50ms\nOnUnitInactiveSec=250ms")
    env.daemon_reload()
    env.write_config(FAST + f"[job.timer]\nurl = {rcv.url()}\n")
    env.start_daemon()
    env.systemctl("start", "job.timer")
    rcv.wait(3, timeout=15)
    env.systemctl("stop", "job.timer")
    time.sleep(QUIET)
    n = rcv.count()
    # The timer goes on firing while the pings travel (under valgrind on a busy machine, a few
    # more times): what matters is one ping per run, each run once.
    assert n >= 3, rcv.requests
    runs = [line for line in env.log().splitlines() if "succeeded; pinging" in line]
    assert len(runs) == n and len({line.split()[2] for line in runs}) == n, runs


def test_two_timers_one_service(env):
    """Issue 12: two timers start one service; each check hears only the runs its own timer
    started. systemd keeps a unit's first ActivationDetails, so after the first run timerbeat
    asks the timers (LastTriggerUSec). A run started by hand is neither timer's: it goes to a
    section for the service itself once there is one."""
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.timer("daily.timer", "OnActiveSec=50ms\nUnit=job.service")
    env.timer("weekly.timer", "OnActiveSec=50ms\nUnit=job.service")
    env.daemon_reload()
    env.write_config(FAST + f"[daily.timer]\nurl = {rcv.url('/daily/' + SECRET)}\n"
                     f"[weekly.timer]\nurl = {rcv.url('/weekly/' + SECRET)}\n")
    env.start_daemon()

    def paths():
        return [r.path.split("/")[1] for r in rcv.requests]

    def settle(n):
        rcv.wait(n)
        time.sleep(QUIET)

    env.systemctl("start", "daily.timer")
    settle(1)
    assert paths() == ["daily"], rcv.requests
    env.systemctl("start", "job.service")  # by hand: systemd still shows daily.timer's details
    env.wait_log("hears only the runs its own timer starts")
    time.sleep(QUIET)
    assert paths() == ["daily"], rcv.requests
    env.systemctl("start", "weekly.timer")
    settle(2)
    assert paths() == ["daily", "weekly"], rcv.requests
    env.systemctl("restart", "daily.timer")  # elapsed already: restarted, it fires again
    settle(3)
    assert paths() == ["daily", "weekly", "daily"], rcv.requests
    env.write_config(f"[job.service]\nurl = {rcv.url('/service/' + SECRET)}\n", name="50-service.conf")
    env.reload_daemon()
    env.systemctl("start", "job.service")
    settle(4)
    assert paths() == ["daily", "weekly", "daily", "service"], rcv.requests


def test_unconfigured_service_no_ping(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.oneshot("other.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url()}\n")
    env.start_daemon()
    env.systemctl("start", "other.service")
    time.sleep(QUIET)
    assert rcv.count() == 0, rcv.requests
    assert "other.service" not in env.log()        # not even woken for it
    env.systemctl("start", "job.service")
    rcv.wait(1)
    time.sleep(QUIET)
    assert rcv.count() == 1


def test_retry_500_then_200(env):
    rcv = setup_job(env)
    rcv.script = [500, 500, 200]
    fire_timer(env)
    rcv.wait(3)
    env.wait_log("Pinged ")
    time.sleep(QUIET)
    assert rcv.count() == 3, rcv.requests
    assert env.log().count("failed (HTTP 500)") == 2


def test_retry_429_retry_after(env):
    rcv = setup_job(env)
    rcv.script = [("retry-after", 1, 429), 200]
    fire_timer(env)
    reqs = rcv.wait(2)
    gap = reqs[1].when - reqs[0].when
    assert gap >= 0.95, f"Retry-After: 1 not honoured, retried after {gap:.3f}s"


def test_unreachable_then_up(env):
    port = free_port()
    setup_job(env, url=f"http://127.0.0.1:{port}/ping/{SECRET}")
    fire_timer(env)
    env.wait_log("failed (Couldn't connect", count=2)
    rcv = env.receiver(port)
    rcv.wait(1, timeout=5)
    env.wait_log("Pinged ")
    time.sleep(QUIET)
    assert rcv.count() == 1


def test_404_not_retried(env):
    rcv = setup_job(env)
    rcv.script = [404]
    fire_timer(env)
    rcv.wait(1)
    env.wait_log("answered HTTP 404; not retrying")
    time.sleep(QUIET * 2)
    assert rcv.count() == 1, rcv.requests


def test_timeout_then_retry(env):
    rcv = setup_job(env)
    rcv.script = [("sleep", 4, 200), 200]
    fire_timer(env)
    reqs = rcv.wait(2, timeout=10)
    env.wait_log("Pinged ")
    assert "Timeout was reached" in env.log(), env.log()
    assert reqs[1].when - reqs[0].when >= 1.9


def test_post_method(env):
    rcv = setup_job(env, keys="method = POST\n")
    fire_timer(env)
    r = rcv.wait(1)[0]
    assert r.method == "POST" and r.body == b"", r


def test_headers(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.oneshot("two.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + "user-agent = acme-monitor/2\nsource = host-a\n"
                     f"[job.service]\nurl = {rcv.url('/a/' + SECRET)}\n"
                     f"[two.service]\nurl = {rcv.url('/b/' + SECRET)}\nsource = Checkly-Source\n")
    env.start_daemon()
    env.systemctl("start", "job.service")
    env.systemctl("start", "two.service")
    reqs = sorted(rcv.wait(2), key=lambda r: r.path)
    assert reqs[0].headers["user-agent"] == "acme-monitor/2"
    assert reqs[0].headers["origin"] == "host-a"
    assert reqs[1].headers["origin"] == "Checkly-Source"


def test_sighup_new_section(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.oneshot("new.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/job/' + SECRET)}\n")
    env.start_daemon()
    env.systemctl("start", "new.service")
    time.sleep(QUIET)
    assert rcv.count() == 0
    env.write_config(f"[new.service]\nurl = {rcv.url('/new/' + SECRET)}\n", name="50-new.conf")
    env.reload_daemon()
    env.systemctl("start", "new.service")
    assert rcv.wait(1)[0].path == f"/new/{SECRET}"


def test_sighup_broken_keeps_old(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    path = env.write_config(FAST + f"[job.service]\nurl = {rcv.url()}\n")
    env.start_daemon()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/new/' + SECRET)}\nmethod = DELETE\n")
    env.reload_daemon()
    assert f"{path}:8: method= 'DELETE' is not supported" in env.log(), env.log()
    assert "previous configuration stays in effect" in env.log()
    env.systemctl("start", "job.service")
    r = rcv.wait(1)[0]
    assert r.path == f"/ping/{SECRET}" and r.method == "GET", r


def test_daemon_reload_follows_unit(env):
    rcv = env.receiver()
    env.oneshot("a.service", "/bin/true")
    env.oneshot("b.service", "/bin/true")
    env.timer("job.timer", "OnActiveSec=1h\nUnit=a.service")
    env.daemon_reload()
    env.systemctl("start", "job.timer")
    env.write_config(FAST + f"[job.timer]\nurl = {rcv.url()}\n")
    env.start_daemon()
    env.systemctl("start", "a.service")
    rcv.wait(1)
    env.timer("job.timer", "OnActiveSec=1h\nUnit=b.service")
    env.daemon_reload()
    env.wait_log("[job.timer] now triggers b.service (was a.service)")
    env.systemctl("start", "a.service")
    time.sleep(QUIET)
    assert rcv.count() == 1, "still watching the old service"
    env.systemctl("start", "b.service")
    rcv.wait(2)


def test_timer_created_later(env):
    rcv = env.receiver()
    env.write_config(FAST + f"[late.timer]\nurl = {rcv.url()}\n")
    env.start_daemon()
    assert "late.timer does not exist" in env.log() or "triggers nothing" in env.log(), env.log()
    env.oneshot("late.service", "/bin/true")
    env.timer("late.timer", "OnActiveSec=50ms")
    env.daemon_reload()
    env.wait_log("watches late.service")
    env.systemctl("start", "late.timer")
    rcv.wait(1)


def test_sigterm_clean_exit(env):
    setup_job(env)
    env.daemon.send_signal(signal.SIGTERM)
    env.wait_notify("STOPPING=1")
    assert env.daemon.wait(5 * SLOWDOWN) == 0
    assert "Received SIGTERM, stopping." in env.log()


def test_sigterm_grace_for_inflight(env):
    rcv = setup_job(env)
    rcv.script = [("sleep", 1, 200)]
    fire_timer(env)
    rcv.wait(1)
    env.daemon.send_signal(signal.SIGTERM)
    assert env.daemon.wait(5 * SLOWDOWN) == 0
    assert "Pinged " in env.log(), "the in-flight ping was cut off"


def test_bad_config_at_start(env):
    path = env.write_config("[job.timer]\nurl = ftp://example.com/x\n")
    env.start_daemon(wait_ready=False)
    assert env.daemon.wait(5 * SLOWDOWN) == 78
    assert f"{path}:2: url= ftp://example.com/…: only http:// and https:// URLs are allowed" in env.log(), env.log()


def test_dropin_overrides_main(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/main/' + SECRET)}\n")
    env.write_config(f"[job.service]\nurl = {rcv.url('/dropin/' + SECRET)}\nmethod = POST\n", name="10-a.conf")
    rundir = f"{env.env['XDG_RUNTIME_DIR']}/timerbeat/conf.d"
    os.makedirs(rundir)
    # Same name in the runtime dir: masked by the one in the config dir.
    with open(f"{rundir}/10-a.conf", "w") as f:
        f.write("[job.service]\nmethod = GET\n")
    env.start_daemon()
    env.systemctl("start", "job.service")
    r = rcv.wait(1)[0]
    assert r.path == f"/dropin/{SECRET}" and r.method == "POST", r


def test_user_unit(env):
    """The shipped user unit runs the daemon under the user manager: Type=notify start,
    reload, ping, stop."""
    rcv = env.receiver()
    with open(os.environ["TIMERBEAT_USER_UNIT"]) as f:
        unit = f.read()
    lines = [f"ExecStart={env.binary} --user --log-level=debug run" if line.startswith("ExecStart=") else
             f"ExecReload={env.binary} --user reload" if line.startswith("ExecReload=") else line
             for line in unit.splitlines()]
    env.write_unit("timerbeat.service", "\n".join(lines) + "\n")
    os.makedirs(f"{env.unit_dir}/timerbeat.service.d")
    env.write_unit("timerbeat.service.d/log.conf",
                   f"[Service]\nStandardOutput=append:{env.dir}/timerbeat.log\nStandardError=inherit\n")
    env.oneshot("job.service", "/bin/true")
    env.oneshot("two.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url('/job/' + SECRET)}\n")
    env.systemctl("start", "timerbeat.service")          # returns once READY=1 arrived
    assert env.show("timerbeat.service", "ActiveState") == "active"
    env.systemctl("start", "job.service")
    assert rcv.wait(1)[0].path == f"/job/{SECRET}"
    env.write_config(f"[two.service]\nurl = {rcv.url('/two/' + SECRET)}\n", name="two.conf")
    env.systemctl("reload", "timerbeat.service")
    env.wait_log("Configuration reloaded")
    env.systemctl("start", "two.service")
    assert rcv.wait(2)[1].path == f"/two/{SECRET}"
    env.systemctl("stop", "timerbeat.service")
    assert env.show("timerbeat.service", "Result") == "success"
    assert env.show("timerbeat.service", "ExecMainStatus") == "0"


def test_journal_fields(env):
    """Under systemd with a journal, messages about a run carry UNIT= and INVOCATION_ID= (and
    never a whole URL)."""
    import json
    import subprocess
    rcv = env.receiver()
    with open(os.environ["TIMERBEAT_USER_UNIT"]) as f:
        unit = f.read()
    lines = [f"ExecStart={env.binary} --user run" if line.startswith("ExecStart=") else
             f"ExecReload={env.binary} --user reload" if line.startswith("ExecReload=") else line
             for line in unit.splitlines()]
    env.write_unit("timerbeat.service", "\n".join(lines) + "\n")
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\nurl = {rcv.url()}\n")
    env.systemctl("start", "timerbeat.service")
    env.systemctl("start", "job.service")
    rcv.wait(1)

    def entries():
        r = subprocess.run(["journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=timerbeat"],
                           capture_output=True, text=True)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    env._wait_for(lambda: any("Pinged" in e.get("MESSAGE", "") for e in entries()), 10, "Pinged in the journal")
    run = [e for e in entries() if "succeeded; pinging" in e.get("MESSAGE", "")][0]
    inv = run["MESSAGE"].split()[1]                       # "Run <InvocationID> of job.service …"
    assert run["UNIT"] == "job.service" and run["INVOCATION_ID"] == inv and len(inv) == 32, run
    pinged = [e for e in entries() if "Pinged" in e.get("MESSAGE", "")]
    assert pinged[0]["UNIT"] == "job.service" and pinged[0]["INVOCATION_ID"] == inv, pinged[0]
    assert all(SECRET not in json.dumps(e) for e in entries())


test_journal_fields.journald = True


def many_checks(env, n=120):
    rcv = env.receiver()
    sections = []
    for i in range(n):
        env.oneshot(f"s{i:03d}.service", "/bin/true" if i % 2 == 0 else "/bin/false")
        sections.append(f"[s{i:03d}.service]\nurl = {rcv.url(f'/s{i:03d}/' + SECRET)}\n")
    env.oneshot("unrelated.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + "".join(sections))
    return rcv


def expect_only_configured_successes(env, rcv):
    for i in (0, 1, 2, 3, 118, 119):
        env.systemctl("start", f"s{i:03d}.service", check=False)
    env.systemctl("start", "unrelated.service")
    rcv.wait(3)
    time.sleep(QUIET)
    assert sorted(r.path.split("/")[1] for r in rcv.requests) == ["s000", "s002", "s118"], rcv.requests


def test_many_checks_tight_bus(env):
    """More checks than the bus allows matches (60) and pending replies (100), as on a system
    bus with dbus-daemon's defaults (512, 128) scaled down: calls are throttled, the refused
    match makes timerbeat fall back to one broad match, and exactly the configured
    successful runs are pinged."""
    rcv = many_checks(env)
    env.start_daemon()
    log = env.log()
    assert "Failed to read the state" not in log, log[-3000:]
    env.wait_log("The bus refused another match")
    expect_only_configured_successes(env, rcv)


test_many_checks_tight_bus.bus_limits = (60, 100)


def test_match_limit_learned(env):
    """A bus that allows a connection 20 matches (dbus-daemon's max_match_rules_per_connection)
    and 30 watched services: the refused per-service match makes timerbeat fall back to one broad
    match, each run is pinged exactly once, and timerbeat keeps the limit it learned: after the
    bus restarts it watches with one match from the start instead of being refused again."""
    rcv = env.receiver()
    names = [f"m{i:02d}" for i in range(30)]
    for n in names:
        env.oneshot(f"{n}.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + "".join(f"[{n}.service]\nurl = {rcv.url(f'/{n}/' + SECRET)}\n" for n in names))
    env.start_daemon()
    env.wait_log("The bus refused another match after ")
    held = int(env.log().split("The bus refused another match after ")[1].split()[0])
    assert 0 < held < 20, held

    def run_all(times):
        env.systemctl("start", *[f"{n}.service" for n in names])
        rcv.wait(len(names) * times)
        time.sleep(QUIET)
        paths = sorted(r.path.split("/")[1] for r in rcv.requests)
        assert paths == sorted(names * times), paths

    run_all(1)
    env.restart_bus()
    env.systemctl("daemon-reexec")                 # systemd connects to the new bus
    env.wait_log("Reconnected to the user bus.", timeout=15)
    # Every service read again (the second catch-up round ends after that): runs are seen live.
    env.wait_log("Journal catch-up done", count=2, timeout=30)
    run_all(2)
    assert env.log().count("The bus refused another match") == 1, env.log()[-3000:]


# Replies stay at the harness's default: this test is about matches. A tight reply limit makes
# the baselines after the restart slow (one Get per property), and this harness has no journal:
# a run of a service systemd unloads before its baseline is read is then lost (timerbeat(8)).
test_match_limit_learned.bus_limits = (20, 50000)


def test_many_checks_threshold(env):
    """Above max matches (TIMERBEAT_MAX_MATCHES, 20,000 by default, or what the bus allowed)
    one broad match is used from the start."""
    rcv = many_checks(env)
    env.env["TIMERBEAT_MAX_MATCHES"] = "50"
    env.start_daemon()
    assert "120 checks: watching all units with one match instead" in env.log(), env.log()[-3000:]
    assert "The bus refused" not in env.log()
    expect_only_configured_successes(env, rcv)


def test_ready_before_read(env):
    """READY=1 comes once systemd's signals reach the daemon, before it has read the units
    (issue 14: start-up that does not grow with the number of checks). A run that ends in
    between is found ended when its unit is read, and is new (it ended after the start): it is
    reported even on a first start, without a run record. A run that ended before the daemon
    started is not; a failed one in the window is not pinged. The services are read in the
    config's order, 15 properties each: the last ones are read long after their runs."""
    n = 600
    rcv = env.receiver()
    for i in range(n):
        env.oneshot(f"rb{i:03d}.service", "/bin/true")
    env.oneshot("rbfail.service", "/bin/false")
    for t in ("rb598", "rb599", "rbfail"):           # a timer keeps its service loaded
        env.timer(f"{t}.timer", "OnCalendar=2099-01-01")
    env.daemon_reload()
    env.systemctl("start", "rb598.timer", "rb599.timer", "rbfail.timer")
    env.write_config(FAST + "".join(f"[rb{i:03d}.service]\nurl = {rcv.url(f'/rb{i:03d}/' + SECRET)}\n"
                                    for i in range(n))
                     + f"[rbfail.service]\nurl = {rcv.url('/rbfail/' + SECRET)}\n")
    env.systemctl("start", "rb599.service")             # before the daemon: not its run
    time.sleep(0.1)
    env.start_daemon(wait_ready=False)
    env.wait_notify("READY=1", timeout=30)
    # Stopped right after READY=1, as a daemon on a loaded machine is slow to read: the runs
    # end before their units are read (their Gets are not even sent yet).
    env.daemon.send_signal(signal.SIGSTOP)
    assert "STATUS=Watching" not in env.last_ready, env.last_ready
    env.systemctl("start", "rb598.service", "rb599.service")
    env.systemctl("start", "rbfail.service", check=False)
    assert not any("STATUS=Watching" in m for m in env.drain_notify()), \
        "the daemon had read every unit before it was stopped: the test proves nothing"
    env.daemon.send_signal(signal.SIGCONT)
    env.wait_settled(timeout=60)
    rcv.wait(2)
    time.sleep(1)
    assert sorted(r.path for r in rcv.requests) == [f"/rb598/{SECRET}", f"/rb599/{SECRET}"], rcv.requests
    log = env.log()
    assert log.count("ended while timerbeat was starting; reporting it") == 2, log[-4000:]
    assert "of rbfail.service ended while timerbeat was starting, with result 'exit-code'; not pinging" in log, \
        log[-4000:]


def test_unrelated_changes_do_not_wake(env):
    """Issue 20: with named sections, a state change of a unit no section is for reaches the
    daemon not at all (per-service matches; UnitNew, UnitRemoved and JobRemoved matched only
    while discovery needs them). 400 loaded targets started and stopped, 400 services started
    (each with its jobs and UnitNew/UnitRemoved as systemd loads and unloads it): the daemon is
    woken a handful of times at most (the watchdog's own, a stray signal), not once per change."""
    rcv = env.receiver()
    n = 400
    env.oneshot("watched.service", "/bin/true")
    env.write_unit("un@.target", "[Unit]\n")
    env.write_unit("us@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("un-anchor.target", "[Unit]\n" + "".join(f"Before=un@{i:03d}.target\n" for i in range(n)))
    env.daemon_reload()
    env.systemctl("start", "un-anchor.target")
    env.write_config(FAST + f"[watched.service]\nurl = {rcv.url('/w/' + SECRET)}\n")
    env.start_daemon()
    targets = [f"un@{i:03d}.target" for i in range(n)]
    services = [f"us@{i:03d}.service" for i in range(n)]
    woken = env.woken_during(["start", *targets], ["stop", *targets], ["start", *services])
    print(f"{woken} wake-ups for {4 * n} unrelated state changes", file=sys.stderr)
    assert woken <= 20, f"woken {woken} times by {4 * n} unrelated state changes"
    env.systemctl("start", "watched.service")
    rcv.wait(1)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
