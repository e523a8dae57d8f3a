/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "provision.h"
#include "sync.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define RESPONSE_MAX (8U * 1024U * 1024U)

/* One monitor account (api-url, api-key) and the checks timerbeat made there for this host. */
typedef struct Project {
        const char *api_url, *api_key; /* borrowed from the config */
        ExistingCheck *checks;
        size_t n_checks;
        char *error; /* listing failed: every timer of the project fails with this */
        bool *seen;  /* per check: a timer of this host wants it */
} Project;

typedef struct SyncState {
        const SyncOptions *o;
        const Config *config;
        sd_bus *bus;
        char hostname[256];
        const char *tz;
        Project *projects;
        size_t n_projects;
        ProvisionedUnit *map;
        size_t n_map;
        unsigned failed;
        char *map_path;
        SyncResults results; /* what list shows, SYNC_STATUS_FILE */
        char *results_path;
} SyncState;

typedef struct Buffer {
        char *data;
        size_t size;
} Buffer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Buffer *b = userdata;
        size_t n = size * nmemb;
        char *d;

        if (b->size + n > RESPONSE_MAX)
                return 0;
        d = realloc(b->data, b->size + n + 1);
        if (!d)
                return 0;
        memcpy(d + b->size, ptr, n);
        b->data = d;
        b->size += n;
        d[b->size] = 0;
        return n;
}

/* One API call. On failure *ret_error says why (the server's "error", the HTTP status or
 * libcurl's message), never with the key. */
/* The API path as errors show it: a check's uuid is the secret of its ping URL (and these
 * lines reach the daemon's log), masked as url_mask() does, "checks/…a4b5". */
static void path_shown(const char *path, char *buf, size_t size) {
        const char *id = strchr(path, '/');

        if (id && strlen(id + 1) > 8)
                snprintf(buf, size, "%.*s…%s", (int) (id + 1 - path), path, id + 1 + strlen(id + 1) - 4);
        else
                snprintf(buf, size, "%s", path);
}

static int api_call(const SyncState *s, const Project *p, const char *method, const char *path, const char *body,
                    Buffer *ret, char **ret_error) {
        _cleanup_free_ char *url = NULL, *header = NULL, *msg = NULL;
        struct curl_slist *headers = NULL;
        char errbuf[CURL_ERROR_SIZE] = "", shown[128];
        long status = 0;
        CURL *curl;
        CURLcode rc;

        int base = (int) strlen(p->api_url);

        while (base > 0 && p->api_url[base - 1] == '/')
                base--;
        if (asprintf(&url, "%.*s/api/v3/%s", base, p->api_url, path) < 0 ||
            asprintf(&header, "X-Api-Key: %s", p->api_key) < 0)
                return -ENOMEM;
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        headers = curl_slist_append(headers, header);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        (void) curl_easy_setopt(curl, CURLOPT_URL, url);
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body)
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, ret);
        (void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) (s->config->timeout / USEC_PER_MSEC));
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) (s->config->connect_timeout / USEC_PER_MSEC));
        (void) curl_easy_setopt(curl, CURLOPT_USERAGENT, s->config->user_agent);
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        rc = curl_easy_perform(curl);
        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        curl_slist_free_all(headers);
        explicit_bzero(header, strlen(header));

        path_shown(path, shown, sizeof(shown));
        if (rc != CURLE_OK)
                return asprintf(ret_error, "%s %s/api/v3/%s: %s", method, p->api_url, shown,
                                errbuf[0] ? errbuf : curl_easy_strerror(rc)) < 0 ?
                               -ENOMEM :
                               -EIO;
        if (status >= 200 && status < 300)
                return 0;
        msg = ret->data ? provision_parse_error(ret->data, ret->size) : NULL;
        if (asprintf(ret_error, "%s %s/api/v3/%s: HTTP %ld%s%s%s%s", method, p->api_url, shown, status,
                     msg ? " (" : "", strempty(msg), msg ? ")" : "",
                     status == 401 || status == 403 ? "; set api-key= to a read-write API key of the project" : "") <
            0)
                return -ENOMEM;
        return -EIO;
}

