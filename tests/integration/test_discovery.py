#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Annotations ([X-Timerbeat] in unit files and drop-ins) and pattern sections, against a real
systemd user manager: picked up on daemon-reload without touching timerbeat."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST, SECRET, main  # noqa: E402

QUIET = 0.5


def timer_job(env, name, cmd="/bin/true", timer_extra=""):
    env.oneshot(f"{name}.service", cmd)
    env.timer(f"{name}.timer", f"OnActiveSec=1h\n{timer_extra}")


def start_timers(env, *names):
    env.daemon_reload()
    env.systemctl("start", *[f"{n}.timer" for n in names])


def dropin(env, unit, name, text):
    d = f"{env.unit_dir}/{unit}.d"
    os.makedirs(d, exist_ok=True)
    path = f"{d}/{name}"
    with open(path, "w") as f:
        f.write(text)
    return path


def test_annotation_added_and_removed(env):
    rcv = env.receiver()
    timer_job(env, "backup")
    start_timers(env, "backup")
    env.write_config(FAST)
    env.start_daemon()
    env.systemctl("start", "backup.service")
    time.sleep(QUIET)
    assert rcv.count() == 0
    # What `systemctl edit backup.timer` does: a drop-in, then daemon-reload. timerbeat is not
    # reloaded or restarted.
    path = dropin(env, "backup.timer", "override.conf", f"[X-Timerbeat]\nURL={rcv.url()}\n")
    env.daemon_reload()
    env.wait_log("backup.timer is monitored (annotation")
    env.systemctl("start", "backup.service")
    assert rcv.wait(1)[0].path == f"/ping/{SECRET}"
    before = env.log().count("backup.timer: not monitored.")    # once already, at the start
    os.unlink(path)
    env.daemon_reload()
    env.wait_log("backup.timer: not monitored.", count=before + 1)
    env.systemctl("start", "backup.service")
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_annotation_in_service_fragment(env):
    rcv = env.receiver()
    env.oneshot("report.service", "/bin/true",
                f"\n[X-Timerbeat]\nurl = {rcv.url('/report/' + SECRET)}\nmethod = POST\n")
    env.timer("report.timer", "OnActiveSec=1h")
    start_timers(env, "report")
    env.write_config(FAST)
    env.start_daemon()
    env.systemctl("start", "report.service")
    r = rcv.wait(1)[0]
    assert r.method == "POST" and r.path == f"/report/{SECRET}"


def test_pattern_three_timers(env):
    rcv = env.receiver()
    for n in ("alpha", "beta", "gamma", "skip"):
        timer_job(env, n)
    start_timers(env, "alpha", "beta", "gamma", "skip")
    env.write_config(FAST + f"[*.timer]\nurl = {rcv.url('/hc/' + SECRET + '/{unit_prefix}')}?create=1\n"
                     "[skip.timer]\nenabled = no\n")
    env.start_daemon()
    for n in ("alpha", "beta", "gamma", "skip"):
        env.systemctl("start", f"{n}.service")
    reqs = rcv.wait(3)
    time.sleep(QUIET)
    assert sorted(r.path for r in rcv.requests) == sorted(
        f"/hc/{SECRET}/{n}?create=1" for n in ("alpha", "beta", "gamma")), rcv.requests


def test_pattern_precedence(env):
    """Exact section > annotation > the most specific pattern."""
    rcv = env.receiver()
    for n in ("backup-home", "backup-db", "other", "annotated"):
        timer_job(env, n)
    dropin(env, "annotated.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/annotation/' + SECRET)}\n")
    start_timers(env, "backup-home", "backup-db", "other", "annotated")
    env.write_config(FAST + f"[*.timer]\nurl = {rcv.url('/any/' + SECRET)}\n"
                     f"[backup-*.timer]\nurl = {rcv.url('/backup/' + SECRET)}\n"
                     f"[backup-db.timer]\nurl = {rcv.url('/exact/' + SECRET)}\n")
    env.start_daemon()
    for n in ("backup-home", "backup-db", "other", "annotated"):
        env.systemctl("start", f"{n}.service")
    rcv.wait(4)
    time.sleep(QUIET)
    got = sorted(r.path.split("/")[1] for r in rcv.requests)
    assert got == ["annotation", "any", "backup", "exact"], rcv.requests


def test_conf_section_beats_annotation(env):
    rcv = env.receiver()
    timer_job(env, "backup")
    dropin(env, "backup.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/annotation/' + SECRET)}\n")
    start_timers(env, "backup")
    env.write_config(FAST + f"[backup.timer]\nurl = {rcv.url('/conf/' + SECRET)}\n")
    env.start_daemon()
    env.systemctl("start", "backup.service")
    assert rcv.wait(1)[0].path == f"/conf/{SECRET}"
    time.sleep(QUIET)
    assert rcv.count() == 1


def test_bad_annotation_isolated(env):
    rcv = env.receiver()
    timer_job(env, "good")
    timer_job(env, "bad")
    dropin(env, "good.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/good/' + SECRET)}\n")
    bad = dropin(env, "bad.timer", "hb.conf", "[X-Timerbeat]\nURL=ftp://example.com/x\nColour=blue\n")
    start_timers(env, "good", "bad")
    env.write_config(FAST)
    env.start_daemon()
    env.wait_log(f"{bad}:2: url= ftp://example.com/…: only http:// and https://")
    assert f"{bad}:3: unknown key 'Colour'" in env.log()
    env.systemctl("start", "bad.service")
    env.systemctl("start", "good.service")
    assert rcv.wait(1)[0].path == f"/good/{SECRET}"
    time.sleep(QUIET)
    assert rcv.count() == 1


def test_timer_created_later_pattern(env):
    rcv = env.receiver()
    env.write_config(FAST + f"[nightly-*.timer]\nurl = {rcv.url('/n/' + SECRET + '/{unit}')}\n")
    env.start_daemon()
    timer_job(env, "nightly-sync")
    start_timers(env, "nightly-sync")
    env.wait_log("nightly-sync.timer is monitored")
    env.systemctl("start", "nightly-sync.service")
    assert rcv.wait(1)[0].path == f"/n/{SECRET}/nightly-sync.timer"


def test_service_pattern_instances(env):
    rcv = env.receiver()
    env.write_unit("db@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("db-keep@.timer", "[Timer]\nOnActiveSec=1h\nUnit=db@%i.service\n")
    env.daemon_reload()
    # Timers keep the instances loaded between runs.
    env.systemctl("start", "db-keep@main.timer", "db-keep@x\\x2dy.timer")
    env.write_config(FAST + f"[db@*.service]\nurl = {rcv.url('/db/' + SECRET + '/{unit_prefix}')}\n")
    env.start_daemon()
    env.systemctl("start", "db@main.service")
    env.systemctl("start", "db@x\\x2dy.service")
    rcv.wait(2)
    assert sorted(r.path for r in rcv.requests) == sorted(
        [f"/db/{SECRET}/db%40main", f"/db/{SECRET}/db%40x%5Cx2dy"]), rcv.requests


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
