/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run tracking, as tables of what systemd sends and what the tracker must make of it.
 *
 * Each step reads "<update> => <expected event>".
 * Updates: B (baseline: GetAll), S (PropertiesChanged of the Service interface), U (of the
 * Unit interface), followed by properties: state=ACTIVE/SUB, inv=ID (short IDs stand for the
 * 32 hex characters; "inv=" is none), result=, code=, status=, start=, exit= (timestamps),
 * by=UNIT (ActivationDetails' trigger_unit; "by=-": ActivationDetails without one),
 * cond=yes@T / cond=no@T (ConditionResult, checked at ConditionTimestamp T).
 * LOST: the tracker lost sight of the service (reconnect, systemd re-exec).
 * INIT: the watcher follows another service now.
 * Events: "-" (nothing), "baseline", "skipped", "start ID", "end ID ACTIVE/SUB result=R C/S", with
 * " catch-up", " t=START..EXIT" and " by=UNIT" / " timer=UNIT" (activation known) appended. */
#include <stdio.h>

#include "run.h"
#include "tests.h"

typedef struct Case {
        const char *name;
        const char *steps[24];
} Case;

static const Case cases[] = {
        { "a timer run, seen from before its start",
          {
                  "B state=inactive/dead inv= result=success => baseline",
                  /* systemd assigns the new InvocationID while the unit is still inactive,
                   * showing the previous run's Result: not an end. */
                  "U inv=A state=inactive/dead => -",
                  "U state=activating/start => start A",
                  "S start=100 => -",
                  "U state=active/running => -",
                  "S result=success code=1 status=0 exit=250 => -",
                  "U state=inactive/dead => end A inactive/dead result=success 1/0 t=100..250",
          } },
        { "new InvocationID while inactive with the previous run's failed Result",
          {
                  "B state=failed/failed inv=A result=exit-code code=1 status=2 exit=50 => end A failed/failed "
                  "result=exit-code 1/2 catch-up t=0..50",
                  "U inv=B => -",
                  "S result=exit-code => -",
                  "U inv=B state=failed/failed => -",
                  "U state=activating/start => start B",
                  "S result=success code=1 status=0 exit=90 => -",
                  "U state=inactive/dead => end B inactive/dead result=success 1/0 t=0..90",
          } },
        { "repeated PropertiesChanged for one invocation: one start, one end",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "U state=activating/start => -",
                  "U inv=A state=activating/start => -",
                  "S result=exit-code code=1 status=1 => -",
                  "U state=failed/failed => end A failed/failed result=exit-code 1/1",
                  "U state=failed/failed => -",
                  "S result=exit-code => -",
                  "U inv=A state=failed/failed => -",
                  /* systemctl reset-failed */
                  "U state=inactive/dead => -",
          } },
        { "a Result belongs to its run: an end without one says unknown, not the previous run's",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "S result=exit-code code=1 status=1 => -",
                  "U state=failed/failed => end A failed/failed result=exit-code 1/1",
                  "U inv=B state=activating/start => start B",
                  "U state=inactive/dead => end B inactive/dead result=? 1/1",
          } },
        { "the start is reported once per invocation, through every non-terminal state",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start-pre => start A",
                  "U state=activating/start => -",
                  "U state=active/running => -",
                  "U state=reloading/reload => -",
                  "U state=active/running => -",
                  "U state=deactivating/stop-sigterm => -",
                  "S result=success code=1 status=0 => -",
                  "U state=inactive/dead => end A inactive/dead result=success 1/0",
                  "U inv=B state=inactive/dead => -",
                  "U state=activating/start => start B",
          } },
        { "RemainAfterExit=yes: active/exited ends the run, stopping it later does not",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "S result=success code=1 status=0 => -",
                  "U state=active/exited => end A active/exited result=success 1/0",
                  "U state=deactivating/stop => -",
                  "U state=inactive/dead => -",
                  "U inv=B state=inactive/dead => -",
                  "U state=activating/start => start B",
                  "S result=exit-code code=1 status=4 => -",
                  "U state=failed/failed => end B failed/failed result=exit-code 1/4",
          } },
        { "RemainAfterExit=yes found active/exited at the baseline: a catch-up",
          {
                  "B state=active/exited inv=A result=success code=1 status=0 => end A active/exited "
                  "result=success 1/0 catch-up",
                  "U state=inactive/dead => -",
          } },
        { "start-limit-hit: a refused start is not a run",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "S result=exit-code code=1 status=1 => -",
                  "U state=failed/failed => end A failed/failed result=exit-code 1/1",
                  /* The next start is refused: same invocation, new Result. */
                  "S result=start-limit-hit => -",
                  "U state=failed/failed => -",
                  /* Should systemd hand out an InvocationID for it: never seen running. */
                  "U inv=B state=failed/failed => -",
                  "S result=start-limit-hit => -",
                  "U inv=B state=failed/failed => -",
          } },
        { "Condition*= not met: no InvocationID, no state change, nothing to report",
          {
                  "B state=inactive/dead inv=A result=success => end A inactive/dead result=success 0/0 catch-up",
                  "U state=inactive/dead => -",
                  /* Were a new InvocationID handed out for the skipped start: never seen running. */
                  "U inv=B state=inactive/dead => -",
                  "U inv=C state=activating/start => start C",
          } },
        { "ExecCondition= skips: its process ran, so start and end, with systemd's Result",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/condition => start A",
                  "S result=exec-condition => -",
                  "U state=inactive/dead => end A inactive/dead result=exec-condition 0/0",
          } },
        { "failed runs: exit code, signal, timeout",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "S result=exit-code code=1 status=3 start=10 exit=20 => -",
                  "U state=failed/failed => end A failed/failed result=exit-code 1/3 t=10..20",
                  /* systemd sends the new ExecMainStartTimestamp before the Unit's activating. */
                  "S start=30 => -",
                  "U inv=B state=activating/start => start B t=30..0",
                  "S result=signal code=2 status=9 exit=40 => -",
                  "U state=failed/failed => end B failed/failed result=signal 2/9 t=30..40",
                  "S start=50 => -",
                  "U inv=C state=activating/start => start C t=50..0",
                  "S result=timeout code=2 status=15 exit=60 => -",
                  "U state=deactivating/stop-sigterm => -",
                  "U state=failed/failed => end C failed/failed result=timeout 2/15 t=50..60",
          } },
        { "a run seen only from the middle: the baseline shows it running",
          {
                  "B state=active/running inv=A start=100 => baseline t=100..0",
                  "U state=active/running => -",
                  "S result=success code=1 status=0 exit=300 => -",
                  "U state=inactive/dead => end A inactive/dead result=success 1/0 t=100..300",
          } },
        { "a run seen only from its end: the baseline shows it stopping",
          {
                  "B state=deactivating/stop-post inv=A => baseline",
                  "U state=inactive/dead => end A inactive/dead result=? 0/0",
          } },
        { "signals before the first baseline are ignored: the read in flight is newer",
          {
                  "U inv=A state=activating/start => -",
                  "S result=success => -",
                  "U state=inactive/dead => -",
                  "B state=inactive/dead inv=A => end A inactive/dead result=? 0/0 catch-up",
          } },
        { "a first signal that already shows a new invocation ended cannot be told from a start being "
          "prepared: nothing",
          {
                  "B state=inactive/dead inv= => baseline",
                  "S result=resources => -",
                  "U inv=A state=failed/failed => -",
          } },
        { "reconnect / systemd re-exec: a reported run is not reported again",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "S result=success code=1 status=0 exit=10 => -",
                  "U state=inactive/dead => end A inactive/dead result=success 1/0 t=0..10",
                  "LOST => -",
                  "U inv=B state=activating/start => -",
                  "B state=inactive/dead inv=A result=success code=1 status=0 exit=10 => -",
                  "LOST => -",
                  "B state=inactive/dead inv=A result=success => -",
          } },
        { "reconnect / systemd re-exec: a run that ended meanwhile is a catch-up",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start => start A",
                  "LOST => -",
                  "B state=failed/failed inv=A result=exit-code code=1 status=1 exit=20 => end A failed/failed "
                  "result=exit-code 1/1 catch-up t=0..20",
                  "U state=failed/failed => -",
                  "LOST => -",
                  "B state=inactive/dead inv=B result=success code=1 status=0 exit=30 => end B inactive/dead "
                  "result=success 1/0 catch-up t=0..30",
                  "U inv=C state=activating/start => start C",
          } },
        { "reconnect: a run that started meanwhile is followed to its end, a stale Result is not used",
          {
                  "B state=inactive/dead inv= => baseline",
                  "S result=exit-code => -",
                  "LOST => -",
                  "S result=timeout => -",
                  "B state=active/running inv=A start=5 => baseline t=5..0",
                  "U state=inactive/dead => end A inactive/dead result=? 0/0 t=5..0",
          } },
        { "the watcher follows another service: what was reported is forgotten",
          {
                  "B state=inactive/dead inv=A result=success => end A inactive/dead result=success 0/0 catch-up",
                  "INIT => -",
                  "B state=inactive/dead inv=A result=success => end A inactive/dead result=success 0/0 catch-up",
          } },
        { "ActivationDetails: which unit started the run",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start by=backup.timer => start A timer=backup.timer",
                  "S result=success => -",
                  "U state=inactive/dead => end A inactive/dead result=success 0/0 timer=backup.timer",
                  "U inv=B state=activating/start by=- => start B by=-",
                  "S result=success => -",
                  "U state=inactive/dead => end B inactive/dead result=success 0/0 by=-",
                  "U inv=C state=activating/start by=backup.path => start C by=backup.path",
          } },
        { "systemd keeps a unit's first ActivationDetails: the same details again say nothing",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U inv=A state=activating/start by=daily.timer@100 => start A timer=daily.timer",
                  "U state=inactive/dead => end A inactive/dead result=? 0/0 timer=daily.timer",
                  /* weekly.timer or a person started B: systemd still shows daily.timer's */
                  "U inv=B state=activating/start by=daily.timer@100 => start B",
                  "U state=inactive/dead => end B inactive/dead result=? 0/0",
                  /* new details (a systemd that resets them): they name this run's trigger */
                  "U inv=C state=activating/start by=weekly.timer@200 => start C timer=weekly.timer",
                  "U state=inactive/dead => end C inactive/dead result=? 0/0 timer=weekly.timer",
                  /* after a reconnect, the details found cannot be tied to the run found */
                  "LOST => -",
                  "B state=inactive/dead inv=D by=weekly.timer@300 => end D inactive/dead result=? 0/0 catch-up",
                  "U inv=E state=activating/start by=weekly.timer@300 => start E",
                  "U inv=F state=activating/start by=daily.timer@400 => start F timer=daily.timer",
          } },
        { "each interface is trusted for its own properties only",
          {
                  "B state=inactive/dead inv= => baseline",
                  "S inv=A state=activating/start => -",
                  "U inv=A state=activating/start result=bogus code=9 status=9 exit=9 => start A",
                  "U state=inactive/dead => end A inactive/dead result=? 0/0",
          } },
        { "a unit that was never run, or unloaded and loaded afresh",
          {
                  "B state=inactive/dead inv= => baseline",
                  "U state=inactive/dead => -",
                  "U state=activating/start inv= => -",
          } },
        { "a start skipped by a failed condition: once per condition check, never from a baseline",
          {
                  "B state=inactive/dead inv= cond=no@10 => baseline",
                  /* the same check again (any other property change): not a new skip */
                  "U state=inactive/dead cond=no@10 => -",
                  "U state=inactive/dead cond=no@20 => skipped",
                  "U state=inactive/dead cond=no@20 => -",
                  /* a start that passes its conditions is a run, not a skip */
                  "U inv=A state=activating/start cond=yes@30 => start A",
                  "S result=success code=1 status=0 => -",
                  "U state=inactive/dead => end A inactive/dead result=success 1/0",
                  "U state=inactive/dead cond=no@40 => skipped",
                  /* after losing sight of it, the baseline shows the last check: not reported */
                  "LOST => -",
                  "B state=inactive/dead cond=no@50 => -",
                  "U state=inactive/dead cond=no@50 => -",
          } },
};

