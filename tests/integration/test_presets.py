#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What each preset sends, byte for byte: paths, queries, methods and bodies for a start, a
success, a failure by exit code, by signal and by timeout, against a real systemd user
manager. Exit codes and run ids are checked against systemd's own view of the run."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, main  # noqa: E402

QUIET = 0.6
HOST = socket.gethostname()


def q(s):
    return urllib.parse.quote(s, safe="-._~")


def fmt_span(us):
    """timerbeat's format_timespan() for a duration cut to milliseconds."""
    us -= us % 1000
    for unit, n in (("h", 3600_000_000), ("min", 60_000_000), ("s", 1_000_000), ("ms", 1000)):
        if us % n == 0 and (us > 0 or unit == "s"):
            return f"{us // n}{unit}"
    return f"{us}us"


def run_facts(env, unit="job.service"):
    """InvocationID, duration (µs) and exit code of the last run, from systemd."""
    path = "/org/freedesktop/systemd1/unit/" + unit.replace(".", "_2e").replace("@", "_40")

    def prop(iface, name):
        r = subprocess.run(["busctl", "--user", "get-property", "org.freedesktop.systemd1", path,
                            f"org.freedesktop.systemd1.{iface}", name], env=env.env, capture_output=True,
                           text=True, check=True)
        return r.stdout.split(None, 1)[1].strip().strip('"')
    start, end = int(prop("Service", "ExecMainStartTimestamp")), int(prop("Service", "ExecMainExitTimestamp"))
    return {"rid": env.show(unit, "InvocationID"), "duration": end - start if end > start else 0}


def rid_dashed(h):
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def setup(env, preset, cmd="/bin/true", keys="", extra=""):
    rcv = env.receiver()
    env.oneshot("job.service", cmd, extra)
    env.timer("job.timer", "OnActiveSec=1h")
    env.daemon_reload()
    env.systemctl("start", "job.timer")
    env.write_config(FAST + f"[job.timer]\npreset = {preset}\nurl = {rcv.url('/p/' + SECRET)}\n{keys}")
    env.start_daemon()
    return rcv


def run(env, rcv, n, cmd=None):
    env.systemctl("start", "job.service", check=False)
    reqs = rcv.wait(n)
    time.sleep(QUIET)
    assert rcv.count() == n, rcv.requests
    return reqs


def test_generic_default_only_success(env):
    rcv = setup(env, "generic", "/bin/sh -c 'exit 3'", "start = no\n")
    env.systemctl("start", "job.service", check=False)
    env.wait_log("ended with result 'exit-code'")
    time.sleep(QUIET)
    assert rcv.count() == 0, "a failure was sent without failure = yes"


def test_healthchecks(env):
    rcv = setup(env, "healthchecks", "/bin/true", "start = yes\nfailure = yes\n")
    base = f"/p/{SECRET}"
    reqs = run(env, rcv, 2)
    f = run_facts(env)
    rid = rid_dashed(f["rid"])
    assert [(r.method, r.path) for r in reqs] == [("GET", f"{base}/start?rid={rid}"), ("GET", f"{base}?rid={rid}")]
    env.oneshot("job.service", "/bin/sh -c 'exit 3'")
    env.daemon_reload()
    reqs = run(env, rcv, 4)[2:]
    rid = rid_dashed(run_facts(env)["rid"])
    assert [r.path for r in reqs] == [f"{base}/start?rid={rid}", f"{base}/3?rid={rid}"], reqs


def test_exit_codes_signal_timeout(env):
    rcv = setup(env, "healthchecks", "/bin/sh -c 'kill -KILL $$$$'", "failure = yes\n")
    base = f"/p/{SECRET}"
    r = run(env, rcv, 1)[0]
    assert r.path == f"{base}/137?rid={rid_dashed(run_facts(env)['rid'])}", r.path   # 128 + SIGKILL
    env.oneshot("job.service", "/bin/sleep 10", "TimeoutStartSec=300ms\n")
    env.daemon_reload()
    r = run(env, rcv, 2)[1]
    assert r.path.startswith(f"{base}/124?rid="), r.path                              # timeout


