/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which files and drop-in directories systemd reads for a unit (or any instance of a template),
 * and what in a unit file's text concerns timerbeat, as tables. */
#include <errno.h>

#include "dropin.h"
#include "tests.h"

static void test_annotation(void) {
        static const struct {
                const char *text;
                bool has;
        } table[] = {
                { "[X-Timerbeat]\nURL=x\n", true },
                { "[Timer]\nOnCalendar=daily\n\n  [x-timerbeat]\r\n", true }, /* any case, blanks */
                { "[Unit]\nDescription=[X-Timerbeat]\n", false },             /* not a header */
                { "# [X-Timerbeat]\n", false },
                { "[X-Timerbeat2]\n", false },
                { "[X-Timerbea]\n", false },
                { "[X-Timerbeat", false },         /* no closing bracket */
                { "[Unit]\n[X-Timerbeat]", true }, /* no final newline */
                { "", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(dropin_has_annotation(table[i].text, strlen(table[i].text)) == table[i].has);
        ASSERT(dropin_is_annotation_header("\t[X-TIMERBEAT] ", 15));
        ASSERT(!dropin_is_annotation_header("[X-Timerbeat]", 5)); /* only the length given */
}

static void test_timer_units(void) {
        static const struct {
                const char *text, *units; /* joined with "|" */
        } table[] = {
                { "[Timer]\nUnit=a@%i.service\n", "a@%i.service" },
                { "[Timer]\n Unit = b.service \n[Unit]\nUnit=c.service\n", "b.service" },
                { "[Unit]\nUnit=c.service\n[Timer]\nUnit=\nUnit=d.service\r\n", "|d.service" },
                { "[Timer]\nUnits=x\nOnUnitActiveSec=1\n#Unit=y\n", "" },
                { "[TimerX]\nUnit=z.service\n", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(strv_done) Strv units = {};
                char joined[256] = "";

                ASSERT(dropin_timer_units(table[i].text, strlen(table[i].text), &units) == 0);
                for (size_t j = 0; j < units.n; j++) {
                        if (j > 0)
                                strcat(joined, "|");
                        strcat(joined, units.items[j]);
                }
                ASSERT_STREQ(joined, table[i].units);
        }
}

static void test_service_of(void) {
        static const struct {
                const char *template, *unit, *service;
                int r;
        } table[] = {
                { "pg_dump@.timer", NULL, "pg_dump@.service", 0 },
                { "pg_dump@.timer", "", "pg_dump@.service", 0 },
                { "a@.timer", "b@%i.service", "b@.service", 0 },
                { "a@.timer", "b@%I.service", "b@.service", 0 },
                { "a@.timer", "fixed.service", "fixed.service", 0 },
                { "a@.timer", "b@x.service", "b@x.service", 0 },
                { "a@.timer", "b-%i.service", NULL, -EINVAL }, /* not an instance */
                { "a@.timer", "b@%j.service", NULL, -EINVAL },
                { "a@.timer", "%p@%i.service", NULL, -EINVAL },
                { "a@.timer", "b@%i%i.service", NULL, -EINVAL },
                { "a.timer", NULL, NULL, -EINVAL }, /* no template */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *s = NULL;
                int r = dropin_service_of(table[i].template, table[i].unit, &s);

                if (r != table[i].r)
                        fprintf(stderr, "row %zu: %d\n", i, r);
                ASSERT(r == table[i].r);
                if (r == 0)
                        ASSERT_STREQ(s, table[i].service);
        }
}

static void test_entry_applies(void) {
        static const struct {
                const char *unit, *entry;
                bool applies;
        } table[] = {
                /* a template: its own files and those of any instance */
                { "pg_dump@.timer", "pg_dump@.timer", true },
                { "pg_dump@.timer", "pg_dump@main.timer", true },
                { "pg_dump@.timer", "pg_dump@.timer.d", true },
                { "pg_dump@.timer", "pg_dump@15-main.timer.d", true },
                { "pg_dump@.timer", "timer.d", true },
                { "pg_dump@.timer", "pg_dump.timer", false },
                { "pg_dump@.timer", "pg_dump.timer.d", false },
                { "pg_dump@.timer", "pg_dump@.service", false },
                { "pg_dump@.timer", "pg_dump@.service.d", false },
                { "pg_dump@.timer", "service.d", false },
                { "pg_dump@.timer", "pg_dumpx@.timer.d", false },
                { "pg_dump@.timer", "pg_dump@.timer.wants", false },
                { "pg_dump@.timer", ".timer.d", false },
                /* dash prefixes: a-b@x.timer reads a-@x.timer.d and a-@.timer.d (and, taken for
                 * safety, a-.timer.d) */
                { "a-b@.timer", "a-@.timer.d", true },
                { "a-b@.timer", "a-@x.timer.d", true },
                { "a-b@.timer", "a-.timer.d", true },
                { "a-b@.timer", "a-b-.timer.d", false },
                { "a-b@.timer", "a@.timer.d", false },
                { "a-b@.timer", "a-.timer", false },
                { "a-b-c@.timer", "a-b-@.timer.d", true },
                { "a-b-c@.timer", "a-@y.timer.d", true },
                { "a-b-c@.timer", "b-@.timer.d", false },
                /* an instance: its own and its template's, not its siblings' */
                { "a-b@x.service", "a-b@x.service", true },
                { "a-b@x.service", "a-b@.service", true },
                { "a-b@x.service", "a-b@y.service", false },
                { "a-b@x.service", "a-b@x.service.d", true },
                { "a-b@x.service", "a-b@.service.d", true },
                { "a-b@x.service", "a-@x.service.d", true },
                { "a-b@x.service", "a-@.service.d", true },
                { "a-b@x.service", "a-b@y.service.d", false },
                { "a-b@x.service", "service.d", true },
                /* a plain unit */
                { "backup-db-daily.service", "backup-db-daily.service", true },
                { "backup-db-daily.service", "backup-db-daily.service.d", true },
                { "backup-db-daily.service", "backup-db-.service.d", true },
                { "backup-db-daily.service", "backup-.service.d", true },
                { "backup-db-daily.service", "backup.service.d", false },
                { "backup-db-daily.service", "backup-db-daily@.service.d", false },
                { "backup-db-daily.service", "backup-db.service", false },
                { "backup-db-daily.service", "service.d", true },
                { "backup-db-daily.service", "timer.d", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                bool a = dropin_entry_applies(table[i].unit, table[i].entry);

                if (a != table[i].applies)
                        fprintf(stderr, "%s / %s: %d\n", table[i].unit, table[i].entry, a);
                ASSERT(a == table[i].applies);
        }
}

int main(void) {
        test_annotation();
        test_timer_units();
        test_service_of();
        test_entry_applies();
        return 0;
}
