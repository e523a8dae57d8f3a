/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "http.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "outbox.h"
#include "watch.h"

/* How long in-flight pings may finish after SIGTERM. */
#define SHUTDOWN_GRACE_USEC (3 * USEC_PER_SEC)

/* [X-Timerbeat] checks read from unit files, by unit. */
typedef struct Annotation Annotation;
struct Annotation {
        char *unit;
        Check *check;
        Annotation *next;
};

/* What we remember per unit between runs: consecutive failures, the body size the monitor
 * accepts (healthchecks' Ping-Body-Limit). */
typedef struct UnitStats UnitStats;
struct UnitStats {
        char *unit;
        unsigned failures;
        long body_limit;
        UnitStats *next;
};

struct Manager {
        ManagerOptions options;
        Annotation *annotations;
        UnitStats *stats;
        bool warned_activation_details;
        sd_event *event;
        Config *config;
        Watch *watch;
        Http *http;
        Outbox *outbox;
        char *state_dir;
        bool state_broken; /* the last write to the state directory failed */

        sd_event_source *sig_term, *sig_int, *sig_hup, *shutdown_timer;
        bool ready_sent;
        bool reloading;
        bool stopping;
};

bool manager_run_succeeded(const char *active_state, const char *result) {
        if (!result || !streq(result, "success"))
                return false;
        return !active_state || !streq(active_state, "failed");
}

static const char *exec_code_to_string(int code) {
        switch (code) {
        case CLD_EXITED:
                return "exited";
        case CLD_KILLED:
                return "killed";
        case CLD_DUMPED:
                return "dumped";
        default:
                return "unknown";
        }
}

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

static void manager_record_run(Manager *m, const WatchRun *run) {
        int r;

        if (isempty(run->invocation))
                return;
        r = outbox_write_last(m->outbox, run->check, run->invocation, run->exit_timestamp);
        manager_state_write_result(m, r, "the last run record");
}

/* For a run found ended at (re)connect: was it new, and should it be reported now? */
static bool manager_catch_up(Manager *m, const WatchRun *run, const Check *check) {
        char last[33];
        usec_t last_exit = 0, now = now_usec(CLOCK_REALTIME);
        char buf[32];
        int r;

        r = outbox_read_last(m->outbox, run->check, last, &last_exit);
        if (isempty(run->invocation)) {
                /* No run to report; a new check starts its record here, so that a run ending while
                 * timerbeat is stopped is caught up at the next start. */
                if (r == -ENOENT) {
                        r = outbox_write_last(m->outbox, run->check, "00000000000000000000000000000000", 0);
                        manager_state_write_result(m, r, "the last run record");
                }
                return false;
        }
        if (r == -ENOENT) {
                /* Never seen this check before: what ended before it existed is not ours to report. */
                log_unit(LOG_DEBUG, run->service, run->invocation, "[%s]: first run record.", check->name);
                manager_record_run(m, run);
                return false;
        }
        if (r >= 0 && streq(last, run->invocation))
                return false; /* reported (or decided on) before */
        if (r >= 0 && run->exit_timestamp > 0 && last_exit > 0 && run->exit_timestamp <= last_exit)
                return false;

        if (!manager_run_succeeded(run->active_state, run->result) && !check->failure) {
                log_unit(LOG_NOTICE, run->service, run->invocation,
                         "Run %s of %s ended while timerbeat was not watching, with result '%s'; not pinging [%s].",
                         run->invocation, run->service, strempty(run->result), check->name);
                manager_record_run(m, run);
                return false;
        }
        if (run->exit_timestamp == 0 || now > run->exit_timestamp + m->config->max_age) {
                log_unit(LOG_WARNING, run->service, run->invocation,
                         "Run %s of %s ended while timerbeat was not watching, but longer ago than max-age=%s; "
                         "not pinging [%s].",
                         run->invocation, run->service, format_timespan(buf, sizeof(buf), m->config->max_age),
                         check->name);
                manager_record_run(m, run);
                return false;
        }
        log_unit(LOG_INFO, run->service, run->invocation,
                 "Run %s of %s ended %llus ago while timerbeat was not watching; catching up.", run->invocation,
                 run->service, (unsigned long long) ((now - run->exit_timestamp) / USEC_PER_SEC));
        return true;
}