def test_healthchecks_simple_stopped(env):
    """A Type=simple job stopped mid-run (Result=success, killed by SIGTERM) is a failure: /143."""
    rcv = env.receiver()
    env.write_unit("job.service", "[Service]\nType=simple\nExecStart=/bin/sleep 30\n")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\npreset = healthchecks\nurl = {rcv.url('/p/' + SECRET)}\n"
                     "failure = yes\n")
    env.start_daemon()
    env.systemctl("start", "job.service")
    env._wait_for(lambda: env.show("job.service", "SubState") == "running", 10, "job.service running")
    rid = rid_dashed(env.show("job.service", "InvocationID"))
    env.systemctl("stop", "job.service")
    reqs = rcv.wait(1)
    time.sleep(QUIET)
    assert [r.path for r in rcv.requests] == [f"/p/{SECRET}/143?rid={rid}"], reqs


def test_cronitor(env):
    rcv = setup(env, "cronitor", "/bin/true", "start = yes\nfailure = yes\n")
    reqs = run(env, rcv, 2)
    f = run_facts(env)
    rid, dur = rid_dashed(f["rid"]), f["duration"]
    msg = f"job.service succeeded in {fmt_span(dur)}"
    assert reqs[0].path == f"/p/{SECRET}?state=run&series={rid}&host={q(HOST)}", reqs[0].path
    assert reqs[1].path == (f"/p/{SECRET}?state=complete&series={rid}&status_code=0&duration={dur / 1e6:.3f}"
                            f"&host={q(HOST)}&message={q(msg)}"), reqs[1].path


def test_checkly(env):
    rcv = setup(env, "checkly", "/bin/true", "method = POST\nsource = nightly-host\n")
    r = run(env, rcv, 1)[0]
    assert (r.method, r.path, r.headers["origin"], r.body) == ("POST", f"/p/{SECRET}", "nightly-host", b"")


def test_uptime_kuma(env):
    rcv = setup(env, "uptime-kuma", "/bin/sh -c 'exit 2'", "failure = yes\n")
    r = run(env, rcv, 1)[0]
    f = run_facts(env)
    msg = f"job.service failed: exit-code, exit code 2, after {fmt_span(f['duration'])}"
    assert r.path == f"/p/{SECRET}?status=down&msg={q(msg)}&ping={f['duration'] // 1000}", r.path


def test_deadmanssnitch(env):
    rcv = setup(env, "deadmanssnitch", "/bin/true", "failure = yes\n")
    r = run(env, rcv, 1)[0]
    msg = f"job.service succeeded in {fmt_span(run_facts(env)['duration'])}"
    assert r.path == f"/p/{SECRET}?m={q(msg)}", r.path
    env.oneshot("job.service", "/bin/sh -c 'exit 4'")
    env.daemon_reload()
    r = run(env, rcv, 2)[1]
    assert r.path.startswith(f"/p/{SECRET}?s=4&m=job.service%20failed%3A%20exit-code"), r.path


def test_sentry(env):
    rcv = setup(env, "sentry", "/bin/true", "start = yes\n")
    reqs = run(env, rcv, 2)
    f = run_facts(env)
    rid = rid_dashed(f["rid"])
    assert [r.path for r in reqs] == [f"/p/{SECRET}?status=in_progress&check_in_id={rid}",
                                      f"/p/{SECRET}?status=ok&check_in_id={rid}&duration={f['duration'] / 1e6:.3f}"]


def test_cronhub(env):
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[job.service]\npreset = cronhub\nurl = {rcv.url('/ping/' + SECRET)}\nstart = yes\n")
    env.start_daemon()
    reqs = run(env, rcv, 2)
    assert [r.path for r in reqs] == [f"/start/{SECRET}", f"/finish/{SECRET}"], reqs


