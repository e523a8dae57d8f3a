#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hostile-input table of issue 8, rows about the receiver and the bus: a heartbeat
endpoint that answers with something hostile, and a peer on the bus that sends timerbeat
PropertiesChanged signals systemd never would. For each: no crash, bounded time and memory, a
clear log line, and nothing else broken (the daemon still runs and a later ping to a good URL
still arrives). Run one test: test_hostile.py NAME."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SECRET, SLOWDOWN, main  # noqa: E402

FAST = """[timerbeat]
retry-delay = 100ms
retry-max-delay = 400ms
timeout = 3s
connect-timeout = 1s
retries = 2
"""
QUIET = 0.5 * SLOWDOWN      # how long we watch for requests that must not come
MAX_SENT = 64 << 20       # a client that stops reading leaves at most socket buffers' worth unread
MAX_RSS_KB = 64 << 10     # timerbeat's resident memory after the hostile answer (valgrind: more)


def setup(env, bad=None):
    """bad.service pings /bad/…, good.service /good/…; the receiver answers /bad/ with the
    action bad (a Receiver route), everything else with 200."""
    rcv = env.receiver()
    if bad:
        rcv.routes["/bad/"] = bad
    env.oneshot("bad.service", "/bin/true")
    env.oneshot("good.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[bad.service]\nurl = {rcv.url('/bad/' + SECRET)}\n"
                     f"[good.service]\nurl = {rcv.url('/good/' + SECRET)}\n")
    env.start_daemon()
    return rcv


def paths(rcv, prefix):
    with rcv.lock:
        return [r for r in rcv.requests if r.path.startswith(prefix)]


def wait_paths(rcv, prefix, n, timeout=10):
    deadline = time.monotonic() + timeout * SLOWDOWN
    while len(paths(rcv, prefix)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} requests to {prefix}, got {rcv.requests}")
        time.sleep(0.05)
    return paths(rcv, prefix)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def still_works(env, rcv):
    """Nothing else broke: the daemon runs, is not bloated, and a good ping still arrives."""
    assert env.daemon.poll() is None, f"timerbeat exited ({env.daemon.poll()}): {env.log()[-3000:]}"
    if SLOWDOWN == 1:
        assert rss_kb(env.daemon.pid) < MAX_RSS_KB, f"timerbeat uses {rss_kb(env.daemon.pid)} kB"
    n = len(paths(rcv, "/good/"))
    env.systemctl("start", "good.service")
    wait_paths(rcv, "/good/", n + 1)
    assert env.daemon.poll() is None


def bad_run(env):
    start = time.monotonic()
    env.systemctl("start", "bad.service")
    return start


def log_since(env, mark):
    return env.log()[mark:]


# --- the receiver ---------------------------------------------------------------------------
def test_huge_body(env):
    """A 200 with a 1 GB body: delivered once the status is in; the body is not read."""
    rcv = setup(env, bad=("huge-body", 200, 1 << 30))
    start = bad_run(env)
    env.wait_log("Pinged http://127.0.0.1:")
    took = time.monotonic() - start
    assert took < 5 * SLOWDOWN, f"took {took:.1f}s"
    time.sleep(QUIET)
    assert len(paths(rcv, "/bad/")) == 1, f"retried a delivered ping: {rcv.requests}"
    assert rcv.sent < MAX_SENT, f"timerbeat read {rcv.sent} bytes of the body"
    still_works(env, rcv)


def test_huge_body_error(env):
    """A 503 with a 1 GB body: a retryable failure; each attempt stops reading early."""
    rcv = setup(env, bad=("huge-body", 503, 1 << 30))
    bad_run(env)
    wait_paths(rcv, "/bad/", 3)
    env.wait_log("failed 3 times (last: HTTP 503); giving up")
    assert rcv.sent < 3 * MAX_SENT, f"timerbeat read {rcv.sent} bytes of the bodies"
    still_works(env, rcv)


def test_endless_headers(env):
    """A status line, then header lines without end: each attempt ends (header size limit or
    the timeout), is logged, retried, given up; memory stays small."""
    rcv = setup(env, bad=("endless-headers",))
    start = bad_run(env)
    wait_paths(rcv, "/bad/", 3, timeout=20)
    env.wait_log("giving up", timeout=20)
    took = time.monotonic() - start
    assert took < 15 * SLOWDOWN, f"took {took:.1f}s"
    log = env.log()
    assert re.search(r"Ping to http://127\.0\.0\.1:\d+/bad/…\S+ failed \((.+)\); retry 1 of 2", log), log[-3000:]
    assert rcv.sent < 3 * MAX_SENT, f"timerbeat read {rcv.sent} bytes of headers"
    still_works(env, rcv)


