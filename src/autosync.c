/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autosync.h"
#include "log.h"
#include "retry.h"
#include "sync.h"

/* --- the pure part --- */

bool autosync_wanted(const Config *c) {
        if (!c || !c->autosync)
                return false;
        for (size_t i = 0; i < c->n_checks; i++)
                if (c->checks[i]->enabled && check_is_provisioned(c, c->checks[i]))
                        return true;
        return false;
}

AutosyncAction autosync_on_trigger(AutosyncPolicy *p) {
        if (p->running) {
                p->pending = true;
                return AUTOSYNC_NOTHING;
        }
        p->retry_at = 0;
        p->running = true;
        return AUTOSYNC_START;
}

AutosyncAction autosync_on_need(AutosyncPolicy *p) {
        if (p->running) {
                p->pending = true;
                return AUTOSYNC_NOTHING;
        }
        if (p->retry_at > 0)
                return AUTOSYNC_NOTHING;
        p->running = true;
        return AUTOSYNC_START;
}

AutosyncAction autosync_on_timer(AutosyncPolicy *p) {
        if (p->running || p->retry_at == 0)
                return AUTOSYNC_NOTHING;
        p->retry_at = 0;
        p->running = true;
        return AUTOSYNC_START;
}

AutosyncAction autosync_on_done(AutosyncPolicy *p, bool ok, usec_t now, usec_t base, usec_t max, double rnd) {
        p->running = false;
        p->retry_at = 0;
        if (ok)
                p->failures = 0;
        else {
                if (p->failures < UINT_MAX)
                        p->failures++;
                p->retry_at = now + retry_backoff(p->failures - 1, base, max, rnd);
        }
        if (p->pending) {
                /* Triggered while it ran: what it read may be out of date already. */
                p->pending = false;
                p->retry_at = 0;
                p->running = true;
                return AUTOSYNC_START;
        }
        return ok ? AUTOSYNC_NOTHING : AUTOSYNC_WAIT;
}

/* --- the daemon's side --- */

struct Autosync {
        sd_event *event;
        const ManagerOptions *options;
        const char *state_dir;
        Config *const *config;
        bool stopped;
        AutosyncPolicy policy;
        usec_t retry_base, retry_max;
        Strv asked;   /* timers autosync_need() was called for */
        bool started; /* the start's sync was asked for (after READY=1) */
        sd_event_source *child, *timer;
        pid_t pid;
};

int autosync_new(Autosync **ret, sd_event *e, const ManagerOptions *o, const char *state_dir, Config *const *config) {
        const char *base = getenv(AUTOSYNC_RETRY_ENV);
        Autosync *a;

        assert(ret && e && o && state_dir && config);
        a = calloc(1, sizeof(Autosync));
        if (!a)
                return -ENOMEM;
        *a = (Autosync) {
                .event = sd_event_ref(e),
                .options = o,
                .state_dir = state_dir,
                .config = config,
                .retry_base = AUTOSYNC_RETRY_BASE,
                .retry_max = AUTOSYNC_RETRY_MAX,
        };
        if (base && parse_timespan(base, &a->retry_base) >= 0 && a->retry_base > 0)
                a->retry_max = a->retry_base;
        else
                a->retry_base = AUTOSYNC_RETRY_BASE;
        *ret = a;
        return 0;
}

void autosync_stop(Autosync *a) {
        if (!a)
                return;
        a->stopped = true;
        if (a->pid > 0) {
                /* Killed mid-request, the next start syncs again: creating is idempotent. */
                (void) kill(a->pid, SIGKILL);
                (void) waitpid(a->pid, NULL, 0);
                a->pid = 0;
        }
        a->child = sd_event_source_disable_unref(a->child);
        a->timer = sd_event_source_disable_unref(a->timer);
}

