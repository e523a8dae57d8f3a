#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timerbeat check with many drop-ins (issue 14: 10,000 must take ≤ 2 s): the work grows
linearly with their number. Measured as CPU time at two sizes, 8× apart: linear work takes
about 8× as long, a quadratic step (a linear scan per section, per drop-in name, per warning)
over 30×. A ratio, not a wall-clock bound alone, so a loaded machine or a sanitizer build
does not make it flaky; the absolute bound is generous."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile

binary = sys.argv[1]
SMALL, LARGE = 2500, 20000


def run_check(n):
    d = tempfile.mkdtemp(prefix="timerbeat-dropins-")
    try:
        conf = f"{d}/config/timerbeat"
        os.makedirs(f"{conf}/conf.d")
        with open(f"{conf}/timerbeat.conf", "w") as f:
            f.write("[timerbeat]\n")
        for i in range(n):
            # Each one warns (plain http), so the warnings' de-duplication is exercised too.
            with open(f"{conf}/conf.d/{i:05d}.conf", "w") as f:
                f.write(f"[u{i:05d}.timer]\nurl = http://127.0.0.1:9/ping/{i}\n")
        env = dict(os.environ, XDG_CONFIG_HOME=f"{d}/config", XDG_RUNTIME_DIR=d, XDG_STATE_HOME=f"{d}/state",
                   DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/timerbeat-test-bus",
                   DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/timerbeat-test-bus")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([binary, "--user", "check"], capture_output=True, text=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        expect = f"OK: watching {n} units from {n} sections."
        if r.returncode != 0 or expect not in r.stdout:
            print(f"exit {r.returncode}, expected {expect!r}\n--- stdout (end) ---\n{r.stdout[-2000:]}"
                  f"--- stderr (end) ---\n{r.stderr[-2000:]}")
            sys.exit(1)
        return cpu
    finally:
        shutil.rmtree(d, ignore_errors=True)


small = run_check(SMALL)
large = run_check(LARGE)
ratio = large / max(small, 0.01)
print(f"check: {SMALL} drop-ins {small:.2f} s CPU, {LARGE} drop-ins {large:.2f} s CPU (×{ratio:.1f})")
if ratio > 16 or large > 60:
    print(f"check does not scale linearly with drop-ins: ×{ratio:.1f} for 8× as many (linear: about 8)")
    sys.exit(1)