/* What sync reads of a timer (and of its service's last run). */
typedef struct TimerProps {
        Strv calendars;
        Strv mono_bases;
        usec_t mono_values[32];
        char *description, *service;
        uint64_t randomized_delay, accuracy, start, exit;
} TimerProps;

static void timer_props_done(TimerProps *t) {
        strv_done(&t->calendars);
        strv_done(&t->mono_bases);
        free(t->description);
        free(t->service);
        *t = (TimerProps) {};
}

static int read_calendars(sd_bus *bus, const char *path, TimerProps *t) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *base, *expr;
        uint64_t next;
        int r;

        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Timer", "TimersCalendar", NULL,
                                &reply, "a(sst)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sst)");
        while (r > 0) {
                r = sd_bus_message_read(reply, "(sst)", &base, &expr, &next);
                if (r > 0 && strv_push(&t->calendars, expr) < 0)
                        return -ENOMEM;
        }
        return r;
}

static int read_monotonic(sd_bus *bus, const char *path, TimerProps *t) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *base;
        uint64_t value, next;
        int r;

        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Timer", "TimersMonotonic", NULL,
                                &reply, "a(stt)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(stt)");
        while (r > 0) {
                r = sd_bus_message_read(reply, "(stt)", &base, &value, &next);
                if (r > 0 && t->mono_bases.n < ELEMENTSOF(t->mono_values)) {
                        t->mono_values[t->mono_bases.n] = value;
                        if (strv_push(&t->mono_bases, base) < 0)
                                return -ENOMEM;
                }
        }
        return r;
}

static int read_timer(sd_bus *bus, const char *unit, TimerProps *t) {
        _cleanup_free_ char *path = NULL, *spath = NULL;
        const char *tif = "org.freedesktop.systemd1.Timer", *sif = "org.freedesktop.systemd1.Service";
        int r;

        r = unit_dbus_path(unit, &path);
        if (r >= 0)
                r = read_calendars(bus, path, t);
        if (r >= 0)
                r = read_monotonic(bus, path, t);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, tif, "RandomizedDelayUSec", NULL, 't',
                                                &t->randomized_delay);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, tif, "AccuracyUSec", NULL, 't',
                                                &t->accuracy);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Unit",
                                               "Description", NULL, &t->description);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SYSTEMD_DEST, path, tif, "Unit", NULL, &t->service);
        if (r < 0)
                return r;
        /* The last run's duration: a service that never ran has no timestamps (0). */
        if (!isempty(t->service) && unit_dbus_path(t->service, &spath) >= 0) {
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DEST, spath, sif, "ExecMainStartTimestamp", NULL, 't',
                                                   &t->start);
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DEST, spath, sif, "ExecMainExitTimestamp", NULL, 't',
                                                   &t->exit);
        }
        return 0;
}

/* The host's time zone: $TZ, else /etc/localtime's target below zoneinfo/, else UTC. */
static char *host_timezone(void) {
        const char *tz = getenv("TZ"), *z;
        char buf[PATH_MAX];
        ssize_t n;

        if (!isempty(tz)) {
                tz += tz[0] == ':';
                z = strstr(tz, "zoneinfo/");
                return strdup(z ? z + strlen("zoneinfo/") : tz);
        }
        n = readlink("/etc/localtime", buf, sizeof(buf) - 1);
        if (n > 0) {
                buf[n] = 0;
                z = strstr(buf, "zoneinfo/");
                if (z)
                        return strdup(z + strlen("zoneinfo/"));
        }
        return strdup("UTC");
}

static void sync_state_done(SyncState *s) {
        for (size_t i = 0; i < s->n_projects; i++) {
                for (size_t j = 0; j < s->projects[i].n_checks; j++)
                        existing_check_done(&s->projects[i].checks[j]);
                free(s->projects[i].checks);
                free(s->projects[i].seen);
                free(s->projects[i].error);
        }
        free(s->projects);
        provision_map_free(s->map, s->n_map);
        free(s->map_path);
        sync_results_done(&s->results);
        free(s->results_path);
        free((char *) s->tz);
        sd_bus_flush_close_unref(s->bus);
}

