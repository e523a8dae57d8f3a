/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "manager.h"
#include "watch.h"

/* The daemon's own `timerbeat sync` (issue 15): at start (after READY=1), after a configuration
 * reload and after systemd's daemon-reload, in the background. sync.c is a command (synchronous
 * D-Bus and libcurl), so the daemon runs it as a child process — /proc/self/exe sync
 * --background with the daemon's options — reaped through sd-event; the event loop never waits
 * on it. At most one runs; triggers meanwhile make one more run after it. A failed sync (the
 * server down, an API error, a timer it could not read) is tried again with back-off. When a
 * sync ends, the manager applies the provisioned ping URLs it wrote. */

#define AUTOSYNC_RETRY_BASE (30 * USEC_PER_SEC)
#define AUTOSYNC_RETRY_MAX USEC_PER_HOUR
/* For tests only: the back-off's base and cap (a time span), so that a retry comes within seconds. */
#define AUTOSYNC_RETRY_ENV "TIMERBEAT_TEST_SYNC_RETRY"

/* --- the pure part: when to run a sync (table-tested in test-autosync.c) --- */

typedef struct AutosyncPolicy {
        bool running;      /* a sync child runs */
        bool pending;      /* a trigger came while it ran: one more run after it */
        unsigned failures; /* failed syncs in a row */
        usec_t retry_at;   /* CLOCK_MONOTONIC; 0: no retry waiting */
} AutosyncPolicy;

typedef enum AutosyncAction {
        AUTOSYNC_NOTHING,
        AUTOSYNC_START, /* start a sync child now */
        AUTOSYNC_WAIT,  /* arm the retry timer for retry_at */
} AutosyncAction;

/* Whether the daemon syncs by itself: sync = auto and some enabled section provisions. */
bool autosync_wanted(const Config *c);

/* Start, reload, daemon-reload: a sync now, or after the one running. A waiting retry is
 * replaced: what changed may be what failed. */
AutosyncAction autosync_on_trigger(AutosyncPolicy *p);
/* A timer that a provisioned section covers has no provisioned check yet (a new timer, found
 * after its daemon-reload): a sync now, or after the one running; a waiting retry will do. */
AutosyncAction autosync_on_need(AutosyncPolicy *p);
/* The retry timer fired. */
AutosyncAction autosync_on_timer(AutosyncPolicy *p);
/* The child ended, ok or not; a failure waits retry_backoff(failures - 1, base, max, rnd). */
AutosyncAction autosync_on_done(AutosyncPolicy *p, bool ok, usec_t now, usec_t base, usec_t max, double rnd);

/* --- the daemon's side --- */

typedef struct Autosync Autosync;

/* o, state_dir and config (the manager's running configuration, swapped by a reload) must
 * outlive it. When a sync ends, the ping URLs it provisioned are applied to *config
 * (sync_apply_provisioned): a check provisioned meanwhile is pinged without a reload. */
int autosync_new(Autosync **ret, sd_event *e, const ManagerOptions *o, const char *state_dir, Config *const *config);
/* Kills a sync still running (it is idempotent: the next start does it again). */
Autosync *autosync_free(Autosync *a);
/* Shutting down: kills a sync still running; triggers are ignored from now on. */
void autosync_stop(Autosync *a);

/* Asks for a sync when the configuration wants one (autosync_wanted), says why at debug level;
 * when it does not, a waiting retry is dropped. */
void autosync_trigger(Autosync *a, const char *why);
/* The daemon found a timer whose check is provisioned but has no ping URL yet: a sync, once
 * per timer (a failed one is retried with the back-off). Before the start's sync, only noted. */
void autosync_need(Autosync *a, const char *timer);
/* For watch_set_on_reloaded(): systemd's daemon-reload, userdata is the Autosync. */
void autosync_on_systemd_reloaded(Watch *w, void *userdata);