def test_redirect_to_file(env):
    """A 301 to file:///etc/passwd: not followed (only http and https are), not retried."""
    rcv = setup(env, bad=("redirect", 301, "file:///etc/passwd"))
    bad_run(env)
    env.wait_log("not retrying")
    time.sleep(QUIET)
    assert len(paths(rcv, "/bad/")) == 1, rcv.requests
    log = env.log()
    assert re.search(r"Ping to \S+ failed: .*[Pp]rotocol.*; not retrying", log), log[-3000:]
    assert "root:" not in log
    still_works(env, rcv)


def test_redirect_loop(env):
    """A 301 to itself: followed 5 times, then given up for good (not retried)."""
    rcv = setup(env, bad=("redirect", 301, f"/bad/{SECRET}"))
    bad_run(env)
    env.wait_log("not retrying")
    time.sleep(QUIET)
    assert len(paths(rcv, "/bad/")) == 6, f"expected the request and 5 redirects: {rcv.requests}"
    assert re.search(r"Ping to \S+ failed: .*redirect.*; not retrying", env.log(), re.I), env.log()[-3000:]
    still_works(env, rcv)


def test_redirect_other_protocols(env):
    """Redirects to gopher:// and ftp:// are refused the same way."""
    rcv = env.receiver()
    rcv.routes["/bad/"] = ("redirect", 302, "gopher://127.0.0.1:1/x")
    rcv.routes["/bad2/"] = ("redirect", 307, "ftp://127.0.0.1:1/x")
    env.oneshot("bad.service", "/bin/true")
    env.oneshot("bad2.service", "/bin/true")
    env.oneshot("good.service", "/bin/true")
    env.daemon_reload()
    env.write_config(FAST + f"[bad.service]\nurl = {rcv.url('/bad/' + SECRET)}\n"
                     f"[bad2.service]\nurl = {rcv.url('/bad2/' + SECRET)}\n"
                     f"[good.service]\nurl = {rcv.url('/good/' + SECRET)}\n")
    env.start_daemon()
    env.systemctl("start", "bad.service")
    env.systemctl("start", "bad2.service")
    env.wait_log("not retrying", count=2)
    time.sleep(QUIET)
    assert len(paths(rcv, "/bad/")) == 1 and len(paths(rcv, "/bad2/")) == 1, rcv.requests
    still_works(env, rcv)


def test_invalid_http(env):
    """Bytes that are not HTTP at all, and a status line that is not one: logged, the
    attempt fails, the daemon goes on. The log line must not send the admin to fix a URL or a
    redirect that are fine: the server answered garbage."""
    rcv = setup(env, bad=("raw", b"SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP\r\n\r\n"))
    bad_run(env)
    env.wait_log(f"Ping to http://127.0.0.1:{rcv.port}/bad/…")
    env.wait_log("failed")
    time.sleep(QUIET)
    line = [x for x in env.log().splitlines() if "bad.service: Ping to" in x and "failed" in x][0]
    assert "Fix the URL or the redirect" not in line, f"misleading: {line}"
    still_works(env, rcv)
    mark = len(env.log())
    rcv.routes["/bad/"] = ("raw", b"HTTP/1.1 two hundred OK\r\nContent-Length: 2\r\n\r\nOK")
    n = len(paths(rcv, "/bad/"))
    bad_run(env)
    wait_paths(rcv, "/bad/", n + 1)
    env._wait_for(lambda: "failed" in log_since(env, mark), 10, "a failure logged")
    still_works(env, rcv)


def test_close_mid_headers(env):
    """The connection drops in the middle of the status line: a failed attempt, retried, given
    up. (Once a whole 2xx status line is in, the monitor has the ping: that counts as sent.)"""
    rcv = setup(env, bad=("raw", b"HTTP/1.1 20"))
    bad_run(env)
    wait_paths(rcv, "/bad/", 3)
    env.wait_log("giving up")
    assert re.search(r"Ping to \S+ failed \(.+\); retry 1 of 2", env.log()), env.log()[-3000:]
    still_works(env, rcv)
    rcv.routes["/bad/"] = ("raw", b"HTTP/1.1 200 OK\r\nContent-Le")
    mark = len(env.log())
    bad_run(env)
    env._wait_for(lambda: "Pinged" in log_since(env, mark) and "/bad/" in str(rcv.requests[-1:]) or
                  "giving up" in log_since(env, mark), 10, "the second run's outcome")
    assert "Pinged" in log_since(env, mark), log_since(env, mark)


