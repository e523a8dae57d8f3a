#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`timerbeat ping UNIT [--event E]` against the real healthchecks server (v3.9, the test peer in
shared/peers/healthchecks, started once per test on a free port), as a new user tries a check
by hand before relying on it (issue 18). A manual ping has no run: the request must still be
one healthchecks accepts (no empty ?rid=), answered 200 OK, and recorded as the kind asked for,
read back through healthchecks' Management API. No test is skipped: without the peer, each fails.

Run one test: test_manual_ping.py NAME (meson test runs each as its own test)."""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, free_port, main  # noqa: E402


def find_peer():
    """The peer's control script: $TIMERBEAT_HC_PEER, else shared/peers/healthchecks/peer in a
    directory above the source tree (the checkout lives beside shared/)."""
    if os.environ.get("TIMERBEAT_HC_PEER"):
        return os.environ["TIMERBEAT_HC_PEER"]
    d = os.path.dirname(os.path.abspath(__file__))
    while d != "/":
        p = f"{d}/shared/peers/healthchecks/peer"
        if os.access(p, os.X_OK):
            return p
        d = os.path.dirname(d)
    if os.access("/work/shared/peers/healthchecks/peer", os.X_OK):   # the workplace's shared folder
        return "/work/shared/peers/healthchecks/peer"
    raise AssertionError("the healthchecks test peer (shared/peers/healthchecks/peer) was not found above "
                         f"{os.path.dirname(os.path.abspath(__file__))}; set TIMERBEAT_HC_PEER to its path")


class Peer:
    """A healthchecks server of this test's own: new database, free loopback port."""

    def __enter__(self):
        self.script = find_peer()
        self.dir = tempfile.mkdtemp(prefix="timerbeat-hc-")
        self.port = free_port()
        r = subprocess.run([self.script, "start", self.dir, str(self.port)], capture_output=True, text=True,
                           timeout=90 * SLOWDOWN)
        if r.returncode != 0:
            self.__exit__(None, None, None)
            raise AssertionError(f"the healthchecks peer did not start (run '{self.script} deps' once as root?):\n"
                                 f"{r.stdout}{r.stderr}")
        fields = dict(kv.split("=", 1) for kv in r.stdout.split())
        self.url, self.api_key = fields["url"], fields["api_key"]
        return self

    def __exit__(self, *exc):
        subprocess.run([self.script, "stop", self.dir], capture_output=True)
        if not os.environ.get("TIMERBEAT_TEST_KEEP"):
            subprocess.run(["rm", "-rf", self.dir])
        return False

    def api(self, path, body=None):
        req = urllib.request.Request(f"{self.url}/api/v3/{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Api-Key": self.api_key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def new_check(self, name):
        c = self.api("checks/", {"name": name, "timeout": 3600, "grace": 60})
        return c["uuid"], c["ping_url"]

    def pings(self, uuid):
        """Oldest first."""
        return list(reversed(self.api(f"checks/{uuid}/pings/")["pings"]))

    def exit_statuses(self, uuid):
        """The exit status healthchecks stored with each ping (its API does not show it; its
        dashboard does, from this column), oldest first."""
        with sqlite3.connect(f"file:{self.dir}/hc.sqlite?mode=ro", uri=True) as db:
            return [row[0] for row in db.execute(
                "SELECT p.exitstatus FROM api_ping p JOIN api_check c ON p.owner_id = c.id "
                "WHERE c.code = ? ORDER BY p.n", (uuid.replace("-", ""),))]  # Django stores 32 hex digits


def setup(env, hc):
    """mt.timer → mt.service, and the config a user writes from healthchecks' "ping URL"."""
    uuid, ping_url = hc.new_check("mt")
    assert ping_url == f"{hc.url}/ping/{uuid}", ping_url
    env.oneshot("mt.service", "/bin/true")
    env.timer("mt.timer", "OnActiveSec=1h")
    env.daemon_reload()
    env.systemctl("start", "mt.timer")
    os.chmod(env.write_config(f"[mt.timer]\npreset = healthchecks\nurl = {ping_url}\n"), 0o600)
    return uuid


def ping(env, *args):
    """timerbeat ping mt.timer ARGS: must be answered 200, and say so with the URL masked."""
    r = env.run_tb("--user", "ping", "mt.timer", *args)
    out = r.stdout + r.stderr
    assert r.returncode == 0, (args, r.returncode, out)
    assert "HTTP 200" in r.stdout, (args, out)
    return r


def no_secret(uuid, r):
    out = r.stdout + r.stderr
    assert uuid not in out and uuid[-12:] not in out, out
    # The masked URL says which check it is: the path and the uuid's last four characters.
    assert f"/ping/…{uuid[-4:]}" in r.stdout, r.stdout


def test_success(env):
    with Peer() as hc:
        uuid = setup(env, hc)
        r = ping(env)
        no_secret(uuid, r)
        pings = hc.pings(uuid)
        assert [p["type"] for p in pings] == ["success"], pings
        assert pings[0]["ua"].startswith("timerbeat/"), pings
        assert hc.api(f"checks/{uuid}")["status"] == "up"


def test_start_then_success(env):
    with Peer() as hc:
        uuid = setup(env, hc)
        no_secret(uuid, ping(env, "--event", "start"))
        time.sleep(1.2)
        ping(env)
        pings = hc.pings(uuid)
        assert [p["type"] for p in pings] == ["start", "success"], pings
        # healthchecks paired the two: the success carries the run's duration.
        assert 1.0 <= pings[1].get("duration", 0) < 30, pings
        # Both carry the same run id, or neither does (then healthchecks pairs them by order).
        assert pings[0]["rid"] == pings[1]["rid"], pings


def test_failure_exit_code(env):
    with Peer() as hc:
        uuid = setup(env, hc)
        no_secret(uuid, ping(env, "--event", "failure", "--exit-code", "3"))
        pings = hc.pings(uuid)
        assert [p["type"] for p in pings] == ["fail"], pings
        assert hc.exit_statuses(uuid) == [3], hc.exit_statuses(uuid)
        assert hc.api(f"checks/{uuid}")["status"] == "down"


def test_log(env):
    with Peer() as hc:
        uuid = setup(env, hc)
        no_secret(uuid, ping(env, "--event", "log"))
        pings = hc.pings(uuid)
        assert [p["type"] for p in pings] == ["log"], pings
        # A log event does not change the check's state.
        assert hc.api(f"checks/{uuid}")["status"] == "new"


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
