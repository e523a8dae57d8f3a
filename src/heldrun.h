/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "watch.h"

/* A WatchRun that owns its strings: a run end kept past the callback that reported it (held
 * until the journal's catch-up is done, or until the timers say who started it). */
typedef struct HeldRun {
        WatchRun run;
        char *check, *service, *trigger_unit, *owner;
        char invocation[33], active_state[32], result[64];
        bool has_result;
        SuccessExit success;
        bool has_success;
} HeldRun;

int held_run_init(HeldRun *h, const WatchRun *run);
/* The run, its strings pointing into h. */
WatchRun held_run_get(const HeldRun *h);
void held_run_done(HeldRun *h);
