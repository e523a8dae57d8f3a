/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Run tracking: what systemd tells about one service, in, and whether a run just began or
 * ended, out. Pure: no I/O, no bus types, no logging; watch.c feeds it, tests/unit/test-run.c
 * drives it with tables of signal sequences.
 *
 * What systemd does, and what follows from it:
 * - For one state change it sends the Service interface's properties (Result, ExecMain*) first
 *   and the Unit interface's (ActiveState, SubState, InvocationID) second: the first are kept,
 *   the second decide.
 * - It assigns a run's InvocationID while the unit is still inactive, showing the previous
 *   run's Result. So a run *starts* when its invocation is first seen in a non-terminal state
 *   (activating, active/running, deactivating, …), and *ends* when that same invocation reaches
 *   a terminal state: inactive, failed, or active/exited (RemainAfterExit=yes). An invocation
 *   never seen running is not a run: a start being prepared, a start refused by its start
 *   limit, a start skipped by a failed Condition*= (the main process never ran). The last is
 *   told apart by its ConditionResult=no with a new ConditionTimestamp, and reported as
 *   RUN_SKIPPED (at most once per condition check; never from a baseline) for on-skip=.
 * - Each invocation starts at most once and ends at most once, however often systemd repeats
 *   its properties.
 * - A baseline (GetAll after adding the match, after a reconnect, after systemd re-executed)
 *   is what the unit looks like now. If it shows an ended invocation not reported yet, that is
 *   a run end we missed: reported as catch_up (the manager checks its records). Signals that
 *   arrive before the first baseline are ignored: the baseline read in flight is newer. */

/* Where an update comes from. */
typedef enum RunSource {
        RUN_SOURCE_BASELINE, /* GetAll of the service: all properties at once */
        RUN_SOURCE_SERVICE,  /* PropertiesChanged of org.freedesktop.systemd1.Service */
        RUN_SOURCE_UNIT,     /* PropertiesChanged of org.freedesktop.systemd1.Unit */
} RunSource;

/* What systemd told, each property with a presence flag. Strings are only read during
 * run_tracker_feed(); longer ones are truncated. */
typedef struct RunUpdate {
        RunSource source;
        bool has_active_state, has_sub_state, has_invocation, has_result, has_exec_main_code, has_exec_main_status,
                has_start_timestamp, has_exit_timestamp, has_activation;
        const char *active_state;
        const char *sub_state;
        const char *invocation; /* 32 hex characters, or "" for none */
        const char *result;
        int exec_main_code; /* CLD_EXITED, CLD_KILLED, CLD_DUMPED, or 0 */
        int exec_main_status;
        uint64_t start_timestamp;  /* ExecMainStartTimestamp, CLOCK_REALTIME µs */
        uint64_t exit_timestamp;   /* ExecMainExitTimestamp, CLOCK_REALTIME µs */
        const char *trigger_unit;  /* ActivationDetails' trigger_unit; NULL when it names none */
        uint64_t trigger_realtime; /* its trigger_timer_realtime_usec; 0 when none */
        /* ConditionResult and ConditionTimestamp (Unit interface): a start skipped by a failed
         * Condition*= shows as a new timestamp with a false result, the unit still inactive. */
        bool has_condition;
        bool condition_result;
        uint64_t condition_timestamp;
} RunUpdate;

typedef enum RunEventKind {
        RUN_NONE,     /* nothing to tell */
        RUN_START,    /* an invocation was seen running for the first time */
        RUN_END,      /* a run ended (catch_up: found ended in a baseline) */
        RUN_BASELINE, /* a baseline with no run to catch up: the unit is running or never ran */
        RUN_SKIPPED,  /* a start was skipped: a Condition*= failed (the main process never ran) */
} RunEventKind;

/* A run as the tracker knows it. The strings point into the tracker: valid until its next
 * feed, init or lost. */
typedef struct RunRecord {
        const char *invocation;   /* "" for RUN_BASELINE */
        const char *active_state; /* for RUN_END: inactive, failed, or active (RemainAfterExit) */
        const char *sub_state;
        const char *result;       /* RUN_END only; NULL when systemd did not tell it for this run */
        int exec_main_code;       /* RUN_END only */
        int exec_main_status;     /* RUN_END only */
        uint64_t start_timestamp; /* 0 if unknown */
        uint64_t exit_timestamp;  /* RUN_END only; 0 if unknown */
        int activated_by_timer;   /* trigger_unit is a timer: 1; ActivationDetails names none: 0; unknown: -1 */
        const char *trigger_unit; /* NULL when unknown or none */
        uint64_t prev_exit;       /* the previous run's ExecMainExitTimestamp, 0 if unknown */
        bool catch_up;            /* RUN_END, RUN_BASELINE: from a baseline, not seen happening */
} RunRecord;

