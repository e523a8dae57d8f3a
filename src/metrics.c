/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>

#include "hashmap.h"
#include "metrics.h"

#define METRICS_STATE_MAGIC "timerbeat-metrics 1\n"

typedef enum MetricKind {
        METRIC_RUNS,
        METRIC_LAST_RUN,
        METRIC_LAST_SUCCESS,
        METRIC_PINGS,
        _METRIC_MAX,
} MetricKind;

/* One family per kind: its name, help, type, labels, and its word in the state file. */
static const struct {
        const char *name, *help, *type, *word;
        unsigned n_labels;
        const char *labels[3];
} families[_METRIC_MAX] = {
        [METRIC_RUNS] = { "timerbeat_runs_total",
                          "Runs of monitored services that ended, by systemd's Result.",
                          "counter",
                          "runs",
                          3,
                          { "check", "unit", "result" } },
        [METRIC_LAST_RUN] = { "timerbeat_last_run_timestamp_seconds",
                              "Unix time at which the last run of the unit ended.",
                              "gauge",
                              "last_run",
                              2,
                              { "check", "unit" } },
        [METRIC_LAST_SUCCESS] = { "timerbeat_last_success_timestamp_seconds",
                                  "Unix time at which the last successful run of the unit ended.",
                                  "gauge",
                                  "last_success",
                                  2,
                                  { "check", "unit" } },
        [METRIC_PINGS] = { "timerbeat_pings_total",
                           "Pings answered for good, by event and outcome.",
                           "counter",
                           "pings",
                           3,
                           { "check", "event", "outcome" } },
};

typedef struct Series {
        MetricKind kind;
        char *labels[3];
        double value; /* a count, or seconds since the epoch */
} Series;

struct Metrics {
        Series *series;
        size_t n, allocated;
        Hashmap *index; /* the series' state-file line without its value → position + 1 */
        size_t pending;
        usec_t oldest;
        metrics_notify_t notify;
        void *userdata;
};

int metrics_new(Metrics **ret) {
        Metrics *m = calloc(1, sizeof(Metrics));
        int r;

        if (!m)
                return -ENOMEM;
        r = hashmap_new(&m->index, HASHMAP_KEYS_COPY);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                for (size_t l = 0; l < 3; l++)
                        free(m->series[i].labels[l]);
        free(m->series);
        hashmap_free(m->index);
        free(m);
        return NULL;
}

void metrics_set_notify(Metrics *m, metrics_notify_t cb, void *userdata) {
        m->notify = cb;
        m->userdata = userdata;
}

static void metrics_changed(Metrics *m) {
        if (m->notify)
                m->notify(m, m->userdata);
}

/* The state file's escaping: '%', tab, newline and other control bytes as %XX. Injective, so
 * the escaped labels also make the index key. */
static int state_escape(FILE *f, const char *s) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c < 0x20 || c == '%' || c == 0x7f)
                        fprintf(f, "%%%02X", c);
                else
                        fputc(c, f);
        }
        return ferror(f) ? -EIO : 0;
}

static char *state_unescape(const char *s, size_t n) {
        char *r = malloc(n + 1), *t = r;

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned v;

                if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char) s[i + 1]) &&
                    isxdigit((unsigned char) s[i + 2]) && sscanf(s + i + 1, "%2x", &v) == 1) {
                        *t++ = (char) v;
                        i += 2;
                } else
                        *t++ = s[i];
        }
        *t = 0;
        return r;
}

static char *series_key(MetricKind kind, const char *const labels[3]) {
        char *key = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&key, &size);

        if (!f)
                return NULL;
        fputs(families[kind].word, f);
        for (unsigned l = 0; l < families[kind].n_labels; l++) {
                fputc('\t', f);
                (void) state_escape(f, labels[l]);
        }
        if (fclose(f) != 0) {
                free(key);
                return NULL;
        }
        return key;
}

