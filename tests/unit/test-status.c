/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "status.h"
#include "tests.h"

#define BOOT "0123456789abcdef0123456789abcdef"

/* The status file round-trips, and anything malformed is refused rather than half-read. */
static void test_roundtrip(void) {
        DaemonStatus s = { .pid = 4242,
                           .boot_id = BOOT,
                           .generation = 7,
                           .started = 123456789,
                           .refused = true,
                           .loaded = 1700000000000000 },
                     back = {};
        char *text = NULL;

        ASSERT_EQ(strv_push(&s.files, "/etc/timerbeat/timerbeat.conf"), 0);
        ASSERT_EQ(strv_push(&s.digests, "00000000000000ff"), 0);
        ASSERT_EQ(strv_push(&s.files, "/etc/timerbeat/conf.d/with space.conf"), 0);
        ASSERT_EQ(strv_push(&s.digests, "0123456789abcdef"), 0);
        /* A newline in a message must not start a line of its own. */
        ASSERT_EQ(strv_push(&s.errors, "/etc/timerbeat/conf.d/x.conf:3: bad\nfile /etc/forged"), 0);

        ASSERT_EQ(daemon_status_format(&s, &text), 0);
        ASSERT_EQ(daemon_status_parse(text, &back), 0);
        ASSERT_EQ(back.pid, 4242);
        ASSERT_STREQ(back.boot_id, BOOT);
        ASSERT_EQ(back.generation, 7);
        ASSERT_EQ(back.started, 123456789);
        ASSERT(back.refused);
        ASSERT_EQ(back.loaded, 1700000000000000);
        ASSERT_EQ(back.files.n, 2);
        ASSERT_STREQ(back.files.items[1], "/etc/timerbeat/conf.d/with space.conf");
        ASSERT_STREQ(back.digests.items[1], "0123456789abcdef");
        ASSERT_EQ(back.errors.n, 1);
        ASSERT_STREQ(back.errors.items[0], "/etc/timerbeat/conf.d/x.conf:3: bad file /etc/forged");
        free(text);
        daemon_status_done(&s);
        daemon_status_done(&back);
}

static void test_bad(void) {
        static const char *const bad[] = {
                "",
                "timerbeat-daemon-status 2\npid 1\nboot " BOOT "\n",  /* another format */
                "timerbeat-daemon-status 1\nboot " BOOT "\n",         /* no PID */
                "timerbeat-daemon-status 1\npid 1\n",                 /* no boot ID */
                "timerbeat-daemon-status 1\npid 0\nboot " BOOT "\n",  /* PID 0 */
                "timerbeat-daemon-status 1\npid -1\nboot " BOOT "\n", /* negative */
                "timerbeat-daemon-status 1\npid 1\nboot xyz\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\ngeneration 1x\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\nrefused 2\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\nfile 00 relative\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\nfile /no-digest\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\nunknown 1\n",
                "timerbeat-daemon-status 1\npid 1\nboot " BOOT "\nnovalue\n",
        };
        DaemonStatus s = {};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (daemon_status_parse(bad[i], &s) != -EBADMSG) {
                        fprintf(stderr, "row %zu parsed: %s\n", i, bad[i]);
                        ASSERT(false);
                }
        ASSERT_EQ(daemon_status_parse("timerbeat-daemon-status 1\npid 1\nboot " BOOT "\n", &s), 0);
        ASSERT_EQ(s.generation, 0);
        ASSERT(!s.refused);
        daemon_status_done(&s);
}

/* Written into a directory and read back; a daemon of another boot is not alive. */
static void test_file(void) {
        char tmpl[] = "/tmp/test-status-XXXXXX", cmd[600];
        char *d = mkdtemp(tmpl);
        DaemonStatus s = { .pid = getpid() }, back = {};

        ASSERT(d);
        ASSERT_EQ(daemon_status_read(d, &back), -ENOENT);
        ASSERT_EQ(boot_id_read(s.boot_id), 0);
        ASSERT_EQ(daemon_status_write(d, &s), 0);
        ASSERT_EQ(daemon_status_read(d, &back), 0);
        ASSERT(daemon_status_alive(&back));
        memcpy(back.boot_id, BOOT, sizeof(BOOT));
        ASSERT(!daemon_status_alive(&back));
        daemon_status_done(&back);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

int main(void) {
        test_roundtrip();
        test_bad();
        test_file();
        return 0;
}
