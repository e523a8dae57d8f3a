/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "decide.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "outbox.h"
#include "ping.h"
#include "resolve.h"
#include "watch.h"

/* The hub: watch reports a run event, decide says what to send, ping builds the request,
 * outbox keeps it and http sends it. This file only wires them together, plus signals,
 * reload and sd_notify. */

/* How long in-flight pings may finish after SIGTERM. */
#define SHUTDOWN_GRACE_USEC (3 * USEC_PER_SEC)

/* What we remember per check between runs: consecutive failures, the body size the monitor
 * accepts (healthchecks' Ping-Body-Limit). */
typedef struct CheckStats CheckStats;
struct CheckStats {
        char *unit;
        unsigned failures;
        long body_limit;
        CheckStats *next;
};

/* A ping whose log body is being read from the journal. The ping is in the outbox already
 * (without the body), so a stop meanwhile loses nothing. */
typedef struct Pending Pending;
struct Pending {
        Manager *m;
        Ping *ping;
        TailJob *job;
        Pending *prev, *next;
};

struct Manager {
        ManagerOptions options;
        sd_event *event;
        Config *config;
        Resolver *resolver;
        Watch *watch;
        Http *http;
        Outbox *outbox;
        CheckStats *stats;
        Pending *pending;
        char *state_dir;
        bool state_broken; /* the last write to the state directory failed */
        bool warned_activation_details;

        sd_event_source *sig_term, *sig_int, *sig_hup, *shutdown_timer;
        bool ready_sent;
        bool reloading;
        bool stopping;
};

