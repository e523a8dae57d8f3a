/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/wait.h>

#include "history.h"
#include "macro.h"
#include "tests.h"

#define STARTING "7d4958e842da4a758f6c1cdc7b36dcc5"
#define STARTED "39f53479d3a045ac8e11786248231fbf"
#define STOPPING "de5b426a63be47a7b6ac3eaac82e2f6f"
#define STOPPED "9d1aaa27d60140bd96365438aad20286"
#define SUCCESS "7ad2d189f7e94e70a38c781354912448"
#define FAILURE "d9b373ed55a64feb8242e02dbe79a49c"
#define EXITED "98e322203f7a4ed290d09fe03c09fe15"
#define START_FAILED "be02cf6855d2428ba40df7e9d022f03d" /* "Failed to start": not read */

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccc"

/* One entry of a sequence, as systemd writes it (fields verified on 252; see history.c). */
typedef struct Step {
        const char *mid, *unit, *inv, *message, *unit_result, *exit_code, *exit_status, *job_type, *job_result;
} Step;

#define S_STARTING(u, i) \
        { STARTING, u, i, "Starting " u "...", NULL, NULL, NULL, "start", NULL }
#define S_STARTED(u, i) \
        { STARTED, u, i, "Started " u ".", NULL, NULL, NULL, "start", "done" }
#define S_FINISHED(u, i) \
        { STARTED, u, i, "Finished " u ".", NULL, NULL, NULL, "start", "done" }
#define S_STOPPING(u, i) \
        { STOPPING, u, i, "Stopping " u "...", NULL, NULL, NULL, "stop", NULL }
#define S_STOPPED(u, i) \
        { STOPPED, u, i, "Stopped " u ".", NULL, NULL, NULL, "stop", "done" }
#define S_SUCCESS(u, i) \
        { SUCCESS, u, i, u ": Deactivated successfully.", NULL, NULL, NULL, NULL, NULL }
#define S_FAILURE(u, i, res) \
        { FAILURE, u, i, u ": Failed with result.", res, NULL, NULL, NULL, NULL }
#define S_MAIN_EXIT(u, i, code, st) \
        { EXITED, u, i, u ": Main process exited, code=", NULL, code, st, NULL, NULL }
#define S_CONTROL_EXIT(u, i, code, st) \
        { EXITED, u, i, u ": Control process exited, code=", NULL, code, st, NULL, NULL }
#define S_START_FAILED(u, i) \
        { START_FAILED, u, i, "Failed to start " u ".", NULL, NULL, NULL, "start", "failed" }

typedef struct Expect {
        const char *unit, *inv, *result;
        int exit_code, exit_status;
        bool stop_requested;
        HistoryOwn own;
        uint64_t start; /* realtime of the step (its index + 1) that started it; 0 none */
} Expect;

#define MAX_STEPS 8
#define MAX_RECORDS 4