static UnitStats *manager_stats(Manager *m, const char *unit) {
        UnitStats *st;

        for (st = m->stats; st; st = st->next)
                if (streq(st->unit, unit))
                        return st;
        st = calloc(1, sizeof(UnitStats));
        if (!st || !(st->unit = strdup(unit))) {
                free(st);
                return NULL;
        }
        st->body_limit = -1;
        st->next = m->stats;
        m->stats = st;
        return st;
}

typedef struct Send {
        const Check *check;
        const char *name;       /* the unit the check is for */
        const char *url;
        const char *unit;       /* the service */
        const char *invocation;
        usec_t created;
        const char *body;
        size_t body_size;
        const char *content_type;
} Send;

static void manager_send(Manager *m, const Send *x) {
        _cleanup_free_ char *id = NULL;
        OutboxEntry e = {
                .check = (char *) x->name,
                .unit = (char *) x->unit,
                .invocation = (char *) x->invocation,
                .url = (char *) x->url,
                .method = x->body ? HTTP_METHOD_POST : x->check->method,
                .source = x->check->source ?: m->config->source,
                .created = x->created ?: now_usec(CLOCK_REALTIME),
                .body = (char *) x->body,
                .body_size = x->body_size,
                .content_type = (char *) x->content_type,
        };
        HttpPing ping;
        int r;

        /* Durable first: the entry is on disk before the first attempt. */
        r = outbox_store(m->outbox, &e, &id);
        manager_state_write_result(m, r, "an outbox entry");

        ping = (HttpPing) {
                .check = x->name,
                .unit = x->unit,
                .invocation = x->invocation,
                .url = x->url,
                .method = e.method,
                .source = e.source,
                .id = id,
                .created = e.created,
                .body = x->body,
                .body_size = x->body_size,
                .content_type = x->content_type,
        };
        r = http_submit(m->http, &ping);
        if (r < 0) {
                log_unit_errno(LOG_ERR, r, x->unit, x->invocation, "Failed to queue the ping for [%s]: %m", x->name);
                if (id)
                        (void) outbox_remove(m->outbox, id);
        }
}

static Annotation *manager_find_annotation(Manager *m, const char *unit) {
        for (Annotation *a = m->annotations; a; a = a->next)
                if (streq(a->unit, unit))
                        return a;
        return NULL;
}

static void manager_drop_annotation(Manager *m, const char *unit) {
        for (Annotation **pp = &m->annotations; *pp; pp = &(*pp)->next)
                if (streq((*pp)->unit, unit)) {
                        Annotation *a = *pp;

                        *pp = a->next;
                        free(a->unit);
                        check_free(a->check);
                        free(a);
                        return;
                }
}

static void manager_free_annotations(Manager *m) {
        while (m->annotations)
                manager_drop_annotation(m, m->annotations->unit);
}

/* The check for a unit. Precedence: a timerbeat.conf section named after the unit, then the
 * unit's [X-Timerbeat] annotation, then the best matching pattern section. */
static const Check *manager_check_for(Manager *m, const char *unit) {
        const Check *c = config_find_check(m->config, unit);
        Annotation *a;

        if (c && !c->pattern)
                return c;
        a = manager_find_annotation(m, unit);
        if (a)
                return a->check;
        return config_match(m->config, unit);
}