/* Lists the checks timerbeat made on this host in the project (tags timerbeat and host). */
static int project_fetch(SyncState *s, Project *p) {
        _cleanup_free_ char *path = NULL, *host = NULL;
        Buffer b = {};
        int r;

        host = curl_easy_escape(NULL, s->hostname, 0);
        if (!host || asprintf(&path, "checks/?tag=%s&tag=%s", PROVISION_TAG, host) < 0) {
                curl_free(host);
                host = NULL;
                return -ENOMEM;
        }
        r = api_call(s, p, "GET", path, NULL, &b, &p->error);
        if (r >= 0) {
                r = provision_parse_checks(b.data ?: "", b.size, &p->checks, &p->n_checks);
                if (r == -EBADMSG && asprintf(&p->error,
                                              "GET %s/api/v3/%s: the answer is not a list of checks; is api-url= a "
                                              "healthchecks site?",
                                              p->api_url, path) < 0)
                        r = -ENOMEM;
        }
        free(b.data);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && !(p->seen = calloc(p->n_checks + 1, sizeof(bool))))
                return -ENOMEM;
        return 0;
}

/* The project of a provisioned check, listed once. */
static int project_get(SyncState *s, const Provision *pv, Project **ret) {
        Project *a;

        for (size_t i = 0; i < s->n_projects; i++)
                if (streq(s->projects[i].api_url, pv->api_url) && streq(s->projects[i].api_key, pv->api_key)) {
                        *ret = &s->projects[i];
                        return 0;
                }
        a = realloc(s->projects, sizeof(Project) * (s->n_projects + 1));
        if (!a)
                return -ENOMEM;
        s->projects = a;
        a[s->n_projects] = (Project) { .api_url = pv->api_url, .api_key = pv->api_key };
        *ret = &a[s->n_projects++];
        return project_fetch(s, *ret);
}

static int map_set(SyncState *s, const char *unit, const char *uuid, const char *ping_url) {
        ProvisionedUnit *a;

        for (size_t i = 0; i < s->n_map; i++)
                if (streq(s->map[i].unit, unit)) {
                        if (free_and_strdup(&s->map[i].uuid, uuid) < 0 ||
                            free_and_strdup(&s->map[i].ping_url, ping_url) < 0)
                                return -ENOMEM;
                        return 0;
                }
        a = realloc(s->map, sizeof(ProvisionedUnit) * (s->n_map + 1));
        if (!a)
                return -ENOMEM;
        s->map = a;
        a[s->n_map] = (ProvisionedUnit) { strdup(unit), strdup(uuid), strdup(ping_url) };
        s->n_map++;
        if (!a[s->n_map - 1].unit || !a[s->n_map - 1].uuid || !a[s->n_map - 1].ping_url)
                return -ENOMEM;
        return 0;
}

static void map_remove(SyncState *s, const char *unit) {
        for (size_t i = 0; i < s->n_map; i++)
                if (streq(s->map[i].unit, unit)) {
                        free(s->map[i].unit);
                        free(s->map[i].uuid);
                        free(s->map[i].ping_url);
                        memmove(s->map + i, s->map + i + 1, (s->n_map - i - 1) * sizeof(ProvisionedUnit));
                        s->n_map--;
                        return;
                }
}

static int map_read(const char *path, ProvisionedUnit **ret, size_t *ret_n) {
        _cleanup_free_ char *data = NULL;
        int r = read_full_file(path, 16U * 1024U * 1024U, &data, NULL);

        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        return provision_map_parse(data, ret, ret_n);
}

/* Atomically, readable by its owner only: the ping URLs are secrets. */
static int map_write(const SyncState *s) {
        _cleanup_free_ char *text = NULL;

        if (provision_map_format(s->map, s->n_map, &text) < 0)
                return -ENOMEM;
        return sync_write_file(s->map_path, text);
}

