/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "json.h"
#include "provision.h"

void desired_check_done(DesiredCheck *d) {
        free(d->name);
        free(d->slug);
        free(d->desc);
        free(d->tags);
        free(d->schedule);
        free(d->tz);
        free(d->note);
        *d = (DesiredCheck) {};
}

void existing_check_done(ExistingCheck *e) {
        free(e->uuid);
        free(e->name);
        free(e->slug);
        free(e->desc);
        free(e->tags);
        free(e->schedule);
        free(e->tz);
        free(e->ping_url);
        *e = (ExistingCheck) {};
}

const char *sync_action_to_string(SyncAction a) {
        static const char *const table[_SYNC_ACTION_MAX] = {
                [SYNC_CREATE] = "create",
                [SYNC_UPDATE] = "update",
                [SYNC_UNCHANGED] = "unchanged",
                [SYNC_PRUNE] = "prune",
        };
        return a < _SYNC_ACTION_MAX ? table[a] : NULL;
}

static unsigned usec_to_sec_up(usec_t u) {
        uint64_t s = u / USEC_PER_SEC + (u % USEC_PER_SEC != 0); /* no overflow at "infinity" */

        return s > PROVISION_TIMEOUT_MAX ? PROVISION_TIMEOUT_MAX : (unsigned) s;
}

unsigned provision_grace(usec_t randomized_delay, usec_t accuracy, usec_t runtime) {
        usec_t total = randomized_delay;
        unsigned s;

        /* Saturating: systemd may report "infinity" as UINT64_MAX. */
        total = total > USEC_INFINITY - accuracy ? USEC_INFINITY : total + accuracy;
        runtime = runtime > USEC_INFINITY / 2 ? USEC_INFINITY / 2 : runtime;
        total = total > USEC_INFINITY - 2 * runtime ? USEC_INFINITY : total + 2 * runtime;
        s = usec_to_sec_up(total);
        s = (s + 59) / 60 * 60;
        if (s > PROVISION_TIMEOUT_MAX)
                s = PROVISION_TIMEOUT_MAX;
        return MAX(s, PROVISION_GRACE_MIN);
}

int provision_slug(const char *template, const char *unit, const char *hostname, char **ret) {
        const char *dot = strrchr(unit, '.');
        size_t prefix = dot ? (size_t) (dot - unit) : strlen(unit);
        char out[101];
        size_t n = 0;

        for (const char *s = template; *s && n < sizeof(out) - 1;) {
                const char *value = NULL;
                size_t len = 0;

                if (startswith(s, "{unit}"))
                        value = unit, len = strlen(unit), s += strlen("{unit}");
                else if (startswith(s, "{unit_prefix}"))
                        value = unit, len = prefix, s += strlen("{unit_prefix}");
                else if (startswith(s, "{hostname}"))
                        value = hostname, len = strlen(hostname), s += strlen("{hostname}");
                else
                        value = s, len = 1, s++;
                for (size_t i = 0; i < len && n < sizeof(out) - 1; i++) {
                        char c = value[i];

                        if (c >= 'A' && c <= 'Z')
                                c = (char) (c - 'A' + 'a');
                        out[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '-';
                }
        }
        out[n] = 0;
        *ret = strdup(out);
        return *ret ? 0 : -ENOMEM;
}

int calendar_split_tz(const char *expr, char **ret_expr, char **ret_tz) {
        const char *sp = strrchr(expr, ' ');

        *ret_expr = *ret_tz = NULL;
        /* systemd normalizes to "[weekdays] date time [zone]": the time always has ':', a zone
         * never does. */
        if (!sp || isempty(sp + 1) || strchr(sp + 1, ':'))
                return 0;
        *ret_expr = strndup(expr, (size_t) (sp - expr));
        *ret_tz = strdup(sp + 1);
        if (!*ret_expr || !*ret_tz) {
                *ret_expr = mfree(*ret_expr);
                *ret_tz = mfree(*ret_tz);
                return -ENOMEM;
        }
        return 1;
}

/* "timerbeat host" and then each tag of tags= not already there. */
static int desired_tags(const char *hostname, const char *extra, char **ret) {
        _cleanup_free_ char *copy = strdup(strempty(extra)), *tags = NULL;
        char *save = NULL;

        if (!copy || asprintf(&tags, "%s %s", PROVISION_TAG, hostname) < 0)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
                char *n;
                bool seen = false;
                _cleanup_free_ char *c = strdup(tags);

                if (!c)
                        return -ENOMEM;
                for (char *s2 = NULL, *w = strtok_r(c, " ", &s2); w; w = strtok_r(NULL, " ", &s2))
                        seen = seen || streq(w, t);
                if (seen)
                        continue;
                if (asprintf(&n, "%s %s", tags, t) < 0)
                        return -ENOMEM;
                free(tags);
                tags = n;
        }
        *ret = TAKE_PTR(tags);
        return 0;
}

