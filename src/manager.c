/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "autosync.h"
#include "catchup.h"
#include "decide.h"
#include "hashmap.h"
#include "health.h"
#include "hostname.h"
#include "log.h"
#include "manager.h"
#include "metricsfile.h"
#include "monitored.h"
#include "outbox.h"
#include "resolve.h"
#include "sender.h"
#include "status.h"
#include "watch.h"

/* The hub: watch reports a run event, decide says what to send, ping builds the request,
 * outbox keeps it and http sends it. This file only wires them together, plus signals,
 * reload and sd_notify. */

/* How long in-flight pings may finish after SIGTERM. */
#define SHUTDOWN_GRACE_USEC (3 * USEC_PER_SEC)

struct Manager {
        ManagerOptions options;
        sd_event *event;
        Config *config;
        Resolver *resolver;
        Watch *watch;
        Sender *sender;
        Hostname *hostname;
        Outbox *outbox;
        MetricsFile *metrics;
        Catchup *catchup;
        Autosync *autosync;               /* the daemon's own timerbeat sync */
        Hashmap *failures;                /* check → failed runs in a row (failure-threshold=), as uintptr_t */
        Hashmap *monitored;               /* see monitored.h */
        size_t said_units, said_sections; /* the count in STATUS= */
        char *state_dir;
        bool warned_activation_details;
        DaemonStatus status; /* what the status file says: the running configuration, the last reload */

        sd_event_source *sig_term, *sig_int, *sig_hup, *shutdown_timer, *self_timer;
        bool config_loaded; /* the last (re)load succeeded: part of being healthy */
        bool unhealthy;     /* said so, for the self-heartbeat */
        /* When the running configuration began to be watched (CLOCK_REALTIME): a run of a check
         * without a record yet that ended after it is new (WatchRun.new_after). */
        usec_t watching_since;
        bool ready_sent; /* READY=1: at the first Subscribe(), before the units are read */
        bool started;    /* every check was resolved once */
        /* From a start or a reload until its first read and catch-up are done: the runs handled
         * meanwhile get WatchRun.new_after = watching_since. */
        bool first_read;
        bool reloading;
        bool stopping;
};

/* Every run end, live or caught up, from the watch or from the journal, goes through here. */
static void manager_handle_run(Manager *m, const WatchRun *run) {
        const Check *c = resolver_lookup(m->resolver, m->config, run->check);

        char last[33] = "";
        DecideInput in = {
                .now = now_usec(CLOCK_REALTIME),
                .max_age = m->config->max_age,
                .failures = (unsigned) (uintptr_t) hashmap_get(m->failures, run->check),
                .last_invocation = last,
        };
        Decision d;

        if (!check_is_active(c))
                return;
        /* Live ends too: one the journal's catch-up reported first is not sent again. */
        if (!run->start)
                in.has_last = outbox_read_last(m->outbox, run->check, last, &in.last_exit) >= 0;
        decide(c, run, &in, &d);

        if (d.needs_activation_details && !m->warned_activation_details) {
                log_notice(
                        "trigger = timer: systemd does not say who started run %s of %s (its ActivationDetails are "
                        "not new since the previous run); counting it, and such runs from now on.",
                        strempty(run->invocation), run->service);
                m->warned_activation_details = true;
        }
        if (d.catch_up_note[0])
                log_unit(LOG_INFO, run->service, run->invocation, "%s", d.catch_up_note);
        if (d.log_level >= 0)
                log_unit(d.log_level, run->service, run->invocation, "%s", d.reason);
        if (d.counted && hashmap_replace(m->failures, run->check, (void *) (uintptr_t) d.failures) < 0)
                log_oom();
        if (d.send)
                sender_dispatch(m->sender, c, run, &d);
        /* Counted once per run: live, or caught up when it is new to the run record. */
        if (!run->start && !d.foreign && !isempty(run->invocation) && (!run->catch_up || d.caught_up) &&
            metrics_run_end(metricsfile_metrics(m->metrics), run->check, run->service, run->result ?: "unknown",
                            decide_run_succeeded(run->active_state, run->result), run->exit_timestamp) < 0)
                log_oom();
        sender_record_run(m->sender, run, d.record);
}

/* The self-heartbeat: sent each self-interval while healthy (health.c), never while not, so
 * that the monitor alerts when timerbeat itself is in trouble. */
