/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "run.h"

bool run_state_is_end(const char *active, const char *sub) {
        if (!active)
                return false;
        if (streq(active, "inactive") || streq(active, "failed"))
                return true;
        /* RemainAfterExit=yes: the run is over once the unit sits in active/exited. */
        return streq(active, "active") && sub && streq(sub, "exited");
}

void run_tracker_init(RunTracker *t) {
        assert(t);
        *t = (RunTracker) { .run_by = -1 };
}

void run_tracker_lost(RunTracker *t) {
        assert(t);
        t->baselined = false;
        t->result_fresh = false;
}

bool run_tracker_is_baselined(const RunTracker *t) {
        return t->baselined;
}

#define COPY(buf, s) snprintf((buf), sizeof(buf), "%s", strempty(s))

static void tracker_apply(RunTracker *t, const RunUpdate *u) {
        /* Each interface carries its own properties; anything else it names is not trusted
         * for this step (the Unit interface's state decides, after the Service's results). */
        bool unit = u->source != RUN_SOURCE_SERVICE, service = u->source != RUN_SOURCE_UNIT;

        if (unit && u->has_active_state)
                COPY(t->active_state, u->active_state);
        if (unit && u->has_sub_state)
                COPY(t->sub_state, u->sub_state);
        if (unit && u->has_invocation)
                COPY(t->invocation, u->invocation);
        if (service && u->has_result) {
                COPY(t->result, u->result);
                t->result_fresh = true;
        }
        if (service && u->has_exec_main_code)
                t->exec_main_code = u->exec_main_code;
        if (service && u->has_exec_main_status)
                t->exec_main_status = u->exec_main_status;
        if (service && u->has_exit_timestamp)
                t->exit_timestamp = u->exit_timestamp;
        if (u->has_start_timestamp)
                t->start_timestamp = u->start_timestamp;
        if (unit && u->has_condition && u->source == RUN_SOURCE_BASELINE)
                t->condition_timestamp = u->condition_timestamp;
        if (u->has_activation) {
                t->activation_known = true;
                COPY(t->trigger_unit, u->trigger_unit);
                t->trigger_realtime = u->trigger_unit ? u->trigger_realtime : 0;
        }
}

static uint64_t activation_digest(const RunTracker *t) {
        uint64_t h = UINT64_C(14695981039346656037) ^ t->trigger_realtime;

        for (const char *c = t->trigger_unit; *c; c++)
                h = (h ^ (unsigned char) *c) * UINT64_C(1099511628211);
        return h;
}

/* Who started the run that begins now (or is found by a baseline): ActivationDetails name it
 * only when they are new since the previous run began; the same details again are the first
 * trigger's, kept by systemd, and say nothing about this run. A baseline cannot tell whether
 * the details it finds were used already. */
static void tracker_attribute(RunTracker *t, bool baseline) {
        uint64_t digest = activation_digest(t);
        bool fresh = !baseline && digest != t->seen_digest;

        t->seen_digest = digest;
        if (!t->activation_known)
                t->run_by = -1;
        else if (isempty(t->trigger_unit))
                t->run_by = 0; /* nothing triggered the unit since it was loaded */
        else if (!fresh)
                t->run_by = -1;
        else
                t->run_by = endswith(t->trigger_unit, ".timer") ? 1 : 0;
}

/* The one place a record is filled: a start carries no outcome, an end does. */
static RunEventKind tracker_record(RunTracker *t, RunEventKind kind, bool catch_up, RunRecord *ret) {
        bool end = kind == RUN_END;

        *ret = (RunRecord) {
                .invocation = kind == RUN_BASELINE ? "" : t->invocation,
                .active_state = t->active_state,
                .sub_state = t->sub_state,
                .result = end && t->result_fresh ? t->result : NULL,
                .exec_main_code = end ? t->exec_main_code : 0,
                .exec_main_status = end ? t->exec_main_status : 0,
                .start_timestamp = t->start_timestamp,
                .exit_timestamp = end ? t->exit_timestamp : 0,
                .activated_by_timer = t->run_by,
                .trigger_unit = t->run_by < 0 || isempty(t->trigger_unit) ? NULL : t->trigger_unit,
                .catch_up = catch_up,
        };
        if (end) {
                COPY(t->ended, t->invocation);
                /* The next run's Result must come with the next run. */
                t->result_fresh = false;
        }
        if (kind == RUN_START)
                COPY(t->started, t->invocation);
        return kind;
}

