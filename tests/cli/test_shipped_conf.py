#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped conf/timerbeat.conf is valid as shipped, and still valid with every commented
key and the example section uncommented: the documented defaults are real values."""
import os
import re
import subprocess
import sys
import tempfile

binary, conf = sys.argv[1], sys.argv[2]
with open(conf) as f:
    text = f.read()

failed = False
with tempfile.TemporaryDirectory() as d:
    for name, body in (("as-shipped", text),
                       ("uncommented", re.sub(r"(?m)^#(\[?[a-z][a-z.-]*\]?( =.*)?)$", r"\1", text))):
        path = os.path.join(d, name + ".conf")
        with open(path, "w") as f:
            f.write(body)
        r = subprocess.run([binary, "check", "-c", path], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: exit {r.returncode}\n{r.stderr}")
            failed = True
        elif name == "uncommented" and "[backup.timer] GET https://hc-ping.com/" not in r.stdout:
            print(f"{name}: example section not seen:\n{r.stdout}")
            failed = True
        if name == "uncommented":
            keys = set(re.findall(r"(?m)^([a-z-]+) =", body))
            for k in ("timeout", "connect-timeout", "retries", "retry-delay", "retry-max-delay",
                      "max-parallel", "max-queue", "max-queue-per-check", "max-age", "user-agent", "source", "annotations",
                      "url", "method", "enabled", "preset", "start", "failure", "success-url",
                      "start-url", "failure-url", "log-url", "body", "attach-log", "body-max", "trigger",
                      "skip-exit-status", "min-runtime", "failure-threshold", "auto-create",
                      "provision", "api-url", "api-key", "slug", "grace", "tags"):
                if k not in keys:
                    print(f"key {k} is not documented in {conf}")
                    failed = True
sys.exit(1 if failed else 0)
