/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

bool run_state_is_end(const char *active, const char *sub) {
        if (!active)
                return false;
        if (streq(active, "inactive") || streq(active, "failed"))
                return true;
        /* RemainAfterExit=yes: the run is over once the unit sits in active/exited. */
        return streq(active, "active") && sub && streq(sub, "exited");
}

/* Every word systemd 252 to 257 uses for a service's ActiveState, SubState and Result. */
static const char *const run_words[] = {
        "",
        "active",
        "reloading",
        "inactive",
        "failed",
        "activating",
        "deactivating",
        "maintenance",
        "refreshing",
        "dead",
        "condition",
        "start-pre",
        "start",
        "start-post",
        "running",
        "exited",
        "reload",
        "reload-signal",
        "reload-notify",
        "mounting",
        "stop",
        "stop-watchdog",
        "stop-sigterm",
        "stop-sigkill",
        "stop-post",
        "final-watchdog",
        "final-sigterm",
        "final-sigkill",
        "dead-before-auto-restart",
        "failed-before-auto-restart",
        "dead-resources-pinned",
        "auto-restart",
        "auto-restart-queued",
        "cleaning",
        "success",
        "protocol",
        "resources",
        "timeout",
        "exit-code",
        "signal",
        "core-dump",
        "watchdog",
        "start-limit-hit",
        "oom-kill",
        "exec-condition",
        "skip-condition",
        "unknown",
};
#define RUN_OTHER_WORDS 32U

const char *run_intern(const char *s) {
        /* Words of a newer systemd: kept once each, a bounded number of them. */
        static char other[RUN_OTHER_WORDS][64];
        static size_t n_other;
        size_t n;

        if (!s)
                return "";
        for (size_t i = 0; i < ELEMENTSOF(run_words); i++)
                if (streq(run_words[i], s))
                        return run_words[i];
        /* Compared as kept: cut to 63 characters, as the fixed buffers did. */
        n = MIN(strlen(s), sizeof(other[0]) - 1);
        for (size_t i = 0; i < n_other; i++)
                if (strlen(other[i]) == n && strncmp(other[i], s, n) == 0)
                        return other[i];
        if (n_other == RUN_OTHER_WORDS)
                return "unknown";
        snprintf(other[n_other], sizeof(other[n_other]), "%s", s);
        return other[n_other++];
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static RunId run_id(const char *s) {
        RunId id = {};
        size_t n = strlen(s);
        bool hex = n == 32;

        for (size_t i = 0; hex && i < 32; i += 2) {
                int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);

                hex = hi >= 0 && lo >= 0;
                if (hex)
                        id.bytes[i / 2] = (uint8_t) ((unsigned) hi << 4 | (unsigned) lo);
        }
        if (!hex && n > 0) {
                /* Not systemd's form: two FNV-1a digests of it, the second with another basis. */
                uint64_t h[2] = { UINT64_C(14695981039346656037), UINT64_C(0x84222325cbf29ce4) };

                for (size_t k = 0; k < 2; k++)
                        for (const char *c = s; *c; c++)
                                h[k] = (h[k] ^ (unsigned char) *c) * UINT64_C(1099511628211);
                memcpy(id.bytes, h, sizeof(id.bytes));
        }
        return id;
}

static bool run_id_eq(RunId a, const char *s) {
        RunId b = run_id(s);

        return memcmp(a.bytes, b.bytes, sizeof(a.bytes)) == 0;
}

void run_tracker_init(RunTracker *t) {
        assert(t);
        *t = (RunTracker) { .run_by = -1, .active_state = "", .sub_state = "", .result = "" };
}

void run_tracker_done(RunTracker *t) {
        assert(t);
        t->trigger_unit = mfree(t->trigger_unit);
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

/* ActivationDetails: the trigger unit is copied only when it changed (it rarely does). Without
 * memory for it, who started the run is unknown, as with a systemd that does not tell. */
static void tracker_set_activation(RunTracker *t, const RunUpdate *u) {
        const char *unit = isempty(u->trigger_unit) ? NULL : u->trigger_unit;

        t->activation_known = true;
        t->trigger_realtime = u->trigger_unit ? u->trigger_realtime : 0;
        if (unit && t->trigger_unit && strlen(t->trigger_unit) == MIN(strlen(unit), 255U) &&
            strncmp(t->trigger_unit, unit, 255) == 0)
                return;
        t->trigger_unit = mfree(t->trigger_unit);
        if (!unit)
                return;
        t->trigger_unit = strndup(unit, 255);
        if (!t->trigger_unit)
                t->activation_known = false;
}

static void tracker_apply(RunTracker *t, const RunUpdate *u) {
        /* Each interface carries its own properties; anything else it names is not trusted
         * for this step (the Unit interface's state decides, after the Service's results). */
        bool unit = u->source != RUN_SOURCE_SERVICE, service = u->source != RUN_SOURCE_UNIT;

        if (unit && u->has_active_state)
                t->active_state = run_intern(u->active_state);
        if (unit && u->has_sub_state)
                t->sub_state = run_intern(u->sub_state);
        if (unit && u->has_invocation)
                COPY(t->invocation, u->invocation);
        if (service && u->has_result) {
                t->result = run_intern(u->result);
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
        if (u->has_activation)
                tracker_set_activation(t, u);
}

static uint64_t activation_digest(const RunTracker *t) {
        uint64_t h = UINT64_C(14695981039346656037) ^ t->trigger_realtime;

        for (const char *c = strempty(t->trigger_unit); *c; c++)
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
                .prev_exit = t->last_end_exit,
                .catch_up = catch_up,
        };
        if (end) {
                t->ended = run_id(t->invocation);
                t->last_end_exit = t->exit_timestamp;
                /* The next run's Result must come with the next run. */
                t->result_fresh = false;
        }
        if (kind == RUN_START)
                t->started = run_id(t->invocation);
        return kind;
}

/* A state change: did the invocation start running, or end? */
static RunEventKind tracker_evaluate(RunTracker *t, RunRecord *ret) {
        if (isempty(t->invocation))
                return RUN_NONE; /* never ran, or unloaded and loaded afresh */
        if (!run_state_is_end(t->active_state, t->sub_state)) {
                if (run_id_eq(t->started, t->invocation))
                        return RUN_NONE;
                tracker_attribute(t, false);
                return tracker_record(t, RUN_START, false, ret);
        }
        if (!run_id_eq(t->started, t->invocation))
                return RUN_NONE; /* a start being prepared, or a unit that never got going */
        if (run_id_eq(t->ended, t->invocation))
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
        if (!run_id_eq(t->started, t->invocation))
                tracker_attribute(t, true);
        if (!run_state_is_end(t->active_state, t->sub_state)) {
                t->started = run_id(t->invocation);
                kind = tracker_record(t, RUN_BASELINE, true, ret);
        } else if (isempty(t->invocation))
                kind = tracker_record(t, RUN_BASELINE, true, ret);
        else if (!run_id_eq(t->ended, t->invocation))
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

const char *run_trigger_owner(const char *const *timers, const uint64_t *triggers, size_t n, uint64_t start,
                              uint64_t prev_exit) {
        const char *owner = NULL;
        uint64_t best = 0;

        for (size_t i = 0; i < n; i++)
                if (triggers[i] > prev_exit && triggers[i] <= start && triggers[i] > best) {
                        best = triggers[i];
                        owner = timers[i];
                }
        return owner;
}
