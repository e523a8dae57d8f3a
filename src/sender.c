/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>

#include "hashmap.h"
#include "journal.h"
#include "log.h"
#include "ping.h"
#include "sender.h"

/* A ping whose log body is being read from the journal. The ping is in the outbox already
 * (without the body), so a stop meanwhile loses nothing. */
typedef struct Pending Pending;
struct Pending {
        Sender *s;
        Ping *ping;
        TailJob *job;
        Pending *prev, *next;
};

/* A ping http has and has not answered for good yet: for the outbox gauges and health. */
typedef struct InFlight {
        const Ping *ping; /* owned by http; only compared */
        usec_t created;   /* what it reports: for timerbeat_outbox_oldest_seconds */
        usec_t queued;    /* when we queued it: for health */
        bool self;
} InFlight;

struct Sender {
        sd_event *event;
        Outbox *outbox; /* not owned */
        const Config *config;
        Http *http;
        Hashmap *body_limits; /* check → the monitor's Ping-Body-Limit + 1, as uintptr_t (0: unknown) */
        Pending *pending;
        Metrics *metrics; /* not owned, may be NULL */
        InFlight *in_flight;
        size_t n_in_flight, allocated_in_flight;
        Hostname *hostname; /* not owned */

        /* The replay of the outbox: a few entries per loop iteration (replay_source), so that
         * a large outbox never delays READY=1; entries whose check only the first resolution
         * can tell (annotations) wait in held; dropped ones are counted for one summary line.
         * New pings wait in waiting until the replay is done, behind the older ones. */
        sender_keep_t keep;
        void *keep_userdata;
        uint64_t *replay;
        size_t n_replay, replay_next;
        sd_event_source *replay_source;
        OutboxRef *held;
        size_t n_held;
        Ping **waiting;
        size_t n_waiting;
        Strv dropped_checks;
        size_t n_dropped;

        sd_event_source *sync_source; /* the outbox's fdatasync, after the requests are handed over */
};

/* The longest a stored ping waits for its fdatasync when the loop is busy. */
#define SYNC_MAX_DELAY (50 * USEC_PER_MSEC)

/* Entries read back from the outbox per loop iteration. */
#define REPLAY_BATCH 32

/* For the fault tests only (tests/integration/test_faults.py): TIMERBEAT_TEST_CRASH_AT=STEP
 * kills the daemon with SIGKILL right after that step of a delivery (stored: the entry is on
 * disk; answered: the monitor's answer is in; done: the entry is marked done), as a crash
 * there would. */
static void crash_point(const char *step) {
        static const char *at;
        static bool looked;

        if (!looked) {
                at = getenv("TIMERBEAT_TEST_CRASH_AT");
                looked = true;
        }
        if (at && streq(at, step)) {
                log_notice("TIMERBEAT_TEST_CRASH_AT=%s: killing myself.", step);
                (void) raise(SIGKILL);
        }
}

static bool sender_replaying(const Sender *s) {
        return s->n_held > 0 || s->replay_next < s->n_replay;
}

usec_t sender_oldest_queued(const Sender *s) {
        usec_t oldest = 0;

        for (size_t i = 0; i < s->n_in_flight; i++)
                if (!s->in_flight[i].self && (oldest == 0 || s->in_flight[i].queued < oldest))
                        oldest = s->in_flight[i].queued;
        return oldest;
}

static void sender_update_gauges(Sender *s) {
        usec_t oldest = 0;

        for (size_t i = 0; i < s->n_in_flight; i++)
                if (oldest == 0 || s->in_flight[i].created < oldest)
                        oldest = s->in_flight[i].created;
        if (s->metrics)
                metrics_set_outbox(s->metrics, s->n_in_flight, oldest);
}

/* Called before http_submit(), which may answer (drop an older ping) at once. */
static int sender_track(Sender *s, const Ping *p) {
        if (s->n_in_flight == s->allocated_in_flight) {
                size_t a = MAX(s->allocated_in_flight * 2, (size_t) 16);
                InFlight *n = realloc(s->in_flight, a * sizeof(InFlight));

                if (!n)
                        return -ENOMEM;
                s->in_flight = n;
                s->allocated_in_flight = a;
        }
        s->in_flight[s->n_in_flight++] = (InFlight) {
                .ping = p,
                .created = p->created ?: now_usec(CLOCK_REALTIME),
                .queued = now_usec(CLOCK_REALTIME),
                .self = streq(p->check, CONFIG_SELF_CHECK),
        };
        sender_update_gauges(s);
        return 0;
}