static const struct {
        const char *name;
        Step steps[MAX_STEPS];
        Expect expect[MAX_RECORDS];
} cases[] = {
        { "oneshot success (user manager: no exit message at info level)",
          { S_STARTING("ok.service", A), S_FINISHED("ok.service", A) },
          { { "ok.service", A, "success", 0, -1, false, HISTORY_OWN_YES, 1 } } },
        { "oneshot exit 3",
          { S_STARTING("bad.service", A), S_MAIN_EXIT("bad.service", A, "exited", "3"),
            S_FAILURE("bad.service", A, "exit-code"), S_START_FAILED("bad.service", A) },
          { { "bad.service", A, "exit-code", CLD_EXITED, 3, false, HISTORY_OWN_YES, 1 } } },
        { "SIGKILL",
          { S_STARTING("k.service", A), S_MAIN_EXIT("k.service", A, "killed", "9"),
            S_FAILURE("k.service", A, "signal"), S_START_FAILED("k.service", A) },
          { { "k.service", A, "signal", CLD_KILLED, 9, false, HISTORY_OWN_NO, 1 } } },
        { "core dump",
          { S_STARTING("k.service", A), S_MAIN_EXIT("k.service", A, "dumped", "6"),
            S_FAILURE("k.service", A, "core-dump") },
          { { "k.service", A, "core-dump", CLD_DUMPED, 6, false, HISTORY_OWN_NO, 1 } } },
        { "ok, exit 3, ok: three records in order",
          { S_STARTING("j.service", A), S_FINISHED("j.service", A), S_STARTING("j.service", B),
            S_MAIN_EXIT("j.service", B, "exited", "3"), S_FAILURE("j.service", B, "exit-code"),
            S_STARTING("j.service", C), S_FINISHED("j.service", C) },
          { { "j.service", A, "success", 0, -1, false, HISTORY_OWN_YES, 1 },
            { "j.service", B, "exit-code", CLD_EXITED, 3, false, HISTORY_OWN_YES, 3 },
            { "j.service", C, "success", 0, -1, false, HISTORY_OWN_YES, 6 } } },
        { "Type=simple stopped mid-run, user manager (Result=success, no exit at info level)",
          { S_STARTED("s.service", A), S_STOPPING("s.service", A), S_STOPPED("s.service", A) },
          { { "s.service", A, "success", 0, -1, true, HISTORY_OWN_NO, 1 } } },
        { "Type=simple stopped mid-run, system manager: 'Deactivated successfully' before 'Stopped'",
          { S_STARTED("s.service", A), S_STOPPING("s.service", A), S_SUCCESS("s.service", A),
            S_STOPPED("s.service", A) },
          { { "s.service", A, "success", 0, -1, true, HISTORY_OWN_NO, 1 } } },
        { "stop job with the main exit logged (debug level): killed by TERM, still not on its own",
          { S_STARTED("s.service", A), S_STOPPING("s.service", A), S_MAIN_EXIT("s.service", A, "killed", "15"),
            S_SUCCESS("s.service", A), S_STOPPED("s.service", A) },
          { { "s.service", A, "success", CLD_KILLED, 15, true, HISTORY_OWN_NO, 1 } } },
        { "external SIGTERM, exit logged (debug level): killed by TERM, Result=success",
          { S_STARTED("s.service", A), S_MAIN_EXIT("s.service", A, "killed", "15"), S_SUCCESS("s.service", A) },
          { { "s.service", A, "success", CLD_KILLED, 15, false, HISTORY_OWN_NO, 1 } } },
        { "success on the system manager without an exit message: the journal cannot say",
          { S_STARTED("s.service", A), S_SUCCESS("s.service", A) },
          { { "s.service", A, "success", 0, -1, false, HISTORY_OWN_UNKNOWN, 1 } } },
        { "oneshot on the system manager: 'Deactivated successfully', then 'Finished': one record",
          { S_STARTING("o.service", A), S_SUCCESS("o.service", A), S_FINISHED("o.service", A) },
          { { "o.service", A, "success", 0, -1, false, HISTORY_OWN_UNKNOWN, 1 } } },
        { "oneshot stopped mid-run: SIGTERM fails a oneshot, and the stop job ended it",
          { S_STARTING("o.service", A), S_STOPPING("o.service", A), S_MAIN_EXIT("o.service", A, "killed", "15"),
            S_FAILURE("o.service", A, "signal"), S_STOPPED("o.service", A) },
          { { "o.service", A, "signal", CLD_KILLED, 15, true, HISTORY_OWN_NO, 1 } } },
        { "ExecStartPre= failed: the control process's exit",
          { S_STARTING("p.service", A), S_CONTROL_EXIT("p.service", A, "exited", "1"),
            S_FAILURE("p.service", A, "exit-code") },
          { { "p.service", A, "exit-code", CLD_EXITED, 1, false, HISTORY_OWN_UNKNOWN, 1 } } },
        { "the main process's exit wins over a later control process's (ExecStopPost=)",
          { S_STARTING("p.service", A), S_MAIN_EXIT("p.service", A, "exited", "2"),
            S_CONTROL_EXIT("p.service", A, "exited", "0"), S_FAILURE("p.service", A, "exit-code") },
          { { "p.service", A, "exit-code", CLD_EXITED, 2, false, HISTORY_OWN_YES, 1 } } },
        { "a failure whose start is before what was read (no cursor yet; or a unit since unloaded)",
          { S_MAIN_EXIT("t.service", A, "exited", "4"), S_FAILURE("t.service", A, "exit-code") },
          { { "t.service", A, "exit-code", CLD_EXITED, 4, false, HISTORY_OWN_YES, 0 } } },
        { "RemainAfterExit= oneshot stopped later: no second record",
          { S_STARTING("r.service", A), S_FINISHED("r.service", A), S_STOPPING("r.service", A),
            S_STOPPED("r.service", A) },
          { { "r.service", A, "success", 0, -1, false, HISTORY_OWN_YES, 1 } } },
        { "a stop of a run never seen starting: nothing",
          { S_STOPPING("r.service", A), S_STOPPED("r.service", A) },
          { { NULL } } },
        { "a new run of the unit forgets the previous one whose end the journal did not show",
          { S_STARTED("s.service", A), S_STARTED("s.service", B), S_STOPPING("s.service", A),
            S_STOPPED("s.service", A), S_STOPPING("s.service", B), S_STOPPED("s.service", B) },
          { { "s.service", B, "success", 0, -1, true, HISTORY_OWN_NO, 2 } } },
        { "runs of other unit types: nothing",
          { S_STARTING("t.timer", A), S_FINISHED("t.timer", A), S_FAILURE("m.mount", B, "exit-code") },
          { { NULL } } },
        { "start job failed without a run (dependency): nothing", { S_START_FAILED("d.service", A) }, { { NULL } } },
};