/* A state change: did the invocation start running, or end? */
static RunEventKind tracker_evaluate(RunTracker *t, RunRecord *ret) {
        if (isempty(t->invocation))
                return RUN_NONE; /* never ran, or unloaded and loaded afresh */
        if (!run_state_is_end(t->active_state, t->sub_state)) {
                if (streq(t->started, t->invocation))
                        return RUN_NONE;
                tracker_attribute(t, false);
                return tracker_record(t, RUN_START, false, ret);
        }
        if (!streq(t->invocation, t->started))
                return RUN_NONE; /* a start being prepared, or a unit that never got going */
        if (streq(t->invocation, t->ended))
                return RUN_NONE; /* already reported: a repeated signal, or stopping a RemainAfterExit unit */
        return tracker_record(t, RUN_END, false, ret);
}

/* The state found by a (re)read. A running invocation counts as started (its start happened
 * before we looked); an ended one not reported yet is a run end we missed. */
static RunEventKind tracker_baseline(RunTracker *t, RunRecord *ret) {
        RunEventKind kind;

        t->baselined = true;
        /* A run found running or ended is attributed as well as a baseline can (a run we saw
         * begin keeps what its start said). */
        if (!streq(t->invocation, t->started))
                tracker_attribute(t, true);
        if (!run_state_is_end(t->active_state, t->sub_state)) {
                COPY(t->started, t->invocation);
                kind = tracker_record(t, RUN_BASELINE, true, ret);
        } else if (isempty(t->invocation))
                kind = tracker_record(t, RUN_BASELINE, true, ret);
        else if (!streq(t->invocation, t->ended))
                kind = tracker_record(t, RUN_END, true, ret);
        else
                kind = RUN_NONE; /* reported before we lost sight of it */
        t->result_fresh = false;
        return kind;
}

/* A condition check newer than the last one seen, that failed, with the unit not running. */
static bool tracker_skipped(RunTracker *t, const RunUpdate *u) {
        if (u->source != RUN_SOURCE_UNIT || !u->has_condition || u->condition_timestamp == 0 ||
            u->condition_timestamp == t->condition_timestamp)
                return false;
        t->condition_timestamp = u->condition_timestamp;
        return !u->condition_result && run_state_is_end(t->active_state, t->sub_state);
}

RunEventKind run_tracker_feed(RunTracker *t, const RunUpdate *u, RunRecord *ret) {
        assert(t);
        assert(u);
        assert(ret);

        if (u->source == RUN_SOURCE_BASELINE) {
                t->result_fresh = false; /* a catch-up's Result is the one this read shows */
                tracker_apply(t, u);
                return tracker_baseline(t, ret);
        }
        if (!t->baselined)
                return RUN_NONE; /* the baseline read in flight is newer than this */
        tracker_apply(t, u);
        if (tracker_skipped(t, u)) {
                *ret = (RunRecord) {
                        .invocation = "",
                        .active_state = t->active_state,
                        .sub_state = t->sub_state,
                        .activated_by_timer = -1,
                };
                return RUN_SKIPPED;
        }
        if (u->source == RUN_SOURCE_UNIT && (u->has_active_state || u->has_invocation))
                return tracker_evaluate(t, ret);
        return RUN_NONE;
}

bool run_owner(const char *service, int activated_by_timer, const char *trigger_unit, const char *const *checks,
               size_t n_checks, const char **ret_owner) {
        const char *own = NULL;

        assert(ret_owner);
        *ret_owner = NULL;
        /* One check: every run is its own (trigger = timer is decide's gate). Unknown origin
         * (systemd without ActivationDetails, a run read back from the journal): everyone's, as
         * before — timerbeat(8) says so. */
        if (n_checks <= 1 || activated_by_timer < 0)
                return false;
        for (size_t i = 0; i < n_checks; i++) {
                if (activated_by_timer > 0 && trigger_unit && streq(checks[i], trigger_unit))
                        *ret_owner = checks[i];
                else if (streq(checks[i], service))
                        own = checks[i];
        }
        if (!*ret_owner)
                *ret_owner = own;
        return true;
}