/* The calendar schedule: each expression on its own line (healthchecks reads several); a single
 * expression's own zone becomes tz, several keep theirs inline with the host's as tz. */
static int desired_schedule(const TimerInfo *t, DesiredCheck *d, char **ret_error) {
        _cleanup_free_ char *expr = NULL, *tz = NULL, *joined = NULL;
        size_t len = 0;
        int r;

        if (t->n_calendars == 1) {
                r = calendar_split_tz(t->calendars[0], &expr, &tz);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < t->n_calendars; i++)
                len += strlen(t->calendars[i]) + 1;
        joined = calloc(1, len + 1);
        if (!joined)
                return -ENOMEM;
        len = 0;
        for (size_t i = 0; i < t->n_calendars; i++) {
                size_t l = strlen(t->calendars[i]);

                if (i > 0)
                        joined[len++] = '\n';
                memcpy(joined + len, t->calendars[i], l);
                len += l;
        }
        if (expr) {
                free(joined);
                joined = TAKE_PTR(expr);
        }
        if (strlen(joined) > PROVISION_SCHEDULE_MAX) {
                if (asprintf(ret_error,
                             "its OnCalendar= expressions make a schedule of %zu characters, healthchecks takes "
                             "at most %u; shorten them or set provision = no for it",
                             strlen(joined), PROVISION_SCHEDULE_MAX) < 0)
                        return -ENOMEM;
                return -E2BIG;
        }
        d->schedule = TAKE_PTR(joined);
        d->tz = tz ? TAKE_PTR(tz) : strdup(strempty(t->host_tz));
        return d->tz ? 0 : -ENOMEM;
}

/* A timer with monotonic triggers only: a simple check whose period is the shortest trigger
 * (OnUnitActiveSec= and OnUnitInactiveSec= repeat; OnBootSec=, OnStartupSec= and
 * OnActiveSec= fire once per boot, so their period is a guess that the note says). */
static int desired_timeout(const TimerInfo *t, DesiredCheck *d) {
        usec_t period = USEC_INFINITY;
        bool repeating = false;

        for (size_t i = 0; i < t->n_monotonic; i++) {
                bool rep = streq(t->monotonic[i].base, "OnUnitActiveUSec") ||
                           streq(t->monotonic[i].base, "OnUnitInactiveUSec");

                if (rep && !repeating)
                        period = USEC_INFINITY; /* a repeating trigger wins over one-shots */
                if (rep || !repeating)
                        period = MIN(period, t->monotonic[i].value);
                repeating = repeating || rep;
        }
        d->timeout = MAX(usec_to_sec_up(period), PROVISION_GRACE_MIN);
        if (!repeating && asprintf(&d->note, "only once-per-boot triggers: the timeout is the first one's delay") < 0)
                return -ENOMEM;
        return 0;
}

