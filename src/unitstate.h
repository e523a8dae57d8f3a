/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* What a timer's and its service's properties say about whether it runs here: pure, shared by
 * the daemon (which timers a pattern covers) and `list`/`check` (why one does not run). */

/* Whether a timer found by a pattern or an annotation is one timerbeat follows: active (started,
 * waiting for its next elapse) or enabled. A timer that is merely loaded (by systemctl status,
 * say) is not. */
bool unit_timer_is_eligible(const char *active_state, const char *unit_file_state);

/* What systemd told about a timer and its service, as `list` needs it. */
typedef struct UnitStateInput {
        bool timer_found;            /* systemd knows the timer (LoadState=loaded) */
        const char *timer_active;    /* the timer's ActiveState */
        const char *timer_file;      /* its UnitFileState */
        const char *timer_condition; /* its first failed condition, "" or NULL when none */
        const char *target;          /* its Unit= */
        const char *service_active;  /* the service's ActiveState */
        const char *service_sub;     /* and SubState */
        const char *service_condition;
        usec_t service_start; /* ExecMainStartTimestamp, 0 unknown */
} UnitStateInput;

typedef enum UnitState {
        UNIT_STATE_OK,          /* waiting for its next elapse */
        UNIT_STATE_RUNNING,     /* the service runs now */
        UNIT_STATE_NOT_FOUND,   /* no such timer */
        UNIT_STATE_NOT_SERVICE, /* Unit= is a target, a path, … */
        UNIT_STATE_SKIPPED,     /* a condition failed: it cannot run here */
        UNIT_STATE_INACTIVE,    /* enabled but not started */
        UNIT_STATE_NOT_ENABLED, /* neither started nor enabled */
} UnitState;

/* The state, and in buf how `list` shows it ("skipped: ConditionVirtualization=!container",
 * "not a service: backup.target", "running", …). */
UnitState unit_state(const UnitStateInput *in, char *buf, size_t size);

/* True for the states in which a timer's runs cannot be expected: `check` warns about them. */
bool unit_state_is_problem(UnitState s);

/* When a timer elapses next, in CLOCK_REALTIME, from its realtime and monotonic next elapse (0 or
 * USEC_INFINITY when unset) and the clocks now; USEC_INFINITY: never. */
usec_t unit_next_elapse(usec_t realtime, usec_t monotonic, usec_t now_realtime, usec_t now_monotonic);