int sync_write_file(const char *path, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        len = strlen(text);
        if (write(fd, text, len) != (ssize_t) len || fsync(fd) < 0) {
                int e = errno ?: EIO;

                (void) unlink(tmp);
                return -e;
        }
        if (rename(tmp, path) < 0) {
                int e = errno;

                (void) unlink(tmp);
                return -e;
        }
        return 0;
}

static void print_line(const char *action, const char *unit, const char *what, const char *changed,
                       const char *note) {
        printf("%-9s %s%s%s", action, unit, what ? "  " : "", strempty(what));
        if (changed)
                printf(" (changed: %s)", changed);
        printf("\n");
        if (note)
                printf("%-9s %s  note: %s\n", "", unit, note);
}

static void print_failed(SyncState *s, const char *unit, const char *why) {
        printf("%-9s %s  %s\n", "failed", unit, why);
        s->failed++;
        if (sync_results_set(&s->results, unit, false, now_usec(CLOCK_REALTIME), why) < 0)
                log_oom();
}

static ExistingCheck *project_find(Project *p, const char *hostname, const char *unit) {
        for (size_t i = 0; i < p->n_checks; i++)
                if (streq_ptr(p->checks[i].name, unit) && provision_is_ours(&p->checks[i], hostname)) {
                        p->seen[i] = true;
                        return &p->checks[i];
                }
        return NULL;
}

/* Creates or updates the check; records its ping URL. */
static int push_check(SyncState *s, Project *p, const DesiredCheck *d, const ExistingCheck *e, char **ret_error) {
        _cleanup_(existing_check_done) ExistingCheck got = {};
        _cleanup_free_ char *body = NULL, *path = NULL;
        Buffer b = {};
        int r;

        if (provision_request_body(d, &body) < 0 ||
            (e ? asprintf(&path, "checks/%s", e->uuid) : asprintf(&path, "checks/")) < 0)
                return -ENOMEM;
        r = api_call(s, p, "POST", path, body, &b, ret_error);
        if (r >= 0) {
                r = provision_parse_check(b.data ?: "", b.size, &got);
                if (r == -EBADMSG || (r >= 0 && (!got.uuid || !got.ping_url))) {
                        char shown[128];

                        path_shown(path, shown, sizeof(shown));
                        r = asprintf(ret_error, "POST %s/api/v3/%s: the answer is not a check", p->api_url, shown) <
                                            0 ?
                                    -ENOMEM :
                                    -EBADMSG;
                }
        }
        free(b.data);
        if (r < 0)
                return r;
        return map_set(s, d->name, got.uuid, got.ping_url);
}

static int timer_info(SyncState *s, const char *unit, TimerProps *tp, TimerTrigger *mono, TimerInfo *ret) {
        int r = read_timer(s->bus, unit, tp);

        if (r < 0)
                return r;
        for (size_t i = 0; i < tp->mono_bases.n; i++)
                mono[i] = (TimerTrigger) { tp->mono_bases.items[i], tp->mono_values[i] };
        *ret = (TimerInfo) {
                .unit = unit,
                .description = tp->description,
                .hostname = s->hostname,
                .host_tz = s->tz,
                .calendars = (const char *const *) tp->calendars.items,
                .n_calendars = tp->calendars.n,
                .monotonic = mono,
                .n_monotonic = tp->mono_bases.n,
                .randomized_delay = tp->randomized_delay,
                .accuracy = tp->accuracy,
                .runtime = tp->exit > tp->start && tp->start > 0 ? tp->exit - tp->start : 0,
        };
        return 0;
}

