#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The command line contract: --help, --version, usage errors (exit 2), a missing --config
file (exit 1), exit statuses as documented in timerbeat(8)."""
import subprocess
import sys

binary = sys.argv[1]


def run(*args):
    return subprocess.run([binary] + list(args), capture_output=True, text=True)


cases = [
    (("--help",), 0, "stdout", "Usage: timerbeat [OPTIONS] [COMMAND]"),
    (("--version",), 0, "stdout", "timerbeat "),
    (("--frobnicate",), 2, "stderr", "unrecognized option"),
    (("frobnicate",), 2, "stderr", "Unknown command 'frobnicate'; see timerbeat --help."),
    (("check", "extra"), 2, "stderr", "Too many arguments"),
    (("--log-level=loud",), 2, "stderr", "Unknown log level 'loud'"),
    (("check", "-c", "/nonexistent/timerbeat.conf"), 1, "stderr",
     "/nonexistent/timerbeat.conf: No such file or directory; pass an existing, readable file to --config"),
    (("run", "-c", "/nonexistent/timerbeat.conf"), 1, "stderr", "No such file or directory"),
]
failed = False
for args, status, stream, text in cases:
    r = run(*args)
    out = getattr(r, stream)
    if r.returncode != status or text not in out:
        print(f"timerbeat {' '.join(args)}: exit {r.returncode} (want {status}), {stream}: {out!r} "
              f"(want {text!r})")
        failed = True
sys.exit(1 if failed else 0)