static void sender_untrack(Sender *s, const Ping *p) {
        for (size_t i = 0; i < s->n_in_flight; i++)
                if (s->in_flight[i].ping == p) {
                        s->in_flight[i] = s->in_flight[--s->n_in_flight];
                        break;
                }
        sender_update_gauges(s);
}

/* Takes p; a submission that fails is untracked. */
static int sender_submit(Sender *s, Ping *p) {
        int r = sender_track(s, p);

        if (r < 0) {
                ping_free(p);
                return r;
        }
        r = http_submit(s->http, p);
        if (r < 0)
                sender_untrack(s, p);
        return r;
}

void sender_set_hostname(Sender *s, Hostname *h) {
        s->hostname = h;
}

/* The body size the monitor said it keeps (healthchecks' Ping-Body-Limit); -1: not said. */
static long sender_body_limit(const Sender *s, const char *check) {
        return (long) (uintptr_t) hashmap_get(s->body_limits, check) - 1;
}

static void sender_sync(Sender *s) {
        int r = outbox_sync(s->outbox);

        outbox_report_write(s->outbox, r, "an outbox entry");
        crash_point("synced");
}

static int on_sync(sd_event_source *e _unused_, void *userdata) {
        Sender *s = userdata;

        (void) sd_event_source_set_enabled(s->sync_source, SD_EVENT_OFF);
        sender_sync(s);
        return 0;
}

/* The entry is in the log before the first attempt (a crash of the daemon keeps it: the page
 * cache outlives the process); its fdatasync comes from a defer source of lower priority than
 * curl's timer and sockets, so the request usually leaves first and one fdatasync covers every
 * ping of a busy moment, at most SYNC_MAX_DELAY after the oldest of them. A power cut before it
 * loses the entry as it would have during a sync before the request: the run's exit is older. */
static void sender_sync_soon(Sender *s) {
        usec_t since = outbox_unsynced_since(s->outbox);
        int r;

        if (since == 0)
                return;
        if (now_usec(CLOCK_MONOTONIC) - since >= SYNC_MAX_DELAY) {
                sender_sync(s);
                return;
        }
        if (s->sync_source)
                r = sd_event_source_set_enabled(s->sync_source, SD_EVENT_ONESHOT);
        else {
                r = sd_event_add_defer(s->event, &s->sync_source, on_sync, s);
                if (r >= 0)
                        r = sd_event_source_set_priority(s->sync_source, SD_EVENT_PRIORITY_NORMAL + 1);
                if (r >= 0)
                        (void) sd_event_source_set_description(s->sync_source, "outbox-sync");
        }
        if (r < 0)
                sender_sync(s);
}

static void sender_store(Sender *s, Ping *p) {
        int r = outbox_store(s->outbox, p);

        outbox_report_write(s->outbox, r, "an outbox entry");
        if (r >= 0)
                sender_sync_soon(s);
}

/* Takes p: hands it to http, or says why it could not. */
static void sender_queue(Sender *s, Ping *p) {
        _cleanup_free_ char *id = NULL, *unit = NULL, *invocation = NULL, *check = NULL;
        int r;

        id = p->id ? strdup(p->id) : NULL;
        unit = strdup(p->unit);
        check = strdup(p->check);
        invocation = p->invocation ? strdup(p->invocation) : NULL;
        r = sender_submit(s, p); /* takes it, also on failure */
        if (r == -ESHUTDOWN) {
                /* Stopping (a log body read finished after SIGTERM): the entry stays in the
                 * outbox and goes out at the next start. */
                log_unit(LOG_INFO, unit, invocation, "Stopping; the ping for [%s] %s.", strempty(check),
                         id ? "stays in the outbox for the next start" : "is lost (not in the outbox)");
                return;
        }
        if (r < 0) {
                log_unit_errno(LOG_ERR, r, unit, invocation, "Failed to queue the ping for [%s]: %m",
                               strempty(check));
                if (id)
                        (void) outbox_remove(s->outbox, id);
        }
}