int manager_state_dir(const ManagerOptions *o, char **ret) {
        const char *e;
        char *p;

        if (o->state_dir)
                p = strdup(o->state_dir);
        else if (o->user) {
                e = getenv("XDG_STATE_HOME");
                if (!isempty(e) && e[0] == '/') {
                        if (asprintf(&p, "%s/timerbeat", e) < 0)
                                p = NULL;
                } else {
                        e = getenv("HOME");
                        if (isempty(e))
                                return -ENXIO;
                        if (asprintf(&p, "%s/.local/state/timerbeat", e) < 0)
                                p = NULL;
                }
        } else {
                e = getenv("STATE_DIRECTORY");
                p = !isempty(e) ? strndup(e, strcspn(e, ":")) : strdup("/var/lib/timerbeat");
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* A write to the state directory failed: say so once, keep going from memory. */
static void manager_state_write_result(Manager *m, int r, const char *what) {
        if (r < 0 && !m->state_broken) {
                log_warning_errno(r, "Cannot write %s in %s: %m. Pings are sent from memory and lost if timerbeat "
                                     "stops before they are delivered; make the directory writable.",
                                  what, m->state_dir);
                m->state_broken = true;
        } else if (r >= 0 && m->state_broken) {
                log_notice("%s is writable again; pings are kept in the outbox again.", m->state_dir);
                m->state_broken = false;
        }
}

static void manager_record_run(Manager *m, const WatchRun *run, DecideRecord what) {
        int r;

        if (what == DECIDE_RECORD_NONE)
                return;
        if (what == DECIDE_RECORD_PLACEHOLDER)
                r = outbox_write_last(m->outbox, run->check, "00000000000000000000000000000000", 0);
        else if (!isempty(run->invocation))
                r = outbox_write_last(m->outbox, run->check, run->invocation, run->exit_timestamp);
        else
                return;
        manager_state_write_result(m, r, "the last run record");
}

static CheckStats *manager_stats(Manager *m, const char *unit) {
        CheckStats *st;

        for (st = m->stats; st; st = st->next)
                if (streq(st->unit, unit))
                        return st;
        st = calloc(1, sizeof(CheckStats));
        if (!st || !(st->unit = strdup(unit))) {
                free(st);
                return NULL;
        }
        st->body_limit = -1;
        st->next = m->stats;
        m->stats = st;
        return st;
}

/* Durable first: the entry is on disk before the first attempt. */
static void manager_store(Manager *m, Ping *p) {
        int r = outbox_store(m->outbox, p);

        manager_state_write_result(m, r, "an outbox entry");
}

static void manager_send(Manager *m, Ping *p) {
        _cleanup_free_ char *id = NULL, *unit = NULL, *invocation = NULL, *check = NULL;
        int r;

        if (!p->id)
                manager_store(m, p);
        id = p->id ? strdup(p->id) : NULL;
        unit = strdup(p->unit);
        check = strdup(p->check);
        invocation = p->invocation ? strdup(p->invocation) : NULL;
        r = http_submit(m->http, p); /* takes it, also on failure */
        if (r < 0) {
                log_unit_errno(LOG_ERR, r, unit, invocation, "Failed to queue the ping for [%s]: %m", strempty(check));
                if (id)
                        (void) outbox_remove(m->outbox, id);
        }
}

static void pending_free(Pending *p) {
        Manager *m = p->m;

        if (p->prev)
                p->prev->next = p->next;
        else
                m->pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        ping_free(p->ping);
        free(p);
}

static void on_log_tail(const char *text, size_t size, int error, void *userdata) {
        Pending *p = userdata;
        Manager *m = p->m;
        Ping *ping = TAKE_PTR(p->ping);
        char *body;

        p->job = NULL; /* it ends after this callback */
        if (error < 0)
                log_unit_errno(LOG_WARNING, error, ping->unit, ping->invocation,
                               "Cannot read the run's journal output: %m; sending the ping without it.");
        if (text && size > 0 && (body = malloc(size + 1))) {
                memcpy(body, text, size);
                body[size] = 0;
                free(ping->body);
                ping->body = body;
                ping->body_size = size;
                if (ping->id)
                        manager_store(m, ping); /* the same entry, now with the text */
        }
        pending_free(p);
        manager_send(m, ping);
}

/* The body limit for a log tail: the check's, the monitor's (Ping-Body-Limit), the preset's. */
static size_t manager_body_max(Manager *m, const Check *c, const char *unit) {
        CheckStats *st = manager_stats(m, unit);
        size_t max = c->body_max;

        if (st && st->body_limit >= 0 && (size_t) st->body_limit < max)
                max = (size_t) st->body_limit;
        if (c->preset && c->preset->body_cap > 0 && c->preset->body_cap < max)
                max = c->preset->body_cap;
        return max;
}

/* Reads the run's journal output for the ping's body, then sends it. */
static int manager_send_with_log(Manager *m, const Check *c, const WatchRun *run, Ping *ping) {
        Pending *p = calloc(1, sizeof(Pending));
        int r;

        if (!p)
                return -ENOMEM;
        manager_store(m, ping);
        p->m = m;
        p->ping = ping;
        r = journal_tail_async(m->event,
                               &(JournalQuery) {
                                       .invocation = run->invocation,
                                       .unit = run->service,
                                       .since = run->start_timestamp,
                                       .until = run->exit_timestamp,
                                       .max = manager_body_max(m, c, run->check),
                               },
                               on_log_tail, p, &p->job);
        if (r < 0) {
                free(p);
                return r;
        }
        p->next = m->pending;
        if (m->pending)
                m->pending->prev = p;
        m->pending = p;
        return 0;
}

/* Builds the request of a decision and hands it to the outbox and http. */
static void manager_dispatch(Manager *m, const Check *c, const WatchRun *run, const Decision *d) {
        _cleanup_free_ char *masked = NULL;
        Ping *ping = NULL;
        char host[256] = "";
        bool log_body = ping_body_kind(c, d->event) == BODY_LOG && !isempty(run->invocation);
        PingRun pr = {
                .unit = run->check,
                .service = run->service,
                .invocation = run->invocation,
                .result = run->start ? NULL : run->result,
                .message = d->message,
                .hostname = host,
                .exit_code = d->exit_code,
                .start_timestamp = run->start_timestamp,
                .exit_timestamp = run->exit_timestamp,
                .created = run->start ? now_usec(CLOCK_REALTIME) : run->exit_timestamp,
        };
        int r;

        (void) gethostname(host, sizeof(host) - 1);
        r = ping_build(c, m->config, d->event, &pr, log_body ? "" : NULL, 0, &ping);
        if (r < 0) {
                log_unit_errno(LOG_ERR, r, run->service, run->invocation, "Cannot build the %s request for [%s]: %m",
                               event_to_string(d->event), run->check);
                return;
        }
        masked = url_mask(ping->url);
        if (d->event == EVENT_SUCCESS)
                log_unit(LOG_INFO, run->service, run->invocation, "Run %s of %s succeeded; pinging %s for [%s].",
                         run->invocation, run->service, strempty(masked), run->check);
        else
                log_unit(LOG_INFO, run->service, run->invocation, "Run %s of %s: sending %s to %s for [%s].",
                         run->invocation, run->service, event_to_string(d->event), strempty(masked), run->check);
        if (log_body) {
                r = manager_send_with_log(m, c, run, ping);
                if (r >= 0)
                        return;
                log_unit_errno(LOG_WARNING, r, run->service, run->invocation,
                               "Cannot read the run's journal output: %m; sending the ping without it.");
        }
        manager_send(m, ping);
}

static void on_run_end(Watch *w _unused_, const WatchRun *run, void *userdata) {
        Manager *m = userdata;
        const Check *c = resolver_lookup(m->resolver, m->config, run->check);
        CheckStats *st = check_is_active(c) ? manager_stats(m, run->check) : NULL;
        char last[33] = "";
        DecideInput in = {
                .now = now_usec(CLOCK_REALTIME),
                .max_age = m->config->max_age,
                .failures = st ? st->failures : 0,
                .last_invocation = last,
        };
        Decision d;

        if (!check_is_active(c))
                return;
        if (run->catch_up)
                in.has_last = outbox_read_last(m->outbox, run->check, last, &in.last_exit) >= 0;
        decide(c, run, &in, &d);

        if (d.needs_activation_details && !m->warned_activation_details) {
                log_notice("trigger = timer needs systemd's ActivationDetails (systemd 253 or newer); counting every "
                           "run, as with trigger = any.");
                m->warned_activation_details = true;
        }
        if (d.catch_up_note[0])
                log_unit(LOG_INFO, run->service, run->invocation, "%s", d.catch_up_note);
        if (d.log_level >= 0)
                log_unit(d.log_level, run->service, run->invocation, "%s", d.reason);
        if (d.counted && st)
                st->failures = d.failures;
        if (d.send)
                manager_dispatch(m, c, run, &d);
        manager_record_run(m, run, d.record);
}

static bool on_want(Watch *w _unused_, const WatchUnitInfo *info, void *userdata) {
        _cleanup_(strv_done) Strv errors = {};
        Manager *m = userdata;
        const Check *c = NULL;
        int r;

        r = resolver_update(m->resolver, m->config, info->unit, info->timer_files, info->service_files, &c, &errors);
        if (r < 0)
                return log_oom(), false;
        for (size_t i = 0; i < errors.n; i++)
                log_unit(LOG_ERR, info->unit, NULL, "%s", errors.items[i]);
        if (errors.n > 0)
                log_unit(LOG_ERR, info->unit, NULL,
                         "The [X-Timerbeat] annotation of %s is invalid and ignored; fix the lines above and run "
                         "systemctl daemon-reload.",
                         info->unit);
        if (c && c->enabled)
                log_unit(info->discovered ? LOG_INFO : LOG_DEBUG, info->service, NULL, "%s is monitored (%s%s%s:%u).",
                         info->unit, c->origin == CHECK_FROM_ANNOTATION ? "annotation " : "",
                         c->pattern ? "pattern " : "", c->file, c->line);
        return c && c->enabled;
}

static const char *outcome_to_string(HttpOutcome o) {
        static const char *const names[] = {
                [HTTP_DELIVERED] = "delivered",
                [HTTP_REJECTED] = "rejected",
                [HTTP_EXPIRED] = "expired",
                [HTTP_DROPPED] = "dropped",
        };

        return (size_t) o < ELEMENTSOF(names) ? names[o] : "unknown";
}

static void on_http_done(Http *h _unused_, const HttpResult *res, void *userdata) {
        Manager *m = userdata;
        const Ping *p = res->ping;
        CheckStats *st;
        int r;

        if (res->outcome == HTTP_DELIVERED && res->body_head && startswith(res->body_head, "OK (rate-limited)"))
                log_unit(LOG_WARNING, p->unit, p->invocation,
                         "The monitor answered \"OK (rate-limited)\": this ping was not recorded. Pings for this "
                         "check come too often for it.");
        if (res->body_limit >= 0 && (st = manager_stats(m, p->check)))
                st->body_limit = res->body_limit;
        /* What `timerbeat list` shows as the last ping of the check. */
        r = outbox_write_ping(m->outbox, p->check, outcome_to_string(res->outcome), res->status,
                              now_usec(CLOCK_REALTIME), strempty(p->invocation));
        manager_state_write_result(m, r, "the last ping record");
        if (!p->id)
                return;
        r = outbox_remove(m->outbox, p->id);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s/%s: %m; it may be sent again after a restart.",
                                  outbox_dir(m->outbox), p->id);
}

static void on_outbox_entry(Outbox *o _unused_, Ping *p, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *name = strdup(p->id), *unit = strdup(p->unit);
        _cleanup_free_ char *inv = p->invocation ? strdup(p->invocation) : NULL;
        int r;

        log_unit(LOG_INFO, p->unit, p->invocation, "Resending the ping of run %s of %s from the outbox.",
                 strempty(p->invocation), p->unit);
        r = http_submit(m->http, p);
        if (r < 0)
                log_unit_errno(LOG_ERR, r, unit, inv, "Failed to queue %s from the outbox: %m", strempty(name));
}

static void on_outbox_corrupt(Outbox *o, const char *name, const char *why, void *userdata _unused_) {
        log_warning("Outbox entry %s/%s is %s; moved aside to %s.corrupt.", outbox_dir(o), name, why, name);
}

static void on_settled(Watch *w _unused_, void *userdata) {
        Manager *m = userdata;
        size_t n = 0;

        if (m->stopping)
                return;
        if (m->ready_sent && !m->reloading)
                return;
        for (size_t i = 0; i < m->config->n_checks; i++)
                n += m->config->checks[i]->enabled;
        (void) sd_notifyf(false, "READY=1\nSTATUS=Watching %zu check%s.", n, n == 1 ? "" : "s");
        if (!m->ready_sent)
                log_info("timerbeat " "started, watching %zu check%s on the %s manager.", n, n == 1 ? "" : "s",
                         m->options.user ? "user" : "system");
        else
                log_info("Configuration reloaded, watching %zu check%s.", n, n == 1 ? "" : "s");
        m->ready_sent = true;
        m->reloading = false;
}

static void print_errors(const Strv *errors) {
        for (size_t i = 0; i < errors->n; i++)
                log_error("%s", errors->items[i]);
}

int manager_load_config(const ManagerOptions *o, Config **ret) {
        _cleanup_(strv_done) Strv storage = {}, errors = {};
        ConfigSource src = {};
        int r;

        if (o->config_file)
                src.main_file = o->config_file;
        else {
                r = config_source_default(&src, o->user, &storage);
                if (r < 0)
                        return log_error_errno(r, "Cannot find the configuration directory: %m (set HOME or "
                                                  "XDG_CONFIG_HOME)");
        }
        if (o->config_file && access(o->config_file, R_OK) < 0)
                return log_error_errno(errno, "%s: %m; pass an existing, readable file to --config", o->config_file);

        r = config_load(&src, ret, &errors);
        print_errors(&errors);
        if (r >= 0)
                for (size_t i = 0; i < (*ret)->warnings.n; i++)
                        log_warning("%s", (*ret)->warnings.items[i]);
        if (r == -ENOMEM)
                return log_oom();
        return r;
}

static void manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        log_info("Reloading configuration.");
        (void) sd_notify(false, "RELOADING=1");
        r = manager_load_config(&m->options, &c);
        if (r < 0) {
                log_error("Configuration not reloaded: fix the errors above; the previous configuration stays in "
                          "effect.");
                (void) sd_notify(false, "READY=1\nSTATUS=Reload failed; running with the previous configuration.");
                return;
        }

        r = http_set_config(m->http, c);
        if (r < 0) {
                log_error_errno(r, "Failed to apply the new configuration: %m; keeping the previous one.");
                (void) sd_notify(false, "READY=1");
                return;
        }
        config_free(m->config);
        m->config = TAKE_PTR(c);
        m->reloading = true;
        r = watch_set_checks(m->watch, m->config, m->config->annotations || config_has_patterns(m->config));
        if (r < 0)
                log_error_errno(r, "Failed to watch the new checks: %m");
        if (watch_is_settled(m->watch))
                on_settled(m->watch, m);
}

