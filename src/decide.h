/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"
#include "ping.h"
#include "watch.h"

/* The decision, as a pure function: a check, a run event and what we remember of the check
 * become what to send (an event, its exit code and message) or nothing, with the reason and
 * how loud to say it. Every policy gate lives here: enabled, trigger, start, catch-up,
 * skip-exit-status, min-runtime, success or failure, failure-threshold. */

typedef struct DecideInput {
        usec_t now;        /* CLOCK_REALTIME */
        usec_t max_age;    /* catch-up horizon */
        unsigned failures; /* failed runs in a row before this one */
        /* The last run handled for the check (for catch-up): has_last false when there is no
         * record yet. */
        bool has_last;
        const char *last_invocation;
        usec_t last_exit;
} DecideInput;

typedef enum DecideRecord {
        DECIDE_RECORD_NONE,        /* leave the last-run record as it is */
        DECIDE_RECORD_RUN,         /* this run is handled: remember it */
        DECIDE_RECORD_PLACEHOLDER, /* a new check with no run yet: start its record */
} DecideRecord;

typedef struct Decision {
        bool send;
        Event event;
        int exit_code;
        usec_t duration;
        bool counted;      /* the run was judged: failures below is its new value */
        unsigned failures; /* failed runs in a row, this one included */
        DecideRecord record;
        bool needs_activation_details; /* trigger = timer, but systemd cannot tell */
        bool foreign;                  /* another check's run (WatchRun.shared): not this check's */
        bool caught_up;                /* a run found ended (catch_up) that is new: judged late */
        int log_level;                 /* of reason; -1 when there is nothing to say */
        char message[512];             /* for {message} and bodies */
        char reason[768];              /* what happened and why, for the log */
        char catch_up_note[256];       /* a run reported late: said (at info) before the reason */
} Decision;

/* Whether systemd's verdict on a run is success (Result alone). */
bool decide_run_succeeded(const char *active_state, const char *result);
/* Whether the main process ended on its own: exited with 0 or a status in SuccessExitStatus=,
 * or was killed by a signal listed there (or the journal said so). */
bool decide_ended_on_own(const WatchRun *run);
/* A run counts as success only when both hold. */
bool decide_run_success(const WatchRun *run);

void decide(const Check *c, const WatchRun *run, const DecideInput *in, Decision *ret);

/* The event e for a run, without the gates: its exit code, duration and message exactly as
 * decide() gives them when it sends e (`timerbeat ping --last-run`). */
void decide_event(const Check *c, const WatchRun *run, Event e, Decision *ret);

/* What the request of a decision says about its run (ping_build's input). */
PingRun decide_ping_run(const WatchRun *run, const Decision *d, const char *hostname);