/* Expands a short invocation ID into 32 characters, as systemd's are. */
static const char *long_id(const char *s, char buf[static 33]) {
        if (isempty(s))
                return "";
        snprintf(buf, 33, "%s%.*s", s, (int) (32 - strlen(s)), "00000000000000000000000000000000");
        return buf;
}

static void short_id(const char *s, char *buf, size_t size) {
        snprintf(buf, size, "%s", s);
        for (char *p = buf; *p; p++)
                if (*p == '0') {
                        *p = 0;
                        break;
                }
}

/* Parses one update line into u; the strings point into line, which is modified. */
static void parse_update(char *line, RunUpdate *u, char inv[static 33]) {
        char *tok, *save = NULL;

        tok = strtok_r(line, " ", &save);
        ASSERT(tok);
        u->source = streq(tok, "B") ? RUN_SOURCE_BASELINE : streq(tok, "S") ? RUN_SOURCE_SERVICE : RUN_SOURCE_UNIT;
        ASSERT(streq(tok, "B") || streq(tok, "S") || streq(tok, "U"));
        while ((tok = strtok_r(NULL, " ", &save))) {
                char *v = strchr(tok, '=');

                ASSERT(v);
                *v++ = 0;
                if (streq(tok, "state")) {
                        char *slash = strchr(v, '/');

                        ASSERT(slash);
                        *slash = 0;
                        u->active_state = v, u->has_active_state = true;
                        u->sub_state = slash + 1, u->has_sub_state = true;
                } else if (streq(tok, "inv"))
                        u->invocation = long_id(v, inv), u->has_invocation = true;
                else if (streq(tok, "result"))
                        u->result = v, u->has_result = true;
                else if (streq(tok, "code"))
                        u->exec_main_code = atoi(v), u->has_exec_main_code = true;
                else if (streq(tok, "status"))
                        u->exec_main_status = atoi(v), u->has_exec_main_status = true;
                else if (streq(tok, "start"))
                        u->start_timestamp = strtoull(v, NULL, 10), u->has_start_timestamp = true;
                else if (streq(tok, "exit"))
                        u->exit_timestamp = strtoull(v, NULL, 10), u->has_exit_timestamp = true;
                else if (streq(tok, "by")) {
                        /* by=UNIT@T: trigger_timer_realtime_usec T */
                        char *at = strchr(v, '@');

                        if (at) {
                                *at = 0;
                                u->trigger_realtime = strtoull(at + 1, NULL, 10);
                        }
                        u->trigger_unit = streq(v, "-") ? NULL : v, u->has_activation = true;
                } else if (streq(tok, "cond")) {
                        /* cond=yes@T or cond=no@T: ConditionResult at ConditionTimestamp T */
                        u->has_condition = true;
                        u->condition_result = startswith(v, "yes") != NULL;
                        u->condition_timestamp = strtoull(strchr(v, '@') + 1, NULL, 10);
                } else {
                        fprintf(stderr, "unknown property in test: %s\n", tok);
                        abort();
                }
        }
}

