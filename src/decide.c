/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <syslog.h>

#include "decide.h"

bool decide_run_succeeded(const char *active_state, const char *result) {
        if (!result || !streq(result, "success"))
                return false;
        return !active_state || !streq(active_state, "failed");
}

/* Whether the main process ended on its own, cleanly: systemd's Result=success alone does not
 * say it. A Type=simple/exec/forking/notify service whose main process a stop job or anyone
 * else killed with SIGTERM, SIGINT, SIGHUP or SIGPIPE ends with Result=success too, and
 * `systemctl reset-failed` turns any Result into success while ExecMainCode/Status keep the
 * truth. */
bool decide_ended_on_own(const WatchRun *run) {
        if (run->ended_on_own != 0)
                return run->ended_on_own > 0; /* the journal saw how the run ended */
        switch (run->exec_main_code) {
        case CLD_EXITED:
                /* An exit status: systemd's Result at the run's end already applied
                 * SuccessExitStatus=; a state read later (catch-up) is checked against it. */
                return run->exec_main_status == 0 || !run->catch_up ||
                       success_exit_has_status(run->success_exit, run->exec_main_status);
        case CLD_KILLED:
        case CLD_DUMPED:
                return success_exit_has_signal(run->success_exit, run->exec_main_status);
        default:
                /* No main process to judge (it never ran, or systemd did not say): only
                 * Result=success seen at the run's end vouches, never a state read later. */
                return !run->catch_up;
        }
}

