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
                { "{url}", "https://hc-ping.com/KEY/slug?x=1" },                 /* raw, not encoded */
                { "{unit}", "db%40x%3A1%5Cx2d.timer" },
                { "{unit_prefix}", "db%40x%3A1%5Cx2d" },
                { "{hostname}", "host%20a" },
                { "{rid}", "01234567-89ab-cdef-0123-456789abcdef" },
                { "{rid_hex}", "0123456789abcdef0123456789abcdef" },
                { "{exit_code}/{result}", "3/exit-code" },
                { "{duration_s} {duration_ms}", "1.235 1234" },
                { "{message}", "caf%C3%A9%20%26%20more" },
                { "{message:4}", "caf" },      /* the cap does not cut "é" in half */
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
                { "ab\xff" "cd", 10, "ab\xef\xbf\xbd" "cd" },          /* invalid byte → U+FFFD */
                { "\xc0\xaf", 10, "\xef\xbf\xbd\xef\xbf\xbd" },         /* overlong */
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
        const char *names[] = { "generic", "healthchecks", "cronitor", "checkly", "uptime-kuma",
                                "deadmanssnitch", "betterstack", "sentry", "cronhub" };

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

int main(void) {
        test_expand();
        test_validate();
        test_exit_codes();
        test_utf8_tail();
        test_url_fix_query();
        test_presets();
        return 0;
}