/* An invocation as the tracker remembers it: the 16 bytes of its 32 hex characters (anything
 * else, which systemd does not send, by a digest); all zero for none. */
typedef struct RunId {
        uint8_t bytes[16];
} RunId;

/* One per watched service. Embed it; its fields are the tracker's own. Kept small (issue 14:
 * memory per check): the states and results are systemd's words, interned (run_intern), the
 * invocations remembered as RunIds, the trigger unit allocated only when there is one. */
typedef struct RunTracker {
        bool baselined;    /* a baseline was fed since init or lost: signals count */
        bool result_fresh; /* Result arrived since the last reported end or baseline */
        /* ActivationDetails as systemd shows them now. systemd keeps the first details a unit
         * got until it is unloaded ("older details win", 252 to today), so they describe a run
         * only when they changed since the previous run began: seen_digest is what they were
         * then, run_by what that made of the current run (-1 unknown, 0 not a timer, 1 timer). */
        bool activation_known;
        int run_by;
        int exec_main_code;
        int exec_main_status;
        const char *active_state; /* interned, never NULL */
        const char *sub_state;    /* interned, never NULL */
        const char *result;       /* interned, never NULL */
        char *trigger_unit;       /* owned, at most 255 characters; NULL when none */
        char invocation[33];
        RunId started; /* the last invocation reported as started (or found running) */
        RunId ended;   /* the last invocation reported as ended (or found ended) */
        uint64_t start_timestamp;
        uint64_t exit_timestamp;
        uint64_t trigger_realtime;
        uint64_t seen_digest;
        uint64_t last_end_exit;       /* the exit timestamp of the last run reported ended */
        uint64_t condition_timestamp; /* of the last condition check seen */
} RunTracker;

/* systemd's ActiveState, SubState and Result words as one shared copy each: a known word is a
 * constant, an unknown one is kept (at most 63 characters) in a bounded table, and once that is
 * full, "unknown". NULL is "". */
const char *run_intern(const char *s);

/* Forgets everything: a new tracker (uninitialised memory is fine), or, after run_tracker_done(),
 * the watcher now follows another service. */
void run_tracker_init(RunTracker *t);
/* Frees what the tracker holds; run_tracker_init() makes it usable again. */
void run_tracker_done(RunTracker *t);
/* We lost sight of the service (bus reconnect, systemd re-exec, a new match): signals are
 * ignored until the next baseline. What was reported stays known, so the baseline does not
 * report it again. */
void run_tracker_lost(RunTracker *t);
bool run_tracker_is_baselined(const RunTracker *t);
/* Applies an update; returns what happened and, for anything but RUN_NONE, fills *ret. */
RunEventKind run_tracker_feed(RunTracker *t, const RunUpdate *u, RunRecord *ret);

/* Whether a unit in this state has finished its run: inactive, failed, active/exited. */
bool run_state_is_end(const char *active_state, const char *sub_state);

/* Which check a run of a service belongs to, when several checks watch that service (two
 * timers starting one service, or a timer and a section for the service itself): the check of
 * the timer ActivationDetails names, else a check for the service itself, else none of them.
 * checks are the names of the checks watching service. Returns false when the run is everyone's
 * (one check only, or systemd did not say who started it); else true with *ret_owner the
 * owning check (a pointer into checks) or NULL when no check is for this run. */
bool run_owner(const char *service, int activated_by_timer, const char *trigger_unit, const char *const *checks,
               size_t n_checks, const char **ret_owner);

/* Which timer started a run, from the timers' LastTriggerUSec (CLOCK_REALTIME µs, 0: never):
 * the latest trigger after the service's previous run ended (prev_exit, 0 when unknown) and
 * no later than the run's start. NULL: none of them (by hand, or another unit). */
const char *run_trigger_owner(const char *const *timers, const uint64_t *triggers, size_t n, uint64_t start,
                              uint64_t prev_exit);
