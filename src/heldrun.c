/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heldrun.h"

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int held_run_init(HeldRun *h, const WatchRun *run) {
        *h = (HeldRun) { .run = *run };
        if (dup_or_null(run->check, &h->check) < 0 || dup_or_null(run->service, &h->service) < 0 ||
            dup_or_null(run->trigger_unit, &h->trigger_unit) < 0 || dup_or_null(run->owner, &h->owner) < 0) {
                held_run_done(h);
                return -ENOMEM;
        }
        snprintf(h->invocation, sizeof(h->invocation), "%s", strempty(run->invocation));
        snprintf(h->active_state, sizeof(h->active_state), "%s", strempty(run->active_state));
        h->has_result = run->result;
        snprintf(h->result, sizeof(h->result), "%s", strempty(run->result));
        h->has_success = run->success_exit;
        if (run->success_exit)
                h->success = *run->success_exit;
        return 0;
}

WatchRun held_run_get(const HeldRun *h) {
        WatchRun run = h->run;

        run.check = h->check;
        run.service = h->service;
        run.trigger_unit = h->trigger_unit;
        run.owner = h->owner;
        run.invocation = h->invocation;
        run.active_state = h->active_state;
        run.result = h->has_result ? h->result : NULL;
        run.success_exit = h->has_success ? &h->success : NULL;
        return run;
}

void held_run_done(HeldRun *h) {
        free(h->check);
        free(h->service);
        free(h->trigger_unit);
        free(h->owner);
        h->check = h->service = h->trigger_unit = h->owner = NULL;
}
