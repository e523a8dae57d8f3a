/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics and their exposition format, as tables. With an argument, writes a rendering with
 * hostile labels to that file (the integration test has node_exporter parse it). */
#include <stdio.h>

#include "metrics.h"
#include "tests.h"

#define S USEC_PER_SEC

static void test_escape(void) {
        static const struct {
                const char *in, *out;
        } table[] = {
                { "backup.timer", "backup.timer" },
                { "a\"b", "a\\\"b" },
                { "a\\x2db.service", "a\\\\x2db.service" },
                { "line\nbreak", "line\\nbreak" },
                { "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93" }, /* UTF-8 stays */
                { "bad\xff", "bad\xef\xbf\xbd" },                           /* not UTF-8: U+FFFD */
                { "\xc3", "\xef\xbf\xbd" },                                 /* truncated sequence */
                { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong */
                { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *e = metrics_escape_label(table[i].in);

                ASSERT_STREQ(e, table[i].out);
        }
}

static Metrics *sample(void) {
        Metrics *m = NULL;

        ASSERT_EQ(metrics_new(&m), 0);
        ASSERT_EQ(metrics_run_end(m, "backup.timer", "backup.service", "success", true, 1700000000 * S), 0);
        ASSERT_EQ(metrics_run_end(m, "backup.timer", "backup.service", "exit-code", false, 1700000100 * S), 0);
        ASSERT_EQ(metrics_run_end(m, "backup.timer", "backup.service", "success", true, 1700000050 * S + 250000), 0);
        ASSERT_EQ(metrics_ping(m, "backup.timer", "success", "delivered"), 0);
        ASSERT_EQ(metrics_ping(m, "backup.timer", "success", "delivered"), 0);
        ASSERT_EQ(metrics_ping(m, "self", "success", "expired"), 0);
        return m;
}

static void test_render(void) {
        static const char *const lines[] = {
                "# HELP timerbeat_runs_total ",
                "# TYPE timerbeat_runs_total counter\n",
                "timerbeat_runs_total{check=\"backup.timer\",unit=\"backup.service\",result=\"exit-code\"} 1\n"
                "timerbeat_runs_total{check=\"backup.timer\",unit=\"backup.service\",result=\"success\"} 2\n",
                "# TYPE timerbeat_last_run_timestamp_seconds gauge\n"
                "timerbeat_last_run_timestamp_seconds{check=\"backup.timer\",unit=\"backup.service\"} "
                "1700000050.250\n",
                "timerbeat_last_success_timestamp_seconds{check=\"backup.timer\",unit=\"backup.service\"} "
                "1700000050.250\n",
                "# TYPE timerbeat_pings_total counter\n"
                "timerbeat_pings_total{check=\"backup.timer\",event=\"success\",outcome=\"delivered\"} 2\n"
                "timerbeat_pings_total{check=\"self\",event=\"success\",outcome=\"expired\"} 1\n",
                "# TYPE timerbeat_outbox_pending gauge\ntimerbeat_outbox_pending 2\n",
                "# TYPE timerbeat_outbox_oldest_seconds gauge\ntimerbeat_outbox_oldest_seconds 30.000\n",
                "# TYPE timerbeat_build_info gauge\ntimerbeat_build_info{version=\"1.2\\\"3\"} 1\n",
        };
        Metrics *m = sample();
        _cleanup_free_ char *text = NULL;

        metrics_set_outbox(m, 2, 1700000000 * S);
        ASSERT_EQ(metrics_render(m, "1.2\"3", 1700000030 * S, &text), 0);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                ASSERT_CONTAINS(text, lines[i]);
        /* The last run is the one that ended last, whatever the order of the reports. */
        ASSERT(!strstr(text, "1700000100.000\n") ||
               strstr(text,
                      "timerbeat_last_run_timestamp_seconds{check=\"backup.timer\",unit=\"backup.service\"} 1700000050.250"));
        /* Nothing pending: the age is 0. */
        free(text);
        text = NULL;
        metrics_set_outbox(m, 0, 0);
        ASSERT_EQ(metrics_render(m, "1", 1700000030 * S, &text), 0);
        ASSERT_CONTAINS(text, "timerbeat_outbox_oldest_seconds 0.000\n");
        ASSERT_CONTAINS(text, "timerbeat_outbox_pending 0\n");
        metrics_free(m);
}

static void test_save_load(void) {
        Metrics *m = sample(), *n = NULL;
        _cleanup_free_ char *saved = NULL, *a = NULL, *b = NULL, *twice = NULL;

        ASSERT_EQ(metrics_run_end(m, "we\"ird\\x20\tname\n%.timer", "caf\xc3\xa9.service", "signal", false, 5 * S),
                  0);
        ASSERT_EQ(metrics_save(m, &saved), 0);
        ASSERT_EQ(metrics_new(&n), 0);
        ASSERT_EQ(metrics_load(n, saved, strlen(saved)), 0);
        ASSERT_EQ(metrics_render(m, "1", 0, &a), 0);
        ASSERT_EQ(metrics_render(n, "1", 0, &b), 0);
        ASSERT_STREQ(b, a);
        /* Loading adds counters; timestamps keep the latest. */
        ASSERT_EQ(metrics_load(n, saved, strlen(saved)), 0);
        ASSERT_EQ(metrics_render(n, "1", 0, &twice), 0);
        ASSERT_CONTAINS(twice, "result=\"success\"} 4\n");
        ASSERT_CONTAINS(twice, "unit=\"backup.service\"} 1700000050.250\n");

        /* Not ours, damaged lines. */
        static const struct {
                const char *text;
                int r;
        } table[] = {
                { "", -EBADMSG },
                { "something else\n", -EBADMSG },
                { "timerbeat-metrics 1\n", 0 },
                { "timerbeat-metrics 1\nruns\ta\tb\n", 0 },         /* too few fields: skipped */
                { "timerbeat-metrics 1\nruns\ta\tb\tc\t-1\n", 0 },  /* negative: skipped */
                { "timerbeat-metrics 1\nruns\ta\tb\tc\tNaN\n", 0 }, /* not a number: skipped */
                { "timerbeat-metrics 1\nfrobs\ta\tb\tc\t1\n", 0 },  /* unknown: skipped */
                { "timerbeat-metrics 1\npings\ta\tb\tc\t1x\n", 0 }, /* trailing junk: skipped */
                { "timerbeat-metrics 1\nruns\t%zz\t%4\tc\t1", 0 },  /* bad escapes kept as text */
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Metrics *x = NULL;
                _cleanup_free_ char *t = NULL;

                ASSERT_EQ(metrics_new(&x), 0);
                ASSERT_EQ(metrics_load(x, table[i].text, strlen(table[i].text)), table[i].r);
                ASSERT_EQ(metrics_render(x, "1", 0, &t), 0);
                ASSERT(!strstr(t, "} -1") && !strstr(t, "nan") && !strstr(t, "frobs"));
                metrics_free(x);
        }
        metrics_free(m);
        metrics_free(n);
}

static unsigned notified;
static void on_notify(Metrics *m _unused_, void *userdata _unused_) {
        notified++;
}

static void test_notify(void) {
        Metrics *m = NULL;

        ASSERT_EQ(metrics_new(&m), 0);
        metrics_set_notify(m, on_notify, NULL);
        ASSERT_EQ(metrics_ping(m, "a.timer", "start", "rejected"), 0);
        ASSERT_EQ(notified, 1);
        metrics_set_outbox(m, 1, 5);
        metrics_set_outbox(m, 1, 5); /* no change, no write */
        ASSERT_EQ(notified, 2);
        metrics_free(m);
}

/* Labels a unit name cannot hold but a label must survive, for node_exporter to parse. */
static void write_hostile(const char *path) {
        Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        FILE *f;

        ASSERT_EQ(metrics_new(&m), 0);
        ASSERT_EQ(metrics_run_end(m, "quote\".timer", "back\\slash.service", "success", true, 1700000000 * S), 0);
        ASSERT_EQ(metrics_run_end(m, "caf\xc3\xa9-\xe2\x9c\x93.timer", "new\nline\xff.service", "exit-code", false,
                                  1700000000 * S),
                  0);
        ASSERT_EQ(metrics_render(m, "0\"\\", 1700000000 * S, &text), 0);
        f = fopen(path, "we");
        ASSERT(f);
        fputs(text, f);
        ASSERT(fclose(f) == 0);
        metrics_free(m);
}

int main(int argc, char **argv) {
        if (argc == 2) {
                write_hostile(argv[1]);
                return 0;
        }
        test_escape();
        test_render();
        test_save_load();
        test_notify();
        return 0;
}