static int sync_timer(SyncState *s, const char *unit, const Check *k) {
        _cleanup_(timer_props_done) TimerProps tp = {};
        _cleanup_(desired_check_done) DesiredCheck d = {};
        _cleanup_free_ char *error = NULL, *changed = NULL, *what = NULL;
        TimerTrigger mono[ELEMENTSOF(tp.mono_values)];
        const ExistingCheck *e;
        Provision pv;
        Project *p;
        TimerInfo t;
        SyncAction a;
        int r;

        config_provision(s->config, k, &pv);
        r = project_get(s, &pv, &p);
        if (r < 0)
                return r;
        if (p->error) {
                print_failed(s, unit, p->error);
                return 0;
        }
        r = timer_info(s, unit, &tp, mono, &t);
        if (r < 0) {
                errno = -r;
                if (asprintf(&error, "cannot read the timer from systemd: %m") < 0)
                        return -ENOMEM;
                print_failed(s, unit, error);
                return 0;
        }
        r = provision_desired(&t, &pv, &d, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                print_failed(s, unit, error);
                return 0;
        }
        e = project_find(p, s->hostname, unit);
        a = provision_compare(&d, e, &changed);
        if (provision_describe(&d, &what) < 0)
                return -ENOMEM;
        if (!s->o->cli->dry_run && a != SYNC_UNCHANGED) {
                r = push_check(s, p, &d, e, &error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        print_failed(s, unit, error);
                        return 0;
                }
        } else if (!s->o->cli->dry_run && e && e->uuid && e->ping_url && map_set(s, unit, e->uuid, e->ping_url) < 0)
                return -ENOMEM;
        /* The daemon's own syncs say only what changes (or fails): it syncs at every start. */
        if (a != SYNC_UNCHANGED || !s->o->background)
                print_line(sync_action_to_string(a), unit, what, changed, d.note);
        if (!s->o->cli->dry_run && sync_results_set(&s->results, unit, true, now_usec(CLOCK_REALTIME), d.slug) < 0)
                return -ENOMEM;
        return 0;
}

static bool unit_wanted(const SyncOptions *o, const char *unit) {
        if (!o->units || !o->units[0])
                return true;
        for (char *const *u = o->units; *u; u++)
                if (streq(*u, unit))
                        return true;
        return false;
}

/* Checks timerbeat made on this host for a timer systemd no longer has. */
static int sync_prune(SyncState *s, const Strv *timers) {
        for (size_t i = 0; i < s->n_projects; i++) {
                Project *p = &s->projects[i];

                for (size_t j = 0; !p->error && j < p->n_checks; j++) {
                        ExistingCheck *e = &p->checks[j];
                        _cleanup_free_ char *path = NULL, *error = NULL;
                        Buffer b = {};
                        int r;

                        if (p->seen[j] || !provision_is_ours(e, s->hostname) || strv_contains(timers, e->name) ||
                            !unit_wanted(s->o, e->name) || !e->uuid)
                                continue;
                        if (!s->o->cli->dry_run) {
                                if (asprintf(&path, "checks/%s", e->uuid) < 0)
                                        return -ENOMEM;
                                r = api_call(s, p, "DELETE", path, NULL, &b, &error);
                                free(b.data);
                                if (r == -ENOMEM)
                                        return r;
                                if (r < 0) {
                                        print_failed(s, e->name, error);
                                        continue;
                                }
                                map_remove(s, e->name);
                                sync_results_remove(&s->results, e->name);
                        }
                        print_line("prune", e->name, NULL, NULL, NULL);
                }
        }
        return 0;
}

/* Every project named by a provisioned section is listed first, so that --prune sees them all
 * and a wrong key fails before anything is changed. */