def test_close_mid_body(env):
    """A 200 whose body is cut short: the attempt ends at once (no hang until the timeout); the
    monitor said 200, so the ping counts as delivered and is not sent twice; the daemon goes on."""
    rcv = setup(env, bad=("raw", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nOK"))
    start = bad_run(env)
    env.wait_log(f"Pinged http://127.0.0.1:{rcv.port}/bad/…")
    took = time.monotonic() - start
    assert took < 2.5 * SLOWDOWN, f"took {took:.1f}s: waited for the rest of the body"
    still_works(env, rcv)


# --- the bus --------------------------------------------------------------------------------
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"
BAD_PATH = "/org/freedesktop/systemd1/unit/bad_2eservice"
INVOCATION = ["ay", "16"] + ["0xab"] * 16


def daemon_bus_name(env):
    """timerbeat's unique name on the test bus, by its PID."""
    def find():
        r = subprocess.run(["busctl", "--user", "list", "--unique", "--no-legend"], env=env.env,
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) > 1 and f[1] == str(env.daemon.pid):
                return f[0]
        return None
    env._wait_for(lambda: find() is not None, 5, "timerbeat on the bus")
    return find()


def emit(env, dest, signature, *args, path=BAD_PATH):
    """A PropertiesChanged from a busctl process: a peer that owns no name. With dest, it is
    sent to timerbeat alone (unicast); without, broadcast."""
    cmd = (["busctl", "--user"] + ([f"--destination={dest}"] if dest else []) +
           ["emit", path, "org.freedesktop.DBus.Properties", "PropertiesChanged", signature] +
           [str(a) for a in args])
    r = subprocess.run(cmd, env=env.env, capture_output=True, text=True)
    assert r.returncode == 0, f"{cmd}: {r.stderr}"


def forge_run(env, dest):
    """The three signals systemd sends for a run of bad.service that starts and succeeds."""
    emit(env, dest, "sa{sv}as", UNIT_IFACE, 2, "ActiveState", "s", "active", "InvocationID", *INVOCATION, 0)
    emit(env, dest, "sa{sv}as", SERVICE_IFACE, 3, "Result", "s", "success", "ExecMainCode", "i", 1,
         "ExecMainStatus", "i", 0, 0)
    emit(env, dest, "sa{sv}as", UNIT_IFACE, 3, "ActiveState", "s", "inactive", "SubState", "s", "dead",
         "InvocationID", *INVOCATION, 0)


def test_properties_changed_unexpected_types(env):
    """PropertiesChanged with types systemd never sends, from a peer on the bus, addressed to
    timerbeat: each is ignored (with a log line) or dropped; no run end, no ping, no crash;
    then a real run of the same service is still reported."""
    rcv = setup(env)
    name = daemon_bus_name(env)
    mark = len(env.log())
    emit(env, name, "i", 5)                                                         # wrong body
    emit(env, name, "s", UNIT_IFACE)                                                # body cut short
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "ActiveState", "i", 5, 0)            # int, not string
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "InvocationID", "s", "abc", 0)       # string, not ay
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "InvocationID", "ay", 3, 1, 2, 3, 0)  # 3 bytes, not 16
    emit(env, name, "sa{sv}as", SERVICE_IFACE, 1, "Result", "as", 2, "success", "x", 0)
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "ActiveState", "v", "v", "s", "inactive", 0)
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "SubState", "s", "x" * 5000, 0)      # long string
    emit(env, name, "sa{sv}as", UNIT_IFACE, 2, "ActiveState", "s", "active", "ActiveState", "s", "inactive", 0)
    emit(env, name, "sa{sv}as", "", 0, 0)                                           # no interface
    emit(env, name, "sa{sv}as", UNIT_IFACE, 1, "ActiveState", "s", "active", 0,
         path="/org/freedesktop/systemd1/unit/not_2dwatched_2eservice")
    time.sleep(QUIET)
    assert env.daemon.poll() is None, f"timerbeat exited: {env.log()[-3000:]}"
    assert not paths(rcv, "/bad/"), f"pinged on a bogus signal: {rcv.requests}"
    assert "Ignoring" in log_since(env, mark), log_since(env, mark)[-3000:]
    # The watcher's state is intact: a real run of bad.service is still seen and pinged.
    env.systemctl("start", "bad.service")
    wait_paths(rcv, "/bad/", 1)
    still_works(env, rcv)


def test_forged_run_end_broadcast(env):
    """A peer that is not systemd broadcasts the signals of a successful run: the bus does not
    deliver them to timerbeat (its match names systemd as the sender), so nothing is pinged."""
    rcv = setup(env)
    mark = len(env.log())
    forge_run(env, None)
    time.sleep(QUIET * 2)
    assert not paths(rcv, "/bad/"), f"a forged run end was pinged: {rcv.requests}"
    assert "abababab" not in log_since(env, mark), log_since(env, mark)
    still_works(env, rcv)


def test_forged_run_end_unicast(env):
    """The same signals addressed to timerbeat's unique name: the bus delivers a unicast
    signal without looking at match rules, and sd-bus does not compare a unique sender with the
    well-known name in the match. timerbeat itself must check that the sender is systemd: a
    forged "success" would otherwise let any local process silence a heartbeat alarm."""
    rcv = setup(env)
    name = daemon_bus_name(env)
    forge_run(env, name)
    time.sleep(QUIET * 2)
    assert not paths(rcv, "/bad/"), f"a forged run end from a peer that is not systemd was pinged: {rcv.requests}"
    env.systemctl("start", "bad.service")
    wait_paths(rcv, "/bad/", 1)
    still_works(env, rcv)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
