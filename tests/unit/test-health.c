/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When timerbeat sends its own heartbeat, as a table. */
#include "health.h"
#include "tests.h"

#define S USEC_PER_SEC
#define NOW (1700000000ULL * S)

static void test_health(void) {
        static const struct {
                HealthInput in;
                const char *problem; /* NULL: healthy */
        } table[] = {
                { { true, true, NOW, 0, 60 * S }, NULL },
                { { false, true, NOW, 0, 60 * S }, "not connected" },
                { { true, false, NOW, 0, 60 * S }, "refused at the last reload" },
                { { false, false, NOW, 0, 60 * S }, "not connected" },
                /* A ping waiting for up to 3 intervals is retrying, not stuck. */
                { { true, true, NOW, NOW - 180 * S, 60 * S }, NULL },
                { { true, true, NOW, NOW - 181 * S, 60 * S }, "outbox is stuck" },
                { { true, true, NOW, NOW - 4 * S, 1 * S }, "outbox is stuck" },
                /* A clock that went back is not a stuck outbox. */
                { { true, true, NOW, NOW + 1000 * S, 1 * S }, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *p = health_problem(&table[i].in);

                if (!table[i].problem) {
                        if (p)
                                fprintf(stderr, "case %zu: unhealthy: %s\n", i, p);
                        ASSERT(!p);
                } else
                        ASSERT_CONTAINS(p, table[i].problem);
        }
}

int main(void) {
        test_health();
        return 0;
}