static void format_event(RunEventKind kind, const RunRecord *r, char *buf, size_t size) {
        char id[33];
        size_t n = 0;

        switch (kind) {
        case RUN_NONE:
                snprintf(buf, size, "-");
                return;
        case RUN_BASELINE:
                ASSERT(r->catch_up);
                ASSERT_STREQ(r->invocation, "");
                n = snprintf(buf, size, "baseline");
                break;
        case RUN_SKIPPED:
                ASSERT(!r->catch_up);
                ASSERT_STREQ(r->invocation, "");
                n = snprintf(buf, size, "skipped");
                break;
        case RUN_START:
                ASSERT(!r->catch_up);
                ASSERT(!r->result && r->exit_timestamp == 0);
                short_id(r->invocation, id, sizeof(id));
                n = snprintf(buf, size, "start %s", id);
                break;
        case RUN_END:
                short_id(r->invocation, id, sizeof(id));
                n = snprintf(buf, size, "end %s %s/%s result=%s %d/%d%s", id, r->active_state, r->sub_state,
                             r->result ?: "?", r->exec_main_code, r->exec_main_status,
                             r->catch_up ? " catch-up" : "");
                break;
        }
        if (r->start_timestamp || r->exit_timestamp)
                n += snprintf(buf + n, size - n, " t=%llu..%llu", (unsigned long long) r->start_timestamp,
                              (unsigned long long) r->exit_timestamp);
        if (r->activated_by_timer >= 0)
                snprintf(buf + n, size - n, " %s=%s", r->activated_by_timer ? "timer" : "by", r->trigger_unit ?: "-");
        else
                ASSERT(!r->trigger_unit);
}

