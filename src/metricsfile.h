/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "metrics.h"

/* Writes the metrics (metrics.c) to the file node_exporter's textfile collector reads, and the
 * counters to STATE_DIR/metrics so that they survive a restart. Writes replace the file by a
 * rename in its directory (a scrape never sees half a file), happen only after a change and at
 * most once a second, from an sd-event timer: a burst of run ends is one write. While pings are
 * pending the file is refreshed every 15 s, for timerbeat_outbox_oldest_seconds. */

typedef struct MetricsFile MetricsFile;

/* Owns metrics. Loads the counters from STATE_DIR/metrics when the file is there. */
int metricsfile_new(MetricsFile **ret, sd_event *event, Metrics *metrics, const char *state_dir);

/* The same with new Metrics, writing to path (may be NULL: see metricsfile_set_path()). */
int metricsfile_open(MetricsFile **ret, sd_event *event, const char *state_dir, const char *path);

/* Writes what is pending (counters first), then frees. */
MetricsFile *metricsfile_free(MetricsFile *f);
static inline void metricsfile_freep(MetricsFile **f) {
        metricsfile_free(*f);
}

Metrics *metricsfile_metrics(MetricsFile *f);

/* The file to write (metrics-file=), NULL for none. A different path removes the old file. */
int metricsfile_set_path(MetricsFile *f, const char *path);