static HistoryEntry entry_of(const Step *s, uint64_t realtime) {
        return (HistoryEntry) {
                .message_id = s->mid,
                .message = s->message,
                .unit = s->unit,
                .invocation = s->inv,
                .unit_result = s->unit_result,
                .exit_code = s->exit_code,
                .exit_status = s->exit_status,
                .job_type = s->job_type,
                .job_result = s->job_result,
                .realtime = realtime,
        };
}

static void check_record(const char *name, const HistoryRecord *got, const Expect *want, uint64_t end) {
        fprintf(stderr, "  %s: %s %s %s %d/%d stop=%d own=%d\n", name, got->unit, got->invocation, got->result,
                got->exit_code, got->exit_status, got->stop_requested, got->ended_on_own);
        ASSERT_STREQ(got->unit, want->unit);
        ASSERT_STREQ(got->invocation, want->inv);
        ASSERT_STREQ(got->result, want->result);
        ASSERT_EQ(got->exit_code, want->exit_code);
        ASSERT_EQ(got->exit_status, want->exit_status);
        ASSERT_EQ(got->stop_requested, want->stop_requested);
        ASSERT_EQ(got->ended_on_own, want->own);
        ASSERT_EQ(got->start_usec, want->start);
        ASSERT_EQ(got->end_usec, end);
}

static void test_sequences(void) {
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_(history_freep) History *h = NULL;
                size_t n = 0;

                fprintf(stderr, "%s\n", cases[c].name);
                ASSERT_EQ(history_new(&h), 0);
                for (size_t i = 0; i < MAX_STEPS && cases[c].steps[i].mid; i++) {
                        HistoryEntry e = entry_of(&cases[c].steps[i], i + 1);
                        HistoryRecord rec;
                        int r = history_feed(h, &e, &rec);

                        ASSERT(r >= 0);
                        if (r == 0)
                                continue;
                        ASSERT(n < MAX_RECORDS && cases[c].expect[n].unit);
                        check_record(cases[c].name, &rec, &cases[c].expect[n], i + 1);
                        n++;
                }
                ASSERT(n == MAX_RECORDS || !cases[c].expect[n].unit);
        }
}

static void test_malformed(void) {
        static const Step bad[] = {
                S_FAILURE("x.service", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "exit-code"), /* not lower-case hex */
                S_FAILURE("x.service", "aaaa", "exit-code"),
                S_FAILURE("x y.service", A, "exit-code"),
                S_FAILURE("x.service", A, ""),
                S_MAIN_EXIT("x.service", A, "exited", "256"),
                S_MAIN_EXIT("x.service", A, "exited", "-1"),
                S_MAIN_EXIT("x.service", A, "trapped", "5"),
                S_MAIN_EXIT("x.service", A, "exited", NULL),
        };
        _cleanup_(history_freep) History *h = NULL;

        ASSERT_EQ(history_new(&h), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HistoryEntry e = entry_of(&bad[i], 1);
                HistoryRecord rec;

                ASSERT_EQ(history_feed(h, &e, &rec), -EINVAL);
        }
        /* Fields missing altogether: not a run message. */
        HistoryEntry e = { .message_id = FAILURE, .unit_result = "exit-code" };
        HistoryRecord rec;
        ASSERT_EQ(history_feed(h, &e, &rec), 0);
}