def test_betterstack_log_body(env):
    # The job lives a moment after printing, as real jobs do: journald attributes a stream's
    # lines to the unit from the writer's cgroup, which it cannot read once the writer is gone.
    rcv = setup(env, "betterstack", "/bin/sh -c 'echo first line; printf \"caf\\\\303\\\\251 \\\\377 end\\\\n\"; sleep 0.5; exit 5'",
                "failure = yes\nbody = log\n")
    r = run(env, rcv, 1)[0]
    assert r.method == "POST" and r.path == f"/p/{SECRET}/5", r
    text = r.body.decode("utf-8")                    # valid UTF-8, whatever the job printed
    assert "first line\n" in text and "café \ufffd end" in text, repr(text)
    assert r.headers["content-type"].startswith("text/plain"), r.headers


test_betterstack_log_body.journald = True


def test_log_body_capped_on_utf8_boundary(env):
    # 300 two-byte characters on one line: a 101-byte cap must cut to 100 bytes, not inside one.
    script = f"{env.dir}/job.sh"
    with open(script, "w") as f:
        f.write("#!/bin/sh\nprintf 'x'\ni=0\nwhile [ $i -lt 300 ]; do printf '\\303\\251'; i=$((i+1)); done\necho\n"
                "sleep 0.5\nexit 1\n")
    os.chmod(script, 0o755)
    rcv = setup(env, "healthchecks", script, "failure = yes\nbody = log\nbody-max = 101\n")
    r = run(env, rcv, 1)[0]
    assert 90 <= len(r.body) <= 101, len(r.body)
    assert r.body.decode("utf-8").rstrip("\n").endswith("é" * 10), r.body   # whole characters only


test_log_body_capped_on_utf8_boundary.journald = True


def test_json_body(env):
    rcv = setup(env, "generic", "/bin/true", "body = json\n")
    r = run(env, rcv, 1)[0]
    doc = json.loads(r.body)
    f = run_facts(env)
    assert r.method == "POST" and r.headers["content-type"] == "application/json"
    assert doc["unit"] == "job.service" and doc["check"] == "job.timer" and doc["result"] == "success"
    assert doc["invocation"] == f["rid"] and doc["exit_code"] == 0 and doc["hostname"] == HOST
    assert doc["finished_usec"] - doc["started_usec"] == f["duration"]


