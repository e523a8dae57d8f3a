/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "watch.h"

/* Who started a run of a service that several checks watch (or whose check has trigger = timer). systemd keeps the
 * first ActivationDetails a unit got until the unit is unloaded, so when they are not new the run waits for its
 * timers' LastTriggerUSec (one asynchronous Get each) and is handed on with WatchRun.shared and owner set
 * (run_trigger_owner). Runs leave in the order they came; while one waits, the others of the same watch wait behind
 * it. Bounded. */

typedef struct Attributor Attributor;
typedef void (*attributor_done_t)(const WatchRun *run, void *userdata);

int attributor_new(Attributor **ret, attributor_done_t done, void *userdata);
/* Drops what waits: nothing is handed on. */
Attributor *attributor_free(Attributor *a);
bool attributor_waiting(const Attributor *a);
/* Hands on everything that waits, now (the bus goes away): a run whose timers did not all
 * answer goes on with its origin unknown. */
void attributor_release(Attributor *a);

typedef struct AttributeRequest {
        const char *const *timers; /* the timer checks watching run->service (may be empty) */
        size_t n_timers;
        bool service_section;      /* a check for run->service itself exists */
        bool shared;               /* several checks watch run->service: set WatchRun.shared, owner */
        uint64_t start, prev_exit; /* the run's start and the previous run's end (CLOCK_REALTIME) */
} AttributeRequest;

/* Hands run on through done once the timers answered (at once when there are none and nothing
 * waits). Returns < 0 when it cannot (the caller hands the run on as it is). */
int attributor_add(Attributor *a, sd_bus *bus, const WatchRun *run, const AttributeRequest *req);
