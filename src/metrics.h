/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "util.h"

/* What timerbeat counts for Prometheus, and its text exposition format (0.0.4) for
 * node_exporter's textfile collector. Pure: no I/O. The caller (metricsfile.c) writes what
 * metrics_render() returns, and keeps the counters across restarts with metrics_save() and
 * metrics_load(). No URL ever enters: labels are check and unit names, systemd's Result, the
 * event and the outcome. */

typedef struct Metrics Metrics;

/* Called after every change, so the writer can schedule a write. */
typedef void (*metrics_notify_t)(Metrics *m, void *userdata);

int metrics_new(Metrics **ret);
Metrics *metrics_free(Metrics *m);
static inline void metrics_freep(Metrics **m) {
        metrics_free(*m);
}
void metrics_set_notify(Metrics *m, metrics_notify_t cb, void *userdata);

/* A run of unit ended (end: CLOCK_REALTIME, 0 if unknown): timerbeat_runs_total{check,unit,
 * result} + 1, last_run (and last_success when success) set to end. */
int metrics_run_end(Metrics *m, const char *check, const char *unit, const char *result, bool success, usec_t end);
/* A ping ended for good: timerbeat_pings_total{check,event,outcome} + 1. */
int metrics_ping(Metrics *m, const char *check, const char *event, const char *outcome);
/* Pings not yet answered for good, and the creation time (CLOCK_REALTIME) of the oldest; 0: none. */
void metrics_set_outbox(Metrics *m, size_t pending, usec_t oldest);
size_t metrics_outbox_pending(const Metrics *m);

/* The exposition text at time now (for timerbeat_outbox_oldest_seconds). */
int metrics_render(const Metrics *m, const char *version, usec_t now, char **ret);

/* Escapes a label value as the format requires (\\, \", \n); bytes that are not UTF-8 become
 * U+FFFD, which Prometheus requires of label values. */
char *metrics_escape_label(const char *s);

/* The counters and timestamps as text for the state directory, and back. Loading adds to what
 * is there; lines it does not know are skipped; -EBADMSG when the header is not ours. */
int metrics_save(const Metrics *m, char **ret);
int metrics_load(Metrics *m, const char *data, size_t size);