/* The series of that kind and labels, created at 0 if new; NULL on out of memory. */
static Series *series_get(Metrics *m, MetricKind kind, const char *const labels[3]) {
        _cleanup_free_ char *key = series_key(kind, labels);
        size_t i;
        Series *s;

        if (!key)
                return NULL;
        i = (size_t) (uintptr_t) hashmap_get(m->index, key);
        if (i > 0)
                return &m->series[i - 1];
        if (m->n == m->allocated) {
                size_t a = MAX(m->allocated * 2, (size_t) 16);
                Series *n = realloc(m->series, a * sizeof(Series));

                if (!n)
                        return NULL;
                m->series = n;
                m->allocated = a;
        }
        s = &m->series[m->n];
        *s = (Series) { .kind = kind };
        for (unsigned l = 0; l < families[kind].n_labels; l++) {
                assert(labels[l]);
                if (!(s->labels[l] = strdup(labels[l]))) {
                        for (unsigned k = 0; k < l; k++)
                                free(s->labels[k]);
                        return NULL;
                }
        }
        if (hashmap_put(m->index, key, (void *) (uintptr_t) (m->n + 1)) < 0) {
                for (unsigned l = 0; l < 3; l++)
                        free(s->labels[l]);
                return NULL;
        }
        m->n++;
        return s;
}

int metrics_run_end(Metrics *m, const char *check, const char *unit, const char *result, bool success, usec_t end) {
        const char *run_labels[3] = { check, unit, strempty(result) }, *unit_labels[3] = { check, unit, NULL };
        Series *runs, *last = NULL, *ok = NULL;

        assert(m && check && unit);
        runs = series_get(m, METRIC_RUNS, run_labels);
        if (!runs)
                return -ENOMEM;
        runs->value += 1;
        if (end > 0) {
                last = series_get(m, METRIC_LAST_RUN, unit_labels);
                if (last)
                        last->value = (double) end / USEC_PER_SEC;
                if (last && success) {
                        ok = series_get(m, METRIC_LAST_SUCCESS, unit_labels);
                        if (ok)
                                ok->value = (double) end / USEC_PER_SEC;
                }
        }
        metrics_changed(m);
        return end > 0 && (!last || (success && !ok)) ? -ENOMEM : 0;
}

int metrics_ping(Metrics *m, const char *check, const char *event, const char *outcome) {
        const char *labels[3] = { check, event, outcome };
        Series *s;

        assert(m && check && event && outcome);
        s = series_get(m, METRIC_PINGS, labels);
        if (!s)
                return -ENOMEM;
        s->value += 1;
        metrics_changed(m);
        return 0;
}

void metrics_set_outbox(Metrics *m, size_t pending, usec_t oldest) {
        if (m->pending == pending && m->oldest == oldest)
                return;
        m->pending = pending;
        m->oldest = oldest;
        metrics_changed(m);
}

size_t metrics_outbox_pending(const Metrics *m) {
        return m->pending;
}

/* The length of the valid UTF-8 sequence at s (1 to 4), 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s) {
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

char *metrics_escape_label(const char *s) {
        char *r = malloc(strlen(s) * 3 + 1), *t = r;

        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_sequence(p);

                if (*p == '\\' || *p == '"')
                        *t++ = '\\', *t++ = (char) *p;
                else if (*p == '\n')
                        *t++ = '\\', *t++ = 'n';
                else if (n == 0) {
                        memcpy(t, "\xef\xbf\xbd", 3); /* U+FFFD: one per bad byte */
                        t += 3;
                        n = 1;
                } else
                        memcpy(t, p, n), t += n;
                p += MAX(n, (size_t) 1);
        }
        *t = 0;
        return r;
}

static int cmp_series(const void *a, const void *b) {
        const Series *x = *(Series *const *) a, *y = *(Series *const *) b;

        for (unsigned l = 0; l < families[x->kind].n_labels; l++) {
                int c = strcmp(x->labels[l], y->labels[l]);

                if (c != 0)
                        return c;
        }
        return 0;
}

static int render_family(const Metrics *m, MetricKind kind, FILE *f) {
        _cleanup_free_ Series **list = malloc(sizeof(Series *) * MAX(m->n, (size_t) 1));
        size_t n = 0;

        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++)
                if (m->series[i].kind == kind)
                        list[n++] = &m->series[i];
        qsort(list, n, sizeof(Series *), cmp_series);
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[kind].name, families[kind].help, families[kind].name,
                families[kind].type);
        for (size_t i = 0; i < n; i++) {
                fputs(families[kind].name, f);
                for (unsigned l = 0; l < families[kind].n_labels; l++) {
                        _cleanup_free_ char *v = metrics_escape_label(list[i]->labels[l]);

                        if (!v)
                                return -ENOMEM;
                        fprintf(f, "%c%s=\"%s\"", l == 0 ? '{' : ',', families[kind].labels[l], v);
                }
                fprintf(f, kind == METRIC_RUNS || kind == METRIC_PINGS ? "} %.0f\n" : "} %.3f\n", list[i]->value);
        }
        return 0;
}

