/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ping decision and what counts as a run end, as tables. */
#include <signal.h>
#include <sys/wait.h>
#include <syslog.h>

#include "decide.h"
#include "tests.h"
#include "watch.h"

static void test_run_succeeded(void) {
        static const struct {
                const char *active, *result;
                bool ping;
        } table[] = {
                { "inactive", "success", true },    { "active", "success", true }, /* RemainAfterExit=yes */
                { "failed", "success", false }, /* cannot happen, but a failed unit never pings */
                { "failed", "exit-code", false },   { "failed", "signal", false },
                { "failed", "core-dump", false },   { "failed", "timeout", false },
                { "failed", "watchdog", false },    { "failed", "start-limit-hit", false },
                { "failed", "resources", false },   { "failed", "oom-kill", false },
                { "inactive", "exit-code", false }, { "inactive", NULL, false }, /* unknown result: no ping */
                { "inactive", "", false },          { "inactive", "Success", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(decide_run_succeeded(table[i].active, table[i].result) == table[i].ping);
}

static void test_run_end(void) {
        static const struct {
                const char *active, *sub;
                bool end;
        } table[] = {
                { "inactive", "dead", true },     { "failed", "failed", true },
                { "active", "exited", true },     { "active", "running", false },
                { "activating", "start", false }, { "deactivating", "stop", false },
                { "reloading", "reload", false }, { NULL, NULL, false },
                { "active", NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(watch_state_is_run_end(table[i].active, table[i].sub) == table[i].end);
}

#define INV "0123456789abcdef0123456789abcdef"
#define OLD "fedcba9876543210fedcba9876543210"
#define T0 ((usec_t) 1700000000 * USEC_PER_SEC)

/* One row per gate and per combination that matters. */
static void test_decide_table(void) {
        enum {
                K_PLAIN,
                K_FAILURE,
                K_START,
                K_THRESHOLD,
                K_THRESHOLD_LOG,
                K_SKIP,
                K_MINRUN,
                K_TRIGGER,
                K_DISABLED,
                K_NOURL,
                _K_MAX
        };
        static const struct {
                const char *name;
                int kind;
                const char *active, *result;
                int code, status;
                bool start, catch_up;
                int by_timer;
                unsigned failures;        /* before */
                int has_last;             /* catch-up: a record exists */
                const char *last;         /* its invocation */
                usec_t exit_ago, runtime; /* relative to now */
                usec_t since_ago;         /* WatchRun.new_after, relative to now; 0: none */
                bool caught_up;           /* a new run found ended */
                bool send;
                Event event;
                int exit_code;
                unsigned failures_after;
                DecideRecord record;
                const char *reason; /* a substring, or NULL: nothing said */
        } table[] = {
                { "success pings", K_PLAIN, "inactive", "success", CLD_EXITED, 0, .by_timer = -1, .send = true,
                  .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "failure: nothing by default", K_PLAIN, "failed", "exit-code", CLD_EXITED, 3, .by_timer = -1,
                  .failures_after = 1, .record = DECIDE_RECORD_RUN, .exit_code = 3,
                  .reason = "ended with result 'exit-code' (exited, status 3); not pinging" },
                { "failure reported", K_FAILURE, "failed", "exit-code", CLD_EXITED, 3, .by_timer = -1, .send = true,
                  .event = EVENT_FAILURE, .exit_code = 3, .failures_after = 1, .record = DECIDE_RECORD_RUN,
                  .reason = "reporting the failure" },
                { "killed: 128+n", K_FAILURE, "failed", "signal", CLD_KILLED, 9, .by_timer = -1, .send = true,
                  .event = EVENT_FAILURE, .exit_code = 137, .failures_after = 1, .record = DECIDE_RECORD_RUN },
                { "timeout: 124", K_FAILURE, "failed", "timeout", CLD_KILLED, 15, .by_timer = -1, .send = true,
                  .event = EVENT_FAILURE, .exit_code = 124, .failures_after = 1, .record = DECIDE_RECORD_RUN },
                { "success resets failures", K_FAILURE, "inactive", "success", CLD_EXITED, 0, .by_timer = -1,
                  .failures = 4, .send = true, .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "start: sent when asked", K_START, "activating", NULL, 0, 0, .start = true, .by_timer = -1,
                  .send = true, .event = EVENT_START },
                { "start: nothing otherwise", K_PLAIN, "activating", NULL, 0, 0, .start = true, .by_timer = -1 },
                { "threshold: first failure silent", K_THRESHOLD, "failed", "exit-code", CLD_EXITED, 1,
                  .by_timer = -1, .exit_code = 1, .failures_after = 1, .record = DECIDE_RECORD_RUN,
                  .reason = "failure 1 of 3 in a row, below failure-threshold=: not reported" },
                { "threshold: third failure reported", K_THRESHOLD, "failed", "exit-code", CLD_EXITED, 1,
                  .by_timer = -1, .failures = 2, .send = true, .event = EVENT_FAILURE, .exit_code = 1,
                  .failures_after = 3, .record = DECIDE_RECORD_RUN },
                { "threshold: below, as a log entry", K_THRESHOLD_LOG, "failed", "exit-code", CLD_EXITED, 1,
                  .by_timer = -1, .send = true, .event = EVENT_LOG, .exit_code = 1, .failures_after = 1,
                  .record = DECIDE_RECORD_RUN, .reason = "sent as a log entry" },
                { "skip-exit-status", K_SKIP, "inactive", "success", CLD_EXITED, 75, .by_timer = -1, .exit_code = 75,
                  .record = DECIDE_RECORD_RUN, .reason = "listed in skip-exit-status=" },
                { "skip-exit-status: other status pings", K_SKIP, "inactive", "success", CLD_EXITED, 0,
                  .by_timer = -1, .send = true, .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "min-runtime: too short is a failure", K_MINRUN, "inactive", "success", CLD_EXITED, 0,
                  .by_timer = -1, .runtime = USEC_PER_SEC, .send = true, .event = EVENT_FAILURE, .exit_code = 1,
                  .failures_after = 1, .record = DECIDE_RECORD_RUN, .reason = "less than min-runtime=" },
                { "min-runtime: long enough", K_MINRUN, "inactive", "success", CLD_EXITED, 0, .by_timer = -1,
                  .runtime = 120 * USEC_PER_SEC, .send = true, .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "trigger=timer: manual start ignored", K_TRIGGER, "inactive", "success", CLD_EXITED, 0,
                  .by_timer = 0, .reason = "was not started by a timer" },
                { "trigger=timer: timer run pings", K_TRIGGER, "inactive", "success", CLD_EXITED, 0, .by_timer = 1,
                  .send = true, .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "disabled: nothing", K_DISABLED, "inactive", "success", CLD_EXITED, 0, .by_timer = -1 },
                { "no success URL: nothing", K_NOURL, "inactive", "success", CLD_EXITED, 0, .by_timer = -1 },
                { "catch-up: first record only", K_PLAIN, "inactive", "success", CLD_EXITED, 0, .catch_up = true,
                  .by_timer = -1, .has_last = 0, .exit_ago = 60, .record = DECIDE_RECORD_RUN },
                { "catch-up: no record, ended after the start", K_PLAIN, "inactive", "success", CLD_EXITED, 0,
                  .catch_up = true, .by_timer = -1, .exit_ago = 60, .since_ago = 120, .caught_up = true,
                  .send = true, .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
                { "catch-up: no record, ended before the start", K_PLAIN, "inactive", "success", CLD_EXITED, 0,
                  .catch_up = true, .by_timer = -1, .exit_ago = 60, .since_ago = 30, .record = DECIDE_RECORD_RUN },
                { "catch-up: no record, failed after the start", K_PLAIN, "failed", "exit-code", CLD_EXITED, 1,
                  .catch_up = true, .by_timer = -1, .exit_ago = 60, .since_ago = 120, .caught_up = true,
                  .record = DECIDE_RECORD_RUN, .reason = "ended while timerbeat was starting" },
                { "catch-up: a record, ended after the start, handled", K_PLAIN, "inactive", "success", CLD_EXITED,
                  0, .catch_up = true, .by_timer = -1, .has_last = 1, .last = INV, .exit_ago = 60,
                  .since_ago = 120 },
                { "catch-up: already handled", K_PLAIN, "inactive", "success", CLD_EXITED, 0, .catch_up = true,
                  .by_timer = -1, .has_last = 1, .last = INV, .exit_ago = 60 },
                { "catch-up: new success pings", K_PLAIN, "inactive", "success", CLD_EXITED, 0, .catch_up = true, .caught_up = true,
                  .by_timer = -1, .has_last = 1, .last = OLD, .exit_ago = 60, .send = true, .event = EVENT_SUCCESS,
                  .record = DECIDE_RECORD_RUN },
                { "catch-up: older than max-age", K_PLAIN, "inactive", "success", CLD_EXITED, 0, .catch_up = true, .caught_up = true,
                  .by_timer = -1, .has_last = 1, .last = OLD, .exit_ago = 7200, .record = DECIDE_RECORD_RUN,
                  .reason = "longer ago than max-age=" },
                { "catch-up: failure, not reported", K_PLAIN, "failed", "exit-code", CLD_EXITED, 2, .catch_up = true, .caught_up = true,
                  .by_timer = -1, .has_last = 1, .last = OLD, .exit_ago = 60, .record = DECIDE_RECORD_RUN,
                  .reason = "while timerbeat was not watching, with result 'exit-code'" },
                { "catch-up: failure reported", K_FAILURE, "failed", "exit-code", CLD_EXITED, 2, .catch_up = true, .caught_up = true,
                  .by_timer = -1, .has_last = 1, .last = OLD, .exit_ago = 60, .send = true, .event = EVENT_FAILURE,
                  .exit_code = 2, .failures_after = 1, .record = DECIDE_RECORD_RUN },
                { "catch-up: trigger unknown still counts", K_TRIGGER, "inactive", "success", CLD_EXITED, 0,
                  .catch_up = true, .caught_up = true, .by_timer = 0, .has_last = 1, .last = OLD, .exit_ago = 60, .send = true,
                  .event = EVENT_SUCCESS, .record = DECIDE_RECORD_RUN },
        };
        Check checks[_K_MAX];

        for (int k = 0; k < _K_MAX; k++)
                checks[k] = (Check) { .name = (char *) "a.timer",
                                      .url = (char *) "http://127.0.0.1/x",
                                      .enabled = true,
                                      .failure_threshold = 1 };
        checks[K_FAILURE].failure = true;
        checks[K_START].start = true;
        checks[K_THRESHOLD].failure = true;
        checks[K_THRESHOLD].failure_threshold = 3;
        checks[K_THRESHOLD_LOG] = checks[K_THRESHOLD];
        checks[K_THRESHOLD_LOG].templates[EVENT_LOG] = (char *) "{url}/log";
        checks[K_SKIP].skip_exit_status[0] = 75;
        checks[K_SKIP].n_skip_exit_status = 1;
        checks[K_MINRUN].min_runtime = 60 * USEC_PER_SEC;
        checks[K_MINRUN].failure = true;
        checks[K_TRIGGER].trigger_timer = true;
        checks[K_DISABLED].enabled = false;
        checks[K_NOURL].url = NULL;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                usec_t now = T0 + 10000 * USEC_PER_SEC, end = now - table[i].exit_ago * USEC_PER_SEC;
                WatchRun run = {
                        .check = "a.timer",
                        .service = "a.service",
                        .invocation = INV,
                        .active_state = table[i].active,
                        .result = table[i].result,
                        .exec_main_code = table[i].code,
                        .exec_main_status = table[i].status,
                        .exit_timestamp = end,
                        .start_timestamp = end - (table[i].runtime ?: 5 * USEC_PER_SEC),
                        .catch_up = table[i].catch_up,
                        .start = table[i].start,
                        .activated_by_timer = table[i].by_timer,
                        .new_after = table[i].since_ago ? now - table[i].since_ago * USEC_PER_SEC : 0,
                };
                DecideInput in = {
                        .now = now,
                        .max_age = USEC_PER_HOUR,
                        .failures = table[i].failures,
                        .has_last = table[i].has_last,
                        .last_invocation = table[i].last,
                        .last_exit = table[i].has_last ? T0 : 0,
                };
                Decision d;

                fprintf(stderr, "decide: %s\n", table[i].name);
                decide(&checks[table[i].kind], &run, &in, &d);
                ASSERT_EQ(d.send, table[i].send);
                if (d.send)
                        ASSERT_EQ(d.event, table[i].event);
                if (!table[i].start && d.record == DECIDE_RECORD_RUN && !table[i].catch_up)
                        ASSERT_EQ(d.exit_code, table[i].exit_code);
                if (d.counted)
                        ASSERT_EQ(d.failures, table[i].failures_after);
                ASSERT_EQ(d.record, table[i].record);
                ASSERT_EQ(d.caught_up, table[i].caught_up);
                if (table[i].reason)
                        ASSERT_CONTAINS(d.reason, table[i].reason);
                else if (!table[i].send && !table[i].catch_up)
                        ASSERT_EQ(d.log_level, -1); /* nothing happened, nothing said */
        }
}

/* A new check that has seen no run yet starts its record, so a run while stopped is caught. */
static void test_decide_placeholder(void) {
        Check c = {
                .name = (char *) "a.timer", .url = (char *) "http://x/", .enabled = true, .failure_threshold = 1
        };
        WatchRun run = { .check = "a.timer", .service = "a.service", .catch_up = true, .activated_by_timer = -1 };
        DecideInput in = { .now = T0, .max_age = USEC_PER_HOUR };
        Decision d;

        decide(&c, &run, &in, &d);
        ASSERT(!d.send);
        ASSERT_EQ(d.record, DECIDE_RECORD_PLACEHOLDER);
        in.has_last = true;
        decide(&c, &run, &in, &d);
        ASSERT_EQ(d.record, DECIDE_RECORD_NONE);
}

/* Two checks share a service: each hears only its own runs (WatchRun.shared, run_owner). */
static void test_decide_shared(void) {
        static const struct {
                bool shared;
                const char *owner;
                bool start, send, foreign;
                int log_level;
        } table[] = {
                { false, NULL, false, true, false, LOG_INFO },      /* everyone's */
                { true, "a.timer", false, true, false, LOG_INFO },  /* its own */
                { true, "b.timer", false, false, true, LOG_DEBUG }, /* the other timer's */
                { true, NULL, false, false, true, LOG_INFO },       /* nobody's: said */
                { true, "b.timer", true, false, true, -1 },         /* another's start */
                { true, "a.timer", true, true, false, -1 },         /* its own start */
        };
        Check c = { .name = (char *) "a.timer",
                    .url = (char *) "http://x/",
                    .enabled = true,
                    .failure_threshold = 1,
                    .start = true };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                WatchRun run = { .check = "a.timer",
                                 .service = "a.service",
                                 .invocation = INV,
                                 .active_state = "inactive",
                                 .result = "success",
                                 .exec_main_code = CLD_EXITED,
                                 .activated_by_timer = 1,
                                 .trigger_unit = table[i].owner,
                                 .start = table[i].start,
                                 .shared = table[i].shared,
                                 .owner = table[i].owner };
                DecideInput in = { .now = T0, .max_age = USEC_PER_HOUR };
                Decision d;

                fprintf(stderr, "decide shared: row %zu\n", i);
                decide(&c, &run, &in, &d);
                ASSERT_EQ(d.send, table[i].send);
                ASSERT_EQ(d.foreign, table[i].foreign);
                if (table[i].foreign) {
                        ASSERT_EQ(d.log_level, table[i].log_level);
                        ASSERT_EQ(d.record, DECIDE_RECORD_NONE);
                        ASSERT(!d.counted);
                }
        }
}

/* No false success: Result=success counts only when the main process ended on its own. */
static void test_no_false_success(void) {
        SuccessExit none = {}, sigterm = { .signals = UINT64_C(1) << SIGTERM }, st3 = { .status = { 1 << 3 } };
        static const struct {
                const char *name, *active, *result;
                int code, status, own;
                bool catch_up, stop, success;
                int listed; /* 0 none, 1 SIGTERM, 2 exit status 3 */
                int exit_code;
        } table[] = {
                { "exited 0", "inactive", "success", CLD_EXITED, 0, 0, .success = true },
                { "exited 0, caught up", "inactive", "success", CLD_EXITED, 0, 0, .catch_up = true, .success = true },
                { "simple stopped: SIGTERM", "inactive", "success", CLD_KILLED, SIGTERM, 0, .exit_code = 143 },
                { "SIGINT", "inactive", "success", CLD_KILLED, SIGINT, 0, .exit_code = 130 },
                { "SIGHUP", "inactive", "success", CLD_KILLED, SIGHUP, 0, .exit_code = 129 },
                { "SIGPIPE", "inactive", "success", CLD_KILLED, SIGPIPE, 0, .exit_code = 141 },
                { "SIGTERM listed", "inactive", "success", CLD_KILLED, SIGTERM, 0, .listed = 1, .success = true },
                { "SIGTERM listed, caught up", "inactive", "success", CLD_KILLED, SIGTERM, 0, .catch_up = true,
                  .listed = 1, .success = true },
                { "SIGINT, SIGTERM listed", "inactive", "success", CLD_KILLED, SIGINT, 0, .listed = 1,
                  .exit_code = 130 },
                { "dumped", "inactive", "success", CLD_DUMPED, SIGABRT, 0, .exit_code = 134 },
                { "reset-failed after exit 1", "inactive", "success", CLD_EXITED, 1, 0, .catch_up = true,
                  .exit_code = 1 },
                { "reset-failed after SIGKILL", "inactive", "success", CLD_KILLED, SIGKILL, 0, .catch_up = true,
                  .exit_code = 137 },
                { "exit 3 listed", "inactive", "success", CLD_EXITED, 3, 0, .listed = 2, .success = true },
                { "exit 3 listed, caught up", "inactive", "success", CLD_EXITED, 3, 0, .catch_up = true, .listed = 2,
                  .success = true },
                { "exit 3, Result=success at its end", "inactive", "success", CLD_EXITED, 3, 0, .success = true },
                { "no main process, live", "inactive", "success", 0, 0, 0, .success = true },
                { "no main process, caught up", "inactive", "success", 0, 0, 0, .catch_up = true, .exit_code = 1 },
                { "journal: ended on its own", "inactive", "success", 0, -1, 1, .catch_up = true, .success = true },
                { "journal: stop job, exited 0", "inactive", "success", CLD_EXITED, 0, -1, .catch_up = true,
                  .stop = true, .exit_code = 143 },
                { "journal: stop job, SIGTERM", "inactive", "success", CLD_KILLED, SIGTERM, -1, .catch_up = true,
                  .stop = true, .exit_code = 143 },
                { "failed result", "failed", "exit-code", CLD_EXITED, 2, 0, .exit_code = 2 },
                { "failed result, SIGTERM listed", "failed", "signal", CLD_KILLED, SIGKILL, 0, .listed = 1,
                  .exit_code = 137 },
        };
        Check c = { .name = (char *) "a.service",
                    .url = (char *) "http://x/",
                    .enabled = true,
                    .failure = true,
                    .failure_threshold = 1 };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const SuccessExit *se = table[i].listed == 1 ? &sigterm : table[i].listed == 2 ? &st3 : &none;
                WatchRun run = {
                        .check = "a.service",
                        .service = "a.service",
                        .invocation = INV,
                        .active_state = table[i].active,
                        .result = table[i].result,
                        .exec_main_code = table[i].code,
                        .exec_main_status = table[i].status,
                        .exit_timestamp = T0 - 60 * USEC_PER_SEC,
                        .start_timestamp = T0 - 65 * USEC_PER_SEC,
                        .catch_up = table[i].catch_up,
                        .activated_by_timer = -1,
                        .success_exit = se,
                        .ended_on_own = table[i].own,
                        .stop_requested = table[i].stop,
                };
                DecideInput in = { .now = T0,
                                   .max_age = USEC_PER_HOUR,
                                   .has_last = true,
                                   .last_invocation = OLD,
                                   .last_exit = T0 - 3600 * USEC_PER_SEC };
                Decision d;

                fprintf(stderr, "no false success: %s\n", table[i].name);
                ASSERT_EQ(decide_run_success(&run), table[i].success);
                decide(&c, &run, &in, &d);
                ASSERT(d.send);
                ASSERT_EQ(d.event, table[i].success ? EVENT_SUCCESS : EVENT_FAILURE);
                if (!table[i].success)
                        ASSERT_EQ(d.exit_code, table[i].exit_code);
        }
}

/* min-runtime cannot judge a run read from the journal without its start. */
static void test_min_runtime_unknown_start(void) {
        Check c = { .name = (char *) "a.timer",
                    .url = (char *) "http://x/",
                    .enabled = true,
                    .failure_threshold = 1,
                    .min_runtime = 60 * USEC_PER_SEC };
        WatchRun run = { .check = "a.timer",
                         .service = "a.service",
                         .invocation = INV,
                         .active_state = "inactive",
                         .result = "success",
                         .catch_up = true,
                         .ended_on_own = 1,
                         .activated_by_timer = -1,
                         .exit_timestamp = T0 - 60 * USEC_PER_SEC };
        DecideInput in = { .now = T0, .max_age = USEC_PER_HOUR, .has_last = true, .last_invocation = OLD };
        Decision d;

        decide(&c, &run, &in, &d);
        ASSERT(d.send);
        ASSERT_EQ(d.event, EVENT_SUCCESS);
        run.start_timestamp = run.exit_timestamp - USEC_PER_SEC; /* known, and too short */
        decide(&c, &run, &in, &d);
        ASSERT(!d.send || d.event != EVENT_SUCCESS);
}

/* A run the journal's catch-up reported is not reported again when its live end arrives. */
static void test_live_after_catch_up(void) {
        Check c = {
                .name = (char *) "a.timer", .url = (char *) "http://x/", .enabled = true, .failure_threshold = 1
        };
        WatchRun run = { .check = "a.timer",
                         .service = "a.service",
                         .invocation = INV,
                         .active_state = "inactive",
                         .result = "success",
                         .exec_main_code = CLD_EXITED,
                         .activated_by_timer = -1 };
        DecideInput in = { .now = T0, .max_age = USEC_PER_HOUR, .has_last = true, .last_invocation = INV };
        Decision d;

        decide(&c, &run, &in, &d);
        ASSERT(!d.send);
        in.last_invocation = OLD;
        decide(&c, &run, &in, &d);
        ASSERT(d.send);
}

/* A start skipped by a failed condition: on-skip= decides, nothing is counted or recorded. */
static void test_decide_skipped(void) {
        static const struct {
                OnSkip on_skip;
                bool failure_url, send;
                Event event;
                const char *reason;
        } table[] = {
                { ON_SKIP_IGNORE, true, false, 0, "on-skip=ignore" },
                { ON_SKIP_SUCCESS, false, true, EVENT_SUCCESS, "sending success" },
                { ON_SKIP_FAILURE, true, true, EVENT_FAILURE, "sending failure" },
                { ON_SKIP_FAILURE, false, false, 0, "has no failure endpoint" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Check c = { .name = (char *) "a.timer",
                            .url = (char *) "http://x/",
                            .enabled = true,
                            .failure_threshold = 1,
                            .on_skip = table[i].on_skip };
                WatchRun run = { .check = "a.timer",
                                 .service = "a.service",
                                 .invocation = "",
                                 .active_state = "inactive",
                                 .skipped = true,
                                 .activated_by_timer = -1 };
                DecideInput in = { .now = T0, .max_age = USEC_PER_HOUR };
                Decision d;

                if (table[i].failure_url)
                        c.templates[EVENT_FAILURE] = (char *) "http://x/fail";
                decide(&c, &run, &in, &d);
                ASSERT_EQ(d.send, table[i].send);
                if (d.send)
                        ASSERT_EQ(d.event, table[i].event);
                ASSERT(!d.counted);
                ASSERT_EQ(d.record, DECIDE_RECORD_NONE);
                ASSERT_CONTAINS(d.reason, table[i].reason);
        }
}

int main(void) {
        test_no_false_success();
        test_live_after_catch_up();
        test_min_runtime_unknown_start();
        test_decide_skipped();
        test_run_succeeded();
        test_run_end();
        test_decide_table();
        test_decide_placeholder();
        test_decide_shared();
        return 0;
}
