/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/* The tail of a run's journal output, read in a child process so that the event loop never
 * waits on the journal files. The child matches the run's InvocationID, keeps the last
 * max bytes of its messages (one per line), and writes them to a pipe. */

typedef void (*journal_tail_t)(const char *text, size_t size, int error, void *userdata);

typedef struct JournalQuery {
        const char *invocation; /* _SYSTEMD_INVOCATION_ID (system units) */
        const char *unit;       /* _SYSTEMD_UNIT / _SYSTEMD_USER_UNIT, within the run's time */
        usec_t since, until;    /* CLOCK_REALTIME bounds of the run (0: unbounded) */
        size_t max;
} JournalQuery;

typedef struct TailJob TailJob;

/* Starts the read; cb is called once, from the loop, with the text (or error < 0), and the job
 * is gone after it returns. *ret (may be NULL) is the job, for journal_tail_cancel() until cb
 * has run. */
int journal_tail_async(sd_event *e, const JournalQuery *q, journal_tail_t cb, void *userdata, TailJob **ret);
/* Stops a read whose callback has not run: the callback is never called. */
void journal_tail_cancel(TailJob *t);

/* Trims s (size bytes) to its last max bytes on a UTF-8 boundary and replaces invalid UTF-8
 * with U+FFFD; returns a new string. Unit-tested. */
char *utf8_tail(const char *s, size_t size, size_t max, size_t *ret_size);
