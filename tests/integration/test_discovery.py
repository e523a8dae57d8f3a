#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Annotations ([X-Timerbeat] in unit files and drop-ins) and pattern sections, against a real
systemd user manager: picked up on daemon-reload without touching timerbeat."""

import os
import signal
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


def test_pattern_enabled_inactive_timer(env):
    """A found timer that is not active is covered once it is enabled: the listing shows it
    inactive, and whether it is enabled (UnitFileState, the one expensive property) is asked
    after READY=1. Enabled: its runs are pinged; merely loaded: not."""
    rcv = env.receiver()
    for n in ("pe-on", "pe-off"):
        env.oneshot(f"{n}.service", "/bin/true")
        env.write_unit(f"{n}.timer", "[Timer]\nOnActiveSec=1h\n[Install]\nWantedBy=timers.target\n")
    env.write_unit("pe-anchor.target", "[Unit]\nBefore=pe-off.timer\n")
    env.daemon_reload()
    env.systemctl("enable", "pe-on.timer")
    env.systemctl("start", "pe-anchor.target")
    assert env.show("pe-on.timer", "ActiveState") == "inactive"
    env.write_config(FAST + f"[pe-*.timer]\nurl = {rcv.url('/pe/' + SECRET + '/{unit_prefix}')}\n")
    env.start_daemon()
    env.wait_log("[pe-on.timer] watches pe-on.service")
    env.wait_log("pe-off.timer: not monitored.")
    env.systemctl("start", "pe-off.service")
    env.systemctl("start", "pe-on.service")
    rcv.wait(1)
    time.sleep(1)
    assert [r.path for r in rcv.requests] == [f"/pe/{SECRET}/pe-on"], rcv.requests


def test_pattern_over_many_idle_timers(env):
    """[pt@*.timer] over 5,000 idle loaded timers (issue 14: 164 s before READY=1, past the
    default TimeoutStartSec=): READY=1 comes from the listing alone, without asking systemd for
    any unit's properties in bulk (no GetAll; UnitFileState only after READY=1). A bus monitor
    counts the calls; the bound on the time is generous, the mechanism is what is asserted. A
    started timer among them is followed: its run is pinged."""
    n = 5000
    rcv = env.receiver()
    env.write_unit("pt@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("pt@.timer", "[Timer]\nOnCalendar=yearly\n")
    env.write_unit("pt-anchor.target", "[Unit]\n" + "".join(f"Before=pt@{i:04d}.timer\n" for i in range(n)))
    env.daemon_reload()
    env.systemctl("start", "pt-anchor.target", "pt@live.timer")
    env.write_config(FAST + f"[pt@*.timer]\nurl = {rcv.url('/pt/' + SECRET + '/{unit}')}\n")
    log = f"{env.dir}/monitor.log"
    monitor = env.spawn(["dbus-monitor", "--session", "type='method_call',interface='org.freedesktop.DBus.Properties'"],
                        "monitor.log")
    env._wait_for(lambda: os.path.getsize(log) > 0, 10, "dbus-monitor")
    t0 = time.monotonic()
    env.start_daemon(wait_ready=False)
    env.wait_notify("READY=1", timeout=10)
    took = time.monotonic() - t0
    # Whatever the monitor has seen by now was sent before READY=1 (plus a few after).
    time.sleep(0.5)
    with open(log, errors="replace") as f:
        calls = f.read()
    monitor.terminate()
    getall = calls.count("member=GetAll")
    assert getall == 0, f"{getall} GetAll calls"
    gets = calls.count("member=Get\n") + calls.count("member=Get ")
    # Before READY=1: the started timer and its service (20); after it, the probes, two at a
    # time. Reading every idle timer would be 5 Gets each (25,000).
    assert gets < n // 2, f"{gets} Get calls around start-up: the idle timers were read one by one"
    env.systemctl("start", "pt@live.service")
    rcv.wait(1)
    assert [r.path for r in rcv.requests] == [f"/pt/{SECRET}/pt%40live.timer"], rcv.requests
    print(f"READY=1 after {took:.2f} s; {gets} Get calls", file=sys.stderr)


def annotated_timer(env, rcv, name, timer_extra=""):
    timer_job(env, name, timer_extra=timer_extra)
    dropin(env, f"{name}.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/' + name + '/' + SECRET)}\n")


def test_annotation_installed_started_later(env):
    """Issue 20: with annotations alone, systemd's UnitNew is not followed. A timer installed
    and daemon-reloaded but not started is not loaded; the listing of the installed timer files
    gives it a match on its object path, and its start comes through that."""
    rcv = env.receiver()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    annotated_timer(env, rcv, "late")
    env.daemon_reload()
    env.wait_log("late.timer is installed, not loaded: following it by its path.")
    assert env.show("late.timer", "LoadState") != "loaded" or env.show("late.timer", "ActiveState") == "inactive"
    env.systemctl("start", "late.timer")
    env.wait_log("[late.timer] watches late.service")
    env.systemctl("start", "late.service")
    assert rcv.wait(1)[0].path == f"/late/{SECRET}"
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_annotation_loaded_timer_started(env):
    """Issue 20: a timer systemd has loaded (another unit refers to it) but not started is found
    and not monitored; its start (JobRemoved told before) comes through the match on its
    object path."""
    rcv = env.receiver()
    annotated_timer(env, rcv, "held")
    env.write_unit("held-anchor.target", "[Unit]\nBefore=held.timer\n")
    env.daemon_reload()
    env.systemctl("start", "held-anchor.target")
    assert env.show("held.timer", "ActiveState") == "inactive"
    env.write_config(FAST)
    env.start_daemon()
    env.wait_log("held.timer: not monitored.")
    env.systemctl("start", "held.timer")
    env.wait_log("[held.timer] watches held.service")
    env.systemctl("start", "held.service")
    assert rcv.wait(1)[0].path == f"/held/{SECRET}"


def test_annotation_loaded_timer_started_template_installed(env):
    """The same with an annotated template timer installed: its
    instances keep UnitNew and UnitRemoved followed, but not JobRemoved, the most frequent of
    the three (every job on the system): the start still comes through the timer's path, and
    400 loaded targets started and stopped (jobs, no unit loaded) do not wake the daemon."""
    rcv = env.receiver()
    env.write_unit("other@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("other@.timer", "[Timer]\nOnActiveSec=1h\n")
    # Annotated: otherwise no instance of it is looked for, and UnitNew is not followed at all.
    dropin(env, "other@.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/other/' + SECRET)}\n")
    annotated_timer(env, rcv, "held")
    n = 400
    env.write_unit("un@.target", "[Unit]\n")
    env.write_unit("held-anchor.target", "[Unit]\nBefore=held.timer\n"
                   + "".join(f"Before=un@{i:03d}.target\n" for i in range(n)))
    env.daemon_reload()
    env.systemctl("start", "held-anchor.target")
    env.write_config(FAST)
    env.start_daemon()
    env.wait_log("held.timer: not monitored.")
    env.wait_log("A template timer is installed")
    targets = [f"un@{i:03d}.target" for i in range(n)]
    woken = env.woken_during(["start", *targets], ["stop", *targets])
    print(f"{woken} wake-ups for {2 * n} unrelated state changes", file=sys.stderr)
    assert woken <= 20, f"woken {woken} times by {2 * n} unrelated state changes"
    env.systemctl("start", "held.timer")
    env.wait_log("[held.timer] watches held.service")
    env.systemctl("start", "held.service")
    assert rcv.wait(1)[0].path == f"/held/{SECRET}"


def test_annotation_template_timer(env):
    """An annotated template timer: its instances have no file of their own to list, so with a
    template installed timerbeat keeps following UnitNew, and an instance started after the
    daemon is found and its runs pinged."""
    rcv = env.receiver()
    env.write_unit("tpl@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("tpl@.timer", "[Timer]\nOnActiveSec=1h\nAccuracySec=1ms\n")
    dropin(env, "tpl@.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/tpl/' + SECRET)}\n")
    env.daemon_reload()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("A template timer is installed")
    env.systemctl("start", "tpl@a.timer")
    env.wait_log("[tpl@a.timer] watches tpl@a.service")
    env.systemctl("start", "tpl@a.service")
    assert rcv.wait(1)[0].path == f"/tpl/{SECRET}"


def test_annotation_enable_now(env):
    """`systemctl enable --now` of a newly installed annotated timer (systemd sends
    UnitFilesChanged, reloads and starts it): its runs are pinged."""
    rcv = env.receiver()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    annotated_timer(env, rcv, "fresh", "[Install]\nWantedBy=timers.target\n")
    env.systemctl("enable", "--now", "fresh.timer")
    env.wait_log("[fresh.timer] watches fresh.service")
    env.systemctl("start", "fresh.service")
    assert rcv.wait(1)[0].path == f"/fresh/{SECRET}"


def test_annotation_enable_no_reload(env):
    """The same without a daemon-reload (enable --no-reload, then start): only UnitFilesChanged
    tells that a timer file came; the file listing it prompts matches the timer by path."""
    rcv = env.receiver()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    annotated_timer(env, rcv, "quiet", "[Install]\nWantedBy=timers.target\n")
    env.systemctl("enable", "--no-reload", "quiet.timer")
    env.wait_log("quiet.timer is installed, not loaded: following it by its path.")
    env.systemctl("start", "quiet.timer")
    env.wait_log("[quiet.timer] watches quiet.service")
    env.systemctl("start", "quiet.service")
    assert rcv.wait(1)[0].path == f"/quiet/{SECRET}"


def test_annotations_unrelated_starts_do_not_wake(env):
    """Issue 20: with the default configuration (annotations, no pattern section), one
    annotated timer watched and one installed but not loaded, 100 targets started and stopped
    and 100 services started and unloaded wake the daemon a handful of times at most: neither
    UnitNew, UnitRemoved nor JobRemoved is routed to it."""
    rcv = env.receiver()
    n = 100
    annotated_timer(env, rcv, "seen")
    annotated_timer(env, rcv, "idle")
    env.write_unit("uw@.target", "[Unit]\n")
    env.write_unit("uv@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    env.write_unit("uw-anchor.target", "[Unit]\n" + "".join(f"Before=uw@{i:03d}.target\n" for i in range(n)))
    start_timers(env, "seen")
    env.systemctl("start", "uw-anchor.target")
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("idle.timer is installed, not loaded: following it by its path.")
    targets = [f"uw@{i:03d}.target" for i in range(n)]
    woken = env.woken_during(["start", *targets], ["stop", *targets],
                             ["start", *[f"uv@{i:03d}.service" for i in range(n)]])
    print(f"{woken} wake-ups for {4 * n} unrelated state changes", file=sys.stderr)
    assert woken <= 20, f"woken {woken} times by {4 * n} unrelated state changes"
    env.systemctl("start", "seen.service")
    assert rcv.wait(1)[0].path == f"/seen/{SECRET}"


def template_pair(env, name, service_extra=""):
    env.write_unit(f"{name}@.service", f"[Service]\nType=oneshot\nExecStart=/bin/true\n{service_extra}")
    env.write_unit(f"{name}@.timer", "[Timer]\nOnActiveSec=1h\nAccuracySec=1ms\n")


def test_template_unannotated_does_not_wake(env):
    """Issue 14: an installed template timer that no annotation applies to (postgresql-common's
    pg_dump@.timer, as shipped): its instances are not looked for, so systemd's UnitNew and
    UnitRemoved are not followed, and units loaded, started and stopped by others do not wake
    the daemon."""
    rcv = env.receiver()
    n = 100
    template_pair(env, "pg_dump")
    annotated_timer(env, rcv, "seen")
    env.write_unit("uw@.target", "[Unit]\n")
    env.write_unit("uv@.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    start_timers(env, "seen")
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("pg_dump@.timer")     # its files read, whatever they tell
    targets = [f"uw@{i:03d}.target" for i in range(n)]
    woken = env.woken_during(["start", *targets], ["stop", *targets],
                             ["start", *[f"uv@{i:03d}.service" for i in range(n)]],
                             ["start", "pg_dump@main.timer"], ["stop", "pg_dump@main.timer"])
    print(f"{woken} wake-ups for {3 * n + 2} unrelated loads and state changes", file=sys.stderr)
    assert woken <= 20, f"woken {woken} times by {3 * n + 2} unrelated loads and state changes"
    assert "pg_dump@main.timer" not in env.log()
    assert "pg_dump@.timer is installed; no annotation applies to its instances" in env.log()
    env.systemctl("start", "seen.service")
    assert rcv.wait(1)[0].path == f"/seen/{SECRET}"


def test_annotation_template_service(env):
    """An annotation in the template's service (tpl@.service) applies to every instance of the
    timer: UnitNew is followed, and an instance started after the daemon is found."""
    rcv = env.receiver()
    template_pair(env, "tplsvc", f"[X-Timerbeat]\nURL={rcv.url('/tplsvc/' + SECRET)}\n")
    env.daemon_reload()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("A template timer is installed, tplsvc@.timer")
    env.systemctl("start", "tplsvc@a.timer")
    env.wait_log("[tplsvc@a.timer] watches tplsvc@a.service")
    env.systemctl("start", "tplsvc@a.service")
    assert rcv.wait(1)[0].path == f"/tplsvc/{SECRET}"


def test_annotation_template_instance_added_later(env):
    """`systemctl edit pg_dump@main.timer` adding an annotation to one instance of a template
    nothing annotated, then daemon-reload: the instance started right after is found (UnitNew
    is followed from then on, and a listing after the match catches one loaded before it),
    its success pinged; another instance stays unmonitored."""
    rcv = env.receiver()
    template_pair(env, "late")
    env.daemon_reload()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("late@.timer is installed; no annotation applies to its instances")
    dropin(env, "late@main.timer", "override.conf", f"[X-Timerbeat]\nURL={rcv.url('/late/' + SECRET)}\n")
    env.daemon_reload()
    env.systemctl("start", "late@main.timer", "late@other.timer")
    env.wait_log("[late@main.timer] watches late@main.service")
    env.systemctl("start", "late@main.service", "late@other.service")
    assert rcv.wait(1)[0].path == f"/late/{SECRET}"
    time.sleep(QUIET)
    assert rcv.count() == 1, rcv.requests


def test_annotation_template_instance_started_meanwhile(env):
    """The same, with the instance started before timerbeat has seen the daemon-reload (it is
    stopped meanwhile, so the UnitNew of the instance is sent while nothing follows it): the
    listing of the loaded timers after the daemon-reload finds it."""
    rcv = env.receiver()
    template_pair(env, "busy")
    env.daemon_reload()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("busy@.timer is installed; no annotation applies to its instances")
    os.kill(env.daemon.pid, signal.SIGSTOP)
    try:
        dropin(env, "busy@main.timer", "override.conf", f"[X-Timerbeat]\nURL={rcv.url('/busy/' + SECRET)}\n")
        env.daemon_reload()
        env.systemctl("start", "busy@main.timer")
    finally:
        os.kill(env.daemon.pid, signal.SIGCONT)
    env.wait_log("[busy@main.timer] watches busy@main.service")
    env.systemctl("start", "busy@main.service")
    assert rcv.wait(1)[0].path == f"/busy/{SECRET}"


def test_annotation_template_prefix_dropin(env):
    """An annotation in a drop-in directory systemd reads for the template's instances by a
    dash prefix of its name (db-dump@x.timer reads db-@.timer.d/): found."""
    rcv = env.receiver()
    template_pair(env, "db-dump")
    dropin(env, "db-@.timer", "hb.conf", f"[X-Timerbeat]\nURL={rcv.url('/db/' + SECRET)}\n")
    env.daemon_reload()
    env.write_config(FAST)
    env.start_daemon()
    env.wait_settled()
    env.wait_log("A template timer is installed, db-dump@.timer")
    env.systemctl("start", "db-dump@x.timer")
    env.wait_log("[db-dump@x.timer] watches db-dump@x.service")
    env.systemctl("start", "db-dump@x.service")
    assert rcv.wait(1)[0].path == f"/db/{SECRET}"


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}

if __name__ == "__main__":
    main(TESTS)