static void run_case(const Case *c) {
        RunTracker t;

        run_tracker_init(&t);
        for (size_t i = 0; i < ELEMENTSOF(c->steps) && c->steps[i]; i++) {
                char line[512], inv[33], got[512];
                char *expect = strstr(c->steps[i], " => ");
                RunUpdate u = {};
                RunRecord r = {};
                RunEventKind kind = RUN_NONE;

                ASSERT(expect);
                snprintf(line, sizeof(line), "%.*s", (int) (expect - c->steps[i]), c->steps[i]);
                expect += 4;
                if (streq(line, "LOST"))
                        run_tracker_lost(&t);
                else if (streq(line, "INIT")) {
                        run_tracker_done(&t);
                        run_tracker_init(&t);
                } else {
                        parse_update(line, &u, inv);
                        kind = run_tracker_feed(&t, &u, &r);
                }
                format_event(kind, &r, got, sizeof(got));
                if (!streq(got, expect)) {
                        fprintf(stderr, "%s, step %zu (%s):\n  expected: %s\n  got:      %s\n", c->name, i + 1,
                                c->steps[i], expect, got);
                        abort();
                }
                if (streq(line, "LOST") || streq(line, "INIT"))
                        ASSERT(!run_tracker_is_baselined(&t));
                else if (u.source == RUN_SOURCE_BASELINE)
                        ASSERT(run_tracker_is_baselined(&t));
        }
        run_tracker_done(&t);
}