static int sync_projects(SyncState *s) {
        for (size_t i = 0; i < s->config->n_checks; i++) {
                const Check *k = s->config->checks[i];
                Provision pv;
                Project *p;
                int r;

                if (!k->enabled || !check_is_provisioned(s->config, k))
                        continue;
                config_provision(s->config, k, &pv);
                r = project_get(s, &pv, &p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sync_setup(SyncState *s, const SyncOptions *o, const Config *c) {
        _cleanup_free_ char *dir = NULL;
        int r;

        *s = (SyncState) { .o = o, .config = c };
        if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
                return log_error_errno(errno, "Cannot read the host name: %m");
        s->tz = host_timezone();
        if (!s->tz)
                return log_oom();
        r = manager_state_dir(o->cli->manager, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot find the state directory: %m; pass --state-dir=DIR");
        if (asprintf(&s->map_path, "%s/%s", dir, SYNC_MAP_FILE) < 0)
                return log_oom();
        r = map_read(s->map_path, &s->map, &s->n_map);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m; fix its permissions or remove it", s->map_path);
        if (asprintf(&s->results_path, "%s/%s", dir, SYNC_STATUS_FILE) < 0)
                return log_oom();
        r = sync_results_read(s->results_path, &s->results);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m; fix its permissions or remove it", s->results_path);
        s->results.retry = 0; /* the daemon says again if it retries */
        if (!o->cli->dry_run && mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state directory %s: %m", dir);
        r = o->cli->manager->user ? sd_bus_open_user(&s->bus) : sd_bus_open_system(&s->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the service manager: %m");
        return 0;
}

int cli_sync(const SyncOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(sync_state_done) SyncState s = {};
        _cleanup_(strv_done) Strv timers = {};
        int r;

        r = manager_load_config(o->cli->manager, &c);
        if (r < 0)
                return r == -EINVAL ? EX_CONFIG : EXIT_FAILURE;
        r = sync_setup(&s, o, c);
        if (r >= 0)
                r = cli_list_units(s.bus, (char *[]) { (char *) "*.timer", NULL }, &timers);
        if (r < 0) {
                if (r != -ENOMEM && s.bus)
                        log_error_errno(r, "Cannot list the timers: %m");
                return EXIT_FAILURE;
        }
        if (sync_projects(&s) < 0)
                return log_oom(), EXIT_FAILURE;
        for (size_t i = 0; i < timers.n; i++) {
                const Check *k = config_match(c, timers.items[i]);

                if (!unit_wanted(o, timers.items[i]))
                        continue;
                if (!k || !k->enabled || !check_is_provisioned(c, k)) {
                        if (o->units && o->units[0])
                                print_line("skip", timers.items[i],
                                           "no section with provision = healthchecks applies", NULL, NULL);
                        continue;
                }
                if (sync_timer(&s, timers.items[i], k) < 0)
                        return log_oom(), EXIT_FAILURE;
        }
        for (char *const *u = o->units; u && *u; u++)
                if (!strv_contains(&timers, *u) && !o->prune)
                        print_failed(&s, *u, "systemd has no such timer");
        if (o->prune && sync_prune(&s, &timers) < 0)
                return log_oom(), EXIT_FAILURE;
        if (!o->cli->dry_run) {
                r = map_write(&s);
                if (r < 0) {
                        log_error_errno(r, "Cannot write %s: %m; the daemon will not know the provisioned checks",
                                        s.map_path);
                        return EXIT_FAILURE;
                }
                r = sync_results_write(s.results_path, &s.results);
                if (r < 0)
                        log_warning_errno(r, "Cannot write %s: %m; timerbeat list will not show this sync",
                                          s.results_path);
        } else
                printf("Dry run: nothing was changed.\n");
        return s.failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int sync_apply_provisioned(Config *c, const char *state_dir) {
        _cleanup_free_ char *path = NULL;
        ProvisionedUnit *map = NULL;
        size_t n = 0;
        int r;

        if (asprintf(&path, "%s/%s", state_dir, SYNC_MAP_FILE) < 0)
                return -ENOMEM;
        r = map_read(path, &map, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const Check *k = config_match(c, map[i].unit);

                if (k && !k->url && k->enabled && check_is_provisioned(c, k)) {
                        int q = config_add_provisioned(c, k, map[i].unit, map[i].ping_url);

                        r = q < 0 ? q : r + q;
                }
        }
        provision_map_free(map, n);
        return r;
}

int sync_results_read(const char *path, SyncResults *ret) {
        _cleanup_free_ char *data = NULL;
        int r = read_full_file(path, 4U * 1024U * 1024U, &data, NULL);

        if (r == -ENOENT) {
                *ret = (SyncResults) {};
                return 0;
        }
        if (r < 0)
                return r;
        return sync_results_parse(data, ret);
}

int sync_results_write(const char *path, const SyncResults *r) {
        _cleanup_free_ char *text = NULL;

        if (sync_results_format(r, &text) < 0)
                return -ENOMEM;
        return sync_write_file(path, text);
}
