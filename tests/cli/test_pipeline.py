#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The commands agree with the daemon (issue 11): `check` shows a check configured with
success-url= only; `ping --dry-run` resolves it as the daemon does; `ping --event start|failure|log`
builds the endpoint the daemon sends to; exit status 78 only for a refused configuration.
No systemd needed: exact sections resolve without the bus."""
import os
import stat
import subprocess
import sys
import tempfile

binary = sys.argv[1]
UUID = "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
CONF = f"""[a.timer]
success-url = http://127.0.0.1:9/a/{UUID}

[b.timer]
preset = healthchecks
url = http://127.0.0.1:9/ping/{UUID}
start = yes
failure = yes

[c.timer]
url = http://127.0.0.1:9/c/{UUID}
"""

tmp = tempfile.mkdtemp()
conf = os.path.join(tmp, "timerbeat.conf")
with open(conf, "w") as f:
    f.write(CONF)
os.chmod(conf, stat.S_IRUSR | stat.S_IWUSR)
env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent", DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")


def run(*args):
    return subprocess.run([binary, "-c", conf] + list(args), capture_output=True, text=True, env=env)


def first_line(*args):
    r = run(*args)
    return r.returncode, (r.stdout.splitlines() or [""])[0], r.stderr


cases = [
    # check: the URL of a success-url= check and the line it is on
    (lambda: (lambda l: l.startswith("[a.timer] GET http://127.0.0.1:9/a/…89ab") and l.endswith("timerbeat.conf:1)"))(
        [l for l in run("check").stdout.splitlines() if l.startswith("[a.timer]")][0]), True),
    (lambda: "(none)" in run("check").stdout or "(null)" in run("check").stdout, False),
    # ping --dry-run of a success-url= check: what the daemon sends
    (lambda: first_line("ping", "a.timer", "--dry-run", "--show-secrets")[:2],
     (0, f"GET http://127.0.0.1:9/a/{UUID}")),
    # start, failure and log endpoints of a preset
    (lambda: first_line("ping", "b.timer", "--event", "start", "--dry-run", "--show-secrets")[1].split("?")[0],
     f"GET http://127.0.0.1:9/ping/{UUID}/start"),
    (lambda: first_line("ping", "b.timer", "--event", "failure", "--exit-code", "3", "--dry-run",
                        "--show-secrets")[1].split("?")[0], f"GET http://127.0.0.1:9/ping/{UUID}/3"),
    (lambda: first_line("ping", "b.timer", "--event", "log", "--dry-run", "--show-secrets")[1].split("?")[0],
     f"GET http://127.0.0.1:9/ping/{UUID}/log"),
    # a generic check has no start endpoint: said, exit 3
    (lambda: (lambda r: (r.returncode, "c.timer has no start endpoint (preset generic)" in r.stderr))(
        run("ping", "c.timer", "--event", "start", "--dry-run")), (3, True)),
    (lambda: first_line("ping", "b.timer", "--event", "bogus")[0], 2),
    (lambda: first_line("ping", "b.timer", "--exit-code", "300")[0], 2),
    # 78 only for a refused configuration; a bus that cannot be reached is a plain failure
    (lambda: subprocess.run([binary, "--user", "-c", conf, "--state-dir", tmp], capture_output=True,
                            env=dict(env, XDG_RUNTIME_DIR="/nonexistent"), timeout=30).returncode, 1),
]

bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[a.timer]\nurl = ftp://x/\n")
cases.append((lambda: subprocess.run([binary, "--user", "-c", bad, "--state-dir", tmp], capture_output=True,
                                     env=env, timeout=30).returncode, 78))

failed = False
for i, (fn, want) in enumerate(cases):
    got = fn()
    if got != want:
        print(f"case {i}: got {got!r}, want {want!r}")
        failed = True
sys.exit(1 if failed else 0)
