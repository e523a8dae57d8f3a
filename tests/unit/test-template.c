/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The URL template engine, the exit-code mapping and UTF-8 trimming, as tables. */
#include <sys/wait.h>

#include "journal.h"
#include "preset.h"
#include "template.h"
#include "tests.h"

static const TemplateVars vars = {
        .unit = "db@x:1\\x2d.timer",
        .hostname = "host a",
        .url = "https://hc-ping.com/KEY/slug?x=1",
        .rid = "0123456789abcdef0123456789abcdef",
        .result = "exit-code",
        .message = "caf\xc3\xa9 & more",
        .exit_code = 3,
        .duration = 1234567,
};

static void test_expand(void) {
        static const struct {
                const char *tmpl, *out;
        } table[] = {
                { "{url}", "https://hc-ping.com/KEY/slug?x=1" }, /* raw, not encoded */
                { "{unit}", "db%40x%3A1%5Cx2d.timer" },
                { "{unit_prefix}", "db%40x%3A1%5Cx2d" },
                { "{hostname}", "host%20a" },
                { "{rid}", "01234567-89ab-cdef-0123-456789abcdef" },
                { "{rid_hex}", "0123456789abcdef0123456789abcdef" },
                { "{exit_code}/{result}", "3/exit-code" },
                { "{duration_s} {duration_ms}", "1.235 1234" },
                { "{message}", "caf%C3%A9%20%26%20more" },
                { "{message:4}", "caf" }, /* the cap does not cut "é" in half */
                { "{message:5}", "caf%C3%A9" },
                { "{url_origin}", "https://hc-ping.com" },
                { "{url_last}", "slug" },
                { "{{literal}}", "{literal}" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *out = NULL;

                ASSERT_EQ(template_expand(table[i].tmpl, &vars, &out), 0);
                ASSERT_STREQ(out, table[i].out);
        }
}

static void test_validate(void) {
        static const struct {
                const char *tmpl;
                int r;
                const char *bad;
        } table[] = {
                { "https://x/{unit}", 0, NULL },
                { "https://x/{message:256}", 0, NULL },
                { "https://x/{nope}", -EINVAL, "nope" },
                { "https://x/{unit:}", -EINVAL, "unit:" },
                { "https://x/{unit:0}", -EINVAL, "unit:0" },
                { "https://x/{unit:x}", -EINVAL, "unit:x" },
                { "https://x/{unit", -EINVAL, NULL },
                { "https://x/unit}", -EINVAL, NULL },
                { "https://x/{{unit}}", 0, NULL },
                { "https://x/{{{unit}}}", 0, NULL },
                /* A "loop" is impossible: values are never expanded again. */
                { "https://x/{message}", 0, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *reason;
                char *bad = NULL;

                ASSERT_EQ(template_validate(table[i].tmpl, &reason, &bad), table[i].r);
                if (table[i].bad)
                        ASSERT_STREQ(bad, table[i].bad);
                free(bad);
        }

        /* A value that looks like a placeholder stays what it is. */
        TemplateVars v = vars;
        _cleanup_free_ char *out = NULL;
        v.message = "{unit}";
        ASSERT_EQ(template_expand("{message}", &v, &out), 0);
        ASSERT_STREQ(out, "%7Bunit%7D");
}

static void test_exit_codes(void) {
        static const struct {
                const char *result;
                int code, status, expect;
        } table[] = {
                { "success", CLD_EXITED, 0, 0 },
                { "success", CLD_EXITED, 75, 75 }, /* SuccessExitStatus=75 */
                { "exit-code", CLD_EXITED, 3, 3 },
                { "exit-code", CLD_EXITED, 255, 255 },
                { "signal", CLD_KILLED, 9, 137 },
                { "signal", CLD_KILLED, 15, 143 },
                { "core-dump", CLD_DUMPED, 11, 139 },
                { "timeout", CLD_KILLED, 15, 124 },
                { "timeout", 0, 0, 124 },
                { "watchdog", CLD_KILLED, 6, 125 },
                { "oom-kill", CLD_KILLED, 9, 137 },
                { "start-limit-hit", 0, 0, 250 },
                { "resources", CLD_EXITED, 203, 203 },
                { "resources", 0, 0, 251 },
                { "protocol", 0, 0, 1 },
                { NULL, 0, 0, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT_EQ(exit_code_from_run(table[i].result, table[i].code, table[i].status), table[i].expect);
}

static void test_utf8_tail(void) {
        static const struct {
                const char *in;
                size_t max;
                const char *out;
        } table[] = {
                { "hello", 10, "hello" },
                { "hello world", 5, "world" },
                { "\xc3\xa9\xc3\xa9\xc3\xa9", 5, "\xc3\xa9\xc3\xa9" }, /* never starts mid-character */
                { "ab\xff"
                  "cd",
                  10,
                  "ab\xef\xbf\xbd"
                  "cd" },                                                       /* invalid byte → U+FFFD */
                { "\xc0\xaf", 10, "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong */
                { "\xed\xa0\x80", 10, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
                { "", 10, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n;
                _cleanup_free_ char *out = utf8_tail(table[i].in, strlen(table[i].in), table[i].max, &n);

                ASSERT_STREQ(out, table[i].out);
                ASSERT(n <= table[i].max);
        }
}

static void test_url_fix_query(void) {
        char a[] = "https://x/p?a=1?rid=2?c", b[] = "https://x/p", c[] = "https://x/p?q";

        url_fix_query(a);
        url_fix_query(b);
        url_fix_query(c);
        ASSERT_STREQ(a, "https://x/p?a=1&rid=2&c");
        ASSERT_STREQ(b, "https://x/p");
        ASSERT_STREQ(c, "https://x/p?q");
}

static void test_presets(void) {
        const char *names[] = { "generic",        "healthchecks", "cronitor", "checkly", "uptime-kuma",
                                "deadmanssnitch", "betterstack",  "sentry",   "cronhub" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const Preset *p = preset_find(names[i]);

                ASSERT(p);
                ASSERT(p->templates[EVENT_SUCCESS]);
                for (Event e = 0; e < _EVENT_MAX; e++) {
                        const char *reason;
                        if (p->templates[e])
                                ASSERT_EQ(template_validate(p->templates[e], &reason, NULL), 0);
                }
        }
        ASSERT(!preset_find("nagios"));
        ASSERT(!preset_find("checkly")->templates[EVENT_FAILURE]);
}

static void test_empty_params(void) {
        static const struct {
                const char *tmpl, *out;
        } table[] = {
                { "{url}?rid={rid}", "https://x/p" },
                { "{url}?rid={rid}&a=1", "https://x/p?a=1" },
                { "{url}?a=1&rid={rid}", "https://x/p?a=1" },
                { "{url}?a=1&rid={rid}&b=2", "https://x/p?a=1&b=2" },
                { "{url}?r={rid}&s={rid_hex}&c=1", "https://x/p?c=1" },
                { "{url}?r={rid}{result}", "https://x/p" }, /* only placeholders, all empty */
                { "{url}?r={rid}{unit}", "https://x/p?r=u.timer" },
                { "{url}?r=x{rid}", "https://x/p?r=x" },      /* a literal part: kept */
                { "{url}?r=", "https://x/p?r=" },             /* no placeholder: the user's */
                { "{url}?{rid}&a=1", "https://x/p?a=1" },     /* no '=': the whole parameter */
                { "{url}?a={exit_code}", "https://x/p?a=0" }, /* 0 is a value */
                { "{url}/{rid}?a=1", "https://x/p/?a=1" },    /* the path is not touched */
                { "{url}?a=1#{rid}", "https://x/p?a=1#" },
                { "{{?r={rid}", "{" },
        };
        TemplateVars v = { .url = "https://x/p", .unit = "u.timer" };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *out = NULL;

                ASSERT_EQ(template_expand(table[i].tmpl, &v, &out), 0);
                ASSERT_STREQ(out, table[i].out);
        }

        /* The user's own query in {url} is never dropped, and the next parameter joins it. */
        v.url = "https://x/p?k=";
        _cleanup_free_ char *a = NULL, *b = NULL;
        ASSERT_EQ(template_expand("{url}?rid={rid}", &v, &a), 0);
        ASSERT_STREQ(a, "https://x/p?k=");
        ASSERT_EQ(template_expand("{url}&rid={rid}&u={unit}", &v, &b), 0);
        ASSERT_STREQ(b, "https://x/p?k=&u=u.timer");
}

/* Every preset and event, with a run and without one (a manual ping, a self-heartbeat, a run
 * whose InvocationID is unknown): never an empty run id, series or check-in id. */
static void test_preset_urls(void) {
        static const struct {
                const char *preset;
                Event event;
                const char *url, *with_rid, *without;
        } table[] = {
#define HC "https://hc.example/ping/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"
#define RID "01234567-89ab-cdef-0123-456789abcdef"
                { "generic", EVENT_SUCCESS, "https://x/p?t=1", "https://x/p?t=1", "https://x/p?t=1" },
                { "healthchecks", EVENT_SUCCESS, HC, HC "?rid=" RID, HC },
                { "healthchecks", EVENT_START, HC, HC "/start?rid=" RID, HC "/start" },
                { "healthchecks", EVENT_FAILURE, HC, HC "/3?rid=" RID, HC "/3" },
                { "healthchecks", EVENT_LOG, HC, HC "/log?rid=" RID, HC "/log" },
                { "healthchecks", EVENT_SUCCESS, "https://hc.example/ping/KEY/db?create=1",
                  "https://hc.example/ping/KEY/db?create=1&rid=" RID, "https://hc.example/ping/KEY/db?create=1" },
                { "cronitor", EVENT_SUCCESS, "https://cronitor.link/p/K/m",
                  "https://cronitor.link/p/K/m?state=complete&series=" RID
                  "&status_code=3&duration=1.235&host=h&message=m",
                  "https://cronitor.link/p/K/m?state=complete&status_code=3&duration=1.235&host=h&message=m" },
                { "cronitor", EVENT_START, "https://cronitor.link/p/K/m",
                  "https://cronitor.link/p/K/m?state=run&series=" RID "&host=h",
                  "https://cronitor.link/p/K/m?state=run&host=h" },
                { "cronitor", EVENT_FAILURE, "https://cronitor.link/p/K/m",
                  "https://cronitor.link/p/K/m?state=fail&series=" RID
                  "&status_code=3&duration=1.235&host=h&message=m",
                  "https://cronitor.link/p/K/m?state=fail&status_code=3&duration=1.235&host=h&message=m" },
                { "checkly", EVENT_SUCCESS, "https://ping.checklyhq.com/U", "https://ping.checklyhq.com/U",
                  "https://ping.checklyhq.com/U" },
                { "uptime-kuma", EVENT_SUCCESS, "https://k/api/push/T",
                  "https://k/api/push/T?status=up&msg=m&ping=1234",
                  "https://k/api/push/T?status=up&msg=m&ping=1234" },
                { "uptime-kuma", EVENT_FAILURE, "https://k/api/push/T",
                  "https://k/api/push/T?status=down&msg=m&ping=1234",
                  "https://k/api/push/T?status=down&msg=m&ping=1234" },
                { "deadmanssnitch", EVENT_SUCCESS, "https://nosnch.in/c2", "https://nosnch.in/c2?m=m",
                  "https://nosnch.in/c2?m=m" },
                { "deadmanssnitch", EVENT_FAILURE, "https://nosnch.in/c2", "https://nosnch.in/c2?s=3&m=m",
                  "https://nosnch.in/c2?s=3&m=m" },
                { "betterstack", EVENT_SUCCESS, "https://b/api/v1/heartbeat/T", "https://b/api/v1/heartbeat/T",
                  "https://b/api/v1/heartbeat/T" },
                { "betterstack", EVENT_FAILURE, "https://b/api/v1/heartbeat/T", "https://b/api/v1/heartbeat/T/3",
                  "https://b/api/v1/heartbeat/T/3" },
                { "sentry", EVENT_SUCCESS, "https://s/api/0/cron/b/K/",
                  "https://s/api/0/cron/b/K/?status=ok&check_in_id=" RID "&duration=1.235",
                  "https://s/api/0/cron/b/K/?status=ok&duration=1.235" },
                { "sentry", EVENT_START, "https://s/api/0/cron/b/K/",
                  "https://s/api/0/cron/b/K/?status=in_progress&check_in_id=" RID,
                  "https://s/api/0/cron/b/K/?status=in_progress" },
                { "sentry", EVENT_FAILURE, "https://s/api/0/cron/b/K/",
                  "https://s/api/0/cron/b/K/?status=error&check_in_id=" RID "&duration=1.235",
                  "https://s/api/0/cron/b/K/?status=error&duration=1.235" },
                { "cronhub", EVENT_SUCCESS, "https://cronhub.io/ping/U", "https://cronhub.io/finish/U",
                  "https://cronhub.io/finish/U" },
                { "cronhub", EVENT_START, "https://cronhub.io/ping/U", "https://cronhub.io/start/U",
                  "https://cronhub.io/start/U" },
                { "cronhub", EVENT_FAILURE, "https://cronhub.io/ping/U", "https://cronhub.io/fail/U",
                  "https://cronhub.io/fail/U" },
#undef HC
#undef RID
        };
        size_t covered = 0;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const Preset *p = preset_find(table[i].preset);
                TemplateVars v = { .unit = "u.timer",
                                   .hostname = "h",
                                   .url = table[i].url,
                                   .rid = "0123456789abcdef0123456789abcdef",
                                   .result = "success",
                                   .message = "m",
                                   .exit_code = 3,
                                   .duration = 1234567 };

                ASSERT(p && p->templates[table[i].event]);
                for (int without = 0; without < 2; without++) {
                        _cleanup_free_ char *out = NULL;

                        if (without)
                                v.rid = NULL;
                        ASSERT_EQ(template_expand(p->templates[table[i].event], &v, &out), 0);
                        url_fix_query(out);
                        ASSERT_STREQ(out, without ? table[i].without : table[i].with_rid);
                        ASSERT(!strstr(out, "=&") && out[strlen(out) - 1] != '=');
                }
        }
        /* Every template of every preset is in the table. */
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (!strstr(table[i].url, "create=1"))
                        covered++;
        size_t total = 0;
        const char *names[] = { "generic",        "healthchecks", "cronitor", "checkly", "uptime-kuma",
                                "deadmanssnitch", "betterstack",  "sentry",   "cronhub" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                for (Event e = 0; e < _EVENT_MAX; e++)
                        total += !!preset_find(names[i])->templates[e];
        ASSERT_EQ(covered, total);
}

int main(void) {
        test_expand();
        test_validate();
        test_exit_codes();
        test_utf8_tail();
        test_url_fix_query();
        test_presets();
        test_empty_params();
        test_preset_urls();
        return 0;
}
