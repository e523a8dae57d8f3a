/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <unistd.h>

#include "catchup.h"
#include "heldrun.h"
#include "log.h"

/* Entries read per event loop iteration: a slice stays well under a millisecond, so the bus
 * and the pings go on while a long history is read. */
#define CATCHUP_SLICE 64
/* Run ends held during a round, at most; more are handled at once (out of order, logged). */
#define CATCHUP_HELD_MAX 4096

typedef enum StateLoad {
        STATE_NOT_LOADED,
        STATE_LOADED,  /* from the file, or the file did not exist */
        STATE_MISSING, /* no file: the first start; read from now on */
        STATE_CORRUPT, /* unreadable: read back max-age (the last-run records drop duplicates) */
} StateLoad;

struct Catchup {
        sd_event *event;
        char *state_dir;
        bool user;
        catchup_record_t on_record;
        catchup_release_t on_release;
        void *userdata;

        History *history;
        StateLoad state;
        HistoryReader *reader;
        sd_event_source *slice;
        pid_t manager_pid;
        usec_t max_age;
        bool running, again;
        bool warned_unavailable, warned_save;

        HeldRun *held;
        size_t n_held;
        usec_t started;
        catchup_done_t on_done;
};

void catchup_set_started(Catchup *c, usec_t started) {
        c->started = started;
}

void catchup_set_on_done(Catchup *c, catchup_done_t on_done) {
        c->on_done = on_done;
}

int catchup_new(Catchup **ret, sd_event *event, const char *state_dir, bool user, catchup_record_t on_record,
                catchup_release_t on_release, void *userdata) {
        _cleanup_(catchup_freep) Catchup *c = NULL;
        int r;

        assert(ret);
        c = calloc(1, sizeof(Catchup));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->user = user;
        c->on_record = on_record;
        c->on_release = on_release;
        c->userdata = userdata;
        c->state_dir = strdup(state_dir);
        if (!c->state_dir)
                return -ENOMEM;
        r = history_new(&c->history);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Catchup *catchup_free(Catchup *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_held; i++)
                held_run_done(&c->held[i]);
        free(c->held);
        sd_event_source_disable_unref(c->slice);
        history_reader_free(c->reader);
        history_free(c->history);
        sd_event_unref(c->event);
        free(c->state_dir);
        free(c);
        return NULL;
}

bool catchup_running(const Catchup *c) {
        return c && c->running;
}

int catchup_hold(Catchup *c, const WatchRun *run) {
        HeldRun *n, *h;

        if (c->n_held >= CATCHUP_HELD_MAX)
                return -ENOBUFS;
        n = realloc(c->held, sizeof(HeldRun) * (c->n_held + 1));
        if (!n)
                return -ENOMEM;
        c->held = n;
        h = &c->held[c->n_held];
        if (held_run_init(h, run) < 0)
                return -ENOMEM;
        c->n_held++;
        return 0;
}

/* Hands the held runs back, in order. A callback may hold again (a new round started from
 * it): the array is taken first. */
static void release_held(Catchup *c) {
        HeldRun *held = TAKE_PTR(c->held);
        size_t n = c->n_held;

        c->n_held = 0;
        for (size_t i = 0; i < n; i++) {
                HeldRun *h = &held[i];
                WatchRun run = held_run_get(h);

                c->on_release(c, &run, c->userdata);
                held_run_done(h);
        }
        free(held);
}

static void catchup_finish(Catchup *c) {
        log_debug("Journal catch-up done; handing over %zu run end(s) held meanwhile.", c->n_held);
        c->reader = history_reader_free(c->reader);
        c->slice = sd_event_source_disable_unref(c->slice);
        c->running = false;
        release_held(c);
        if (c->on_done && !c->running)
                c->on_done(c, c->userdata);
        if (c->again && !c->running) {
                c->again = false;
                (void) catchup_start(c, c->manager_pid, c->max_age);
        }
}

/* Once per round: the state file, the first time; then the journal, at the saved position. */
static int catchup_open(Catchup *c) {
        HistoryTrust trust = { .user = c->user, .uid = getuid(), .manager_pid = c->manager_pid };
        usec_t since = 0;
        int r;

        if (c->state == STATE_NOT_LOADED) {
                r = history_load(c->history, c->state_dir);
                c->state = r >= 0 ? STATE_LOADED : r == -ENOENT ? STATE_MISSING : STATE_CORRUPT;
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r,
                                          "%s/" HISTORY_STATE_FILE ": cannot use the saved journal position (%m); "
                                          "reading the journal of the last max-age instead (runs reported before "
                                          "are recognised by the last-run records and not sent again). The file "
                                          "is rewritten.",
                                          c->state_dir);
        }
        if (!history_cursor(c->history))
                since = c->state == STATE_CORRUPT && now_usec(CLOCK_REALTIME) > c->max_age ?
                                now_usec(CLOCK_REALTIME) - c->max_age :
                        c->started ?:
                                     now_usec(CLOCK_REALTIME);
        if (c->user && c->manager_pid <= 0)
                return -ESRCH;
        r = history_reader_new(&c->reader, c->history, &trust, since);
        if (r < 0)
                return r;
        if (!history_reader_has_files(c->reader))
                return -ENOMEDIUM;
        if (!history_reader_cursor_found(c->reader))
                log_warning(
                        "The journal no longer holds the entries after the position saved in %s/" HISTORY_STATE_FILE
                        " (rotated or vacuumed): runs that ended between then and its oldest entry are missing; "
                        "of each service only the last run is caught up, from systemd's state.",
                        c->state_dir);
        return 0;
}