int provision_desired(const TimerInfo *t, const Provision *p, DesiredCheck *ret, char **ret_error) {
        _cleanup_(desired_check_done) DesiredCheck d = {};
        int r;

        assert(t && p && ret && ret_error);
        *ret_error = NULL;
        if (t->n_calendars == 0 && t->n_monotonic == 0) {
                if (asprintf(ret_error, "it has no OnCalendar= and no monotonic trigger (OnUnitActiveSec=, …); "
                                        "nothing to derive a schedule from") < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        d.name = strdup(t->unit);
        if (!d.name ||
            provision_slug(isempty(p->slug) ? "{unit_prefix}" : p->slug, t->unit, strempty(t->hostname), &d.slug) < 0)
                return -ENOMEM;
        if (asprintf(&d.desc, "%s on %s", isempty(t->description) ? t->unit : t->description, strempty(t->hostname)) <
            0)
                return -ENOMEM;
        r = desired_tags(strempty(t->hostname), p->tags, &d.tags);
        if (r < 0)
                return r;
        r = t->n_calendars > 0 ? desired_schedule(t, &d, ret_error) : desired_timeout(t, &d);
        if (r < 0)
                return r;
        if (t->n_calendars > 0 && t->n_monotonic > 0 &&
            asprintf(&d.note, "its monotonic triggers are not monitored: healthchecks takes a schedule or a "
                              "period, and the OnCalendar= schedule is used") < 0)
                return -ENOMEM;
        d.grace = p->grace > 0 ? usec_to_sec_up(p->grace) :
                                 provision_grace(t->randomized_delay, t->accuracy, t->runtime);
        *ret = d;
        d = (DesiredCheck) {};
        return 0;
}

static int add_changed(char **list, const char *what) {
        char *n;

        if (asprintf(&n, "%s%s%s", strempty(*list), *list ? ", " : "", what) < 0)
                return -ENOMEM;
        free(*list);
        *list = n;
        return 0;
}

SyncAction provision_compare(const DesiredCheck *d, const ExistingCheck *e, char **ret_changed) {
        _cleanup_free_ char *changed = NULL;

        *ret_changed = NULL;
        if (!e)
                return SYNC_CREATE;
        if (!streq_ptr(d->slug, e->slug))
                (void) add_changed(&changed, "slug");
        if (!streq_ptr(d->desc, e->desc))
                (void) add_changed(&changed, "desc");
        if (!streq_ptr(d->tags, e->tags))
                (void) add_changed(&changed, "tags");
        if (d->schedule ? !streq_ptr(d->schedule, e->schedule) : (e->schedule || d->timeout != e->timeout))
                (void) add_changed(&changed, d->schedule ? "schedule" : "timeout");
        if (d->schedule && !streq_ptr(d->tz, e->tz))
                (void) add_changed(&changed, "tz");
        if (d->grace != e->grace)
                (void) add_changed(&changed, "grace");
        if (!changed)
                return SYNC_UNCHANGED;
        *ret_changed = TAKE_PTR(changed);
        return SYNC_UPDATE;
}

bool provision_is_ours(const ExistingCheck *e, const char *hostname) {
        _cleanup_free_ char *copy = strdup(strempty(e->tags));
        bool tag = false, host = false;
        char *save = NULL;

        if (!copy)
                return false;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                tag = tag || streq(w, PROVISION_TAG);
                host = host || streq(w, hostname);
        }
        return tag && host;
}

static int append(char **buf, const char *s) {
        size_t l = *buf ? strlen(*buf) : 0;
        char *n = realloc(*buf, l + strlen(s) + 1);

        if (!n)
                return -ENOMEM;
        memcpy(n + l, s, strlen(s) + 1);
        *buf = n;
        return 0;
}

static int append_member(char **buf, const char *key, const char *value) {
        char head[64];

        snprintf(head, sizeof(head), "%s\"%s\":", *buf && strlen(*buf) > 1 ? "," : "", key);
        if (append(buf, head) < 0 || json_append_string(buf, value) < 0)
                return -ENOMEM;
        return 0;
}

int provision_request_body(const DesiredCheck *d, char **ret) {
        _cleanup_free_ char *b = strdup("{");
        char num[64];

        if (!b || append_member(&b, "name", d->name) < 0 || append_member(&b, "slug", d->slug) < 0 ||
            append_member(&b, "desc", d->desc) < 0 || append_member(&b, "tags", d->tags) < 0)
                return -ENOMEM;
        if (d->schedule) {
                if (append_member(&b, "schedule", d->schedule) < 0 || append_member(&b, "tz", d->tz) < 0)
                        return -ENOMEM;
                snprintf(num, sizeof(num), ",\"grace\":%u}", d->grace);
        } else
                snprintf(num, sizeof(num), ",\"timeout\":%u,\"grace\":%u}", d->timeout, d->grace);
        if (append(&b, num) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(b);
        return 0;
}

int provision_describe(const DesiredCheck *d, char **ret) {
        char a[32], b[32];
        _cleanup_free_ char *sched = NULL;
        int r;

        if (d->schedule) {
                sched = strdup(d->schedule);
                if (!sched)
                        return -ENOMEM;
                for (char *c = sched; *c; c++)
                        if (*c == '\n')
                                *c = ';';
                r = asprintf(ret, "schedule '%s' tz %s grace %s", sched, d->tz,
                             format_timespan(b, sizeof(b), (usec_t) d->grace * USEC_PER_SEC));
        } else
                r = asprintf(ret, "timeout %s grace %s",
                             format_timespan(a, sizeof(a), (usec_t) d->timeout * USEC_PER_SEC),
                             format_timespan(b, sizeof(b), (usec_t) d->grace * USEC_PER_SEC));
        return r < 0 ? -ENOMEM : 0;
}

static int dup_member(const JsonValue *o, const char *key, char **ret) {
        const char *s = json_get_string(o, key);

        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

static int check_from_json(const JsonValue *o, ExistingCheck *ret) {
        ExistingCheck e = {};

        if (!o || o->type != JSON_OBJECT || !json_get_string(o, "name"))
                return -EBADMSG;
        if (dup_member(o, "uuid", &e.uuid) < 0 || dup_member(o, "name", &e.name) < 0 ||
            dup_member(o, "slug", &e.slug) < 0 || dup_member(o, "desc", &e.desc) < 0 ||
            dup_member(o, "tags", &e.tags) < 0 || dup_member(o, "schedule", &e.schedule) < 0 ||
            dup_member(o, "tz", &e.tz) < 0 || dup_member(o, "ping_url", &e.ping_url) < 0) {
                existing_check_done(&e);
                return -ENOMEM;
        }
        e.timeout = (unsigned) MIN(json_get_uint(o, "timeout", 0), UINT32_MAX);
        e.grace = (unsigned) MIN(json_get_uint(o, "grace", 0), UINT32_MAX);
        e.n_pings = (unsigned) MIN(json_get_uint(o, "n_pings", 0), UINT32_MAX);
        *ret = e;
        return 0;
}

int provision_parse_check(const char *json, size_t size, ExistingCheck *ret) {
        _cleanup_(json_freep) JsonValue *v = NULL;
        int r = json_parse(json, size, &v);

        if (r < 0)
                return r;
        return check_from_json(v, ret);
}

int provision_parse_checks(const char *json, size_t size, ExistingCheck **ret, size_t *ret_n) {
        _cleanup_(json_freep) JsonValue *v = NULL;
        const JsonValue *list;
        ExistingCheck *a;
        int r = json_parse(json, size, &v);

        if (r < 0)
                return r;
        list = json_get(v, "checks");
        if (!list || list->type != JSON_ARRAY)
                return -EBADMSG;
        a = calloc(list->n + 1, sizeof(ExistingCheck));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < list->n; i++) {
                r = check_from_json(&list->items[i], &a[i]);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                existing_check_done(&a[j]);
                        free(a);
                        return r;
                }
        }
        *ret = a;
        *ret_n = list->n;
        return 0;
}

char *provision_parse_error(const char *json, size_t size) {
        _cleanup_(json_freep) JsonValue *v = NULL;
        const char *e;

        if (json_parse(json, size, &v) < 0)
                return NULL;
        e = json_get_string(v, "error");
        return e ? strdup(e) : NULL;
}

void provision_map_free(ProvisionedUnit *u, size_t n) {
        for (size_t i = 0; u && i < n; i++) {
                free(u[i].unit);
                free(u[i].uuid);
                free(u[i].ping_url);
        }
        free(u);
}

int provision_map_parse(const char *text, ProvisionedUnit **ret, size_t *ret_n) {
        ProvisionedUnit *a = NULL;
        size_t n = 0;

        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                const char *t1 = memchr(line, '\t', len),
                           *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t) (t1 + 1 - line)) : NULL;

                if (t1 && t2) {
                        ProvisionedUnit *b = realloc(a, sizeof(ProvisionedUnit) * (n + 1));

                        if (!b) {
                                provision_map_free(a, n);
                                return -ENOMEM;
                        }
                        a = b;
                        a[n] = (ProvisionedUnit) {
                                .unit = strndup(line, (size_t) (t1 - line)),
                                .uuid = strndup(t1 + 1, (size_t) (t2 - t1 - 1)),
                                .ping_url = strndup(t2 + 1, len - (size_t) (t2 + 1 - line)),
                        };
                        n++;
                        if (!a[n - 1].unit || !a[n - 1].uuid || !a[n - 1].ping_url) {
                                provision_map_free(a, n);
                                return -ENOMEM;
                        }
                }
                /* Anything else (a torn or foreign line) is skipped: sync writes it again. */
                line += len;
                if (*line)
                        line++;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int provision_map_format(const ProvisionedUnit *u, size_t n, char **ret) {
        _cleanup_free_ char *b = strdup("");

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char *line;

                if (asprintf(&line, "%s\t%s\t%s\n", u[i].unit, u[i].uuid, u[i].ping_url) < 0)
                        return -ENOMEM;
                if (append(&b, line) < 0) {
                        free(line);
                        return -ENOMEM;
                }
                free(line);
        }
        *ret = TAKE_PTR(b);
        return 0;
}