bool decide_run_success(const WatchRun *run) {
        return decide_run_succeeded(run->active_state, run->result) && decide_ended_on_own(run);
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

_printf_(3, 4) static void say(Decision *d, int level, const char *fmt, ...) {
        va_list ap;

        d->log_level = level;
        va_start(ap, fmt);
        (void) vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
        va_end(ap);
}

static const char *run_result(const WatchRun *run) {
        /* Result=success, but the main process did not end on its own: say what systemd would
         * have, had the unit not counted it clean (or had reset-failed not cleared it). */
        if (decide_run_succeeded(run->active_state, run->result) && !decide_ended_on_own(run)) {
                if (run->stop_requested)
                        return "stopped";
                if (run->exec_main_code == CLD_KILLED || run->exec_main_code == CLD_DUMPED)
                        return "signal";
                return run->exec_main_code == CLD_EXITED ? "exit-code" : "unknown";
        }
        if (run->result)
                return run->result;
        return streq(strempty(run->active_state), "failed") ? "failed" : "unknown";
}

/* A run found ended at (re)connect: is it new, and should it be reported now? */
static bool decide_catch_up(const Check *c, const WatchRun *run, const DecideInput *in, Decision *d) {
        char buf[32];
        bool starting;

        if (isempty(run->invocation)) {
                /* No run to report; a new check starts its record here, so that a run ending
                 * while timerbeat is stopped is caught up at the next start. */
                if (!in->has_last)
                        d->record = DECIDE_RECORD_PLACEHOLDER;
                return false;
        }
        /* No record yet: a run that ended while timerbeat was starting (after READY=1, before
         * its unit was read) is new; one that ended before is not ours. */
        starting = !in->has_last && run->new_after > 0 && run->exit_timestamp >= run->new_after;
        if (!in->has_last && !starting) {
                say(d, LOG_DEBUG, "[%s]: first run record.", c->name);
                d->record = DECIDE_RECORD_RUN;
                return false;
        }
        if (in->has_last && streq(strempty(in->last_invocation), run->invocation))
                return false; /* reported (or decided on) before */
        if (in->has_last && run->exit_timestamp > 0 && in->last_exit > 0 && run->exit_timestamp <= in->last_exit)
                return false;

        d->record = DECIDE_RECORD_RUN;
        d->caught_up = true;
        if (!decide_run_success(run) && !c->failure) {
                say(d, LOG_NOTICE, "Run %s of %s ended while timerbeat was %s, with result '%s'; not pinging [%s].",
                    run->invocation, run->service, starting ? "starting" : "not watching", run_result(run), c->name);
                return false;
        }
        if (run->exit_timestamp == 0 || in->now > run->exit_timestamp + in->max_age) {
                say(d, LOG_WARNING,
                    "Run %s of %s ended while timerbeat was not watching, but longer ago than max-age=%s; "
                    "not pinging [%s].",
                    run->invocation, run->service, format_timespan(buf, sizeof(buf), in->max_age), c->name);
                return false;
        }
        if (starting)
                snprintf(d->catch_up_note, sizeof(d->catch_up_note),
                         "Run %s of %s ended while timerbeat was starting; reporting it.", run->invocation,
                         run->service);
        else
                snprintf(d->catch_up_note, sizeof(d->catch_up_note),
                         "Run %s of %s ended %llus ago while timerbeat was not watching; catching up.",
                         run->invocation, run->service,
                         (unsigned long long) ((in->now - run->exit_timestamp) / USEC_PER_SEC));
        return true;
}

static bool skipped_exit_status(const Check *c, const WatchRun *run) {
        if (run->exec_main_code != CLD_EXITED)
                return false;
        for (size_t i = 0; i < c->n_skip_exit_status; i++)
                if (c->skip_exit_status[i] == run->exec_main_status)
                        return true;
        return false;
}

/* A run that did not succeed: count it, and send what the check asks for. */
static void decide_failure(const Check *c, const WatchRun *run, const DecideInput *in, Decision *d) {
        char head[512];

        d->failures = in->failures + 1;
        snprintf(head, sizeof(head), "Run %s of %s ended with result '%s' (%s, status %d)", run->invocation,
                 run->service, run_result(run), exec_code_to_string(run->exec_main_code), run->exec_main_status);
        if (!c->failure) {
                if (!run->catch_up)
                        say(d, LOG_NOTICE, "%s; not pinging [%s].", head, run->check);
                return;
        }
        if (d->failures >= c->failure_threshold) {
                say(d, LOG_NOTICE, "%s; reporting the failure [%s].", head, run->check);
                d->send = true;
                d->event = EVENT_FAILURE;
        } else if (check_template(c, EVENT_LOG)) {
                say(d, LOG_NOTICE,
                    "%s; failure %u of %u in a row, below failure-threshold=: sent as a log entry [%s].", head,
                    d->failures, c->failure_threshold, run->check);
                d->send = true;
                d->event = EVENT_LOG;
        } else
                say(d, LOG_NOTICE, "%s; failure %u of %u in a row, below failure-threshold=: not reported [%s].",
                    head, d->failures, c->failure_threshold, run->check);
}

/* What a request says about an ended run: its duration, exit code and message. Returns
 * whether the run counts as a success (min-runtime= can make a success a failure). */
static bool describe(const Check *c, const WatchRun *run, Decision *d) {
        char dbuf[32], mbuf[32];
        bool success = decide_run_success(run);

        if (run->start_timestamp > 0 && run->exit_timestamp > run->start_timestamp)
                d->duration = run->exit_timestamp - run->start_timestamp;
        d->exit_code = exit_code_from_run(run->result, run->exec_main_code, run->exec_main_status);
        /* Not a success, yet nothing says why in numbers (a stop job's SIGTERM the process
         * handled, exiting 0): 128+SIGTERM for a stop, 1 otherwise. */
        if (!success && d->exit_code == 0)
                d->exit_code = run->stop_requested ? 128 + SIGTERM : 1;
        format_timespan(dbuf, sizeof(dbuf), d->duration - d->duration % USEC_PER_MSEC);
        if (!success) {
                snprintf(d->message, sizeof(d->message), "%s failed: %s, exit code %d, after %s", run->service,
                         run_result(run), d->exit_code, dbuf);
                return false;
        }
        /* (A run read from the journal whose start came before what was read has no known
         * duration: min-runtime cannot judge it.) */
        if (c->min_runtime > 0 && d->duration < c->min_runtime && (!run->catch_up || run->start_timestamp > 0)) {
                snprintf(d->message, sizeof(d->message), "%s ran for only %s, less than min-runtime=%s", run->service,
                         dbuf, format_timespan(mbuf, sizeof(mbuf), c->min_runtime));
                if (d->exit_code == 0)
                        d->exit_code = 1;
                return false;
        }
        snprintf(d->message, sizeof(d->message), "%s succeeded in %s", run->service, dbuf);
        return true;
}

static void decide_end(const Check *c, const WatchRun *run, const DecideInput *in, Decision *d) {
        bool success = decide_run_success(run);

        d->record = DECIDE_RECORD_RUN;
        if (success && c->n_skip_exit_status > 0 && skipped_exit_status(c, run)) {
                d->exit_code = exit_code_from_run(run->result, run->exec_main_code, run->exec_main_status);
                say(d, LOG_INFO,
                    "Run %s of %s succeeded with exit status %d, listed in skip-exit-status=; not pinging [%s].",
                    run->invocation, run->service, run->exec_main_status, run->check);
                return;
        }
        d->counted = true;
        if (describe(c, run, d)) {
                d->failures = 0;
                d->send = true;
                d->event = EVENT_SUCCESS;
                return;
        }
        if (!success) {
                decide_failure(c, run, in, d);
                return;
        }
        /* min-runtime=: too short counts as a failure. */
        d->failures = in->failures + 1;
        say(d, LOG_NOTICE, "Run %s: %s; reporting it as a failure.", run->invocation, d->message);
        if (c->failure && d->failures >= c->failure_threshold) {
                d->send = true;
                d->event = EVENT_FAILURE;
        } else if (c->failure && check_template(c, EVENT_LOG)) {
                d->send = true;
                d->event = EVENT_LOG;
        }
}

void decide_event(const Check *c, const WatchRun *run, Event e, Decision *ret) {
        assert(c && run && ret);
        *ret = (Decision) { .log_level = -1, .send = true, .event = e };
        if (e == EVENT_START)
                snprintf(ret->message, sizeof(ret->message), "started");
        else
                (void) describe(c, run, ret);
}

/* A start skipped by a failed Condition*=: nothing ran. on-skip= says what the monitor hears. */
static void decide_skipped(const Check *c, const WatchRun *run, Decision *d) {
        snprintf(d->message, sizeof(d->message), "%s was skipped: a condition failed", run->service);
        if (c->on_skip == ON_SKIP_IGNORE) {
                say(d, LOG_INFO, "%s; on-skip=ignore, not pinging [%s].", d->message, run->check);
                return;
        }
        if (c->on_skip == ON_SKIP_FAILURE && !check_template(c, EVENT_FAILURE)) {
                say(d, LOG_WARNING, "%s; on-skip=failure, but [%s] has no failure endpoint: not pinging.", d->message,
                    run->check);
                return;
        }
        d->send = true;
        d->event = c->on_skip == ON_SKIP_SUCCESS ? EVENT_SUCCESS : EVENT_FAILURE;
        d->exit_code = c->on_skip == ON_SKIP_SUCCESS ? 0 : 1;
        say(d, LOG_INFO, "%s; on-skip=%s: sending %s [%s].", d->message,
            c->on_skip == ON_SKIP_SUCCESS ? "success" : "failure", event_to_string(d->event), run->check);
}

/* Several checks watch the service: each hears the runs its own timer started (run_owner). */
static void decide_foreign(const WatchRun *run, Decision *d) {
        d->foreign = true;
        if (run->start)
                return;
        if (run->owner)
                say(d, LOG_DEBUG, "Run %s of %s was started by %s: for [%s], not [%s].", run->invocation,
                    run->service, run->trigger_unit ?: run->owner, run->owner, run->check);
        else
                say(d, LOG_INFO,
                    "Run %s of %s was started %s%s; [%s] hears only the runs its own timer starts (a [%s] section "
                    "would hear this one).",
                    run->invocation, run->service, run->trigger_unit ? "by " : "by hand or by another unit",
                    strempty(run->trigger_unit), run->check, run->service);
}

void decide(const Check *c, const WatchRun *run, const DecideInput *in, Decision *d) {
        assert(run && in && d);
        *d = (Decision) { .log_level = -1 };
        if (!c || !c->enabled || (!c->url && !c->templates[EVENT_SUCCESS]))
                return;

        if (run->shared && !isempty(run->invocation) && !streq_ptr(run->owner, run->check)) {
                decide_foreign(run, d);
                return;
        }
        /* trigger = timer: only runs the timer started. systemd < 253 cannot tell. */
        if (c->trigger_timer && !run->catch_up && run->activated_by_timer == 0) {
                if (!run->start)
                        say(d, LOG_INFO, "Run %s of %s was not started by a timer; ignored.", run->invocation,
                            run->service);
                return;
        }
        d->needs_activation_details = c->trigger_timer && !run->catch_up && run->activated_by_timer < 0;

        if (run->skipped) {
                decide_skipped(c, run, d);
                return;
        }
        if (run->start) {
                if (c->start) {
                        snprintf(d->message, sizeof(d->message), "started");
                        d->send = true;
                        d->event = EVENT_START;
                }
                return;
        }
        if (run->catch_up && !decide_catch_up(c, run, in, d))
                return;
        /* Seen ending live, but handled already: the journal's catch-up read it first. */
        if (!run->catch_up && in->has_last && streq(strempty(in->last_invocation), strempty(run->invocation)))
                return;
        decide_end(c, run, in, d);
}

PingRun decide_ping_run(const WatchRun *run, const Decision *d, const char *hostname) {
        bool start = run->start || d->event == EVENT_START;

        return (PingRun) {
                .unit = run->check,
                .service = run->service,
                .invocation = run->invocation,
                .result = start ? NULL : run->result,
                .message = d->message,
                .hostname = hostname,
                .exit_code = d->exit_code,
                .start_timestamp = run->start_timestamp,
                .exit_timestamp = run->exit_timestamp,
                .created = run->start ? now_usec(CLOCK_REALTIME) : run->exit_timestamp,
        };
}
