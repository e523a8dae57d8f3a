/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"
#include "util.h"

static void test_url_mask(void) {
        static const struct {
                const char *url, *masked;
        } table[] = {
                /* healthchecks: uuid, with a run id, with an event, slug (the slug identifies the
                 * check and is not secret); the query never ends the masked URL. */
                { "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5", "https://hc-ping.com/…a4b5" },
                { "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5?rid=", "https://hc-ping.com/…a4b5?…" },
                { "http://127.0.0.1:8000/ping/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5/start?rid=01234567-89ab-cdef",
                  "http://127.0.0.1:8000/ping/…a4b5/start?…" },
                { "https://hc-ping.com/fqOOd6-F4MMNuCEnzTU01w/nightly-backup",
                  "https://hc-ping.com/…U01w/nightly-backup" },
                { "https://hc-ping.com/0123456789abcdefghijkl/db-2/log?create=1",
                  "https://hc-ping.com/…ijkl/db-2/log?…" },
                /* cronitor: the API key; the monitor key stays */
                { "https://cronitor.link/p/0123456789abcdef0123456789abcdef/report?state=run",
                  "https://cronitor.link/p/…cdef/report?…" },
                { "https://ping.checklyhq.com/87c05896-3b7d-49ae-83ff-5e81323a54c4",
                  "https://ping.checklyhq.com/…54c4" },
                { "https://kuma.example.com/api/push/0123456789AbCd?status=up&msg=m&ping=1",
                  "https://kuma.example.com/api/push/…AbCd?…" },
                /* deadmanssnitch: 10 characters, too short to show four of them */
                { "https://nosnch.in/c2354d53d2?m=0123456789", "https://nosnch.in/…53d2?…" },
                { "https://uptime.betterstack.com/api/v1/heartbeat/0123456789abcdefWXYZ/1",
                  "https://uptime.betterstack.com/api/v1/heartbeat/…WXYZ/1" },
                { "https://o0.ingest.sentry.io/api/0/cron/backup/0123456789abcdef0123456789abcdef/?status=ok",
                  "https://o0.ingest.sentry.io/api/0/cron/backup/…cdef/?…" },
                { "https://cronhub.io/finish/1f5e3410-1b5a-11ec-9621-0123456789ab",
                  "https://cronhub.io/finish/…89ab" },
                /* generic, the token in the query */
                { "https://example.com/hook?token=0123456789abcdef", "https://example.com/hook?token=…cdef" },
                { "https://example.com?token=0123456789abcdef", "https://example.com/?token=…cdef" },
                { "https://example.com/hook?unit=backup&t=0123456789abcdef&x=1",
                  "https://example.com/hook?…&t=…cdef&…" },
                { "https://example.com/hook?key=short", "https://example.com/hook?key=…" },
                { "https://user:pa55@hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b", "https://hc-ping.com/…8a9b" },
                /* nothing key-like: the last segment is hidden anyway */
                { "http://127.0.0.1:8000/ping/abcdefghijkl?x=1", "http://127.0.0.1:8000/ping/…ijkl?…" },
                { "https://example.com/short", "https://example.com/…" },
                { "https://example.com/hook?x=1#0123456789", "https://example.com/…?…" },
                { "https://example.com", "https://example.com/…" },
                { "https://example.com/", "https://example.com/…" },
                { "https://example.com/a//b/", "https://example.com/a//…/" },
                { "no-scheme-here", "(unparsable URL of 14 characters)" },
                { "https://ho\nst/0123456789abcdef", "(unparsable URL of 30 characters)" },
                /* No way to tell host from secret: nothing of it is shown. */
                { "https://hc-ping.com 0123456789abcdef", "(unparsable URL of 36 characters)" },
                { "https://user:0123456789abcdef host/x", "(unparsable URL of 36 characters)" },
                { "https://hc-ping.com\\0123456789abcdef", "(unparsable URL of 36 characters)" },
                /* Control characters never reach a log line. */
                { "https://h/ping/0123456789abcd\x1b[2J", "https://h/ping/…?[2J" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *m = url_mask(table[i].url);
                ASSERT_STREQ(m, table[i].masked);
                /* The secret part never survives whole. */
                ASSERT(!strstr(m, "0123456789"));
        }
}

static void test_timespan(void) {
        static const struct {
                const char *s;
                int r;
                usec_t v;
        } table[] = {
                { "30s", 0, 30 * USEC_PER_SEC },
                { "30", 0, 30 * USEC_PER_SEC },
                { "500ms", 0, 500 * USEC_PER_MSEC },
                { "5min", 0, 5 * USEC_PER_MINUTE },
                { "1h 30min", 0, 90 * USEC_PER_MINUTE },
                { "1d", 0, USEC_PER_DAY },
                { " 2s ", 0, 2 * USEC_PER_SEC },
                { "", -EINVAL, 0 },
                { "abc", -EINVAL, 0 },
                { "5 parsecs", -EINVAL, 0 },
                { "-5s", -EINVAL, 0 },
                { "99999999999999999999", -ERANGE, 0 },
                { "99999999999999d", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                usec_t v = 0;
                int r = parse_timespan(table[i].s, &v);

                ASSERT_EQ(r, table[i].r);
                if (r == 0)
                        ASSERT_EQ(v, table[i].v);
        }

        char buf[32];
        ASSERT_STREQ(format_timespan(buf, sizeof(buf), 5 * USEC_PER_MINUTE), "5min");
        ASSERT_STREQ(format_timespan(buf, sizeof(buf), 250 * USEC_PER_MSEC), "250ms");
        ASSERT_STREQ(format_timespan(buf, sizeof(buf), 0), "0s");
}

static void test_unit_names(void) {
        static const struct {
                const char *name;
                bool valid;
        } table[] = {
                { "backup.timer", true },
                { "backup.service", true },
                { "db@main.service", true },
                { "foo-bar_baz:1.timer", true },
                { "backup.socket", false },
                { "backup", false },
                { ".timer", false },
                { "db@.service", false },
                { "a@b@c.service", false },
                { "../etc/passwd.service", false },
                { "a/b.timer", false },
                { "a b.timer", false },
                { "*.timer", false },
                { "caf\xc3\xa9.timer", false },
                { "", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (unit_name_is_valid(table[i].name) != table[i].valid)
                        fprintf(stderr, "unit name: %s\n", table[i].name);
                ASSERT(unit_name_is_valid(table[i].name) == table[i].valid);
        }
}

static void test_dbus_path(void) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        ASSERT_EQ(unit_dbus_path("backup.service", &a), 0);
        ASSERT_STREQ(a, "/org/freedesktop/systemd1/unit/backup_2eservice");
        ASSERT_EQ(unit_dbus_path("1db@x-y.timer", &b), 0);
        ASSERT_STREQ(b, "/org/freedesktop/systemd1/unit/_31db_40x_2dy_2etimer");
}

static void test_parsers(void) {
        unsigned u;

        ASSERT_EQ(parse_boolean("yes"), 1);
        ASSERT_EQ(parse_boolean("off"), 0);
        ASSERT_EQ(parse_boolean("maybe"), -EINVAL);
        ASSERT_EQ(parse_unsigned("5", 0, 10, &u), 0);
        ASSERT_EQ(u, 5);
        ASSERT_EQ(parse_unsigned("11", 0, 10, &u), -ERANGE);
        ASSERT_EQ(parse_unsigned("1x", 0, 10, &u), -EINVAL);
        ASSERT_EQ(parse_unsigned("-1", 0, 10, &u), -EINVAL);
}

int main(void) {
        test_url_mask();
        test_timespan();
        test_unit_names();
        test_dbus_path();
        test_parsers();
        return 0;
}