int metrics_render(const Metrics *m, const char *version, usec_t now, char **ret) {
        _cleanup_free_ char *v = metrics_escape_label(version);
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        if (!v)
                return -ENOMEM;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (MetricKind k = 0; k < _METRIC_MAX && r >= 0; k++)
                r = render_family(m, k, f);
        fprintf(f,
                "# HELP timerbeat_outbox_pending Pings not yet answered for good (queued, retrying or in flight).\n"
                "# TYPE timerbeat_outbox_pending gauge\ntimerbeat_outbox_pending %zu\n"
                "# HELP timerbeat_outbox_oldest_seconds Age of the oldest ping not yet answered for good; 0 if "
                "none.\n# TYPE timerbeat_outbox_oldest_seconds gauge\ntimerbeat_outbox_oldest_seconds %.3f\n"
                "# HELP timerbeat_build_info The version of timerbeat that wrote this file.\n"
                "# TYPE timerbeat_build_info gauge\ntimerbeat_build_info{version=\"%s\"} 1\n",
                m->pending,
                m->pending > 0 && m->oldest > 0 && now > m->oldest ? (double) (now - m->oldest) / USEC_PER_SEC : 0.0,
                v);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(text);
                return r;
        }
        *ret = text;
        return 0;
}

int metrics_save(const Metrics *m, char **ret) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        fputs(METRICS_STATE_MAGIC, f);
        for (size_t i = 0; i < m->n; i++) {
                const Series *s = &m->series[i];

                fputs(families[s->kind].word, f);
                for (unsigned l = 0; l < families[s->kind].n_labels; l++) {
                        fputc('\t', f);
                        (void) state_escape(f, s->labels[l]);
                }
                fprintf(f, "\t%.6f\n", s->value);
        }
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

/* One line of the state file: "word\tlabel…\tvalue". Lines that do not parse are skipped. */
static int metrics_load_line(Metrics *m, const char *line, size_t len) {
        _cleanup_free_ char *copy = strndup(line, len);
        char *fields[5] = {}, *save = NULL, *end;
        char *labels[3] = {};
        size_t n = 0;
        MetricKind kind;
        double value;
        Series *s;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, "\t", &save); t && n < 5; t = strtok_r(NULL, "\t", &save))
                fields[n++] = t;
        for (kind = 0; kind < _METRIC_MAX; kind++)
                if (n > 0 && streq(fields[0], families[kind].word))
                        break;
        if (kind == _METRIC_MAX || n != families[kind].n_labels + 2)
                return 0;
        errno = 0;
        value = strtod(fields[n - 1], &end);
        if (errno != 0 || *end || !(value >= 0))
                return 0;
        for (unsigned l = 0; l < families[kind].n_labels; l++) {
                assert(fields[l + 1]);
                if (!(labels[l] = state_unescape(fields[l + 1], strlen(fields[l + 1])))) {
                        r = -ENOMEM;
                        goto done;
                }
        }
        s = series_get(m, kind, (const char *const *) labels);
        if (!s)
                r = -ENOMEM;
        else if (kind == METRIC_RUNS || kind == METRIC_PINGS)
                s->value += value;
        else
                s->value = MAX(s->value, value);
done:
        for (unsigned l = 0; l < 3; l++)
                free(labels[l]);
        return r;
}

int metrics_load(Metrics *m, const char *data, size_t size) {
        const char *p, *end = data + size;

        if (size < strlen(METRICS_STATE_MAGIC) || memcmp(data, METRICS_STATE_MAGIC, strlen(METRICS_STATE_MAGIC)) != 0)
                return -EBADMSG;
        for (p = data + strlen(METRICS_STATE_MAGIC); p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                int r;

                if (memchr(p, 0, len))
                        return -EBADMSG;
                r = metrics_load_line(m, p, len);
                if (r < 0)
                        return r;
                p += len + 1;
        }
        metrics_changed(m);
        return 0;
}
