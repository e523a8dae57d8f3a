/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test driver for the run history (tests/integration/test_history.py): reads the journal from
 * the state in STATE_DIR, prints one line per run end and saves the state again.
 *
 *   history-dump STATE_DIR [--user UID [MANAGER_PID]]
 *
 * Lines: "record UNIT INVOCATION RESULT EXIT_CODE EXIT_STATUS STOP OWN START END", OWN being
 * unknown, yes or no; "state corrupt" / "cursor missing" when history_load() or the reader say so. */
#include <stdio.h>

#include "history.h"
#include "macro.h"

static const char *const own_names[] = { "unknown", "yes", "no" };

int main(int argc, char **argv) {
        _cleanup_(history_freep) History *h = NULL;
        _cleanup_(history_reader_freep) HistoryReader *reader = NULL;
        _cleanup_free_ HistoryRecord *records = NULL;
        HistoryTrust trust = { 0 };
        size_t n = 0;
        int r;

        if (argc < 2 || (argc > 2 && (argc > 5 || strcmp(argv[2], "--user") != 0 || argc < 4))) {
                fprintf(stderr, "usage: %s STATE_DIR [--user UID [MANAGER_PID]]\n", argv[0]);
                return 2;
        }
        if (argc > 2) {
                trust.user = true;
                trust.uid = (uid_t) strtoul(argv[3], NULL, 10);
                trust.manager_pid = argc > 4 ? (pid_t) strtol(argv[4], NULL, 10) : 0;
        }
        r = history_new(&h);
        if (r < 0)
                return 1;
        r = history_load(h, argv[1]);
        if (r == -EBADMSG)
                printf("state corrupt\n");
        else if (r < 0 && r != -ENOENT) {
                fprintf(stderr, "history_load: %s\n", strerror(-r));
                return 1;
        }
        r = history_reader_new(&reader, h, &trust, 0);
        if (r < 0) {
                fprintf(stderr, "history_reader_new: %s\n", strerror(-r));
                return 1;
        }
        if (!history_reader_cursor_found(reader))
                printf("cursor missing\n");
        /* Small batches, as the daemon would read them between other events. */
        do
                r = history_reader_read(reader, 3, &records, &n);
        while (r > 0);
        if (r < 0) {
                fprintf(stderr, "history_reader_read: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < n; i++)
                printf("record %s %s %s %d %d %d %s %llu %llu\n", records[i].unit, records[i].invocation,
                       records[i].result, records[i].exit_code, records[i].exit_status, records[i].stop_requested,
                       own_names[records[i].ended_on_own], (unsigned long long) records[i].start_usec,
                       (unsigned long long) records[i].end_usec);
        r = history_save(h, argv[1]);
        if (r < 0) {
                fprintf(stderr, "history_save: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
