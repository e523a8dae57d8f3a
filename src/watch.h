/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "run.h"

/* Watches systemd over D-Bus: resolves each configured check to the service it monitors (for a
 * timer, the unit in its Unit= property), subscribes to that service's PropertiesChanged
 * signals only, and reports each run end once. */

typedef struct Watch Watch;

/* A service's SuccessExitStatus=: the exit statuses and signals systemd counts as a clean end
 * of its main process, besides exit status 0. */
typedef struct SuccessExit {
        uint64_t status[4]; /* bit n: exit status n, 0–255 */
        uint64_t signals;   /* bit n: signal n, 1–63 */
} SuccessExit;

bool success_exit_has_status(const SuccessExit *s, int status);
bool success_exit_has_signal(const SuccessExit *s, int sig);

typedef struct WatchRun {
        const char *check;        /* the unit the watcher is for (timer or service) */
        const char *service;      /* the service whose run ended */
        const char *invocation;   /* InvocationID, 32 hex characters */
        const char *active_state; /* inactive, failed, or active (RemainAfterExit=yes) */
        const char *result;       /* the service's Result, NULL when systemd did not tell */
        int exec_main_code;       /* CLD_EXITED, CLD_KILLED, CLD_DUMPED, or 0 */
        int exec_main_status;
        usec_t exit_timestamp;  /* ExecMainExitTimestamp, CLOCK_REALTIME; 0 if unknown */
        usec_t start_timestamp; /* ExecMainStartTimestamp, CLOCK_REALTIME; 0 if unknown */
        bool catch_up;          /* found ended when we (re)connected, not seen ending */
        /* Set by the manager for the runs reported while a configuration is first read (start,
         * reload): a run found ended of a check without a record is new when it ended after
         * this, when that configuration began to be watched (CLOCK_REALTIME; 0: never). */
        usec_t new_after;
        bool start;             /* not an end: the run just began (activating) */
        int activated_by_timer; /* ActivationDetails names a timer: 1; names none: 0; unknown: -1 */
        /* The unit named by ActivationDetails' trigger_unit (systemd ≥ 253, and Debian 12's 252):
         * which timer (or path, …) started this run; NULL when unknown or none. */
        const char *trigger_unit;
        const SuccessExit *success_exit; /* the service's SuccessExitStatus=; NULL: none known */
        /* Whether the main process ended on its own, as the journal tells it: 1 yes, -1 no (a
         * stop job ended the run, or a signal killed it); 0: judge by ExecMainCode/Status. */
        int ended_on_own;
        bool stop_requested; /* the journal saw a stop job end this run */
        bool skipped;        /* not an end: a start skipped by a failed Condition*= (on-skip=) */
        /* Several checks watch this service and systemd said who started the run (run_owner):
         * only owner hears it; owner NULL: none of them does. */
        bool shared;
        const char *owner;
} WatchRun;

typedef void (*watch_run_end_t)(Watch *w, const WatchRun *run, void *userdata);

/* What the manager needs to decide whether a unit is monitored. */
typedef struct WatchUnitInfo {
        const char *unit;          /* the timer or service the watcher is for */
        const char *service;       /* the service whose runs count */
        const Strv *timer_files;   /* a timer's FragmentPath and DropInPaths (empty for a service) */
        const Strv *service_files; /* the service's */
        bool discovered;           /* found by a scan, not named in the config */
        /* Out: set it when the check must know which timer started each run (trigger = timer):
         * the watch then asks the timer when systemd's ActivationDetails are stale. */
        bool *ask_trigger;
} WatchUnitInfo;
typedef bool (*watch_want_t)(Watch *w, const WatchUnitInfo *info, void *userdata);
/* Called when a unit's runs stop being followed for a reason of systemd's (the unit is gone,
 * unloaded, not eligible, triggers no service); harmless for a unit that was not monitored. */
typedef void (*watch_dropped_t)(Watch *w, const char *unit, void *userdata);
/* Called each time every check has been resolved (after start, reload, daemon-reload). */
typedef void (*watch_settled_t)(Watch *w, void *userdata);

