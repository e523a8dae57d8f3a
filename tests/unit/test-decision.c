/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ping decision and what counts as a run end, as tables. */
#include "manager.h"
#include "tests.h"
#include "watch.h"

static void test_run_succeeded(void) {
        static const struct {
                const char *active, *result;
                bool ping;
        } table[] = {
                { "inactive", "success", true },
                { "active", "success", true }, /* RemainAfterExit=yes */
                { "failed", "success", false }, /* cannot happen, but a failed unit never pings */
                { "failed", "exit-code", false },
                { "failed", "signal", false },
                { "failed", "core-dump", false },
                { "failed", "timeout", false },
                { "failed", "watchdog", false },
                { "failed", "start-limit-hit", false },
                { "failed", "resources", false },
                { "failed", "oom-kill", false },
                { "inactive", "exit-code", false },
                { "inactive", NULL, false }, /* unknown result: no ping */
                { "inactive", "", false },
                { "inactive", "Success", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(manager_run_succeeded(table[i].active, table[i].result) == table[i].ping);
}

static void test_run_end(void) {
        static const struct {
                const char *active, *sub;
                bool end;
        } table[] = {
                { "inactive", "dead", true },     { "failed", "failed", true },
                { "active", "exited", true },     { "active", "running", false },
                { "activating", "start", false }, { "deactivating", "stop", false },
                { "reloading", "reload", false }, { NULL, NULL, false },
                { "active", NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(watch_state_is_run_end(table[i].active, table[i].sub) == table[i].end);
}

int main(void) {
        test_run_succeeded();
        test_run_end();
        return 0;
}
