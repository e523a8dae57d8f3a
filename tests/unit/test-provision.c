/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* timerbeat sync's pure part: a timer → the check healthchecks should have, the comparison
 * with the check it has, the request body, the answers read, and the state directory's
 * mapping. */
#include <time.h>

#include "provision.h"
#include "tests.h"

#define S(x) ((usec_t) (x) * USEC_PER_SEC)

static void test_desired(void) {
        static const char *const daily[] = { "*-*-* 00:00:00" };
        static const char *const zoned[] = { "Mon..Fri *-*-* 09:00:00 Europe/Berlin" };
        static const char *const two[] = { "Mon *-*-* 09:00:00", "Fri *-*-* 17:00:00 UTC" };
        static const char *const long_one[] = { "Mon,Tue,Wed,Thu,Fri *-*-* 00,01,02,03,04,05,06,07,08,09,10,11,12,13,"
                                                "14,15,16,17,18,19,20,21,22,23:00,30:00" };
        static const TimerTrigger active[] = { { "OnBootUSec", S(300) }, { "OnUnitActiveUSec", S(7200) } };
        static const TimerTrigger boot[] = { { "OnBootUSec", S(900) }, { "OnStartupUSec", S(600) } };
        static const TimerTrigger short_one[] = { { "OnUnitInactiveUSec", S(10) } };
        static const struct {
                TimerInfo t;
                Provision p;
                int r;
                const char *schedule, *tz;
                unsigned timeout, grace;
                const char *slug, *tags, *note;
        } table[] = {
                /* OnCalendar=daily, RandomizedDelaySec=10min, AccuracySec=1min, ran 30 s:
                 * 600 + 60 + 2 × 30 = 720 s = 12 min. */
                { { .calendars = daily, .n_calendars = 1, .randomized_delay = S(600), .accuracy = S(60),
                    .runtime = S(30) },
                  {}, 0, "*-*-* 00:00:00", "Europe/Riga", 0, 720, "backup", "timerbeat web1", NULL },
                /* Rounded up to whole minutes, at least 60 s. */
                { { .calendars = daily, .n_calendars = 1, .accuracy = S(1) }, {}, 0, "*-*-* 00:00:00",
                  "Europe/Riga", 0, 60, NULL, NULL, NULL },
                { { .calendars = daily, .n_calendars = 1, .accuracy = S(60), .runtime = 1 }, {}, 0, "*-*-* 00:00:00",
                  "Europe/Riga", 0, 120, NULL, NULL, NULL },
                /* The expression's own zone becomes tz. */
                { { .calendars = zoned, .n_calendars = 1 }, {}, 0, "Mon..Fri *-*-* 09:00:00", "Europe/Berlin", 0, 60, NULL, NULL, NULL },
                /* Several expressions: one per line, their zones inline, the host's as tz. */
                { { .calendars = two, .n_calendars = 2 }, {}, 0, "Mon *-*-* 09:00:00\nFri *-*-* 17:00:00 UTC",
                  "Europe/Riga", 0, 60, NULL, NULL, NULL },
                { { .calendars = long_one, .n_calendars = 1 }, {}, -E2BIG, NULL, NULL, 0, 0, NULL, NULL, NULL },
                { {}, {}, -EINVAL, NULL, NULL, 0, 0, NULL, NULL, NULL },
                /* Monotonic: the repeating trigger's period; once-per-boot ones say so. */
                { { .monotonic = active, .n_monotonic = 2 }, {}, 0, NULL, NULL, 7200, 60, NULL, NULL, NULL },
                { { .monotonic = boot, .n_monotonic = 2 }, {}, 0, NULL, NULL, 600, 60, NULL, NULL,
                  "only once-per-boot" },
                { { .monotonic = short_one, .n_monotonic = 1 }, {}, 0, NULL, NULL, 60, 60, NULL, NULL, NULL },
                /* Both kinds: the calendar, with a note. */
                { { .calendars = daily, .n_calendars = 1, .monotonic = active, .n_monotonic = 2 }, {}, 0,
                  "*-*-* 00:00:00", "Europe/Riga", 0, 60, NULL, NULL, "monotonic triggers are not monitored" },
                /* grace=, slug=, tags= */
                { { .calendars = daily, .n_calendars = 1, .randomized_delay = S(600) },
                  { .grace = S(90), .slug = "{hostname}_{unit}", .tags = "prod  web1,db" }, 0, "*-*-* 00:00:00",
                  "Europe/Riga", 0, 90, "web1_backup-timer", "timerbeat web1 prod db", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                TimerInfo t = table[i].t;
                DesiredCheck d = {};
                char *error = NULL;
                int r;

                t.unit = "backup.timer";
                t.hostname = "web1";
                t.host_tz = "Europe/Riga";
                t.description = "Nightly backup";
                r = provision_desired(&t, &table[i].p, &d, &error);
                if (r != table[i].r)
                        fprintf(stderr, "case %zu: %d\n", i, r);
                ASSERT_EQ(r, table[i].r);
                if (r < 0) {
                        ASSERT(error && strstr(error, "; "));
                        free(error);
                        continue;
                }
                ASSERT(!error);
                ASSERT_STREQ(d.name, "backup.timer");
                ASSERT_STREQ(d.desc, "Nightly backup on web1");
                if (table[i].schedule) {
                        ASSERT_STREQ(d.schedule, table[i].schedule);
                        ASSERT_STREQ(d.tz, table[i].tz);
                } else
                        ASSERT(!d.schedule);
                ASSERT_EQ(d.timeout, table[i].timeout);
                if (d.grace != table[i].grace)
                        fprintf(stderr, "case %zu: grace %u\n", i, d.grace);
                ASSERT_EQ(d.grace, table[i].grace);
                if (table[i].slug)
                        ASSERT_STREQ(d.slug, table[i].slug);
                if (table[i].tags)
                        ASSERT_STREQ(d.tags, table[i].tags);
                if (table[i].note)
                        ASSERT_CONTAINS(d.note, table[i].note);
                else
                        ASSERT(!d.note);
                desired_check_done(&d);
        }
}

static void test_slug_and_tz(void) {
        static const struct {
                const char *template, *unit, *slug;
        } slugs[] = {
                { "{unit_prefix}", "backup.timer", "backup" },
                { "{unit_prefix}", "db@Main:1.timer", "db-main-1" },
                { "{hostname}-{unit_prefix}", "x.timer", "web1-x" },
                { "{unit}", "a.b.timer", "a-b-timer" },
                { "static_Slug", "x.timer", "static_slug" },
        };
        static const struct {
                const char *expr, *head, *tz;
        } tzs[] = {
                { "*-*-* 00:00:00", NULL, NULL },
                { "Mon..Fri *-*-* 09:00:00 Europe/Berlin", "Mon..Fri *-*-* 09:00:00", "Europe/Berlin" },
                { "*-*-* 00:00:00 UTC", "*-*-* 00:00:00", "UTC" },
                { "*-*-* 00:00:00 America/Port-au-Prince", "*-*-* 00:00:00", "America/Port-au-Prince" },
                { "Sat *-*-* 10:00:00", NULL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(slugs); i++) {
                char *s = NULL;

                ASSERT_EQ(provision_slug(slugs[i].template, slugs[i].unit, "web1", &s), 0);
                ASSERT_STREQ(s, slugs[i].slug);
                free(s);
        }
        for (size_t i = 0; i < ELEMENTSOF(tzs); i++) {
                char *head = NULL, *tz = NULL;
                int r = calendar_split_tz(tzs[i].expr, &head, &tz);

                ASSERT_EQ(r, tzs[i].tz ? 1 : 0);
                if (tzs[i].tz) {
                        ASSERT_STREQ(head, tzs[i].head);
                        ASSERT_STREQ(tz, tzs[i].tz);
                }
                free(head);
                free(tz);
        }
        /* systemd's "infinity" does not overflow. */
        ASSERT_EQ(provision_grace(USEC_INFINITY, USEC_INFINITY, USEC_INFINITY), PROVISION_TIMEOUT_MAX);
}

static void test_compare(void) {
        DesiredCheck d = { .name = (char *) "b.timer", .slug = (char *) "b", .desc = (char *) "B on h",
                           .tags = (char *) "timerbeat h", .schedule = (char *) "*-*-* 00:00:00",
                           .tz = (char *) "UTC", .grace = 60 };
        DesiredCheck simple = { .name = (char *) "b.timer", .slug = (char *) "b", .desc = (char *) "B on h",
                                .tags = (char *) "timerbeat h", .timeout = 3600, .grace = 60 };
        ExistingCheck same = { .name = (char *) "b.timer", .slug = (char *) "b", .desc = (char *) "B on h",
                               .tags = (char *) "timerbeat h", .schedule = (char *) "*-*-* 00:00:00",
                               .tz = (char *) "UTC", .grace = 60 };
        ExistingCheck e;
        static const struct {
                const char *slug, *tz, *schedule;
                unsigned grace, timeout;
                bool simple;
                SyncAction action;
                const char *changed;
        } table[] = {
                { "b", "UTC", "*-*-* 00:00:00", 60, 0, false, SYNC_UNCHANGED, NULL },
                { "b", "UTC", "*-*-* 00:00:00", 120, 0, false, SYNC_UPDATE, "grace" },
                { "c", "Europe/Riga", "*-*-* 00:00:00", 60, 0, false, SYNC_UPDATE, "slug, tz" },
                { "b", "UTC", "*-*-* 01:00:00", 60, 0, false, SYNC_UPDATE, "schedule" },
                { "b", "UTC", NULL, 60, 3600, false, SYNC_UPDATE, "schedule" },   /* simple → calendar */
                { "b", "UTC", "*-*-* 00:00:00", 60, 0, true, SYNC_UPDATE, "timeout" }, /* calendar → simple */
                { "b", NULL, NULL, 60, 3600, true, SYNC_UNCHANGED, NULL },
                { "b", NULL, NULL, 60, 7200, true, SYNC_UPDATE, "timeout" },
        };
        char *changed = NULL;

        ASSERT_EQ(provision_compare(&d, NULL, &changed), SYNC_CREATE);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                e = same;
                e.slug = (char *) table[i].slug;
                e.tz = (char *) table[i].tz;
                e.schedule = (char *) table[i].schedule;
                e.grace = table[i].grace;
                e.timeout = table[i].timeout;
                ASSERT_EQ(provision_compare(table[i].simple ? &simple : &d, &e, &changed), table[i].action);
                if (table[i].changed)
                        ASSERT_STREQ(changed, table[i].changed);
                else
                        ASSERT(!changed);
                free(changed);
        }
        e = same;
        ASSERT(provision_is_ours(&e, "h"));
        ASSERT(!provision_is_ours(&e, "other"));
        e.tags = (char *) "timerbeatx h";
        ASSERT(!provision_is_ours(&e, "h"));
        e.tags = NULL;
        ASSERT(!provision_is_ours(&e, "h"));
}

static void test_body_and_answers(void) {
        DesiredCheck d = { .name = (char *) "b.timer", .slug = (char *) "b", .desc = (char *) "Say \"hi\" on h",
                           .tags = (char *) "timerbeat h", .schedule = (char *) "Mon *-*-* 09:00:00\nFri *-*-* 17:00:00",
                           .tz = (char *) "UTC", .grace = 120 };
        DesiredCheck simple = { .name = (char *) "m.timer", .slug = (char *) "m", .desc = (char *) "M",
                                .tags = (char *) "timerbeat h", .timeout = 7200, .grace = 60 };
        const char *list = "{\"checks\": [{\"name\": \"b.timer\", \"slug\": \"b\", \"tags\": \"timerbeat h\", "
                           "\"desc\": \"\\u00e9t\\u00e9\", \"grace\": 120, \"n_pings\": 3, \"uuid\": \"u-1\", "
                           "\"ping_url\": \"http://x/ping/u-1\", \"schedule\": \"*-*-* 00:00:00\", \"tz\": \"UTC\", "
                           "\"manual_resume\": false, \"last_ping\": null}, {\"name\": \"m\", \"timeout\": 3600}]}";
        const char *answer = "{\"name\": \"a\", \"uuid\": \"u\"}";
        ExistingCheck *checks = NULL, one = {};
        char *body = NULL, *err;
        size_t n = 0;

        ASSERT_EQ(provision_request_body(&d, &body), 0);
        ASSERT_STREQ(body, "{\"name\":\"b.timer\",\"slug\":\"b\",\"desc\":\"Say \\\"hi\\\" on h\",\"tags\":\"timerbeat "
                           "h\",\"schedule\":\"Mon *-*-* 09:00:00\\nFri *-*-* 17:00:00\",\"tz\":\"UTC\",\"grace\":120}");
        free(body);
        ASSERT_EQ(provision_request_body(&simple, &body), 0);
        ASSERT_STREQ(body, "{\"name\":\"m.timer\",\"slug\":\"m\",\"desc\":\"M\",\"tags\":\"timerbeat h\","
                           "\"timeout\":7200,\"grace\":60}");
        free(body);

        ASSERT_EQ(provision_parse_checks(list, strlen(list), &checks, &n), 0);
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(checks[0].desc, "\xc3\xa9t\xc3\xa9");
        ASSERT_STREQ(checks[0].ping_url, "http://x/ping/u-1");
        ASSERT_EQ(checks[0].grace, 120);
        ASSERT_EQ(checks[0].n_pings, 3);
        ASSERT(!checks[1].schedule && checks[1].timeout == 3600);
        for (size_t i = 0; i < n; i++)
                existing_check_done(&checks[i]);
        free(checks);

        static const char *const bad[] = { "", "[]", "{\"checks\": {}}", "{\"checks\": [1]}", "<html>",
                                           "{\"checks\": [{\"name\": \"x\"}]} x" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_EQ(provision_parse_checks(bad[i], strlen(bad[i]), &checks, &n), -EBADMSG);
        ASSERT_EQ(provision_parse_check(answer, strlen(answer), &one), 0);
        ASSERT_STREQ(one.uuid, "u");
        existing_check_done(&one);

        err = provision_parse_error("{\"error\": \"wrong api key\"}", 26);
        ASSERT_STREQ(err, "wrong api key");
        free(err);
        ASSERT(!provision_parse_error("Forbidden", 9));
}

static void test_map(void) {
        ProvisionedUnit *u = NULL;
        char *text = NULL;
        size_t n = 0;

        ASSERT_EQ(provision_map_parse("a.timer\tu1\thttp://x/ping/u1\ntorn line\nb.timer\tu2\thttp://x/ping/u2", &u,
                                      &n),
                  0);
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(u[1].unit, "b.timer");
        ASSERT_STREQ(u[1].ping_url, "http://x/ping/u2");
        ASSERT_EQ(provision_map_format(u, n, &text), 0);
        ASSERT_STREQ(text, "a.timer\tu1\thttp://x/ping/u1\nb.timer\tu2\thttp://x/ping/u2\n");
        free(text);
        provision_map_free(u, n);
        ASSERT_EQ(provision_map_parse("", &u, &n), 0);
        ASSERT_EQ(n, 0);
        provision_map_free(u, n);
}

/* The state directory's per-unit results of the last sync, and what list says of them. */
static void test_results(void) {
        SyncResults r = {};
        char *text = NULL, *d = NULL;
        const usec_t t = 1700000000ULL * USEC_PER_SEC; /* 2023-11-14 22:13:20 UTC */

        setenv("TZ", "UTC", 1);
        tzset();
        ASSERT_EQ(sync_results_set(&r, "daily.timer", true, t, "daily"), 0);
        ASSERT_EQ(sync_results_set(&r, "mono.timer", false, t, "GET http://x/api/v3/checks/:\tFailed\nto connect"), 0);
        ASSERT_EQ(sync_results_set(&r, "daily.timer", false, t + USEC_PER_SEC, "HTTP 401 (wrong api key)"), 0);
        ASSERT_EQ(r.n, 2);
        r.retry = t + 60 * USEC_PER_SEC;
        ASSERT_EQ(sync_results_format(&r, &text), 0);
        ASSERT_STREQ(text, "retry\t1700000060000000\n"
                           "failed\tdaily.timer\t1700000001000000\tHTTP 401 (wrong api key)\n"
                           "failed\tmono.timer\t1700000000000000\tGET http://x/api/v3/checks/: Failed to connect\n");
        sync_results_done(&r);

        /* Read back, with a torn last line, foreign lines and a bad unit name skipped. */
        char *torn = NULL;
        ASSERT(asprintf(&torn, "%sok\tweekly.timer\t1700000000000000\tweekly\nbogus\nok\t../x\t1\ty\n"
                               "ok\tnum.timer\tabc\tz\nok\tcut.timer\t17",
                        text) > 0);
        ASSERT_EQ(sync_results_parse(torn, &r), 0);
        ASSERT_EQ(r.n, 3);
        ASSERT_EQ(r.retry, t + 60 * USEC_PER_SEC);
        ASSERT(!sync_results_find(&r, "daily.timer")->ok);
        ASSERT_STREQ(sync_results_find(&r, "weekly.timer")->text, "weekly");
        ASSERT(sync_results_find(&r, "weekly.timer")->ok);
        ASSERT(!sync_results_find(&r, "cut.timer") && !sync_results_find(&r, "num.timer"));
        sync_results_remove(&r, "daily.timer");
        sync_results_remove(&r, "gone.timer");
        ASSERT_EQ(r.n, 2);
        ASSERT_STREQ(r.items[0].unit, "mono.timer");
        ASSERT_STREQ(r.items[1].unit, "weekly.timer");

        /* What list says. */
        static const struct {
                const char *unit; /* NULL: no result yet */
                usec_t retry, now;
                const char *text;
        } table[] = {
                { "weekly.timer", 0, t, "provisioned as weekly (synced 2023-11-14 22:13:20)" },
                { "mono.timer", 0, t,
                  "sync failed 2023-11-14 22:13:20: GET http://x/api/v3/checks/: Failed to connect" },
                { "mono.timer", t + 60 * USEC_PER_SEC, t,
                  "sync failed 2023-11-14 22:13:20: GET http://x/api/v3/checks/: Failed to connect (retry at "
                  "2023-11-14 22:14:20)" },
                /* a retry time in the past: the daemon is not running (or is late), not said */
                { "mono.timer", t - USEC_PER_SEC, t,
                  "sync failed 2023-11-14 22:13:20: GET http://x/api/v3/checks/: Failed to connect" },
                { NULL, 0, t, "not provisioned yet" },
                { NULL, t + USEC_PER_SEC, t, "not provisioned yet (sync at 2023-11-14 22:13:21)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                ASSERT_EQ(sync_result_describe(table[i].unit ? sync_results_find(&r, table[i].unit) : NULL,
                                               table[i].retry, table[i].now, &d),
                          0);
                ASSERT_STREQ(d, table[i].text);
                free(d);
        }
        sync_results_done(&r);
        ASSERT_EQ(r.n, 0);
        free(torn);
        free(text);
}

int main(void) {
        test_results();
        test_desired();
        test_slug_and_tz();
        test_compare();
        test_body_and_answers();
        test_map();
        return 0;
}
