/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "status.h"

/* `timerbeat reload` (ExecReload= of the units): SIGHUP to the daemon, then the daemon's verdict
 * from its status file, so that `systemctl reload timerbeat` fails when the new configuration
 * is refused. Synchronous: this is a command, not the daemon. */

#define RELOAD_TIMEOUT_USEC (30 * USEC_PER_SEC)

/* $MAINPID (systemd sets it for ExecReload=), else the PID in the status file. */
static int reload_target(const DaemonStatus *st, bool have_status, pid_t *ret) {
        const char *e = getenv("MAINPID");
        unsigned u;

        if (!isempty(e)) {
                if (parse_unsigned(e, 1, INT32_MAX, &u) < 0) {
                        log_error("MAINPID=%s is not a process ID.", e);
                        return -EINVAL;
                }
                *ret = (pid_t) u;
                return 0;
        }
        if (!have_status || !daemon_status_alive(st)) {
                log_error("The timerbeat daemon is not running (no live status file); start it with systemctl start "
                          "timerbeat.");
                return -ESRCH;
        }
        *ret = st->pid;
        return 0;
}

/* The verdict of a reload that began after `sent`: 1 once there is one, 0 not yet. */
static int reload_verdict(const char *dir, pid_t pid, uint64_t generation, usec_t sent, DaemonStatus *ret) {
        DaemonStatus st = {};

        if (daemon_status_read(dir, &st) < 0)
                return 0; /* not there yet, or being replaced */
        if (st.pid != pid || st.generation <= generation || st.started < sent) {
                daemon_status_done(&st);
                return 0;
        }
        *ret = st;
        return 1;
}

static void reload_report(const DaemonStatus *st) {
        char buf[64] = "-";
        time_t t = (time_t) (st->loaded / USEC_PER_SEC);
        struct tm tm;

        if (localtime_r(&t, &tm))
                (void) strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
        if (!st->refused) {
                printf("Configuration reloaded (%zu file%s).\n", st->files.n, st->files.n == 1 ? "" : "s");
                return;
        }
        for (size_t i = 0; i < st->errors.n; i++)
                log_error("%s", st->errors.items[i]);
        log_error("timerbeat refused the new configuration: fix the errors above and reload again; it keeps "
                  "running the configuration loaded at %s.",
                  buf);
}

static int reload_wait(const char *dir, pid_t pid, uint64_t generation, usec_t sent, int fd) {
        usec_t deadline = sent + RELOAD_TIMEOUT_USEC;

        for (;;) {
                _cleanup_(daemon_status_done) DaemonStatus st = {};
                char ev[4096];
                usec_t now;
                int r;

                r = reload_verdict(dir, pid, generation, sent, &st);
                if (r > 0) {
                        reload_report(&st);
                        return st.refused ? EX_CONFIG : EXIT_SUCCESS;
                }
                if (kill(pid, 0) < 0 && errno == ESRCH) {
                        log_error("The timerbeat daemon (PID %ld) exited during the reload; see its log.",
                                  (long) pid);
                        return EXIT_FAILURE;
                }
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        log_error("timerbeat (PID %ld) gave no verdict on the reload within %llus; see its log.",
                                  (long) pid, (unsigned long long) (RELOAD_TIMEOUT_USEC / USEC_PER_SEC));
                        return EXIT_FAILURE;
                }
                /* Woken by the rename of the status file; every 500ms anyway, to notice an exit. */
                r = poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1,
                         (int) MIN((deadline - now) / USEC_PER_MSEC + 1, 500));
                if (r > 0)
                        (void) !read(fd, ev, sizeof(ev));
        }
}

