#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`timerbeat ping UNIT --event E --dry-run --show-secrets --last-run` prints exactly the request
the daemon sent for event E of the unit's last run (issue 11): for every preset and every event
it has, after a real run on a real user manager, method, path and query, headers and body are
compared with what the loopback receiver got. Only the JSON body's timestamps may differ (the
daemon's start request is built before the run's start time is final). Then a manual ping of
each event (no run behind it) must reach the receiver well-formed."""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import main  # noqa: E402
from test_presets import run, setup  # noqa: E402

START = {"healthchecks", "cronitor", "sentry", "cronhub"}
FAILURE = {"healthchecks", "cronitor", "uptime-kuma", "deadmanssnitch", "betterstack", "sentry", "cronhub"}
LOG = {"healthchecks"}
VOLATILE_JSON = {"started_usec", "finished_usec", "duration_s"}


def dry_run(env, event):
    r = env.run_tb("--user", "ping", "job.timer", "--event", event, "--dry-run", "--show-secrets", "--last-run")
    assert r.returncode == 0, (event, r.returncode, r.stdout, r.stderr)
    head, _, body = r.stdout.partition("\n\n")
    lines = head.split("\n")
    method, url = lines[0].split(" ", 1)
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    return method, url, {k.lower(): v for k, v in headers.items()}, body


def same_body(a, b, content_type):
    if content_type == "application/json":
        ja, jb = json.loads(a), json.loads(b)
        return {k: v for k, v in ja.items() if k not in VOLATILE_JSON} == \
               {k: v for k, v in jb.items() if k not in VOLATILE_JSON}
    return a == b


def compare(env, rcv, req, event):
    method, url, headers, body = dry_run(env, event)
    sent = req.body.decode() if req.body else ""
    assert method == req.method, (event, method, req.method)
    assert url == f"http://127.0.0.1:{rcv.port}{req.path}", (event, url, req.path)
    for h in ("user-agent", "origin", "content-type"):
        assert headers.get(h) == req.headers.get(h), (event, h, headers.get(h), req.headers.get(h))
    if method == "POST":
        # The dry run prints a newline after a body that does not end with one.
        printed = body[:-1] if body.endswith("\n") and not sent.endswith("\n") else body
        assert same_body(printed, sent, headers.get("content-type")), (event, printed, sent)


def manual_pings(env, rcv, preset):
    """A manual ping of every event the preset has reaches the receiver well-formed: HTTP 200, no
    parameter without a value (issue 18: never an empty rid=, series=, check_in_id=)."""
    events = ["success"] + [e for e, s in (("start", START), ("failure", FAILURE), ("log", LOG)) if preset in s]
    for event in events:
        before = rcv.count()
        r = env.run_tb("--user", "ping", "job.timer", "--event", event)
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 1, (event, r.returncode, r.stdout, r.stderr)
        req = rcv.wait(before + 1)[before]
        query = urllib.parse.urlsplit(req.path).query
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        assert all(v for _, v in pairs) and not query.endswith("&"), (event, req.path)


def check_preset(env, preset, keys=""):
    keys += "start = yes\n" if preset in START else ""
    keys += "failure = yes\n" if preset in FAILURE else ""
    rcv = setup(env, preset, "/bin/true", keys)
    per_run = 2 if preset in START else 1
    reqs = run(env, rcv, per_run)
    if preset in START:
        compare(env, rcv, reqs[0], "start")
    compare(env, rcv, reqs[-1], "success")
    if preset not in FAILURE:
        manual_pings(env, rcv, preset)
        return
    env.oneshot("job.service", "/bin/sh -c 'echo broken; exit 3'")
    env.daemon_reload()
    reqs = run(env, rcv, 2 * per_run)[per_run:]
    compare(env, rcv, reqs[-1], "failure")
    if preset in LOG:
        # Below failure-threshold=, a failure goes to the log endpoint.
        env.write_config(open(f"{env.conf_dir}/timerbeat.conf").read() + "failure-threshold = 5\n")
        env.reload_daemon()
        reqs = run(env, rcv, 3 * per_run)[2 * per_run:]
        compare(env, rcv, reqs[-1], "log")
    manual_pings(env, rcv, preset)


def test_generic(env):
    check_preset(env, "generic")


def test_generic_json(env):
    check_preset(env, "generic", "body = json\nsource = dry-run-host\n")


def test_healthchecks(env):
    check_preset(env, "healthchecks")


def test_healthchecks_json(env):
    check_preset(env, "healthchecks", "body = json\n")


def test_cronitor(env):
    check_preset(env, "cronitor")


def test_checkly(env):
    check_preset(env, "checkly", "method = POST\nsource = nightly-host\n")


def test_uptime_kuma(env):
    check_preset(env, "uptime-kuma")


def test_deadmanssnitch(env):
    check_preset(env, "deadmanssnitch")


def test_betterstack(env):
    check_preset(env, "betterstack")


def test_sentry(env):
    check_preset(env, "sentry")


def test_cronhub(env):
    check_preset(env, "cronhub")


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