static int manager_read_annotation(Manager *m, const char *unit, const Strv *files, Check **ret) {
        _cleanup_(strv_done) Strv errors = {};
        int r;

        r = config_parse_annotation(m->config, unit, files->items, files->n, ret, &errors);
        for (size_t i = 0; i < errors.n; i++)
                log_unit(LOG_ERR, unit, NULL, "%s", errors.items[i]);
        if (r == -EINVAL)
                log_unit(LOG_ERR, unit, NULL,
                         "The [X-Timerbeat] annotation of %s is invalid and ignored; fix the lines above and run "
                         "systemctl daemon-reload.",
                         unit);
        return r;
}

static bool on_want(Watch *w _unused_, const WatchUnitInfo *info, void *userdata) {
        Manager *m = userdata;
        const Check *exact = config_find_check(m->config, info->unit), *c;
        Check *k = NULL;
        int r;

        manager_drop_annotation(m, info->unit);
        if (exact && !exact->pattern)
                return exact->enabled; /* timerbeat.conf wins over annotations */

        if (m->config->annotations) {
                /* The timer's own files first; its service's if the timer has none. */
                r = manager_read_annotation(m, info->unit, info->timer_files, &k);
                if (r >= 0 && !k && info->service_files)
                        r = manager_read_annotation(m, info->unit, info->service_files, &k);
                if (r == -ENOMEM)
                        return log_oom(), false;
                /* -EINVAL: reported; this unit falls back to patterns, the others are unaffected. */
                if (k) {
                        Annotation *a = calloc(1, sizeof(Annotation));

                        if (!a || !(a->unit = strdup(info->unit))) {
                                free(a);
                                check_free(k);
                                log_oom();
                                return false;
                        }
                        a->check = k;
                        a->next = m->annotations;
                        m->annotations = a;
                }
        }

        c = manager_check_for(m, info->unit);
        if (c && c->enabled)
                log_unit(info->discovered ? LOG_INFO : LOG_DEBUG, info->service, NULL, "%s is monitored (%s%s%s:%u).",
                         info->unit, c->origin == CHECK_FROM_ANNOTATION ? "annotation " : "",
                         c->pattern ? "pattern " : "", c->file, c->line);
        return c && c->enabled;
}

/* A log tail being read for a ping: everything needed to send it once the text is there. */
typedef struct Pending {
        Manager *m;
        Check *check; /* a copy of what matters: the config may be reloaded meanwhile */
        char *name, *url, *unit, *invocation;
        usec_t created;
} Pending;

static void pending_free(Pending *p) {
        if (!p)
                return;
        check_free(p->check);
        free(p->name);
        free(p->url);
        free(p->unit);
        free(p->invocation);
        free(p);
}

static void on_log_tail(const char *text, size_t size, int error, void *userdata) {
        Pending *p = userdata;
        Send x = {
                .check = p->check,
                .name = p->name,
                .url = p->url,
                .unit = p->unit,
                .invocation = p->invocation,
                .created = p->created,
                .body = text ?: "",
                .body_size = text ? size : 0,
                .content_type = "text/plain; charset=utf-8",
        };

        if (error < 0)
                log_unit_errno(LOG_WARNING, error, p->unit, p->invocation,
                               "Cannot read the run's journal output: %m; sending the ping without it.");
        manager_send(p->m, &x);
        pending_free(p);
}

static char *json_escape(const char *s) {
        char *r = malloc(strlen(s) * 6 + 1), *t = r;

        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        t += sprintf(t, "\\%c", c);
                else if (c < 0x20)
                        t += sprintf(t, "\\u%04x", c);
                else
                        *t++ = (char) c;
        }
        *t = 0;
        return r;
}

