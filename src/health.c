/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "health.h"

const char *health_problem(const HealthInput *in) {
        if (!in->connected)
                return "not connected to systemd over D-Bus (or not subscribed to it)";
        if (!in->config_loaded)
                return "the configuration on disk was refused at the last reload";
        if (in->oldest_queue > 0 && in->now > in->oldest_queue &&
            in->now - in->oldest_queue > HEALTH_STUCK_INTERVALS * in->interval)
                return "the outbox is stuck: a ping has waited longer than 3 self-intervals for an answer";
        return NULL;
}