static void catchup_unavailable(Catchup *c, int r) {
        if (c->warned_unavailable)
                return;
        c->warned_unavailable = true;
        if (r == -ESRCH)
                log_warning("The user manager's PID is unknown, so none of its journal messages can be trusted: of "
                            "runs that ended while timerbeat was not watching, only each service's last one is "
                            "caught up, from systemd's state.");
        else if (r == -ENOMEDIUM)
                log_warning("No journal file can be read (no journal, a volatile one, or no permission: the system "
                            "unit needs SupplementaryGroups=systemd-journal, a user a persistent journal): of runs "
                            "that ended while timerbeat was not watching, only each service's last one is caught "
                            "up, from systemd's state.");
        else
                log_warning_errno(r, "Cannot read the journal (%m): of runs that ended while timerbeat was not "
                                     "watching, only each service's last one is caught up, from systemd's state.");
}

static void catchup_save(Catchup *c) {
        int r = history_save(c->history, c->state_dir);

        if (r < 0 && !c->warned_save) {
                c->warned_save = true;
                log_warning_errno(r,
                                  "Cannot save the journal position to %s/" HISTORY_STATE_FILE
                                  ": %m; the next start reads the journal again from the last saved position (runs "
                                  "reported already are not sent twice).",
                                  c->state_dir);
        } else if (r >= 0)
                c->warned_save = false;
}

static int on_slice(sd_event_source *s _unused_, void *userdata) {
        _cleanup_free_ HistoryRecord *records = NULL;
        Catchup *c = userdata;
        size_t n = 0;
        int r;

        if (!c->reader) {
                r = catchup_open(c);
                if (r < 0) {
                        catchup_unavailable(c, r);
                        catchup_finish(c);
                        return 0;
                }
        }
        r = history_reader_read(c->reader, CATCHUP_SLICE, &records, &n);
        for (size_t i = 0; i < n; i++)
                c->on_record(c, &records[i], c->userdata);
        if (r > 0)
                return 0; /* more: the next iteration */
        if (r < 0)
                log_warning_errno(r, "Failed to read the journal: %m; catching up the rest from systemd's state.");
        else if (history_reader_mark_end(c->reader) < 0)
                log_debug("Cannot note the journal's end position.");
        catchup_save(c);
        catchup_finish(c);
        return 0;
}

int catchup_start(Catchup *c, pid_t manager_pid, usec_t max_age) {
        int r;

        c->manager_pid = manager_pid;
        c->max_age = max_age;
        if (c->running) {
                c->again = true;
                return 0;
        }
        /* At idle priority: the bus and the pings first, one slice when there is nothing else. */
        r = sd_event_add_defer(c->event, &c->slice, on_slice, c);
        if (r >= 0)
                r = sd_event_source_set_priority(c->slice, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->slice, SD_EVENT_ON);
        if (r < 0) {
                c->slice = sd_event_source_disable_unref(c->slice);
                release_held(c);
                return r;
        }
        c->running = true;
        return 0;
}

WatchRun catchup_record_run(const HistoryRecord *rec, const char *check, const char *service,
                            const SuccessExit *success) {
        bool ok = streq(rec->result, "success");

        return (WatchRun) {
                .check = check,
                .service = service,
                .invocation = rec->invocation,
                .active_state = ok ? "inactive" : "failed",
                .result = rec->result,
                .exec_main_code = rec->exit_code,
                .exec_main_status = MAX(rec->exit_status, 0),
                .exit_timestamp = rec->end_usec,
                .start_timestamp = rec->start_usec,
                .catch_up = true,
                .activated_by_timer = -1,
                .success_exit = success,
                .ended_on_own = rec->ended_on_own == HISTORY_OWN_YES ? 1 :
                                rec->ended_on_own == HISTORY_OWN_NO  ? -1 :
                                                                       0,
                .stop_requested = rec->stop_requested,
        };
}

typedef struct RecordContext {
        const HistoryRecord *rec;
        catchup_run_t f;
        void *userdata;
} RecordContext;

static void on_record_check(Watch *w _unused_, const char *check, const char *service, const SuccessExit *success,
                            void *userdata) {
        const RecordContext *ctx = userdata;
        WatchRun run = catchup_record_run(ctx->rec, check, service, success);

        ctx->f(&run, ctx->userdata);
}

void catchup_record_foreach(Watch *w, const HistoryRecord *rec, catchup_run_t f, void *userdata) {
        RecordContext ctx = { .rec = rec, .f = f, .userdata = userdata };

        assert(w && rec && f);
        if (streq(rec->result, "success") && rec->ended_on_own == HISTORY_OWN_UNKNOWN) {
                log_unit(LOG_DEBUG, rec->unit, rec->invocation,
                         "The journal does not say how the main process of run %s ended; left to systemd's state.",
                         rec->invocation);
                return;
        }
        watch_foreach_check(w, rec->unit, on_record_check, &ctx);
}