static void manager_self_arm(Manager *m);

static int on_self_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Manager *m = userdata;
        HealthInput in = {
                .connected = watch_is_connected(m->watch),
                .config_loaded = m->config_loaded,
                .now = now_usec(CLOCK_REALTIME),
                .oldest_queue = sender_oldest_queued(m->sender),
                .interval = m->config->self_interval,
        };
        const char *problem = health_problem(&in);

        if (problem && !m->unhealthy)
                log_warning("Not sending the self-heartbeat: %s.", problem);
        else if (!problem && m->unhealthy)
                log_notice("Healthy again; the self-heartbeat resumes.");
        m->unhealthy = problem != NULL;
        if (!problem && m->config->self_check && !m->stopping)
                sender_dispatch_self(m->sender);
        manager_self_arm(m);
        return 0;
}

static void manager_self_arm(Manager *m) {
        int r;

        if (!m->config->self_check || m->stopping) {
                m->self_timer = sd_event_source_disable_unref(m->self_timer);
                return;
        }
        if (!m->self_timer) {
                r = sd_event_add_time_relative(m->event, &m->self_timer, CLOCK_MONOTONIC, m->config->self_interval, 0,
                                               on_self_timer, m);
                if (r < 0)
                        log_error_errno(r, "Cannot schedule the self-heartbeat: %m");
                return;
        }
        r = sd_event_source_set_time_relative(m->self_timer, m->config->self_interval);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->self_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Cannot schedule the self-heartbeat: %m");
}

/* While the watch (re)reads the services and the journal's catch-up runs, run ends wait:
 * the journal's older runs go first, so that each check hears its runs in order. */
static void on_run_end(Watch *w _unused_, const WatchRun *watched, void *userdata) {
        Manager *m = userdata;
        WatchRun copy = *watched, *run = &copy;
        int r;

        /* Read while a configuration is first read: what ended after it began to be watched is
         * new (READY=1 came before the read). A check that appears later (an annotation, a
         * timer installed) starts fresh: what ended before its first read is not its. */
        if (m->first_read)
                run->new_after = m->watching_since;
        /* (A baseline without a run starts a new check's record at once: nothing to order.) */
        if (!run->start && !isempty(run->invocation) &&
            (catchup_running(m->catchup) || !watch_is_settled(m->watch))) {
                r = catchup_hold(m->catchup, run);
                if (r >= 0)
                        return;
                log_unit_errno(LOG_WARNING, r, run->service, run->invocation,
                               "Cannot hold this run until the journal's catch-up is done (%m); handling it now.");
        }
        manager_handle_run(m, run);
}

static void on_released(Catchup *c _unused_, const WatchRun *run, void *userdata) {
        manager_handle_run(userdata, run);
}

static void on_record_run(const WatchRun *read, void *userdata) {
        Manager *m = userdata;
        WatchRun run = *read;

        if (m->first_read) /* as in on_run_end */
                run.new_after = m->watching_since;
        manager_handle_run(m, &run);
}

static void on_caught_up(Catchup *c _unused_, void *userdata) {
        Manager *m = userdata;

        if (m->started && !m->reloading)
                m->first_read = false;
}

static void on_record(Catchup *c _unused_, const HistoryRecord *rec, void *userdata) {
        Manager *m = userdata;

        catchup_record_foreach(m->watch, rec, on_record_run, m);
}

static void on_dropped(Watch *w _unused_, const char *unit, void *userdata) {
        Manager *m = userdata;

        monitored_say(m->monitored, unit, NULL, NULL);
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
        monitored_say(m->monitored, info->unit, info->service, check_is_active(c) ? c : NULL);
        if (info->ask_trigger)
                *info->ask_trigger = c && c->trigger_timer;
        if (c && c->enabled && !c->url && endswith(info->unit, ".timer") && check_is_provisioned(m->config, c))
                autosync_need(m->autosync, info->unit); /* a new timer: its check is created now */
        return c && c->enabled;
}

/* Whether an outbox entry's check still exists (see sender_keep_t). */
static int keep_outbox_entry(const char *check, bool final, void *userdata) {
        Manager *m = userdata;

        return resolver_keeps(m->resolver, m->config, check, final);
}

/* READY=1 as soon as systemd's signals reach us: the units are read after it (a run that ends
 * meanwhile is found ended in its unit's state, and is new by WatchRun.new_after), so that start-up
 * does not grow with the number of checks. */