int cli_reload(const CliOptions *o) {
        _cleanup_(daemon_status_done) DaemonStatus st = {};
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool have_status;
        usec_t sent;
        pid_t pid;
        int r;

        r = manager_state_dir(o->manager, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot determine the state directory: %m (set HOME or XDG_STATE_HOME)"),
                       EXIT_FAILURE;
        r = daemon_status_read(dir, &st);
        have_status = r >= 0;
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot read %s/" STATUS_FILE ": %m", dir);
        if (reload_target(&st, have_status, &pid) < 0)
                return EXIT_FAILURE;

        /* Watch before signalling, so that no rename is missed. */
        fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0 || inotify_add_watch(fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
                log_debug_errno(errno, "Cannot watch %s (%m); polling.", dir);
        sent = now_usec(CLOCK_MONOTONIC);
        if (kill(pid, SIGHUP) < 0)
                return log_error_errno(errno, "Cannot send SIGHUP to timerbeat (PID %ld): %m", (long) pid),
                       EXIT_FAILURE;
        return reload_wait(dir, pid, have_status && st.pid == pid ? st.generation : 0, sent, fd);
}

/* The files in a that b does not have with the same digest ("changed" or "new" from a's side). */
static void diff_files(const Strv *af, const Strv *ad, const Strv *bf, const Strv *bd, Strv *changed, Strv *only_a) {
        for (size_t i = 0; i < af->n; i++) {
                size_t j = 0;

                while (j < bf->n && !streq(af->items[i], bf->items[j]))
                        j++;
                if (j == bf->n)
                        (void) strv_push(only_a, af->items[i]);
                else if (changed && !streq(ad->items[i], bd->items[j]))
                        (void) strv_push(changed, af->items[i]);
        }
}

int cli_daemon_compare(const Config *disk, const char *state_dir, DaemonView *ret) {
        DaemonView v = {};
        int r;

        if (!state_dir)
                return -ENOENT;
        r = daemon_status_read(state_dir, &v.status);
        if (r < 0)
                return r;
        if (!daemon_status_alive(&v.status)) {
                daemon_status_done(&v.status);
                return -ESRCH;
        }
        if (!disk) {
                v.differs = true;
                *ret = v;
                return 0;
        }
        diff_files(&disk->files, &disk->digests, &v.status.files, &v.status.digests, &v.changed, &v.added);
        diff_files(&v.status.files, &v.status.digests, &disk->files, &disk->digests, NULL, &v.removed);
        v.differs = v.changed.n + v.added.n + v.removed.n > 0;
        *ret = v;
        return 0;
}

void daemon_view_done(DaemonView *v) {
        daemon_status_done(&v->status);
        strv_done(&v->changed);
        strv_done(&v->added);
        strv_done(&v->removed);
}

static void print_list(const char *what, const Strv *l) {
        if (l->n == 0)
                return;
        printf(" %s:", what);
        for (size_t i = 0; i < l->n; i++)
                printf(" %s", l->items[i]);
        printf(";");
}

void cli_daemon_print(const CliOptions *o, const Config *disk, const char *state_dir) {
        _cleanup_(daemon_view_done) DaemonView v = {};
        char buf[64] = "-";
        time_t t;
        struct tm tm;
        int r;

        r = cli_daemon_compare(disk, state_dir, &v);
        if (r == -EACCES || r == -EPERM) {
                printf("What the daemon runs is not known: its status file in %s cannot be read (run as root).\n",
                       state_dir);
                return;
        }
        if (r < 0) {
                if (disk)
                        printf("The daemon is not running: the table shows the configuration on disk.\n");
                return;
        }
        t = (time_t) (v.status.loaded / USEC_PER_SEC);
        if (localtime_r(&t, &tm))
                (void) strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
        printf("The daemon (PID %ld) runs the configuration loaded at %s", (long) v.status.pid, buf);
        if (!disk)
                printf("; the configuration on disk is refused (the errors above), reloading it would fail.\n");
        else if (!v.differs)
                printf(", the same as on disk.\n");
        else {
                printf("; the files on disk differ:");
                print_list("changed", &v.changed);
                print_list("new", &v.added);
                print_list("gone", &v.removed);
                printf(" the table shows them as on disk; apply them with systemctl %sreload timerbeat.\n",
                       o->manager->user ? "--user " : "");
        }
        if (v.status.refused)
                printf("Its last reload was refused (%zu error%s; timerbeat check shows them).\n", v.status.errors.n,
                       v.status.errors.n == 1 ? "" : "s");
}
