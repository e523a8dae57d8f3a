/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "unitstate.h"

static bool str_in(const char *s, const char *const *list) {
        for (; s && *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

bool unit_timer_is_eligible(const char *active_state, const char *unit_file_state) {
        static const char *const active[] = { "active", "activating", "reloading", NULL };
        static const char *const enabled[] = { "enabled", "enabled-runtime", NULL };

        return str_in(active_state, active) || str_in(unit_file_state, enabled);
}

static bool has_text(const char *s) {
        return s && s[0];
}

UnitState unit_state(const UnitStateInput *in, char *buf, size_t size) {
        static const char *const running[] = { "activating", "active", "deactivating", "reloading", NULL };
        static const char *const enabled[] = { "enabled", "enabled-runtime", NULL };
        size_t n;

        assert(in && buf && size > 0);
        if (!in->timer_found) {
                snprintf(buf, size, "not found");
                return UNIT_STATE_NOT_FOUND;
        }
        n = has_text(in->target) ? strlen(in->target) : 0;
        if (n < strlen(".service") || strcmp(in->target + n - strlen(".service"), ".service") != 0) {
                snprintf(buf, size, "not a service: %s", has_text(in->target) ? in->target : "(none)");
                return UNIT_STATE_NOT_SERVICE;
        }
        /* active/exited is a oneshot that is done (RemainAfterExit=yes); active/running runs. */
        if (str_in(in->service_active, running) && (strcmp(in->service_active, "active") != 0 ||
                                                    (in->service_sub && strcmp(in->service_sub, "running") == 0))) {
                snprintf(buf, size, "running");
                return UNIT_STATE_RUNNING;
        }
        if (has_text(in->timer_condition) || has_text(in->service_condition)) {
                snprintf(buf, size, "skipped: %s",
                         has_text(in->timer_condition) ? in->timer_condition : in->service_condition);
                return UNIT_STATE_SKIPPED;
        }
        if (!unit_timer_is_eligible(in->timer_active, NULL)) {
                bool on = str_in(in->timer_file, enabled);

                snprintf(buf, size, "%s", on ? "inactive" : "inactive, not enabled");
                return on ? UNIT_STATE_INACTIVE : UNIT_STATE_NOT_ENABLED;
        }
        snprintf(buf, size, "waiting");
        return UNIT_STATE_OK;
}

bool unit_state_is_problem(UnitState s) {
        return s != UNIT_STATE_OK && s != UNIT_STATE_RUNNING;
}

static bool usec_set(usec_t t) {
        return t != 0 && t != USEC_INFINITY;
}

usec_t unit_next_elapse(usec_t realtime, usec_t monotonic, usec_t now_realtime, usec_t now_monotonic) {
        usec_t from_mono = USEC_INFINITY;

        if (usec_set(monotonic))
                from_mono = monotonic > now_monotonic ? now_realtime + (monotonic - now_monotonic) : now_realtime;
        if (!usec_set(realtime))
                return from_mono;
        return realtime < from_mono ? realtime : from_mono;
}
