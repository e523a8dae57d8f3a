/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal alternative of issue 20, as small as it can be: a process that follows the
 * journal with the matches the run history uses (src/history-reader.c: the run messages'
 * MESSAGE_IDs, the user manager's _UID and _SYSTEMD_UNIT) and reads, for every entry the
 * journal's index hands it, the fields a live run end needs. It sends nothing: bench/bench.py
 * measures what following costs (its CPU per unrelated unit change and per run end) and how
 * late an entry is seen. For each entry it writes "<CLOCK_MONOTONIC ns> <MESSAGE_ID> <unit>"
 * to OUT, flushed after each wake-up.
 *
 *   journal-follow OUT UID
 *
 * Built by bench/run with cc and libsystemd; the runtime journal (/run/log/journal) only, as
 * the benchmark's journald is volatile. */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

static const char *const ids[] = {
        "7d4958e842da4a758f6c1cdc7b36dcc5", "39f53479d3a045ac8e11786248231fbf",
        "de5b426a63be47a7b6ac3eaac82e2f6f", "9d1aaa27d60140bd96365438aad20286",
        "7ad2d189f7e94e70a38c781354912448", "d9b373ed55a64feb8242e02dbe79a49c",
        "98e322203f7a4ed290d09fe03c09fe15", NULL,
};

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static int match(sd_journal *j, const char *field, const char *value) {
        char buf[128];

        snprintf(buf, sizeof(buf), "%s=%s", field, value);
        return sd_journal_add_match(j, buf, 0);
}

/* A field's value, without its "NAME=", as a bounded string; "-" when missing. */
static void field(sd_journal *j, const char *name, char *out, size_t size) {
        const void *d;
        size_t n, skip = strlen(name) + 1;

        if (sd_journal_get_data(j, name, &d, &n) < 0 || n < skip) {
                snprintf(out, size, "-");
                return;
        }
        n -= skip;
        if (n >= size)
                n = size - 1;
        memcpy(out, (const char *) d + skip, n);
        out[n] = 0;
}

int main(int argc, char **argv) {
        sd_journal *j;
        FILE *out;
        char unit[256], mid[64], inv[64], status[16], buf[64];
        struct timespec ts;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: journal-follow OUT UID\n");
                return 2;
        }
        out = fopen(argv[1], "w");
        if (!out) {
                perror(argv[1]);
                return 1;
        }
        signal(SIGTERM, on_term);
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_RUNTIME_ONLY);
        for (size_t i = 0; r >= 0 && ids[i]; i++)
                r = match(j, "MESSAGE_ID", ids[i]);
        if (r >= 0)
                r = match(j, "_UID", argv[2]);
        snprintf(buf, sizeof(buf), "user@%s.service", argv[2]);
        if (r >= 0)
                r = match(j, "_SYSTEMD_UNIT", buf);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        if (r >= 0)
                r = sd_journal_previous(j); /* at the last entry: what follows is new */
        if (r < 0) {
                fprintf(stderr, "journal-follow: %s\n", strerror(-r));
                return 1;
        }
        while (!stop) {
                r = sd_journal_wait(j, UINT64_MAX); /* SIGTERM interrupts it (-EINTR) */
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "journal-follow: wait: %s\n", strerror(-r));
                        return 1;
                }
                while (sd_journal_next(j) > 0) {
                        field(j, "MESSAGE_ID", mid, sizeof(mid));
                        field(j, "USER_UNIT", unit, sizeof(unit));
                        field(j, "USER_INVOCATION_ID", inv, sizeof(inv));
                        field(j, "EXIT_STATUS", status, sizeof(status));
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        fprintf(out, "%lld %s %s\n", (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec, mid, unit);
                }
                fflush(out);
        }
        sd_journal_close(j);
        fclose(out);
        return 0;
}