static void sender_send(Sender *s, Ping *p) {
        Ping **n;

        if (!p->id)
                sender_store(s, p);
        if (p->id)
                crash_point("stored");
        if (sender_replaying(s)) {
                /* Behind what a previous instance left, so that a check's pings keep their order. */
                n = realloc(s->waiting, sizeof(Ping *) * (s->n_waiting + 1));
                if (n) {
                        s->waiting = n;
                        s->waiting[s->n_waiting++] = p;
                        return;
                }
                log_oom();
        }
        sender_queue(s, p);
}

static void pending_free(Pending *p) {
        Sender *s = p->s;

        if (p->prev)
                p->prev->next = p->next;
        else
                s->pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        ping_free(p->ping);
        free(p);
}

static void on_log_tail(const char *text, size_t size, int error, void *userdata) {
        Pending *p = userdata;
        Sender *s = p->s;
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
                        sender_store(s, ping); /* the same entry, now with the text */
        }
        pending_free(p);
        sender_send(s, ping);
}

/* The body limit for a log tail: the check's, the monitor's (Ping-Body-Limit), the preset's. */
static size_t sender_body_max(Sender *s, const Check *c, const char *unit) {
        long limit = sender_body_limit(s, unit);
        size_t max = c->body_max;

        if (limit >= 0 && (size_t) limit < max)
                max = (size_t) limit;
        if (c->preset && c->preset->body_cap > 0 && c->preset->body_cap < max)
                max = c->preset->body_cap;
        return max;
}

/* Reads the run's journal output for the ping's body, then sends it. */
static int sender_send_with_log(Sender *s, const Check *c, const WatchRun *run, Ping *ping) {
        Pending *p = calloc(1, sizeof(Pending));
        int r;

        if (!p)
                return -ENOMEM;
        sender_store(s, ping);
        p->s = s;
        p->ping = ping;
        r = journal_tail_async(s->event,
                               &(JournalQuery) {
                                       .invocation = run->invocation,
                                       .unit = run->service,
                                       .since = run->start_timestamp,
                                       .until = run->exit_timestamp,
                                       .max = sender_body_max(s, c, run->check),
                               },
                               on_log_tail, p, &p->job);
        if (r < 0) {
                free(p);
                return r;
        }
        p->next = s->pending;
        if (s->pending)
                s->pending->prev = p;
        s->pending = p;
        return 0;
}

/* The check's last-run record, as decide asked (catch-up compares runs with it). */
void sender_record_run(Sender *s, const WatchRun *run, DecideRecord what) {
        int r;

        if (what == DECIDE_RECORD_NONE)
                return;
        if (what == DECIDE_RECORD_PLACEHOLDER)
                r = outbox_write_last(s->outbox, run->check, "00000000000000000000000000000000", 0);
        else if (!isempty(run->invocation))
                r = outbox_write_last(s->outbox, run->check, run->invocation, run->exit_timestamp);
        else
                return;
        outbox_report_write(s->outbox, r, "the last run record");
}

/* Builds the request of a decision and hands it to the outbox and http. */
void sender_dispatch(Sender *s, const Check *c, const WatchRun *run, const Decision *d) {
        _cleanup_free_ char *masked = NULL;
        Ping *ping = NULL;
        char host[256] = "";
        bool log_body = ping_body_kind(c, d->event) == BODY_LOG && !isempty(run->invocation);
        PingRun pr;
        int r;

        /* Live: the daemon's own gethostname() is frozen by ProtectHostname=yes (hostname.h). */
        if (s->hostname)
                snprintf(host, sizeof(host), "%s", hostname_get(s->hostname));
        else
                (void) gethostname(host, sizeof(host) - 1);
        pr = decide_ping_run(run, d, host);
        r = ping_build(c, s->config, d->event, &pr, log_body ? "" : NULL, 0, &ping);
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
                r = sender_send_with_log(s, c, run, ping);
                if (r >= 0)
                        return;
                log_unit_errno(LOG_WARNING, r, run->service, run->invocation,
                               "Cannot read the run's journal output: %m; sending the ping without it.");
        }
        sender_send(s, ping);
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
        Sender *s = userdata;
        const Ping *p = res->ping;
        int r;

        crash_point("answered");
        if (res->outcome == HTTP_DELIVERED && res->body_head && startswith(res->body_head, "OK (rate-limited)"))
                log_unit(LOG_WARNING, p->unit, p->invocation,
                         "The monitor answered \"OK (rate-limited)\": this ping was not recorded. Pings for this "
                         "check come too often for it.");
        if (res->body_limit >= 0 &&
            hashmap_replace(s->body_limits, p->check, (void *) (uintptr_t) (res->body_limit + 1)) < 0)
                log_oom();
        if (s->metrics && metrics_ping(s->metrics, p->check, strempty(event_to_string(p->event)),
                                       outcome_to_string(res->outcome)) < 0)
                log_oom();
        /* What `timerbeat list` shows as the last ping of the check. */
        r = outbox_write_ping(s->outbox, p->check, outcome_to_string(res->outcome), res->status,
                              now_usec(CLOCK_REALTIME), strempty(p->invocation));
        outbox_report_write(s->outbox, r, "the last ping record");
        sender_untrack(s, p);
        if (!p->id)
                return;
        r = outbox_remove(s->outbox, p->id);
        if (r < 0)
                log_warning_errno(r,
                                  "Failed to mark entry %s of %s/log done: %m; it may be sent again after a restart.",
                                  p->id, outbox_dir(s->outbox));
        else
                crash_point("done");
}

