#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timerbeat check -c FILE: a file in data/good passes and prints every line of FILE.expect;
a file in data/bad exits 78 and prints every line of FILE.expect on stderr. The secret part
of a URL is never printed."""
import os
import subprocess
import sys

SECRET = "5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"

binary, path = sys.argv[1], sys.argv[2]
good = os.path.basename(os.path.dirname(path)) == "good"
# The expectations are those of a host without a reachable systemd: on a booted system (the
# package build in a container, a developer's machine) the units named here do not exist and
# `check` would say so. Point both buses nowhere, so the result does not depend on the host.
env = dict(os.environ)
env["DBUS_SYSTEM_BUS_ADDRESS"] = env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/timerbeat-test-bus"
r = subprocess.run([binary, "check", "-c", path], capture_output=True, text=True, errors="replace", env=env)
with open(path[: -len(".conf")] + ".expect") as f:
    expected = [line.replace("@FILE@", path) for line in f.read().splitlines()]

out = r.stdout if good else r.stderr
ok = True
if r.returncode != (0 if good else 78):
    print(f"exit status {r.returncode}, expected {0 if good else 78}")
    ok = False
for line in expected:
    if line not in out:
        print(f"missing: {line!r}")
        ok = False
if SECRET in r.stdout + r.stderr or SECRET[-12:] in r.stdout + r.stderr:
    print("a secret was printed")
    ok = False
if not ok:
    print(f"--- stdout ---\n{r.stdout}--- stderr ---\n{r.stderr}")
    sys.exit(1)