static void test_trust(void) {
        static const HistoryTrust system = { .user = false };
        static const HistoryTrust user = { .user = true, .uid = 1000, .manager_pid = 900 };
        static const HistoryTrust user_nopid = { .user = true, .uid = 1000 };
        static const struct {
                const char *name;
                const HistoryTrust *t;
                const char *pid, *uid, *transport, *su, *suu;
                bool trusted;
        } table[] = {
                { "system manager", &system, "1", "0", "journal", "init.scope", NULL, true },
                { "root process, not PID 1 (logger --journald, systemd-cat)", &system, "4242", "0", "journal",
                  "session-1.scope", NULL, false },
                { "a PID 1 of another uid (a container's init seen from outside)", &system, "1", "1000", "journal",
                  NULL, NULL, false },
                { "PID 1's stdout", &system, "1", "0", "stdout", "init.scope", NULL, false },
                { "syslog from PID 1 (logger --id=1)", &system, "1", "0", "syslog", NULL, NULL, false },
                { "no _PID (journald could not tell)", &system, NULL, "0", "journal", NULL, NULL, false },
                { "no _TRANSPORT", &system, "1", "0", NULL, NULL, NULL, false },
                { "user manager", &user, "900", "1000", "journal", "user@1000.service", "init.scope", true },
                { "a user unit's process (sd_journal_send from a job)", &user, "901", "1000", "journal",
                  "user@1000.service", "job.service", false },
                { "a process in user@.service itself, outside init.scope", &user, "902", "1000", "journal",
                  "user@1000.service", NULL, false },
                { "the user's login session (logger)", &user, "903", "1000", "journal", "session-2.scope", NULL,
                  false },
                { "another user's manager", &user, "904", "1001", "journal", "user@1001.service", "init.scope",
                  false },
                { "uid right, unit of another user", &user, "905", "1000", "journal", "user@1001.service",
                  "init.scope", false },
                { "the system manager, for a user trust", &user, "1", "0", "journal", "init.scope", NULL, false },
                { "a process of the user's moved into init.scope", &user, "906", "1000", "journal",
                  "user@1000.service", "init.scope", false },
                { "the manager's PID outside init.scope (cannot be: PID reused in another cgroup)", &user, "900",
                  "1000", "journal", "user@1000.service", "app.slice", false },
                { "no manager PID given: nothing is trusted", &user_nopid, "900", "1000", "journal",
                  "user@1000.service", "init.scope", false },
                { "user manager's stdout", &user, "900", "1000", "stdout", "user@1000.service", "init.scope", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                HistoryEntry e = {
                        .message_id = FAILURE,
                        .unit = "x.service",
                        .invocation = A,
                        .unit_result = "exit-code",
                        .pid = table[i].pid,
                        .uid = table[i].uid,
                        .transport = table[i].transport,
                        .systemd_unit = table[i].su,
                        .systemd_user_unit = table[i].suu,
                };

                fprintf(stderr, "trust: %s\n", table[i].name);
                ASSERT_EQ(history_entry_trusted(table[i].t, &e), table[i].trusted);
        }
}

static void feed(History *h, Step s, uint64_t t, int expect) {
        HistoryEntry e = entry_of(&s, t);
        HistoryRecord rec;

        ASSERT_EQ(history_feed(h, &e, &rec), expect);
}

/* A restart between a run's start and its end, or between its end and its trailing messages,
 * continues from the saved state: the stop flag and the exit survive, nothing is recorded twice. */
static void test_state_roundtrip(void) {
        _cleanup_(history_freep) History *h = NULL, *h2 = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        HistoryRecord rec;
        HistoryEntry e;

        ASSERT_EQ(history_new(&h), 0);
        ASSERT(!history_cursor(h));
        ASSERT_EQ(history_set_cursor(h, "s=1;i=2;b=3;m=4;t=5;x=6"), 0);
        feed(h, (Step) S_STARTED("s.service", A), 10, 0);
        feed(h, (Step) S_STOPPING("s.service", A), 11, 0);
        feed(h, (Step) S_STARTING("b.service", B), 12, 0);
        feed(h, (Step) S_MAIN_EXIT("b.service", B, "exited", "7"), 13, 0);
        feed(h, (Step) S_STARTING("c.service", C), 14, 0);
        feed(h, (Step) S_FINISHED("c.service", C), 15, 1);
        ASSERT_EQ(history_serialize(h, &text), 0);

        ASSERT_EQ(history_new(&h2), 0);
        ASSERT_EQ(history_deserialize(h2, text, strlen(text)), 0);
        ASSERT_STREQ(history_cursor(h2), "s=1;i=2;b=3;m=4;t=5;x=6");
        ASSERT_EQ(history_serialize(h2, &text2), 0);
        ASSERT_STREQ(text2, text);

        e = entry_of(&(Step) S_STOPPED("s.service", A), 20);
        ASSERT_EQ(history_feed(h2, &e, &rec), 1);
        ASSERT(rec.stop_requested && rec.ended_on_own == HISTORY_OWN_NO && rec.start_usec == 10);
        e = entry_of(&(Step) S_FAILURE("b.service", B, "exit-code"), 21);
        ASSERT_EQ(history_feed(h2, &e, &rec), 1);
        ASSERT(rec.exit_code == CLD_EXITED && rec.exit_status == 7 && rec.start_usec == 12);
        /* c.service's run was recorded before the restart: its trailing message adds nothing. */
        feed(h2, (Step) S_SUCCESS("c.service", C), 22, 0);
}

static void test_state_garbage(void) {
        static const char *const bad[] = {
                "",
                "timerbeat-history 2\n",
                "timerbeat-history 1",
                "timerbeat-history 1\ncursor s=1",
                "timerbeat-history 1\ncursor \n",
                "timerbeat-history 1\ncursor a b\n",
                "timerbeat-history 1\ncursor a\ncursor b\n",
                "timerbeat-history 1\nwhat\n",
                "timerbeat-history 1\ndone xyz\n",
                "timerbeat-history 1\nopen x.service " A " 1 2 1 0 0 -1\n",     /* missing field */
                "timerbeat-history 1\nopen x.service " A " 1 2 1 0 0 0 -1 9\n", /* one too many */
                "timerbeat-history 1\nopen x.service " A " 1 2 2 0 0 0 -1\n",   /* not a boolean */
                "timerbeat-history 1\nopen x.service " A " 1 2 1 0 0 9 -1\n",   /* exit code */
                "timerbeat-history 1\nopen x.service " A " 1 2 1 0 0 1 300\n",  /* exit status */
                "timerbeat-history 1\nopen bad " A " 1 2 1 0 0 1 0\n",          /* unit name */
                "timerbeat-history 1\nopen x.service " A " 1 2 1 0 0 1 0\n"
                "open y.service " A " 1 2 1 0 0 1 0\n", /* twice */
        };
        _cleanup_(history_freep) History *h = NULL;
        _cleanup_free_ char *before = NULL;

        ASSERT_EQ(history_new(&h), 0);
        ASSERT_EQ(history_set_cursor(h, "keep"), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *after = NULL;

                if (!before)
                        ASSERT_EQ(history_serialize(h, &before), 0);
                fprintf(stderr, "garbage %zu\n", i);
                ASSERT_EQ(history_deserialize(h, bad[i], strlen(bad[i])), -EBADMSG);
                ASSERT_EQ(history_serialize(h, &after), 0);
                ASSERT_STREQ(after, before);
        }
        /* An embedded NUL. */
        ASSERT_EQ(history_deserialize(h, "timerbeat-history 1\ncursor a\0b\n", 31), -EBADMSG);
        ASSERT_STREQ(history_cursor(h), "keep");
}

/* The tables stay bounded whatever the journal holds. */
static void test_bounded(void) {
        _cleanup_(history_freep) History *h = NULL;
        char unit[64], inv[33];

        ASSERT_EQ(history_new(&h), 0);
        for (unsigned i = 0; i < HISTORY_MAX_OPEN + 10; i++) {
                snprintf(unit, sizeof(unit), "u%u.service", i);
                snprintf(inv, sizeof(inv), "%032x", i + 1);
                feed(h, (Step) { STARTED, unit, inv, "Started.", NULL, NULL, NULL, "start", "done" }, i, 0);
        }
        /* The oldest went; the newest is still there. */
        snprintf(inv, sizeof(inv), "%032x", 1);
        feed(h, (Step) { STOPPING, "u0.service", inv, "Stopping.", NULL, NULL, NULL, "stop", NULL }, 1, 0);
        feed(h, (Step) { STOPPED, "u0.service", inv, "Stopped.", NULL, NULL, NULL, "stop", "done" }, 1, 0);
        snprintf(inv, sizeof(inv), "%032x", HISTORY_MAX_OPEN + 10);
        snprintf(unit, sizeof(unit), "u%u.service", (unsigned) (HISTORY_MAX_OPEN + 9));
        feed(h, (Step) { STOPPING, unit, inv, "Stopping.", NULL, NULL, NULL, "stop", NULL }, 1, 0);
        feed(h, (Step) { STOPPED, unit, inv, "Stopped.", NULL, NULL, NULL, "stop", "done" }, 1, 1);
}

int main(void) {
        test_sequences();
        test_malformed();
        test_trust();
        test_state_roundtrip();
        test_state_garbage();
        test_bounded();
        return 0;
}
