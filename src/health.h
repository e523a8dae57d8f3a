/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "util.h"

/* Whether timerbeat is well enough to send its own heartbeat (self-url=). Pure. Healthy means:
 * connected to the bus and subscribed to systemd (run ends reach us), the configuration on disk
 * was loaded (the last reload did not fail), and the outbox is not stuck: no ping of a check has
 * waited for an answer longer than HEALTH_STUCK_INTERVALS self-intervals. */

#define HEALTH_STUCK_INTERVALS 3U

typedef struct HealthInput {
        bool connected;      /* watch_is_connected() */
        bool config_loaded;  /* the last (re)load succeeded */
        usec_t now;          /* CLOCK_REALTIME */
        usec_t oldest_queue; /* when the longest-waiting ping of a check was queued; 0: none */
        usec_t interval;     /* self-interval= */
} HealthInput;

/* NULL when healthy, else what is wrong, for the log. */
const char *health_problem(const HealthInput *in);