static char *run_json(const WatchRun *run, const char *name, int exit_code, usec_t duration, const char *host) {
        _cleanup_free_ char *u = json_escape(run->service), *n = json_escape(name), *h = json_escape(host),
                            *res = json_escape(strempty(run->result));
        char *j;

        if (!u || !n || !h || !res)
                return NULL;
        if (asprintf(&j,
                     "{\"unit\":\"%s\",\"check\":\"%s\",\"invocation\":\"%s\",\"event\":\"%s\",\"result\":\"%s\","
                     "\"exit_code\":%d,\"started_usec\":%llu,\"finished_usec\":%llu,\"duration_s\":%.3f,"
                     "\"hostname\":\"%s\"}",
                     u, n, strempty(run->invocation), run->start ? "start" : "finish", run->start ? "" : res,
                     run->start ? 0 : exit_code, (unsigned long long) run->start_timestamp,
                     (unsigned long long) (run->start ? 0 : run->exit_timestamp), (double) duration / 1e6, h) < 0)
                return NULL;
        return j;
}

/* Builds and sends one event of a run: the URL from the check's templates, the body if any. */
static void manager_event(Manager *m, const Check *check, const WatchRun *run, Event ev, int exit_code,
                          usec_t duration, const char *message) {
        _cleanup_free_ char *base = NULL, *url = NULL, *masked = NULL, *json = NULL;
        char host[256] = "";
        BodyKind body = check_body_for(check, ev);
        TemplateVars v;
        int r;

        (void) gethostname(host, sizeof(host) - 1);
        v = (TemplateVars) {
                .unit = run->check,
                .hostname = host,
                .rid = run->invocation,
                .result = run->start ? "" : run->result,
                .message = message,
                .exit_code = exit_code,
                .duration = duration,
        };
        if (check->url) {
                r = template_expand(check->url, &v, &base);
                if (r < 0)
                        goto fail;
        }
        Check copy = *check;
        copy.url = base;
        r = check_event_url(&copy, ev, &v, &url);
        if (r < 0)
                goto fail;

        masked = url_mask(url);
        if (ev == EVENT_SUCCESS)
                log_unit(LOG_INFO, run->service, run->invocation, "Run %s of %s succeeded; pinging %s for [%s].",
                         run->invocation, run->service, strempty(masked), run->check);
        else
                log_unit(LOG_INFO, run->service, run->invocation, "Run %s of %s: sending %s to %s for [%s].",
                         run->invocation, run->service, event_to_string(ev), strempty(masked), run->check);

        if (body == BODY_LOG && !isempty(run->invocation)) {
                UnitStats *st = manager_stats(m, run->check);
                size_t max = check->body_max;
                Pending *p = calloc(1, sizeof(Pending));

                /* The monitor said how much it keeps (Ping-Body-Limit); the preset knows its cap. */
                if (st && st->body_limit >= 0 && (size_t) st->body_limit < max)
                        max = (size_t) st->body_limit;
                if (check->preset && check->preset->body_cap > 0 && check->preset->body_cap < max)
                        max = check->preset->body_cap;
                if (!p)
                        goto fail_oom;
                p->m = m;
                p->created = run->start ? now_usec(CLOCK_REALTIME) : run->exit_timestamp;
                p->check = calloc(1, sizeof(Check));
                p->name = strdup(run->check);
                p->url = TAKE_PTR(url);
                p->unit = strdup(run->service);
                p->invocation = strdup(run->invocation);
                if (!p->check || !p->name || !p->unit || !p->invocation) {
                        pending_free(p);
                        goto fail_oom;
                }
                p->check->method = check->method;
                p->check->source = check->source ? strdup(check->source) : NULL;
                r = journal_tail_async(m->event,
                                       &(JournalQuery) {
                                               .invocation = run->invocation,
                                               .unit = run->service,
                                               .since = run->start_timestamp,
                                               .until = run->exit_timestamp,
                                               .max = max,
                                       },
                                       on_log_tail, p);
                if (r >= 0)
                        return;
                log_unit_errno(LOG_WARNING, r, run->service, run->invocation,
                               "Cannot read the run's journal output: %m; sending the ping without it.");
                url = TAKE_PTR(p->url);
                pending_free(p);
                body = BODY_NONE;
        }
        if (body == BODY_JSON) {
                json = run_json(run, run->check, exit_code, duration, host);
                if (!json)
                        goto fail_oom;
        }
        manager_send(m, &(Send) {
                .check = check,
                .name = run->check,
                .url = url,
                .unit = run->service,
                .invocation = run->invocation,
                .created = run->start ? now_usec(CLOCK_REALTIME) : run->exit_timestamp,
                .body = json,
                .body_size = json ? strlen(json) : 0,
                .content_type = json ? "application/json" : NULL,
        });
        return;

fail_oom:
        r = -ENOMEM;
fail:
        log_unit_errno(LOG_ERR, r, run->service, run->invocation, "Cannot build the %s request for [%s]: %m",
                       event_to_string(ev), run->check);
}