void sync_results_done(SyncResults *r) {
        for (size_t i = 0; i < r->n; i++) {
                free(r->items[i].unit);
                free(r->items[i].text);
        }
        free(r->items);
        *r = (SyncResults) {};
}

const SyncResult *sync_results_find(const SyncResults *r, const char *unit) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->items[i].unit, unit))
                        return &r->items[i];
        return NULL;
}

void sync_results_remove(SyncResults *r, const char *unit) {
        SyncResult *x = (SyncResult *) sync_results_find(r, unit);

        if (!x)
                return;
        free(x->unit);
        free(x->text);
        memmove(x, x + 1, (size_t) (r->items + r->n - x - 1) * sizeof(SyncResult));
        r->n--;
}

/* One line of the file holds one result: no tab or newline inside a field. */
static char *field_clean(const char *s) {
        char *c = strdup(strempty(s));

        for (char *p = c; p && *p; p++)
                if (*p == '\t' || *p == '\n' || *p == '\r')
                        *p = ' ';
        return c;
}

int sync_results_set(SyncResults *r, const char *unit, bool ok, usec_t time, const char *text) {
        _cleanup_free_ char *u = strdup(unit), *t = field_clean(text);
        SyncResult *x = (SyncResult *) sync_results_find(r, unit);

        if (!u || !t)
                return -ENOMEM;
        if (!x) {
                SyncResult *a = realloc(r->items, sizeof(SyncResult) * (r->n + 1));

                if (!a)
                        return -ENOMEM;
                r->items = a;
                x = &a[r->n++];
                *x = (SyncResult) { .unit = TAKE_PTR(u) };
        }
        free(x->text);
        x->text = TAKE_PTR(t);
        x->ok = ok;
        x->time = time;
        return 0;
}