static void on_subscribed(Watch *w _unused_, void *userdata) {
        Manager *m = userdata;

        if (m->ready_sent || m->stopping)
                return;
        (void) sd_notify(false, "READY=1\nSTATUS=Reading the state of the watched units.");
        m->ready_sent = true;
}

static void on_settled(Watch *w _unused_, void *userdata) {
        Manager *m = userdata;
        size_t n, k;
        int r;

        if (m->stopping)
                return;
        /* Every (re)read of the services (start, reconnect, re-exec, reload) is a catch-up. */
        r = catchup_start(m->catchup, watch_manager_pid(m->watch), m->config->max_age);
        if (r < 0)
                log_warning_errno(r, "Failed to start reading the journal: %m");
        monitored_count(m->monitored, m->resolver, m->config, &n, &k);
        if (m->started && !m->reloading) {
                /* A daemon-reload changed what is watched: STATUS= follows, quietly. */
                if (n != m->said_units || k != m->said_sections)
                        (void) sd_notifyf(false, "STATUS=Watching %zu unit%s from %zu section%s.", n,
                                          n == 1 ? "" : "s", k, k == 1 ? "" : "s");
                m->said_units = n;
                m->said_sections = k;
                return;
        }
        /* The outbox entries that waited for every check to be known (annotations, patterns). */
        if (!m->started)
                sender_replay_held(m->sender);
        /* READY=1 went at the Subscribe() already, unless this is a reload's end (or systemd
         * never accepted the subscription). */
        (void) sd_notifyf(false, "%sSTATUS=Watching %zu unit%s from %zu section%s.",
                          m->reloading || !m->ready_sent ? "READY=1\n" : "", n, n == 1 ? "" : "s", k,
                          k == 1 ? "" : "s");
        if (!m->started) {
                log_info("timerbeat started, watching %zu unit%s from %zu section%s on the %s manager.", n,
                         n == 1 ? "" : "s", k, k == 1 ? "" : "s", m->options.user ? "user" : "system");
                if (m->config->self_check)
                        (void) on_self_timer(NULL, 0, m); /* the first one now, then each interval */
        } else
                log_info("Configuration reloaded, watching %zu unit%s from %zu section%s.", n, n == 1 ? "" : "s", k,
                         k == 1 ? "" : "s");
        /* After READY=1: the sync runs in a child, it never holds up a ping. */
        autosync_trigger(m->autosync, m->started ? "configuration reloaded" : "start");
        m->said_units = n;
        m->said_sections = k;
        m->ready_sent = true;
        m->started = true;
        m->reloading = false;
}

static void manager_write_status(Manager *m, bool refused, const Strv *errors) {
        int r = daemon_status_update(&m->status, refused ? NULL : &m->config->files,
                                     refused ? NULL : &m->config->digests, refused, errors);

        if (r >= 0)
                r = daemon_status_write(m->state_dir, &m->status);
        outbox_report_write(m->outbox, r, "the status file");
}

static void manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(strv_done) Strv errors = {};
        usec_t since = now_usec(CLOCK_REALTIME);
        int r;

        /* Taken before the files are read: see status.h. */
        m->status.generation++;
        m->status.started = now_usec(CLOCK_MONOTONIC);
        log_info("Reloading configuration.");
        (void) sd_notify(false, "RELOADING=1");
        /* Warnings the running configuration had already are not repeated. */
        r = manager_load_config_full(&m->options, &m->config->warnings, &c, &errors);
        m->config_loaded = r >= 0;
        if (r < 0) {
                log_error("Configuration not reloaded: fix the errors above; the previous configuration stays in "
                          "effect%s.",
                          m->config->self_check ? ", and the self-heartbeat stops until a reload succeeds" : "");
                if (errors.n == 0 && strv_push(&errors, "the configuration could not be loaded (see the log)") < 0)
                        log_oom();
                manager_write_status(m, true, &errors);
                (void) sd_notify(false, "READY=1\nSTATUS=Reload failed; running with the previous configuration.");
                return;
        }

        r = sender_set_config(m->sender, c);
        if (r < 0) {
                log_error_errno(r, "Failed to apply the new configuration: %m; keeping the previous one.");
                if (strv_push(&errors, "the new configuration could not be applied (see the log)") < 0)
                        log_oom();
                manager_write_status(m, true, &errors);
                (void) sd_notify(false, "READY=1");
                return;
        }
        assert(c);
        bool self_changed = !m->config->self_check != !c->self_check || m->config->self_interval != c->self_interval;

        config_free(m->config);
        m->config = TAKE_PTR(c);
        m->watching_since = since;
        m->first_read = true;
        r = metricsfile_set_path(m->metrics, m->config->metrics_file);
        if (r < 0)
                log_oom();
        if (self_changed || !m->self_timer)
                manager_self_arm(m);
        manager_write_status(m, false, NULL);
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

        log_warning("%zu ping(s) still in flight after %llus; exiting anyway.", sender_pending(m->sender),
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
        manager_self_arm(m); /* stops it */
        autosync_stop(m->autosync);
        sender_shutdown(m->sender, on_http_idle, m);
        return 0;
}

