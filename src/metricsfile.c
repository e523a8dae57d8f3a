/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>

#include "build-config.h"
#include "log.h"
#include "metricsfile.h"
#include "outbox.h"

#define METRICS_MIN_INTERVAL_USEC USEC_PER_SEC
#define METRICS_REFRESH_USEC (15 * USEC_PER_SEC)
#define METRICS_STATE_FILE "metrics"

struct MetricsFile {
        sd_event *event;
        Metrics *metrics;
        char *state_dir;
        char *path; /* NULL: off */
        sd_event_source *timer;
        usec_t last_write; /* CLOCK_MONOTONIC */
        bool dirty;
        bool broken; /* the last write failed (said once) */
};

/* Replaces path by a temporary file of the same directory, renamed: node_exporter reads only
 * *.prom, so it never sees the temporary one. Readable by all: node_exporter runs as another
 * user, and the file holds no secret. */
static int write_public_atomic(const char *path, const char *data, size_t size) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;
        int r = 0;

        if (asprintf(&tmp, "%s.%u.tmp", path, (unsigned) getpid()) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        (void) fchmod(fd, 0644); /* whatever the umask */
        while (done < size && r == 0) {
                ssize_t k = write(fd, data + done, size - done);

                if (k < 0 && errno != EINTR)
                        r = -errno;
                else if (k > 0)
                        done += (size_t) k;
        }
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

static void metricsfile_report(MetricsFile *f, int r) {
        if (r < 0 && !f->broken)
                log_warning_errno(r,
                                  "Cannot write the metrics file %s: %m; make its directory writable for timerbeat "
                                  "(ReadWritePaths= in timerbeat.service).",
                                  f->path);
        else if (r >= 0 && f->broken)
                log_notice("The metrics file %s is written again.", f->path);
        f->broken = r < 0;
}

static void metricsfile_write(MetricsFile *f) {
        _cleanup_free_ char *text = NULL, *state = NULL;
        int r;

        if (!f->path)
                return;
        f->dirty = false;
        f->last_write = now_usec(CLOCK_MONOTONIC);
        /* Counters first: a crash between the two loses nothing the file showed. */
        r = metrics_save(f->metrics, &state);
        if (r >= 0) {
                r = write_file_atomic(f->state_dir, METRICS_STATE_FILE, state, strlen(state), false);
                if (r < 0)
                        log_debug_errno(r,
                                        "Cannot keep the metrics' counters in %s: %m; they restart from 0 "
                                        "after a restart.",
                                        f->state_dir);
        }
        r = metrics_render(f->metrics, PROJECT_VERSION, now_usec(CLOCK_REALTIME), &text);
        if (r >= 0)
                r = write_public_atomic(f->path, text, strlen(text));
        metricsfile_report(f, r);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void metricsfile_arm(MetricsFile *f, usec_t when) {
        uint64_t armed;
        int enabled = SD_EVENT_OFF, r;

        if (!f->path)
                return;
        if (!f->timer) {
                r = sd_event_add_time(f->event, &f->timer, CLOCK_MONOTONIC, when, 0, on_timer, f);
                if (r < 0)
                        log_warning_errno(r, "Cannot schedule a write of the metrics file: %m");
                return;
        }
        (void) sd_event_source_get_enabled(f->timer, &enabled);
        if (enabled != SD_EVENT_OFF && sd_event_source_get_time(f->timer, &armed) >= 0 && armed <= when)
                return;
        (void) sd_event_source_set_time(f->timer, when);
        (void) sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        MetricsFile *f = userdata;

        if (f->dirty || metrics_outbox_pending(f->metrics) > 0)
                metricsfile_write(f);
        if (metrics_outbox_pending(f->metrics) > 0)
                metricsfile_arm(f, now_usec(CLOCK_MONOTONIC) + METRICS_REFRESH_USEC);
        return 0;
}

static void on_metrics_changed(Metrics *m _unused_, void *userdata) {
        MetricsFile *f = userdata;

        f->dirty = true;
        metricsfile_arm(f, MAX(now_usec(CLOCK_MONOTONIC), f->last_write + METRICS_MIN_INTERVAL_USEC));
}

int metricsfile_new(MetricsFile **ret, sd_event *event, Metrics *metrics, const char *state_dir) {
        _cleanup_(metricsfile_freep) MetricsFile *f = NULL;
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        int r;

        assert(ret && event && metrics && state_dir);
        f = calloc(1, sizeof(MetricsFile));
        if (!f) {
                metrics_free(metrics);
                return -ENOMEM;
        }
        f->event = sd_event_ref(event);
        f->metrics = metrics;
        f->state_dir = strdup(state_dir);
        if (!f->state_dir || asprintf(&path, "%s/" METRICS_STATE_FILE, state_dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, 16U * 1024U * 1024U, &data, &size);
        if (r >= 0)
                r = metrics_load(metrics, data, size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot read the metrics' counters from %s: %m; they start from 0.", path);
        metrics_set_notify(metrics, on_metrics_changed, f);
        f->dirty = false;
        *ret = TAKE_PTR(f);
        return 0;
}

MetricsFile *metricsfile_free(MetricsFile *f) {
        if (!f)
                return NULL;
        if (f->dirty)
                metricsfile_write(f);
        sd_event_source_disable_unref(f->timer);
        sd_event_unref(f->event);
        metrics_free(f->metrics);
        free(f->state_dir);
        free(f->path);
        free(f);
        return NULL;
}

Metrics *metricsfile_metrics(MetricsFile *f) {
        return f->metrics;
}

int metricsfile_set_path(MetricsFile *f, const char *path) {
        if (streq_ptr(f->path, path))
                return 0;
        if (f->path && unlink(f->path) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Cannot remove the old metrics file %s: %m", f->path);
        free(f->path);
        f->path = NULL;
        f->broken = false;
        if (path && !(f->path = strdup(path)))
                return -ENOMEM;
        f->dirty = true;
        metricsfile_arm(f, now_usec(CLOCK_MONOTONIC));
        return 0;
}

int metricsfile_open(MetricsFile **ret, sd_event *event, const char *state_dir, const char *path) {
        Metrics *metrics = NULL;
        int r;

        r = metrics_new(&metrics);
        if (r >= 0)
                r = metricsfile_new(ret, event, metrics, state_dir); /* takes metrics */
        if (r >= 0)
                r = metricsfile_set_path(*ret, path);
        return r;
}