static void on_run_end(Watch *w _unused_, const WatchRun *run, void *userdata) {
        Manager *m = userdata;
        const Check *check = manager_check_for(m, run->check);
        usec_t duration = 0;
        char message[512], dbuf[32];
        bool success;
        int exit_code;

        if (!check || !check->enabled || (!check->url && !check->templates[EVENT_SUCCESS]))
                return;

        /* trigger = timer: only runs the timer started. systemd < 253 cannot tell. */
        if (check->trigger_timer && !run->catch_up && run->activated_by_timer == 0) {
                if (!run->start)
                        log_unit(LOG_INFO, run->service, run->invocation,
                                 "Run %s of %s was not started by a timer; ignored.", run->invocation, run->service);
                return;
        }
        if (check->trigger_timer && run->activated_by_timer < 0 && !m->warned_activation_details) {
                log_notice("trigger = timer needs systemd's ActivationDetails (systemd 253 or newer); counting every "
                           "run, as with trigger = any.");
                m->warned_activation_details = true;
        }

        if (run->start) {
                if (check->start)
                        manager_event(m, check, run, EVENT_START, 0, 0, "started");
                return;
        }

        if (run->catch_up) {
                if (!manager_catch_up(m, run, check))
                        return;
        }

        if (run->start_timestamp > 0 && run->exit_timestamp > run->start_timestamp)
                duration = run->exit_timestamp - run->start_timestamp;
        exit_code = exit_code_from_run(run->result, run->exec_main_code, run->exec_main_status);
        success = manager_run_succeeded(run->active_state, run->result);
        format_timespan(dbuf, sizeof(dbuf), duration - duration % USEC_PER_MSEC);

        if (success && check->n_skip_exit_status > 0 && run->exec_main_code == CLD_EXITED)
                for (size_t i = 0; i < check->n_skip_exit_status; i++)
                        if (check->skip_exit_status[i] == run->exec_main_status) {
                                log_unit(LOG_INFO, run->service, run->invocation,
                                         "Run %s of %s succeeded with exit status %d, listed in skip-exit-status=; "
                                         "not pinging [%s].",
                                         run->invocation, run->service, run->exec_main_status, run->check);
                                manager_record_run(m, run);
                                return;
                        }

        if (success && check->min_runtime > 0 && duration < check->min_runtime) {
                char mbuf[32];

                snprintf(message, sizeof(message), "%s ran for only %s, less than min-runtime=%s", run->service,
                         dbuf, format_timespan(mbuf, sizeof(mbuf), check->min_runtime));
                log_unit(LOG_NOTICE, run->service, run->invocation, "Run %s: %s; reporting it as a failure.",
                         run->invocation, message);
                success = false;
                if (exit_code == 0)
                        exit_code = 1;
        } else if (success)
                snprintf(message, sizeof(message), "%s succeeded in %s", run->service, dbuf);
        else
                snprintf(message, sizeof(message), "%s failed: %s, exit code %d, after %s", run->service,
                         run->result ?: (streq(strempty(run->active_state), "failed") ? "failed" : "unknown"), exit_code,
                         dbuf);

        UnitStats *st = manager_stats(m, run->check);
        if (success) {
                if (st)
                        st->failures = 0;
                manager_event(m, check, run, EVENT_SUCCESS, exit_code, duration, message);
        } else {
                if (st)
                        st->failures++;
                if (!run->catch_up || check->failure)
                        log_unit(LOG_NOTICE, run->service, run->invocation,
                                 "Run %s of %s ended with result '%s' (%s, status %d); %s [%s].", run->invocation,
                                 run->service,
                                 run->result ?: (streq(strempty(run->active_state), "failed") ? "failed" : "unknown"),
                                 exec_code_to_string(run->exec_main_code), run->exec_main_status,
                                 check->failure ? "reporting the failure" : "not pinging", run->check);
                if (check->failure) {
                        if (st && st->failures < check->failure_threshold) {
                                if (check_template(check, EVENT_LOG))
                                        manager_event(m, check, run, EVENT_LOG, exit_code, duration, message);
                                else
                                        log_unit(LOG_INFO, run->service, run->invocation,
                                                 "Failure %u of %u in a row; below failure-threshold=, not reported.",
                                                 st->failures, check->failure_threshold);
                        } else
                                manager_event(m, check, run, EVENT_FAILURE, exit_code, duration, message);
                }
        }
        manager_record_run(m, run);
}