static int remove_seq(Sender *s, uint64_t seq) {
        char id[32];
        int r;

        snprintf(id, sizeof(id), "%" PRIu64, seq);
        r = outbox_remove(s->outbox, id);
        if (r < 0)
                log_warning_errno(r, "Failed to mark entry %s of %s/log done: %m", id, outbox_dir(s->outbox));
        return r;
}

/* An entry whose check is gone: nobody expects it any more. */
static void replay_drop(Sender *s, uint64_t seq, const char *check) {
        (void) remove_seq(s, seq);
        s->n_dropped++;
        if (!strv_contains(&s->dropped_checks, check)) {
                log_debug("Dropping the outbox entries of %s: it has no check any more.", check);
                if (s->dropped_checks.n < 1000 && strv_push(&s->dropped_checks, check) < 0)
                        log_oom();
        }
}

static void replay_send(Sender *s, Ping *p) {
        _cleanup_free_ char *name = strdup(p->id), *unit = strdup(p->unit);
        _cleanup_free_ char *inv = p->invocation ? strdup(p->invocation) : NULL;
        int r;

        log_unit(LOG_INFO, p->unit, p->invocation, "Resending the ping of run %s of %s from the outbox.",
                 strempty(p->invocation), p->unit);
        r = sender_submit(s, p);
        if (r < 0)
                log_unit_errno(LOG_ERR, r, unit, inv, "Failed to queue entry %s from the outbox: %m", strempty(name));
}

/* One line for every entry dropped, once the replay is complete. */
static void replay_summary(Sender *s) {
        if (s->n_dropped > 0)
                log_notice("Dropped %zu outbox entr%s of %zu check%s no longer configured (%s%s%s).", s->n_dropped,
                           s->n_dropped == 1 ? "y" : "ies", s->dropped_checks.n, s->dropped_checks.n == 1 ? "" : "s",
                           s->dropped_checks.n > 0 ? s->dropped_checks.items[0] : "?",
                           s->dropped_checks.n > 1 ? ", " : "", s->dropped_checks.n > 1 ? "…" : "");
        strv_done(&s->dropped_checks);
        s->n_dropped = 0;
}

/* The replay is over: the pings that waited behind it go now, in order. */
static void replay_finish(Sender *s) {
        Ping **waiting = TAKE_PTR(s->waiting);
        size_t n = s->n_waiting;

        if (s->replay_source)
                (void) sd_event_source_set_enabled(s->replay_source, SD_EVENT_OFF);
        s->replay = mfree(s->replay);
        s->n_replay = s->replay_next = 0;
        s->n_waiting = 0;
        for (size_t i = 0; i < n; i++)
                sender_queue(s, waiting[i]);
        free(waiting);
}

static int on_replay(sd_event_source *src _unused_, void *userdata) {
        Sender *s = userdata;

        for (size_t k = 0; k < REPLAY_BATCH && s->replay_next < s->n_replay; k++) {
                uint64_t seq = s->replay[s->replay_next++];
                Ping *p = NULL;
                int r = outbox_load(s->outbox, seq, &p);

                if (r == -ENOENT) /* dropped meanwhile to make room */
                        continue;
                if (r < 0) {
                        log_warning_errno(r, "Entry %" PRIu64 " of %s/log cannot be read back: %m; dropping it.", seq,
                                          outbox_dir(s->outbox));
                        (void) remove_seq(s, seq);
                        continue;
                }
                replay_send(s, p);
        }
        if (!sender_replaying(s))
                replay_finish(s);
        return 0;
}