static int parse_line(SyncResults *r, const char *line, size_t len) {
        _cleanup_free_ char *l = strndup(line, len);
        char *f[4] = {}, *p = l;
        size_t n = 0;
        unsigned long long t;
        char *end;

        if (!l)
                return -ENOMEM;
        /* strtok would merge empty fields; split on each tab, the last field keeps the rest. */
        while (n < 4 && p) {
                f[n++] = p;
                p = n < 4 ? strchr(p, '\t') : NULL;
                if (p)
                        *p++ = 0;
        }
        if (n < 2)
                return 0;
        errno = 0;
        t = strtoull(f[n == 2 ? 1 : 2], &end, 10);
        if (errno != 0 || *end || end == f[n == 2 ? 1 : 2])
                return 0;
        if (n == 2)
                return streq(f[0], "retry") ? (r->retry = (usec_t) t, 0) : 0;
        if (n != 4 || (!streq(f[0], "ok") && !streq(f[0], "failed")) || !unit_name_is_valid(f[1]))
                return 0;
        return sync_results_set(r, f[1], streq(f[0], "ok"), (usec_t) t, f[3]);
}

int sync_results_parse(const char *text, SyncResults *ret) {
        SyncResults r = {};

        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                int k = parse_line(&r, line, len);

                if (k < 0) {
                        sync_results_done(&r);
                        return k;
                }
                line += len;
                if (*line)
                        line++;
        }
        *ret = r;
        return 0;
}

int sync_results_format(const SyncResults *r, char **ret) {
        _cleanup_free_ char *b = strdup("");
        char *line;

        if (!b)
                return -ENOMEM;
        if (r->retry > 0) {
                if (asprintf(&line, "retry\t%" PRIu64 "\n", (uint64_t) r->retry) < 0)
                        return -ENOMEM;
                if (append(&b, line) < 0)
                        return free(line), -ENOMEM;
                free(line);
        }
        for (size_t i = 0; i < r->n; i++) {
                const SyncResult *x = &r->items[i];

                if (asprintf(&line, "%s\t%s\t%" PRIu64 "\t%s\n", x->ok ? "ok" : "failed", x->unit, (uint64_t) x->time,
                             strempty(x->text)) < 0)
                        return -ENOMEM;
                if (append(&b, line) < 0)
                        return free(line), -ENOMEM;
                free(line);
        }
        *ret = TAKE_PTR(b);
        return 0;
}

static const char *local_time(char *buf, size_t size, usec_t t) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "?");
        return buf;
}

int sync_result_describe(const SyncResult *res, usec_t retry, usec_t now, char **ret) {
        char a[64], b[64];
        int k;

        if (!res)
                k = retry > now ? asprintf(ret, "not provisioned yet (sync at %s)", local_time(b, sizeof(b), retry)) :
                                  asprintf(ret, "not provisioned yet");
        else if (res->ok)
                k = asprintf(ret, "provisioned as %s (synced %s)", res->text, local_time(a, sizeof(a), res->time));
        else if (retry > now)
                k = asprintf(ret, "sync failed %s: %s (retry at %s)", local_time(a, sizeof(a), res->time), res->text,
                             local_time(b, sizeof(b), retry));
        else
                k = asprintf(ret, "sync failed %s: %s", local_time(a, sizeof(a), res->time), res->text);
        return k < 0 ? -ENOMEM : 0;
}