int manager_new(Manager **ret, const ManagerOptions *o, Config *config) {
        _cleanup_(config_freep) Config *c = config;
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t mask;
        int r;

        assert(o && config);
        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->options = *o;
        m->config = TAKE_PTR(c);
        m->config_loaded = true;
        r = resolver_new(&m->resolver);
        if (r >= 0)
                r = hashmap_new(&m->failures, HASHMAP_KEYS_COPY);
        if (r >= 0)
                r = hashmap_new(&m->monitored, HASHMAP_KEYS_COPY);
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

        r = manager_state_dir(o, &m->state_dir);
        if (r < 0)
                return log_error_errno(r, "Cannot determine the state directory: %m (set HOME or XDG_STATE_HOME)");
        r = outbox_new_bounded(&m->outbox, m->state_dir, m->config->max_queue, m->config->max_queue_per_check);
        if (r == -ENOMEM)
                return log_oom();
        outbox_report_write(m->outbox, r, "the outbox directory");

        m->status.pid = getpid();
        m->status.started = now_usec(CLOCK_MONOTONIC);
        if (boot_id_read(m->status.boot_id) < 0)
                snprintf(m->status.boot_id, sizeof(m->status.boot_id), "%032x", 0);
        manager_write_status(m, false, NULL);

        r = sender_new(&m->sender, m->event, m->outbox, m->config);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl: %m");
        r = metricsfile_open(&m->metrics, m->event, m->state_dir, m->config->metrics_file);
        if (r < 0)
                return log_oom();
        sender_set_metrics(m->sender, metricsfile_metrics(m->metrics));
        r = hostname_new(&m->hostname, m->event, NULL);
        if (r < 0)
                return log_oom();
        sender_set_hostname(m->sender, m->hostname);

        /* Whatever a previous instance could not deliver goes first; entries whose check only
         * the first resolution can tell wait for it (sender_replay_held()). */
        r = sender_replay(m->sender, keep_outbox_entry, m);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read the outbox %s: %m", outbox_dir(m->outbox));

        r = catchup_new(&m->catchup, m->event, m->state_dir, o->user, on_record, on_released, m);
        if (r < 0)
                return log_oom();
        r = watch_new(&m->watch, m->event, o->user, on_run_end, on_settled, on_want, on_dropped, m);
        if (r >= 0)
                r = autosync_new(&m->autosync, m->event, &m->options, m->state_dir, &m->config);
        if (r < 0)
                return log_oom();
        watch_set_on_reloaded(m->watch, autosync_on_systemd_reloaded, m->autosync);
        watch_set_on_subscribed(m->watch, on_subscribed, m);
        m->watching_since = now_usec(CLOCK_REALTIME);
        m->first_read = true;
        catchup_set_started(m->catchup, m->watching_since);
        catchup_set_on_done(m->catchup, on_caught_up);
        r = watch_start(m->watch);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        autosync_free(m->autosync);
        catchup_free(m->catchup);
        watch_free(m->watch);
        sender_free(m->sender);
        metricsfile_free(m->metrics); /* after the sender: its last outcomes are counted */
        hostname_free(m->hostname);
        outbox_free(m->outbox);
        free(m->state_dir);
        daemon_status_done(&m->status);
        resolver_free(m->resolver);
        hashmap_free(m->failures);
        monitored_free(m->monitored);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_source_disable_unref(m->shutdown_timer);
        sd_event_source_disable_unref(m->self_timer);
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
