/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "decide.h"
#include "hashmap.h"
#include "log.h"
#include "manager.h"
#include "outbox.h"
#include "resolve.h"
#include "sender.h"
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
        Outbox *outbox;
        Hashmap *failures; /* check → failed runs in a row (failure-threshold=), as uintptr_t */
        /* unit → its check_signature(): what the log said it is monitored by. A line is logged
         * when this changes, not at every start, reload or daemon-reload. Bounded by the
         * watchers (see watch.c). */
        Hashmap *monitored;
        size_t said_units, said_sections; /* the count in STATUS= */
        char *state_dir;
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
        outbox_report_write(m->outbox, r, "the last run record");
}

static void on_run_end(Watch *w _unused_, const WatchRun *run, void *userdata) {
        Manager *m = userdata;
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
        if (d.counted && hashmap_replace(m->failures, run->check, (void *) (uintptr_t) d.failures) < 0)
                log_oom();
        if (d.send)
                sender_dispatch(m->sender, c, run, &d);
        manager_record_run(m, run, d.record);
}

/* Says when a unit's monitoring changes: added, origin or URL changed, dropped. */
static void manager_say_monitored(Manager *m, const char *unit, const char *service, const Check *c) {
        _cleanup_free_ char *sig = NULL;
        char *old = hashmap_get(m->monitored, unit);
        const char *file;
        unsigned line;

        if (!c) {
                if (!old)
                        return;
                log_unit(LOG_INFO, service ?: unit, NULL, "%s is no longer monitored.", unit);
                free(hashmap_remove(m->monitored, unit));
                return;
        }
        sig = check_signature(c);
        if (!sig) {
                log_oom();
                return;
        }
        if (streq_ptr(old, sig))
                return;
        check_where(c, &file, &line);
        log_unit(LOG_INFO, service ?: unit, NULL, "%s is monitored%s (%s%s%s:%u).", unit, old ? " now" : "",
                 c->origin == CHECK_FROM_ANNOTATION ? "annotation " : "", c->pattern ? "pattern " : "", file, line);
        if (hashmap_replace(m->monitored, unit, sig) < 0) {
                log_oom();
                return;
        }
        TAKE_PTR(sig);
        free(old);
}

static void on_dropped(Watch *w _unused_, const char *unit, void *userdata) {
        manager_say_monitored(userdata, unit, NULL, NULL);
}

/* "N units from M sections": the units whose runs are followed, and the sections of the
 * configuration (or annotations) they come from. `timerbeat check` counts the same way. */
static void manager_count(Manager *m, size_t *ret_units, size_t *ret_sections) {
        _cleanup_(hashmap_freep) Hashmap *sections = NULL;
        HashmapIter i = HASHMAP_ITER_INIT;
        const char *unit;

        *ret_units = hashmap_size(m->monitored);
        *ret_sections = 0;
        if (hashmap_new(&sections, HASHMAP_KEYS_COPY) < 0)
                return;
        while (hashmap_iterate(m->monitored, &i, &unit, NULL)) {
                const Check *c = resolver_lookup(m->resolver, m->config, unit);
                char key[PATH_MAX + 16];
                const char *file;
                unsigned line;

                if (!c)
                        continue;
                check_where(c, &file, &line);
                snprintf(key, sizeof(key), "%s:%u", file, line);
                if (hashmap_put(sections, key, (void *) 1) >= 0)
                        (*ret_sections)++;
        }
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
        manager_say_monitored(m, info->unit, info->service, check_is_active(c) ? c : NULL);
        return c && c->enabled;
}

/* Whether an outbox entry's check still exists (see sender_keep_t). A section named after the
 * unit decides at once; an annotation could override a pattern, so with annotations on, the
 * rest waits for the first resolution. */
static int keep_outbox_entry(const char *check, bool final, void *userdata) {
        Manager *m = userdata;
        const Check *exact = config_find_check(m->config, check);

        if (exact && !exact->pattern)
                return check_is_active(exact);
        if (!final && m->config->annotations)
                return -1;
        return check_is_active(resolver_lookup(m->resolver, m->config, check));
}

static void on_settled(Watch *w _unused_, void *userdata) {
        Manager *m = userdata;
        size_t n, k;

        if (m->stopping)
                return;
        manager_count(m, &n, &k);
        if (m->ready_sent && !m->reloading) {
                /* A daemon-reload changed what is watched: STATUS= follows, quietly. */
                if (n != m->said_units || k != m->said_sections)
                        (void) sd_notifyf(false, "STATUS=Watching %zu unit%s from %zu section%s.", n,
                                          n == 1 ? "" : "s", k, k == 1 ? "" : "s");
                m->said_units = n;
                m->said_sections = k;
                return;
        }
        /* The outbox entries that waited for every check to be known (annotations, patterns). */
        if (!m->ready_sent)
                sender_replay_held(m->sender);
        (void) sd_notifyf(false, "READY=1\nSTATUS=Watching %zu unit%s from %zu section%s.", n, n == 1 ? "" : "s", k,
                          k == 1 ? "" : "s");
        if (!m->ready_sent)
                log_info("timerbeat started, watching %zu unit%s from %zu section%s on the %s manager.", n,
                         n == 1 ? "" : "s", k, k == 1 ? "" : "s", m->options.user ? "user" : "system");
        else
                log_info("Configuration reloaded, watching %zu unit%s from %zu section%s.", n, n == 1 ? "" : "s", k,
                         k == 1 ? "" : "s");
        m->said_units = n;
        m->said_sections = k;
        m->ready_sent = true;
        m->reloading = false;
}

static void print_errors(const Strv *errors) {
        for (size_t i = 0; i < errors->n; i++)
                log_error("%s", errors->items[i]);
}

int manager_load_config(const ManagerOptions *o, Config **ret) {
        return manager_load_config_warn(o, NULL, ret);
}

int manager_load_config_warn(const ManagerOptions *o, const Strv *said, Config **ret) {
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
                        if (!said || !strv_contains(said, (*ret)->warnings.items[i]))
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
        /* Warnings the running configuration had already are not repeated. */
        r = manager_load_config_warn(&m->options, &m->config->warnings, &c);
        if (r < 0) {
                log_error("Configuration not reloaded: fix the errors above; the previous configuration stays in "
                          "effect.");
                (void) sd_notify(false, "READY=1\nSTATUS=Reload failed; running with the previous configuration.");
                return;
        }

        r = sender_set_config(m->sender, c);
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
        sender_shutdown(m->sender, on_http_idle, m);
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
        r = outbox_new(&m->outbox, m->state_dir);
        if (r == -ENOMEM)
                return log_oom();
        outbox_report_write(m->outbox, r, "the outbox directory");

        r = sender_new(&m->sender, m->event, m->outbox, m->config);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl: %m");

        /* Whatever a previous instance could not deliver goes first; entries whose check only
         * the first resolution can tell wait for it (sender_replay_held()). */
        r = sender_replay(m->sender, keep_outbox_entry, m);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read the outbox %s: %m", outbox_dir(m->outbox));

        r = watch_new(&m->watch, m->event, o->user, on_run_end, on_settled, on_want, on_dropped, m);
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
        sender_free(m->sender);
        outbox_free(m->outbox);
        free(m->state_dir);
        resolver_free(m->resolver);
        hashmap_free(m->failures);
        if (m->monitored) {
                HashmapIter i = HASHMAP_ITER_INIT;
                void *sig;

                while (hashmap_iterate(m->monitored, &i, NULL, &sig))
                        free(sig);
                hashmap_free(m->monitored);
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