static void replay_push(Sender *s, uint64_t seq) {
        uint64_t *n = realloc(s->replay, sizeof(uint64_t) * (s->n_replay + 1));

        if (!n) {
                log_oom(); /* it stays in the outbox for the next start */
                return;
        }
        s->replay = n;
        s->replay[s->n_replay++] = seq;
}

static void replay_start(Sender *s) {
        int r;

        if (!sender_replaying(s)) {
                replay_finish(s);
                return;
        }
        if (s->replay_next >= s->n_replay)
                return; /* only held entries: they wait for sender_replay_held() */
        if (s->replay_source)
                r = sd_event_source_set_enabled(s->replay_source, SD_EVENT_ON);
        else {
                r = sd_event_add_defer(s->event, &s->replay_source, on_replay, s);
                /* After whatever else is pending: start-up and live runs first. */
                if (r >= 0)
                        r = sd_event_source_set_priority(s->replay_source, SD_EVENT_PRIORITY_IDLE);
                if (r >= 0)
                        (void) sd_event_source_set_description(s->replay_source, "outbox-replay");
        }
        if (r >= 0)
                return;
        log_warning_errno(r, "Cannot schedule the outbox's replay: %m; sending it at once.");
        while (sender_replaying(s) && s->replay_next < s->n_replay)
                (void) on_replay(NULL, s);
}

/* Keeps what a full queue would keep: per check the newest max-queue-per-check, of all the
 * newest max-queue; the older ones are dropped now, with one line, not one each. */
static int replay_bound(Sender *s, OutboxRef *refs, size_t n) {
        _cleanup_(hashmap_freep) Hashmap *per_check = NULL;
        _cleanup_free_ uint64_t *drop = NULL;
        size_t kept = 0, dropped = 0, held, load_dropped;
        int r;

        r = hashmap_new(&per_check, HASHMAP_KEYS_BORROW);
        if (r < 0)
                return r;
        drop = malloc(sizeof(uint64_t) * (n + 1));
        if (!drop)
                return -ENOMEM;
        for (size_t i = n; i > 0; i--) {
                OutboxRef *ref = &refs[i - 1];
                uintptr_t c = (uintptr_t) hashmap_get(per_check, ref->check) + 1;

                if (c <= s->config->max_queue_per_check && kept < s->config->max_queue) {
                        r = hashmap_replace(per_check, ref->check, (void *) c);
                        if (r < 0)
                                return r;
                        kept++;
                        continue;
                }
                drop[dropped++] = ref->seq;
                ref->check = mfree(ref->check); /* not a key of per_check: only kept ones are */
        }
        r = outbox_remove_many(s->outbox, drop, dropped);
        if (r < 0)
                log_warning_errno(r, "Failed to mark the dropped entries of %s/log done: %m", outbox_dir(s->outbox));
        /* Most were dropped already while the log was read (outbox_new_bounded): one line for all. */
        outbox_load_dropped(s->outbox, &held, &load_dropped);
        if (dropped + load_dropped > 0)
                log_warning("The outbox held %zu pings, more than max-queue=%u and max-queue-per-check=%u keep; "
                            "dropped the %zu oldest.",
                            MAX(n + load_dropped, held), s->config->max_queue, s->config->max_queue_per_check,
                            dropped + load_dropped);
        return 0;
}