def test_placeholders_encoded(env):
    rcv = env.receiver()
    env.write_unit("db@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("db@.timer", "[Timer]\nOnActiveSec=1h\n")
    env.daemon_reload()
    env.systemctl("start", "db@x:1\\x2dy.timer")
    env.write_config(FAST + f"[db@*.timer]\nsuccess-url = {rcv.url('/t')}/{{unit_prefix}}/{{unit}}?h={{hostname}}&x={{rid_hex}}\n")
    env.start_daemon()
    env.systemctl("start", "db@x:1\\x2dy.service")
    r = rcv.wait(1)[0]
    rid = env.show("db@x:1\\x2dy.service", "InvocationID")
    assert r.path == f"/t/db%40x%3A1%5Cx2dy/db%40x%3A1%5Cx2dy.timer?h={q(HOST)}&x={rid}", r.path


def test_skip_exit_status(env):
    rcv = setup(env, "generic", "/bin/sh -c 'exit 75'", "skip-exit-status = 75\n", "SuccessExitStatus=75\n")
    env.systemctl("start", "job.service")
    env.wait_log("listed in skip-exit-status=; not pinging")
    time.sleep(QUIET)
    assert rcv.count() == 0
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    run(env, rcv, 1)


def test_min_runtime(env):
    rcv = setup(env, "healthchecks", "/bin/true", "failure = yes\nmin-runtime = 5s\n")
    r = run(env, rcv, 1)[0]
    assert r.path.startswith(f"/p/{SECRET}/1?rid="), r.path
    assert "less than min-runtime=5s; reporting it as a failure" in env.log()


def test_failure_threshold(env):
    rcv = setup(env, "healthchecks", "/bin/sh -c 'exit 3'", "failure = yes\nfailure-threshold = 2\n")
    r = run(env, rcv, 1)[0]
    assert r.path.startswith(f"/p/{SECRET}/log?rid="), r.path        # first failure: log only
    r = run(env, rcv, 2)[1]
    assert r.path.startswith(f"/p/{SECRET}/3?rid="), r.path          # second in a row: failure


def test_trigger_timer(env):
    """trigger = timer: only runs whose ActivationDetails name the timer count; a manual
    start of the same service is ignored."""
    rcv = env.receiver()
    env.oneshot("job.service", "/bin/true")
    env.timer("job.timer", "OnActiveSec=300ms")
    env.daemon_reload()
    env.write_config(FAST + f"[job.timer]\nurl = {rcv.url()}\ntrigger = timer\n")
    env.start_daemon()
    env.systemctl("start", "job.service")                       # by hand: not counted
    env.wait_log("was not started by a timer; ignored")
    assert rcv.count() == 0
    env.systemctl("start", "job.timer")                         # the timer fires 300ms later
    rcv.wait(1)
    time.sleep(QUIET)
    assert rcv.count() == 1
    # By hand again: systemd still shows the timer's details (it keeps a unit's first ones), so
    # who started this run is unknown; it is counted, and the log says why (timerbeat(8)).
    env.systemctl("start", "job.service")
    rcv.wait(2)
    env.wait_log("does not say who started run")


def test_auto_create(env):
    rcv = setup(env, "healthchecks", "/bin/true", "auto-create = yes\n")
    r = run(env, rcv, 1)[0]
    assert r.path == f"/p/{SECRET}?rid={rid_dashed(run_facts(env)['rid'])}&create=1", r.path


def test_rate_limited_logged(env):
    rcv = setup(env, "healthchecks")
    rcv.script = [("body", 200, b"OK (rate-limited)")]
    run(env, rcv, 1)
    env.wait_log('answered "OK (rate-limited)": this ping was not recorded')


def test_failure_matrix(env):
    """Every preset with a failure endpoint, for a failure by exit code, by signal and by
    timeout: the exit code (3, 137, 124) lands where that service expects it."""
    rcv = env.receiver()
    env.timer("job.timer", "OnActiveSec=1h")
    env.oneshot("job.service", "/bin/true")
    env.daemon_reload()
    env.systemctl("start", "job.timer")
    base = f"/p/{SECRET}"
    expect = {
        "healthchecks": lambda c: f"{base}/{c}?rid=",
        "cronitor": lambda c: f"{base}?state=fail&series=",
        "uptime-kuma": lambda c: f"{base}?status=down&msg=job.service%20failed%3A%20",
        "deadmanssnitch": lambda c: f"{base}?s={c}&m=",
        "betterstack": lambda c: f"{base}/{c}",
        "sentry": lambda c: f"{base}?status=error&check_in_id=",
        "cronhub": lambda c: f"/fail/{SECRET}",
    }
    contains = {"cronitor": lambda c: f"&status_code={c}&", "uptime-kuma": lambda c: f"exit%20code%20{c}%2C"}
    runs = [("/bin/sh -c 'exit 3'", "", 3), ("/bin/sh -c 'kill -KILL $$$$'", "", 137),
            ("/bin/sleep 10", "TimeoutStartSec=300ms\n", 124)]
    n = 0
    env.write_config(FAST)
    env.start_daemon()
    for preset, prefix in expect.items():
        url = rcv.url(f"/ping/{SECRET}" if preset == "cronhub" else base)
        env.write_config(FAST + f"[job.timer]\npreset = {preset}\nurl = {url}\nfailure = yes\n")
        env.reload_daemon()
        for cmd, extra, code in runs:
            env.oneshot("job.service", cmd, extra)
            env.daemon_reload()
            env.systemctl("start", "job.service", check=False)
            n += 1
            r = rcv.wait(n)[n - 1]
            assert r.path.startswith(prefix(code)), (preset, code, r.path)
            if preset in contains:
                assert contains[preset](code) in r.path, (preset, code, r.path)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
