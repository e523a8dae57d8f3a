/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which check applies to a unit (resolve.c), how its monitoring is compared between
 * resolutions, and what a timer's properties say about whether it runs here (unitstate.c). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "resolve.h"
#include "tests.h"
#include "unitstate.h"

#define URL "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"

static Config *parse(const char *text) {
        Strv errors = {};
        Config *c = config_new();

        ASSERT(c);
        ASSERT_EQ(config_parse_data(c, "/etc/x.conf", text, strlen(text), &errors), 0);
        ASSERT_EQ(config_validate(c, &errors), 0);
        ASSERT_EQ(errors.n, 0);
        return c;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        ASSERT(f);
        fputs(text, f);
        ASSERT(fclose(f) == 0);
}

/* timerbeat.conf(5): a unit whose annotation is invalid is ignored; the pattern that would match
 * it otherwise does not apply. A valid one wins over the pattern; a conf section over both. */
static void test_invalid_annotation_ignores_unit(void) {
        char tmpl[] = "/tmp/test-resolve-XXXXXX", path[512];
        char *d = mkdtemp(tmpl), *files[1] = { path };
        Config *c = parse("[*.timer]\nurl = " URL "/pattern\n[named.timer]\nurl = " URL "/named\n");
        Strv tf = { .items = files, .n = 1 }, errors = {};
        const Check *k = NULL;
        Resolver *r = NULL;

        ASSERT(d);
        ASSERT_EQ(resolver_new(&r), 0);
        snprintf(path, sizeof(path), "%s/backup.timer", d);

        write_file(path, "[Timer]\nOnCalendar=daily\n[X-Timerbeat]\nurl = ftp://nope/\n");
        ASSERT_EQ(resolver_update(r, c, "backup.timer", &tf, NULL, &k, &errors), 0);
        ASSERT(!k);
        ASSERT(!resolver_lookup(r, c, "backup.timer"));
        ASSERT_EQ(errors.n, 1);
        ASSERT_CONTAINS(errors.items[0], "backup.timer:4:");
        strv_done(&errors);

        write_file(path, "[Timer]\nOnCalendar=daily\n[X-Timerbeat]\nurl = " URL "/annotated\n");
        ASSERT_EQ(resolver_update(r, c, "backup.timer", &tf, NULL, &k, &errors), 0);
        ASSERT(k && k->origin == CHECK_FROM_ANNOTATION);
        ASSERT_CONTAINS(k->url, "/annotated");

        /* Without an annotation: the pattern. */
        write_file(path, "[Timer]\nOnCalendar=daily\n");
        ASSERT_EQ(resolver_update(r, c, "backup.timer", &tf, NULL, &k, &errors), 0);
        ASSERT(k && k->pattern);

        /* A conf section wins, even over an invalid annotation. */
        write_file(path, "[X-Timerbeat]\nurl = ftp://nope/\n");
        ASSERT_EQ(resolver_update(r, c, "named.timer", &tf, NULL, &k, &errors), 0);
        ASSERT(k && !k->pattern && k->origin == CHECK_FROM_CONFIG);
        ASSERT_EQ(errors.n, 0);

        resolver_free(r);
        config_free(c);
        ASSERT(unlink(path) == 0 && rmdir(d) == 0);
}

/* The signature changes with what the log says (origin, where) and with the URL, not otherwise;
 * check_where() is what check, list and the daemon show. */
static void test_signature_and_where(void) {
        Config *a = parse("[a.timer]\nurl = " URL "/a\n");
        Config *same = parse("[a.timer]\nurl = " URL "/a\n");
        Config *url = parse("[a.timer]\nurl = " URL "/b\n");
        Config *moved = parse("\n[a.timer]\nurl = " URL "/a\n");
        Config *pattern = parse("[a*.timer]\nurl = " URL "/a\n");
        char *sa = check_signature(config_find_check(a, "a.timer"));
        char *ss = check_signature(config_find_check(same, "a.timer"));
        char *su = check_signature(config_find_check(url, "a.timer"));
        char *sm = check_signature(config_find_check(moved, "a.timer"));
        char *sp = check_signature(config_match(pattern, "a.timer"));
        const char *file;
        unsigned line;

        ASSERT_STREQ(sa, ss);
        ASSERT(strcmp(sa, su) != 0);
        ASSERT(strcmp(sa, sm) != 0);
        ASSERT(strcmp(sa, sp) != 0);
        check_where(config_find_check(moved, "a.timer"), &file, &line);
        ASSERT_STREQ(file, "/etc/x.conf");
        ASSERT_EQ(line, 3); /* the url= line */
        free(sa), free(ss), free(su), free(sm), free(sp);
        config_free(a), config_free(same), config_free(url), config_free(moved), config_free(pattern);
}