Autosync *autosync_free(Autosync *a) {
        if (!a)
                return NULL;
        autosync_stop(a);
        strv_done(&a->asked);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

/* The daemon's own binary with its options: the child reads the same configuration and state
 * directory. Built before fork(): the child only calls dup2() and execv(). */
static int autosync_exec(Autosync *a) {
        char exe[PATH_MAX] = "/proc/self/exe", *state = NULL;
        const char *argv[8];
        size_t n = 0;
        ssize_t l;
        pid_t pid;

        /* The path, not /proc/self/exe, so that a wrapper (valgrind) is not run instead. */
        l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (l > 0 && (size_t) l < sizeof(exe) - 1)
                exe[l] = 0;
        /* Replaced by an upgrade: the file we run from, whatever its name now. */
        if (l <= 0 || (size_t) l >= sizeof(exe) - 1 || endswith(exe, " (deleted)"))
                snprintf(exe, sizeof(exe), "/proc/self/exe");
        argv[n++] = exe;
        argv[n++] = a->options->user ? "--user" : "--system";
        if (a->options->config_file) {
                argv[n++] = "--config";
                argv[n++] = a->options->config_file;
        }
        if (asprintf(&state, "--state-dir=%s", a->state_dir) < 0)
                return -ENOMEM;
        argv[n++] = state;
        argv[n++] = "--background";
        argv[n++] = "sync";
        argv[n] = NULL;

        pid = fork();
        if (pid < 0) {
                free(state);
                return -errno;
        }
        if (pid == 0) {
                sigset_t none;

                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                /* Its lines (created, updated, failed) go where the daemon logs. */
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        free(state);
        a->pid = pid;
        return 0;
}

static void autosync_act(Autosync *a, AutosyncAction action);

static int on_retry(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Autosync *a = userdata;

        a->timer = sd_event_source_disable_unref(a->timer);
        autosync_act(a, autosync_on_timer(&a->policy));
        return 0;
}

/* The retry time, for list ("retry at"), in the file the sync wrote. */
static void autosync_write_retry(Autosync *a, usec_t delay) {
        _cleanup_(sync_results_done) SyncResults res = {};
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/%s", a->state_dir, SYNC_STATUS_FILE) < 0)
                return (void) log_oom();
        r = sync_results_read(path, &res);
        if (r >= 0) {
                res.retry = delay > 0 ? now_usec(CLOCK_REALTIME) + delay : 0;
                r = sync_results_write(path, &res);
        }
        if (r < 0)
                log_debug_errno(r, "Cannot write %s: %m", path);
}

/* What the sync provisioned is pinged from now on (a failed sync may have done part of it). */
static void autosync_apply(Autosync *a) {
        int r = sync_apply_provisioned(*a->config, a->state_dir);

        if (r < 0)
                log_warning_errno(r, "Cannot read the provisioned checks from %s/" SYNC_MAP_FILE ": %m",
                                  a->state_dir);
        else if (r > 0)
                log_info("%d newly provisioned check%s pinged from now on.", r, r == 1 ? " is" : "s are");
}

static int on_child(sd_event_source *s _unused_, const siginfo_t *si, void *userdata) {
        Autosync *a = userdata;
        bool ok = si->si_code == CLD_EXITED && si->si_status == EXIT_SUCCESS;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        AutosyncAction action;
        char span[64];

        a->child = sd_event_source_disable_unref(a->child);
        a->pid = 0;
        action = autosync_on_done(&a->policy, ok, now, a->retry_base, a->retry_max, random_unit());
        if (ok)
                log_debug("timerbeat sync is done.");
        else if (si->si_code == CLD_EXITED)
                log_warning("timerbeat sync failed (exit status %d, see the lines above); trying again in %s.",
                            si->si_status, format_timespan(span, sizeof(span), a->policy.retry_at - now));
        else
                log_warning("timerbeat sync was killed by signal %d; trying again in %s.", si->si_status,
                            format_timespan(span, sizeof(span), a->policy.retry_at - now));
        autosync_write_retry(a, a->policy.retry_at > now ? a->policy.retry_at - now : 0);
        autosync_apply(a);
        autosync_act(a, action);
        return 0;
}

static void autosync_act(Autosync *a, AutosyncAction action) {
        int r;

        if (action == AUTOSYNC_WAIT) {
                a->timer = sd_event_source_disable_unref(a->timer);
                r = sd_event_add_time(a->event, &a->timer, CLOCK_MONOTONIC, a->policy.retry_at, USEC_PER_SEC,
                                      on_retry, a);
                if (r < 0)
                        log_error_errno(r, "Cannot schedule the next timerbeat sync: %m");
                return;
        }
        if (action != AUTOSYNC_START)
                return;
        a->timer = sd_event_source_disable_unref(a->timer);
        r = autosync_exec(a);
        if (r >= 0) {
                r = sd_event_add_child(a->event, &a->child, a->pid, WEXITED, on_child, a);
                if (r < 0) {
                        (void) kill(a->pid, SIGKILL);
                        (void) waitpid(a->pid, NULL, 0);
                        a->pid = 0;
                }
        }
        if (r < 0) {
                /* As a failed sync: tried again after the back-off. */
                log_error_errno(r, "Cannot start timerbeat sync: %m");
                autosync_act(a, autosync_on_done(&a->policy, false, now_usec(CLOCK_MONOTONIC), a->retry_base,
                                                 a->retry_max, random_unit()));
        }
}

void autosync_trigger(Autosync *a, const char *why) {
        if (a->stopped)
                return;
        if (!autosync_wanted(*a->config)) {
                a->policy.retry_at = 0;
                a->policy.failures = 0;
                a->timer = sd_event_source_disable_unref(a->timer);
                return;
        }
        log_debug("Syncing the provisioned checks (%s)%s.", why, a->policy.running ? " after the sync running" : "");
        a->started = true;
        autosync_act(a, autosync_on_trigger(&a->policy));
}

void autosync_need(Autosync *a, const char *timer) {
        if (a->stopped || strv_contains(&a->asked, timer) || !autosync_wanted(*a->config))
                return;
        if (strv_push(&a->asked, timer) < 0)
                return (void) log_oom();
        if (!a->started)
                return;
        log_debug("%s has no provisioned check yet: syncing.", timer);
        autosync_act(a, autosync_on_need(&a->policy));
}

void autosync_on_systemd_reloaded(Watch *w _unused_, void *userdata) {
        autosync_trigger(userdata, "systemd reloaded");
}