static void test_state_is_end(void) {
        static const struct {
                const char *active, *sub;
                bool end;
        } table[] = {
                { "inactive", "dead", true },     { "failed", "failed", true },
                { "active", "exited", true },     { "active", "running", false },
                { "activating", "start", false }, { "deactivating", "stop", false },
                { "reloading", "reload", false }, { NULL, NULL, false },
                { "active", NULL, false },        { "inactive", NULL, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(run_state_is_end(table[i].active, table[i].sub) == table[i].end);
}

/* Strings longer than the tracker keeps are cut, never overflow. */
static void test_long_strings(void) {
        char big[1024];
        RunTracker t;
        RunRecord r;

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        run_tracker_init(&t);
        RunUpdate u = {
                .source = RUN_SOURCE_BASELINE,
                .has_active_state = true,
                .active_state = "failed",
                .has_invocation = true,
                .invocation = big,
                .has_result = true,
                .result = big,
                .has_activation = true,
                .trigger_unit = big,
        };
        ASSERT_EQ(run_tracker_feed(&t, &u, &r), RUN_END);
        ASSERT_EQ(strlen(r.invocation), 32);
        ASSERT_EQ(strlen(r.result), 63);
        ASSERT(!r.trigger_unit); /* a baseline cannot tell who started the run */
        ASSERT_EQ(strlen(t.trigger_unit), 255);
        run_tracker_done(&t);
}

/* The tracker keeps systemd's words once each (issue 14): known words are constants, others are
 * kept in a bounded table, cut as the fixed buffers cut them; once it is full, "unknown". */
static void test_intern(void) {
        char big[100], other[100], word[16];

        ASSERT_STREQ(run_intern(NULL), "");
        ASSERT(run_intern("inactive") == run_intern("inactive"));
        ASSERT_STREQ(run_intern("exit-code"), "exit-code");
        ASSERT_STREQ(run_intern("frobnicating"), "frobnicating");
        ASSERT(run_intern("frobnicating") == run_intern("frobnicating"));
        memset(big, 'y', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        memcpy(other, big, sizeof(other));
        other[80] = 'z'; /* differs after what is kept */
        ASSERT_EQ(strlen(run_intern(big)), 63);
        ASSERT(run_intern(big) == run_intern(other));
        for (int i = 0; i < 64; i++) {
                snprintf(word, sizeof(word), "new-%d", i);
                ASSERT(streq(run_intern(word), word) || streq(run_intern(word), "unknown"));
        }
        ASSERT_STREQ(run_intern("new-63"), "unknown");
        ASSERT_STREQ(run_intern("frobnicating"), "frobnicating"); /* kept before the table filled */
}

/* An invocation that is not 32 hex characters (systemd never sends one) is still told apart. */
static void test_odd_invocation(void) {
        RunTracker t;
        RunRecord r;
        RunUpdate u = {
                .source = RUN_SOURCE_BASELINE,
                .has_active_state = true,
                .active_state = "inactive",
                .has_invocation = true,
                .invocation = "run-one",
        };

        run_tracker_init(&t);
        ASSERT_EQ(run_tracker_feed(&t, &u, &r), RUN_END);
        ASSERT_STREQ(r.invocation, "run-one");
        ASSERT_EQ(run_tracker_feed(&t, &u, &r), RUN_NONE);
        u.invocation = "run-two";
        ASSERT_EQ(run_tracker_feed(&t, &u, &r), RUN_END);
        ASSERT_STREQ(r.invocation, "run-two");
        run_tracker_done(&t);
}

static const char *strna(const char *s) {
        return s ?: "(null)";
}

/* run_owner: which of the checks watching one service a run belongs to (issue 12, item 4). */
static void test_owner(void) {
        static const struct {
                const char *checks; /* space-separated */
                int by_timer;
                const char *trigger;
                bool shared;
                const char *owner; /* NULL: no check's */
        } rows[] = {
                /* one check: every run is its own, whoever started it */
                { "a.timer", 1, "a.timer", false, NULL },
                { "a.timer", 0, NULL, false, NULL },
                { "a.timer", 1, "other.timer", false, NULL },
                /* two timers, one service: the timer that started it */
                { "a.timer b.timer", 1, "a.timer", true, "a.timer" },
                { "a.timer b.timer", 1, "b.timer", true, "b.timer" },
                /* started by hand, or by a timer no section watches: nobody's ... */
                { "a.timer b.timer", 0, NULL, true, NULL },
                { "a.timer b.timer", 1, "c.timer", true, NULL },
                /* ... unless a section watches the service itself */
                { "a.timer b.timer job.service", 0, NULL, true, "job.service" },
                { "a.timer job.service", 1, "c.timer", true, "job.service" },
                { "a.timer job.service", 1, "a.timer", true, "a.timer" },
                { "a.timer job.service", 0, "job.path", true, "job.service" },
                /* systemd cannot say (no ActivationDetails, a run read from the journal) */
                { "a.timer b.timer", -1, NULL, false, NULL },
                { "a.timer b.timer job.service", -1, "a.timer", false, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[128], *save = NULL;
                const char *checks[8];
                const char *owner = "unset";
                size_t n = 0;

                snprintf(buf, sizeof(buf), "%s", rows[i].checks);
                for (char *t = strtok_r(buf, " ", &save); t && n < ELEMENTSOF(checks); t = strtok_r(NULL, " ", &save))
                        checks[n++] = t;
                bool shared = run_owner("job.service", rows[i].by_timer, rows[i].trigger, checks, n, &owner);
                if (shared != rows[i].shared || !streq_ptr(owner, rows[i].owner)) {
                        fprintf(stderr, "run_owner row %zu (%s, %d, %s): got %d %s, want %d %s\n", i, rows[i].checks,
                                rows[i].by_timer, strna(rows[i].trigger), shared, strna(owner), rows[i].shared,
                                strna(rows[i].owner));
                        abort();
                }
        }
}

/* run_trigger_owner: the timer whose last trigger falls between the previous run's end and
 * this run's start. */
static void test_trigger_owner(void) {
        static const char *const timers[] = { "daily.timer", "weekly.timer" };
        static const struct {
                uint64_t daily, weekly, start, prev_exit;
                const char *owner;
        } rows[] = {
                { 100, 0, 105, 50, "daily.timer" },     /* daily fired for this run */
                { 100, 200, 205, 150, "weekly.timer" }, /* daily's trigger was the previous run's */
                { 100, 200, 305, 250, NULL },           /* by hand: both triggers are older */
                { 100, 200, 205, 0, "weekly.timer" },   /* previous end unknown: the latest */
                { 300, 200, 205, 150, "weekly.timer" }, /* daily fired after this start */
                { 0, 0, 205, 150, NULL },               /* never fired */
                { 200, 200, 205, 150, "daily.timer" },  /* both at once: the first named */
                { 150, 0, 205, 150, NULL },             /* fired exactly at the previous end */
                { 205, 0, 205, 150, "daily.timer" },    /* exactly at the start */
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t triggers[] = { rows[i].daily, rows[i].weekly };
                const char *got = run_trigger_owner(timers, triggers, 2, rows[i].start, rows[i].prev_exit);

                if (!streq_ptr(got, rows[i].owner)) {
                        fprintf(stderr, "run_trigger_owner row %zu: got %s, want %s\n", i, strna(got),
                                strna(rows[i].owner));
                        abort();
                }
        }
}

int main(void) {
        test_odd_invocation();
        test_trigger_owner();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run_case(&cases[i]);
        test_state_is_end();
        test_long_strings();
        test_owner();
        test_intern(); /* last: it fills the table of unknown words */
        return 0;
}