int watch_new(Watch **ret, sd_event *event, bool user, watch_run_end_t on_run_end, watch_settled_t on_settled,
              watch_want_t want, watch_dropped_t on_dropped, void *userdata);
Watch *watch_free(Watch *w);
static inline void watch_freep(Watch **w) {
        watch_free(*w);
}

/* Called when systemd finished a daemon-reload (unit files, timers may have changed). */
typedef void (*watch_reloaded_t)(Watch *w, void *userdata);
void watch_set_on_reloaded(Watch *w, watch_reloaded_t cb, void *userdata);

/* Called each time systemd accepts our Subscribe() (start, reconnect, re-exec): from then on
 * its signals reach us, while the units are still being read. */
typedef void (*watch_subscribed_t)(Watch *w, void *userdata);
void watch_set_on_subscribed(Watch *w, watch_subscribed_t cb, void *userdata);

/* Connects to the bus and subscribes. If the connection is lost later, it reconnects with
 * back-off, resubscribes and re-reads every service (reporting runs that ended meanwhile as
 * catch_up); the same happens when systemd re-executes. */
int watch_start(Watch *w);

/* Makes the set of watched units match the config: every enabled section named after a unit,
 * plus, when discover is set, every loaded timer (for annotations and timer patterns) and
 * every loaded service matching a service pattern — and those that appear later. */
int watch_set_checks(Watch *w, const Config *c, bool discover);

/* True while connected to the bus, systemd is on it and has accepted our Subscribe(): run ends
 * reach us. */
bool watch_is_connected(const Watch *w);

/* True when no resolution is in flight. */
bool watch_is_settled(const Watch *w);

/* The service manager's PID (1, or the user manager's, asked of the bus); 0 until known or
 * when the bus would not tell. */
pid_t watch_manager_pid(const Watch *w);

/* Calls f for every monitored check whose runs are service's, with the service's
 * SuccessExitStatus= (for runs read from the journal). */
typedef void (*watch_check_t)(Watch *w, const char *check, const char *service, const SuccessExit *success,
                              void *userdata);
void watch_foreach_check(Watch *w, const char *service, watch_check_t f, void *userdata);

/* Unit properties as read from GetAll (or PropertiesChanged): what timerbeat needs, nothing
 * else; a property with an unexpected type is skipped. Also used by the command line tools. */
typedef struct UnitProps {
        /* Grouped by size (padding). */
        uint64_t exit, last_trigger, next_elapse, next_elapse_mono, start;
        char *fragment;               /* FragmentPath */
        uint64_t condition_timestamp; /* ConditionTimestamp */
        uint64_t trigger_realtime;    /* ActivationDetails' trigger_timer_realtime_usec, 0 when none */
        Strv files;                   /* DropInPaths */
        SuccessExit success;          /* SuccessExitStatus (Service, "(aiai)") */
        int code, status;
        int activated_by_timer; /* from ActivationDetails (systemd ≥ 253): -1 unknown */
        int condition_result;   /* ConditionResult */
        bool has_active, has_sub, has_invocation, has_result, has_code, has_status, has_load, has_exit, has_unit;
        bool has_last_trigger, has_next_elapse, has_next_elapse_mono, has_start;
        bool has_activation, has_files, has_fragment, has_success, has_unit_file_state, has_condition_result;
        bool has_condition_timestamp, has_conditions;
        char active[32], sub[32], load[32];
        char unit_file_state[32]; /* enabled, disabled, static, … */
        char invocation[33], result[64];
        char failed_condition[160]; /* "ConditionVirtualization=!container", "" when none failed */
        char unit[256];
        char trigger_unit[256]; /* ActivationDetails' trigger_unit, "" when it names none */
} UnitProps;
int read_props(sd_bus_message *m, UnitProps *p);
/* One property's variant (the answer to a Get of name): read if the name and its type are known,
 * skipped otherwise. */
int props_read_value(sd_bus_message *m, const char *name, UnitProps *p);
void props_done(UnitProps *p);
/* FragmentPath, then DropInPaths. */
int props_files(UnitProps *p, Strv *ret);

/* For the parsers' unit tests: whether a state ends a run. */
bool watch_state_is_run_end(const char *active_state, const char *sub_state);