static void test_eligible(void) {
        static const struct {
                const char *active, *file;
                bool eligible;
        } table[] = {
                { "active", "enabled", true },      { "active", "disabled", true },
                { "active", "static", true },       { "inactive", "enabled", true },
                { "inactive", "enabled-runtime", true }, { "inactive", "disabled", false },
                { "inactive", "static", false },    { "failed", "disabled", false },
                { NULL, NULL, false },              { "inactive", NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT(unit_timer_is_eligible(table[i].active, table[i].file) == table[i].eligible);
}

/* found, timer ActiveState, UnitFileState, failed condition, Unit=, service ActiveState, SubState,
 * the service's failed condition */
#define IN(f, ta, tf, tc, u, sa, ss, sc)                                                                \
        {                                                                                                 \
                .timer_found = f, .timer_active = ta, .timer_file = tf, .timer_condition = tc, .target = u, \
                .service_active = sa, .service_sub = ss, .service_condition = sc, .service_start = 0       \
        }

static void test_state(void) {
        static const struct {
                UnitStateInput in;
                UnitState state;
                const char *text;
        } table[] = {
                { IN(false, NULL, NULL, NULL, NULL, NULL, NULL, NULL), UNIT_STATE_NOT_FOUND, "not found" },
                { IN(true, "active", "enabled", "", "backup.target", NULL, NULL, NULL), UNIT_STATE_NOT_SERVICE,
                  "not a service: backup.target" },
                { IN(true, "active", "enabled", "", NULL, NULL, NULL, NULL), UNIT_STATE_NOT_SERVICE,
                  "not a service: (none)" },
                { IN(true, "active", "enabled", "", "b.service", "activating", "start", ""), UNIT_STATE_RUNNING,
                  "running" },
                { IN(true, "active", "enabled", "", "b.service", "active", "running", ""), UNIT_STATE_RUNNING,
                  "running" },
                { IN(true, "active", "enabled", "", "b.service", "active", "exited", ""), UNIT_STATE_OK, "waiting" },
                { IN(true, "inactive", "enabled", "ConditionVirtualization=!container", "fstrim.service", "inactive",
                     "dead", ""),
                  UNIT_STATE_SKIPPED, "skipped: ConditionVirtualization=!container" },
                { IN(true, "active", "enabled", "", "e2scrub_all.service", "inactive", "dead",
                     "ConditionCapability=CAP_SYS_RAWIO"),
                  UNIT_STATE_SKIPPED, "skipped: ConditionCapability=CAP_SYS_RAWIO" },
                { IN(true, "inactive", "enabled", "", "b.service", "inactive", "dead", ""), UNIT_STATE_INACTIVE,
                  "inactive" },
                { IN(true, "inactive", "disabled", "", "b.service", "inactive", "dead", ""), UNIT_STATE_NOT_ENABLED,
                  "inactive, not enabled" },
                { IN(true, "active", "disabled", "", "b.service", "inactive", "dead", ""), UNIT_STATE_OK, "waiting" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char buf[200];

                ASSERT_EQ(unit_state(&table[i].in, buf, sizeof(buf)), table[i].state);
                ASSERT_STREQ(buf, table[i].text);
                ASSERT(unit_state_is_problem(table[i].state) ==
                       (table[i].state != UNIT_STATE_OK && table[i].state != UNIT_STATE_RUNNING));
        }
}

static void test_next_elapse(void) {
        const usec_t rt = 1700000000 * USEC_PER_SEC, mono = 1000 * USEC_PER_SEC;

        ASSERT_EQ(unit_next_elapse(0, 0, rt, mono), USEC_INFINITY);
        ASSERT_EQ(unit_next_elapse(USEC_INFINITY, USEC_INFINITY, rt, mono), USEC_INFINITY);
        ASSERT_EQ(unit_next_elapse(rt + 5, 0, rt, mono), rt + 5);
        /* OnActiveSec= timers have only a monotonic elapse: in 60 s. */
        ASSERT_EQ(unit_next_elapse(0, mono + 60 * USEC_PER_SEC, rt, mono), rt + 60 * USEC_PER_SEC);
        /* Both: the earlier. */
        ASSERT_EQ(unit_next_elapse(rt + 10, mono + 5, rt, mono), rt + 5);
        ASSERT_EQ(unit_next_elapse(rt + 10, mono + 50, rt, mono), rt + 10);
        /* Overdue: now. */
        ASSERT_EQ(unit_next_elapse(0, mono - 5, rt, mono), rt);
}

int main(void) {
        test_invalid_annotation_ignores_unit();
        test_signature_and_where();
        test_eligible();
        test_state();
        test_next_elapse();
        return 0;
}