static const char *outcome_to_string(HttpOutcome o) {
        switch (o) {
        case HTTP_DELIVERED:
                return "delivered";
        case HTTP_REJECTED:
                return "rejected";
        case HTTP_EXPIRED:
                return "expired";
        case HTTP_DROPPED:
                return "dropped";
        default:
                return "unknown";
        }
}

static void on_http_done(Http *h _unused_, const HttpResult *res, void *userdata) {
        Manager *m = userdata;
        int r;

        if (res->outcome == HTTP_DELIVERED && res->body_head && startswith(res->body_head, "OK (rate-limited)"))
                log_unit(LOG_WARNING, res->unit, res->invocation,
                         "The monitor answered \"OK (rate-limited)\": this ping was not recorded. Pings for this "
                         "check come too often for it.");
        if (res->check && res->body_limit >= 0) {
                UnitStats *st = manager_stats(m, res->check);

                if (st)
                        st->body_limit = res->body_limit;
        }
        /* What `timerbeat list` shows as the last ping of the check. */
        if (res->check) {
                r = outbox_write_ping(m->outbox, res->check, outcome_to_string(res->outcome), res->status,
                                      now_usec(CLOCK_REALTIME), strempty(res->invocation));
                manager_state_write_result(m, r, "the last ping record");
        }
        if (!res->id)
                return;
        r = outbox_remove(m->outbox, res->id);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s/%s: %m; it may be sent again after a restart.",
                                  outbox_dir(m->outbox), res->id);
}

static void on_outbox_entry(Outbox *o _unused_, const char *name, const OutboxEntry *e, void *userdata) {
        Manager *m = userdata;
        HttpPing ping = {
                .check = e->check,
                .unit = e->unit,
                .invocation = e->invocation,
                .url = e->url,
                .method = e->method,
                .source = e->source,
                .id = name,
                .created = e->created,
                .body = e->body,
                .body_size = e->body_size,
                .content_type = e->content_type,
        };
        int r;

        log_unit(LOG_INFO, e->unit, e->invocation, "Resending the ping of run %s of %s from the outbox.",
                 strempty(e->invocation), e->unit);
        r = http_submit(m->http, &ping);
        if (r < 0)
                log_unit_errno(LOG_ERR, r, e->unit, e->invocation, "Failed to queue %s from the outbox: %m", name);
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

int manager_new(Manager **ret, const ManagerOptions *o) {
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->options = *o;

        r = manager_load_config(o, &m->config);
        if (r < 0)
                return r;

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
        manager_free_annotations(m);
        while (m->stats) {
                UnitStats *n = m->stats->next;
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