static void on_http_idle(Http *h _unused_, void *userdata) {
        Manager *m = userdata;

        sd_event_exit(m->event, EXIT_SUCCESS);
}

static int on_shutdown_timeout(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;

        log_warning("%zu ping(s) still in flight after %llus; exiting anyway.", http_pending(m->http),
                    (unsigned long long) (SHUTDOWN_GRACE_USEC / USEC_PER_SEC));
        sd_event_exit(m->event, EXIT_SUCCESS);
        return 0;
}

static int on_signal(sd_event_source *s _unused_, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        if (si->ssi_signo == SIGHUP) {
                if (!m->stopping)
                        manager_reload(m);
                return 0;
        }

        if (m->stopping)
                return 0;
        m->stopping = true;
        log_info("Received %s, stopping.", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        (void) sd_notify(false, "STOPPING=1");
        r = sd_event_add_time_relative(m->event, &m->shutdown_timer, CLOCK_MONOTONIC, SHUTDOWN_GRACE_USEC, 0,
                                       on_shutdown_timeout, m);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the shutdown timer: %m");
                sd_event_exit(m->event, EXIT_SUCCESS);
                return 0;
        }
        http_shutdown(m->http, on_http_idle, m);
        return 0;
}

int manager_new(Manager **ret, const ManagerOptions *o, Config *config) {
        _cleanup_(config_freep) Config *c = config;
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->options = *o;

        assert(o && config);
        m->config = TAKE_PTR(c);
        r = resolver_new(&m->resolver);
        if (r < 0)
                return log_oom();

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        /* The watchdog is fed by the loop itself; if the loop stalls, systemd restarts us. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog: %m");

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD); /* journal readers are children, reaped through sd-event */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        r = http_new(&m->http, m->event, on_http_done, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl: %m");
        r = http_set_config(m->http, m->config);
        if (r < 0)
                return log_error_errno(r, "Failed to configure libcurl: %m");

        r = manager_state_dir(o, &m->state_dir);
        if (r < 0)
                return log_error_errno(r, "Cannot determine the state directory: %m (set HOME or XDG_STATE_HOME)");
        r = outbox_new(&m->outbox, m->state_dir);
        if (r == -ENOMEM)
                return log_oom();
        manager_state_write_result(m, r, "the outbox directory");

        /* Whatever a previous instance could not deliver goes first. */
        r = outbox_replay(m->outbox, on_outbox_entry, on_outbox_corrupt, m);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read the outbox %s: %m", outbox_dir(m->outbox));

        r = watch_new(&m->watch, m->event, o->user, on_run_end, on_settled, on_want, m);
        if (r < 0)
                return log_oom();
        r = watch_start(m->watch);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        watch_free(m->watch);
        http_free(m->http);
        outbox_free(m->outbox);
        free(m->state_dir);
        while (m->pending) {
                journal_tail_cancel(m->pending->job);
                pending_free(m->pending);
        }
        resolver_free(m->resolver);
        while (m->stats) {
                CheckStats *n = m->stats->next;
                free(m->stats->unit);
                free(m->stats);
                m->stats = n;
        }
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_source_disable_unref(m->shutdown_timer);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m);
        return NULL;
}

int manager_run(Manager *m) {
        int r;

        r = watch_set_checks(m->watch, m->config, m->config->annotations || config_has_patterns(m->config));
        if (r < 0)
                return log_error_errno(r, "Failed to set up the checks: %m");
        if (m->config->n_checks == 0)
                log_warning("No checks configured; add a [unit.timer] section with url= and reload.");

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