int sender_new(Sender **ret, sd_event *event, Outbox *outbox, const Config *config) {
        _cleanup_(sender_freep) Sender *s = NULL;
        int r;

        assert(ret && event && outbox && config);
        s = calloc(1, sizeof(Sender));
        if (!s)
                return -ENOMEM;
        s->event = event;
        s->outbox = outbox;
        r = hashmap_new(&s->body_limits, HASHMAP_KEYS_COPY);
        if (r >= 0)
                r = http_new(&s->http, event, on_http_done, s);
        if (r < 0)
                return r;
        r = sender_set_config(s, config);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

Sender *sender_free(Sender *s) {
        if (!s)
                return NULL;
        while (s->pending) {
                journal_tail_cancel(s->pending->job);
                pending_free(s->pending);
        }
        outbox_refs_free(s->held, s->n_held);
        for (size_t i = 0; i < s->n_waiting; i++)
                ping_free(s->waiting[i]);
        free(s->waiting);
        free(s->replay);
        sd_event_source_disable_unref(s->replay_source);
        sd_event_source_disable_unref(s->sync_source);
        (void) outbox_sync(s->outbox);
        strv_done(&s->dropped_checks);
        http_free(s->http);
        hashmap_free(s->body_limits);
        free(s->in_flight);
        free(s);
        return NULL;
}

int sender_set_config(Sender *s, const Config *config) {
        int r = http_set_config(s->http, config);

        if (r >= 0)
                s->config = config;
        return r;
}

void sender_set_metrics(Sender *s, Metrics *m) {
        s->metrics = m;
        sender_update_gauges(s);
}

void sender_dispatch_self(Sender *s) {
        const Check *c = s->config->self_check;
        char host[256] = "";
        PingRun pr = {
                .unit = CONFIG_SELF_CHECK,
                .service = "timerbeat.service",
                .hostname = host,
                .created = now_usec(CLOCK_REALTIME),
        };
        Ping *ping = NULL;
        int r;

        assert(c);
        (void) gethostname(host, sizeof(host) - 1);
        r = ping_build(c, s->config, EVENT_SUCCESS, &pr, NULL, 0, &ping);
        if (r < 0) {
                log_error_errno(r, "Cannot build the self-heartbeat request: %m");
                return;
        }
        /* One in the queue is enough: a monitor that is down gets the newest, not a backlog. */
        for (size_t i = 0; i < s->n_in_flight; i++)
                if (s->in_flight[i].self) {
                        log_debug("The previous self-heartbeat is still pending; not queueing another.");
                        ping_free(ping);
                        return;
                }
        log_debug("Healthy: sending the self-heartbeat.");
        sender_send(s, ping);
}

int sender_replay(Sender *s, sender_keep_t keep, void *userdata) {
        OutboxRef *refs = NULL;
        size_t n = 0;
        int r;

        s->keep = keep;
        s->keep_userdata = userdata;
        r = outbox_list(s->outbox, &refs, &n);
        if (r < 0)
                return r;
        r = replay_bound(s, refs, n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                OutboxRef *ref = &refs[i];
                int k;

                if (!ref->check)
                        continue;
                k = s->keep ? s->keep(ref->check, false, s->keep_userdata) : 1;
                if (k >= 0) {
                        if (k > 0)
                                replay_push(s, ref->seq);
                        else
                                replay_drop(s, ref->seq, ref->check);
                        ref->check = mfree(ref->check);
                } else {
                        /* Not known yet (an annotation may decide): held until sender_replay_held(). */
                        OutboxRef h = *ref;

                        ref->check = NULL;
                        refs[s->n_held++] = h;
                }
        }
        if (r < 0) {
                outbox_refs_free(refs, n);
                return r;
        }
        for (size_t i = s->n_held; i < n; i++)
                free(refs[i].check);
        s->held = refs;
        if (s->n_held == 0)
                s->held = mfree(s->held);
        if (s->n_held == 0)
                replay_summary(s);
        replay_start(s);
        return 0;
}

void sender_replay_held(Sender *s) {
        OutboxRef *held = TAKE_PTR(s->held);
        size_t n = s->n_held;

        s->n_held = 0;
        for (size_t i = 0; i < n; i++) {
                if (!s->keep || s->keep(held[i].check, true, s->keep_userdata) > 0)
                        replay_push(s, held[i].seq);
                else
                        replay_drop(s, held[i].seq, held[i].check);
        }
        outbox_refs_free(held, n);
        if (n > 0)
                replay_summary(s);
        replay_start(s);
}

size_t sender_pending(const Sender *s) {
        return http_pending(s->http);
}

void sender_shutdown(Sender *s, http_idle_t on_idle, void *userdata) {
        /* What is not replayed yet stays in the outbox; waiting pings say where they stay. */
        s->n_held = 0;
        s->held = mfree(s->held);
        s->replay_next = s->n_replay;
        http_shutdown(s->http, on_idle, userdata);
        replay_finish(s);
}
