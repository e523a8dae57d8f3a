/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <sysexits.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "access.h"
#include "build-config.h"
#include "cli.h"
#include "decide.h"
#include "hashmap.h"
#include "hostname.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "outbox.h"
#include "ping.h"
#include "resolve.h"
#include "sync.h"
#include "template.h"
#include "unitread.h"
#include "unitstate.h"
#include "watch.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define TIMER_IFACE "org.freedesktop.systemd1.Timer"

/* One monitored (or unmonitored) job, as `list` shows it. */
typedef struct Row {
        char *timer; /* NULL for a service configured without a timer */
        char *service;
        const Check *check; /* NULL: no heartbeat; owned by the config or Inventory.resolver */
        Strv errors;        /* annotation errors */
        UnitProps timer_props, service_props;
        UnitState state; /* whether it runs here, and in state_text why not */
        char state_text[200];
        bool monitored;     /* what the daemon follows: an active check, a unit that can run, a timer
                             * a pattern or annotation covers only when enabled or active */
        const Check *named; /* the section that named this unit (not a listed one): no resolution */
} Row;

typedef struct Inventory {
        Resolver *resolver; /* the daemon's resolution: conf section, annotation, pattern */
        Row *rows;
        size_t n, allocated;
        Hashmap *timers, *services; /* the rows by timer, the rows without one by service */
        bool bus_ok;
        bool last_runs; /* also read what list shows: last and next elapse, last run */
} Inventory;

static void inventory_done(Inventory *inv) {
        for (size_t i = 0; i < inv->n; i++) {
                free(inv->rows[i].timer);
                free(inv->rows[i].service);
                strv_done(&inv->rows[i].errors);
                props_done(&inv->rows[i].timer_props);
                props_done(&inv->rows[i].service_props);
        }
        free(inv->rows);
        resolver_free(inv->resolver);
        hashmap_free(inv->timers);
        hashmap_free(inv->services);
        *inv = (Inventory) {};
}

/* What check and list read of a timer (list also when it last and next elapses) and of a service,
 * no more: 10,000 units are tens of thousands of Gets. UnitFileState only of a timer that is not
 * active (unit_state() and unit_timer_is_eligible() look at it then only). */
static const UnitPropName timer_names[] = {
        { TIMER_IFACE, "Unit" },
        { UNIT_IFACE, "LoadState" },
        { UNIT_IFACE, "ActiveState" },
        { UNIT_IFACE, "FragmentPath" },
        { UNIT_IFACE, "DropInPaths" },
        { UNIT_IFACE, "Conditions" },
        /* list only, from here */
        { TIMER_IFACE, "LastTriggerUSec" },
        { TIMER_IFACE, "NextElapseUSecRealtime" },
        { TIMER_IFACE, "NextElapseUSecMonotonic" },
};
#define TIMER_NAMES_CHECK 6
static const UnitPropName service_names[] = {
        { UNIT_IFACE, "LoadState" },
        { UNIT_IFACE, "ActiveState" },
        { UNIT_IFACE, "SubState" },
        { UNIT_IFACE, "Conditions" },
};
/* For the resolution (annotations) of a listed unit's service: a named one is not resolved. */
static const UnitPropName service_file_names[] = {
        { UNIT_IFACE, "FragmentPath" },
        { UNIT_IFACE, "DropInPaths" },
};
/* The last run, for list; check reads the start only of a service that may be running. */
static const UnitPropName service_run_names[] = {
        { SERVICE_IFACE, "ExecMainStartTimestamp" },
        { UNIT_IFACE, "InvocationID" },
        { SERVICE_IFACE, "Result" },
        { SERVICE_IFACE, "ExecMainExitTimestamp" },
};
static const UnitPropName enabled_names[] = {
        { UNIT_IFACE, "UnitFileState" },
};
/* `ping --last-run`: the service's last run (and whether systemd knows the unit). */
static const UnitPropName last_run_names[] = {
        { UNIT_IFACE, "LoadState" },
        { UNIT_IFACE, "ActiveState" },
        { UNIT_IFACE, "InvocationID" },
        { SERVICE_IFACE, "Result" },
        { SERVICE_IFACE, "ExecMainCode" },
        { SERVICE_IFACE, "ExecMainStatus" },
        { SERVICE_IFACE, "ExecMainStartTimestamp" },
        { SERVICE_IFACE, "ExecMainExitTimestamp" },
};
/* A timer named on the command line: what it triggers. */
static const UnitPropName timer_unit_names[] = {
        { TIMER_IFACE, "Unit" },
};

static int read_unit(sd_bus *bus, const char *unit, const UnitPropName *names, size_t n, UnitProps *ret) {
        return unit_read_bulk(bus, &(UnitRead) { .unit = unit, .props = ret, .names = names, .n_names = n }, 1);
}

/* Units matching the patterns that are loaded from a unit file, sorted. ListUnitsByPatterns
 * loads nothing; a name someone loaded without a unit file (LoadState=not-found) is left out. */
int cli_list_units(sd_bus *bus, char **patterns, Strv *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *id, *load;
        int r;

        r = sd_bus_message_new_method_call(bus, &req, SYSTEMD_DEST, SYSTEMD_PATH, "org.freedesktop.systemd1.Manager",
                                           "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(req, NULL);
        if (r >= 0)
                r = sd_bus_message_append_strv(req, patterns);
        if (r >= 0)
                r = sd_bus_call(bus, req, 0, &error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r > 0) {
                r = sd_bus_message_read(reply, "(ssssssouso)", &id, NULL, &load, NULL, NULL, NULL, NULL, NULL, NULL,
                                        NULL);
                if (r > 0 && streq(load, "loaded") && unit_name_is_valid(id) && strv_push(ret, id) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        strv_sort(ret);
        return 0;
}

static Row *inventory_add(Inventory *inv) {
        if (grow_array((void **) &inv->rows, &inv->allocated, inv->n + 1, sizeof(Row)) < 0)
                return NULL;
        inv->rows[inv->n] = (Row) {};
        return &inv->rows[inv->n++];
}

/* The check for a unit, resolved exactly as the daemon does. */
static int row_resolve(Inventory *inv, Row *row, const Config *c, const char *unit) {
        _cleanup_(strv_done) Strv tf = {}, sf = {};

        (void) props_files(&row->timer_props, &tf);
        (void) props_files(&row->service_props, &sf);
        return resolver_update(inv->resolver, c, unit, &tf, &sf, &row->check, &row->errors);
}

static const char *format_time(char *buf, size_t size, usec_t t) {
        struct tm tm;
        time_t s;

        if (t == 0 || t == USEC_INFINITY)
                return "-";
        s = (time_t) (t / USEC_PER_SEC);
        if (!localtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "-";
        return buf;
}

static bool unit_is_loaded(const UnitProps *p) {
        return p->has_load && streq(p->load, "loaded");
}

/* Whether the row's unit runs here, and whether the daemon follows it (as watch.c decides). */
static void row_assess(Row *row) {
        const UnitProps *t = &row->timer_props, *sv = &row->service_props;
        bool found = unit_is_loaded(row->timer ? t : sv);
        bool covered = row->check && (row->check->pattern || row->check->origin == CHECK_FROM_ANNOTATION);
        UnitStateInput in = {
                .timer_found = found,
                .timer_active = row->timer ? t->active : "active",
                .timer_file = t->unit_file_state,
                .timer_condition = t->failed_condition,
                .target = row->timer ? t->unit : row->service,
                .service_active = sv->has_active ? sv->active : NULL,
                .service_sub = sv->sub,
                .service_condition = sv->failed_condition,
                .service_start = sv->start,
        };

        row->state = unit_state(&in, row->state_text, sizeof(row->state_text));
        if (row->state == UNIT_STATE_RUNNING && sv->start > 0) {
                char buf[64];

                snprintf(row->state_text, sizeof(row->state_text), "running since %s",
                         format_time(buf, sizeof(buf), sv->start));
        }
        row->monitored = check_is_active(row->check) && row->state != UNIT_STATE_NOT_FOUND &&
                         row->state != UNIT_STATE_NOT_SERVICE &&
                         (!covered || !row->timer || unit_timer_is_eligible(t->active, t->unit_file_state));
}

/* A row for a unit not yet in the inventory (a timer, or a service without one), or NULL with *ret_r
 * 0 when it is there, -ENOMEM. */
static Row *inventory_add_unit(Inventory *inv, const char *unit, bool timer, const Check *named, int *ret_r) {
        Hashmap *m = timer ? inv->timers : inv->services;
        Row *row;

        *ret_r = 0;
        if (hashmap_get(m, unit))
                return NULL;
        *ret_r = -ENOMEM;
        row = inventory_add(inv);
        if (!row)
                return NULL;
        row->named = named;
        if (timer)
                row->timer = strdup(unit);
        else
                row->service = strdup(unit);
        if (!(timer ? row->timer : row->service) || hashmap_put(m, timer ? row->timer : row->service, row) < 0)
                return NULL;
        *ret_r = 0;
        return row;
}

/* Units named in the config (services, then timers) that are not listed (a timer not loaded now,
 * maybe installed: reading it loads it, as the daemon's does), then the services that service
 * pattern sections ([job-*.service]) cover, as the daemon finds them. */
static int inventory_add_named(sd_bus *bus, const Config *c, Inventory *inv) {
        _cleanup_(strv_done) Strv patterns = {}, services = {};
        int r;

        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < c->n_checks; i++) {
                        const Check *k = c->checks[i];

                        if (!k->pattern && endswith(k->name, pass == 0 ? ".service" : ".timer") &&
                            !inventory_add_unit(inv, k->name, pass == 1, k, &r) && r < 0)
                                return log_oom();
                }
        for (size_t i = 0; i < c->n_checks; i++)
                if (c->checks[i]->pattern && endswith(c->checks[i]->name, ".service") &&
                    strv_push(&patterns, c->checks[i]->name) < 0)
                        return log_oom();
        if (patterns.n == 0)
                return 0;
        r = cli_list_units(bus, patterns.items, &services);
        if (r < 0)
                return r;
        for (size_t i = 0; i < services.n; i++)
                if (!inventory_add_unit(inv, services.items[i], false, NULL, &r) && r < 0)
                        return log_oom();
        return 0;
}

typedef enum ReadStep {
        READ_TIMERS,
        READ_SERVICES,      /* and whether the timers not active are enabled */
        READ_RUNNING_SINCE, /* check: the start of a service that may be running */
} ReadStep;

static bool maybe_running(const UnitProps *p) {
        return p->has_active && !streq(p->active, "inactive") && !streq(p->active, "failed");
}

/* Reads one step's properties of every row: one Get per property, many in flight. */
static int inventory_read(sd_bus *bus, Inventory *inv, ReadStep step) {
        _cleanup_free_ UnitRead *reads = calloc(inv->n * 4 + 1, sizeof(UnitRead));
        size_t n = 0;

        if (!reads)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n; i++) {
                Row *row = &inv->rows[i];
                UnitProps *t = &row->timer_props, *sv = &row->service_props;

                if (step == READ_TIMERS && row->timer)
                        reads[n++] = (UnitRead) { row->timer, t, timer_names,
                                                  inv->last_runs ? ELEMENTSOF(timer_names) : TIMER_NAMES_CHECK };
                if (step == READ_RUNNING_SINCE && row->service && !inv->last_runs && maybe_running(sv))
                        reads[n++] = (UnitRead) { row->service, sv, service_run_names, 1 };
                if (step != READ_SERVICES)
                        continue;
                if (row->timer && !unit_timer_is_eligible(t->active, NULL))
                        reads[n++] = (UnitRead) { row->timer, t, enabled_names, ELEMENTSOF(enabled_names) };
                if (!row->service)
                        continue;
                reads[n++] = (UnitRead) { row->service, sv, service_names, ELEMENTSOF(service_names) };
                if (!row->named)
                        reads[n++] = (UnitRead) { row->service, sv, service_file_names,
                                                  ELEMENTSOF(service_file_names) };
                if (inv->last_runs)
                        reads[n++] = (UnitRead) { row->service, sv, service_run_names,
                                                  ELEMENTSOF(service_run_names) };
        }
        return unit_read_bulk(bus, reads, n);
}

/* Every timer, the units the config names and the services its patterns cover, in that order,
 * read in phases (the timers, then their services), then resolved as the daemon does. */
static int inventory_collect(const ManagerOptions *mo, const Config *c, Inventory *inv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(strv_done) Strv timers = {};
        int r;

        if (!inv->resolver && resolver_new(&inv->resolver) < 0)
                return log_oom();
        if ((!inv->timers && hashmap_new(&inv->timers, HASHMAP_KEYS_BORROW) < 0) ||
            (!inv->services && hashmap_new(&inv->services, HASHMAP_KEYS_BORROW) < 0))
                return log_oom();
        r = mo->user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r >= 0)
                r = cli_list_units(bus, (char *[]) { (char *) "*.timer", NULL }, &timers);
        if (r < 0)
                return r; /* the caller says what that means for it */
        inv->bus_ok = true;

        for (size_t i = 0; i < timers.n; i++)
                if (!inventory_add_unit(inv, timers.items[i], true, NULL, &r) && r < 0)
                        return log_oom();
        r = inventory_add_named(bus, c, inv);
        if (r >= 0)
                r = inventory_read(bus, inv, READ_TIMERS);
        for (size_t i = 0; r >= 0 && i < inv->n; i++) {
                Row *row = &inv->rows[i];

                if (row->timer && !isempty(row->timer_props.unit) && !(row->service = strdup(row->timer_props.unit)))
                        return log_oom();
        }
        if (r >= 0)
                r = inventory_read(bus, inv, READ_SERVICES);
        if (r >= 0)
                r = inventory_read(bus, inv, READ_RUNNING_SINCE);
        if (r < 0)
                return r == -ENOMEM ? log_oom() : r;
        for (size_t i = 0; i < inv->n; i++) {
                Row *row = &inv->rows[i];

                row->check = row->named;
                if (!row->named && row_resolve(inv, row, c, row->timer ?: row->service) < 0)
                        return log_oom();
                row_assess(row);
        }
        return 0;
}

static const char *row_unit(const Row *row) {
        return row->timer ?: row->service;
}

/* Display width of UTF-8 text: the masked URLs contain "…". */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; s && *s; s++)
                w += ((unsigned char) *s & 0xc0) != 0x80;
        return w;
}

static void print_cell(const char *s, size_t width, bool last) {
        fputs(strempty(s), stdout);
        if (last) {
                putchar('\n');
                return;
        }
        for (size_t i = text_width(s); i < width + 2; i++)
                putchar(' ');
}

/* A manual request: no run behind it. host: the caller's, filled. */
static PingRun manual_run(const char *unit, const char *service, Event e, int exit_code, char host[static 256]) {
        return (PingRun) {
                .unit = unit,
                .service = service ?: unit,
                .result = e == EVENT_FAILURE ? "exit-code" :
                          e == EVENT_START   ? NULL :
                                               "success",
                .message = e == EVENT_START ? "started (manual ping from timerbeat)" : "manual ping from timerbeat",
                .hostname = host,
                .exit_code = e == EVENT_FAILURE ? exit_code : 0,
        };
}

/* The success URL of a check for a unit, as the daemon builds it; masked unless secret. */
static char *check_url_shown(const Check *k, const char *unit, bool secret) {
        _cleanup_free_ char *url = NULL;
        char host[256] = "";
        PingRun run;

        if (!check_is_active(k))
                return NULL;
        (void) gethostname(host, sizeof(host) - 1);
        run = manual_run(unit, NULL, EVENT_SUCCESS, 0, host);
        if (ping_url(k, EVENT_SUCCESS, &run, &url) < 0)
                return NULL;
        return secret ? TAKE_PTR(url) : url_mask(url);
}

/* What `check` shows for a check's URL: masked, or where timerbeat sync provisions it. */
static char *check_url_summary(const Config *c, const Check *k) {
        const char *t = k->url ?: check_template(k, EVENT_SUCCESS);
        Provision p;
        char *s;

        if (!k->url && check_is_provisioned(c, k)) {
                config_provision(c, k, &p);
                return asprintf(&s, "(provisioned on %s by timerbeat sync)", strempty(p.api_url)) < 0 ? NULL : s;
        }
        return t ? url_mask(t) : NULL;
}

static char *row_url(const Row *row, bool secret) {
        return check_url_shown(row->check, row_unit(row), secret);
}

static void json_string(FILE *f, const char *s) {
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;

                if (ch == '"' || ch == '\\')
                        fprintf(f, "\\%c", ch);
                else if (ch < 0x20)
                        fprintf(f, "\\u%04x", ch);
                else
                        fputc(ch, f);
        }
        fputc('"', f);
}

static void json_usec(usec_t t) {
        if (t == 0 || t == USEC_INFINITY)
                printf("null");
        else
                printf("%" PRIu64, (uint64_t) t);
}

/* When the row's timer elapses next (CLOCK_REALTIME), USEC_INFINITY: never. */
static usec_t row_next(const Row *row) {
        const UnitProps *t = &row->timer_props;

        if (!row->timer || row->state == UNIT_STATE_NOT_FOUND)
                return USEC_INFINITY;
        return unit_next_elapse(t->has_next_elapse ? t->next_elapse : 0,
                                t->has_next_elapse_mono ? t->next_elapse_mono : 0, now_usec(CLOCK_REALTIME),
                                now_usec(CLOCK_MONOTONIC));
}

static int load_config(const ManagerOptions *mo, Config **ret) {
        int r = manager_load_config(mo, ret);

        if (r == -EINVAL) {
                log_error("Configuration is invalid; fix the lines above.");
                return EX_CONFIG;
        }
        return r < 0 ? EXIT_FAILURE : 0;
}

/* Pings of the check still in the outbox (not answered for good). */
static unsigned row_undelivered(Hashmap *undelivered, const Row *row) {
        return undelivered ? (unsigned) (uintptr_t) hashmap_get(undelivered, row_unit(row)) : 0;
}

static void json_strv(const char *key, const Strv *l) {
        printf(",\"%s\":[", key);
        for (size_t i = 0; i < l->n; i++) {
                if (i)
                        putchar(',');
                json_string(stdout, l->items[i]);
        }
        putchar(']');
}

/* "daemon": what the running daemon loaded and whether the files on disk differ; null when it
 * does not run. */
static void list_print_daemon_json(const Config *c, const char *state) {
        _cleanup_(daemon_view_done) DaemonView v = {};

        printf(",\"daemon\":");
        if (cli_daemon_compare(c, state, &v) < 0) {
                printf("null");
                return;
        }
        printf("{\"pid\":%ld,\"loaded_usec\":%" PRIu64 ",\"reloads\":%" PRIu64, (long) v.status.pid,
               (uint64_t) v.status.loaded, v.status.generation);
        json_strv("files", &v.status.files);
        printf(",\"disk_differs\":%s", v.differs ? "true" : "false");
        json_strv("changed", &v.changed);
        json_strv("new", &v.added);
        json_strv("gone", &v.removed);
        printf(",\"last_reload_refused\":%s", v.status.refused ? "true" : "false");
        json_strv("last_reload_errors", &v.status.errors);
        putchar('}');
}

/* Whether list says how the row's check is provisioned (timerbeat sync). */
static bool row_provisioned(const Config *c, const Row *row) {
        return row->timer && row->check && row->check->enabled && row->check->origin != CHECK_FROM_ANNOTATION &&
               check_is_provisioned(c, row->check);
}

/* "provision": null, or the unit's last sync: provisioned (slug), failed (error), pending; the
 * daemon's next retry. */
static void list_print_provision_json(const Config *c, const Row *row, const SyncResults *res) {
        const SyncResult *x = res ? sync_results_find(res, row->timer) : NULL;
        usec_t now = now_usec(CLOCK_REALTIME);

        printf(",\"provision\":");
        if (!row_provisioned(c, row)) {
                printf("null");
                return;
        }
        printf("{\"state\":\"%s\",\"slug\":", !x ? "pending" : x->ok ? "provisioned" : "failed");
        json_string(stdout, x && x->ok ? x->text : NULL);
        printf(",\"error\":");
        json_string(stdout, x && !x->ok ? x->text : NULL);
        printf(",\"time_usec\":");
        json_usec(x ? x->time : 0);
        printf(",\"retry_usec\":");
        json_usec(res && res->retry > now && (!x || !x->ok) ? res->retry : 0);
        putchar('}');
}

/* Below the table: one line per provisioned check (its sync's messages do not fit a column). */
static void list_print_provision(const Config *c, const Inventory *inv, const SyncResults *res) {
        usec_t now = now_usec(CLOCK_REALTIME);
        bool first = true;

        for (size_t i = 0; i < inv->n; i++) {
                const Row *row = &inv->rows[i];
                _cleanup_free_ char *text = NULL;
                const SyncResult *x;

                if (!row_provisioned(c, row))
                        continue;
                x = sync_results_find(res, row->timer);
                if (sync_result_describe(x, x && x->ok ? 0 : res->retry, now, &text) < 0)
                        return (void) log_oom();
                if (first)
                        printf("\nProvisioning (timerbeat sync):\n");
                first = false;
                printf("  %s  %s\n", row->timer, text);
        }
}

static void list_print_json(const CliOptions *o, const Config *c, const Inventory *inv, const char *state,
                            Hashmap *undelivered, const SyncResults *res) {
        printf("{\"manager\":\"%s\",\"units\":[", o->manager->user ? "user" : "system");
        for (size_t i = 0; i < inv->n; i++) {
                const Row *row = &inv->rows[i];
                const UnitProps *sp = &row->service_props;
                _cleanup_free_ char *url = row_url(row, false);
                bool on = row->monitored;
                usec_t next = row_next(row);
                PingRecord ping;
                bool has_ping = state && outbox_read_ping(state, row_unit(row), &ping) >= 0;

                printf("%s{\"timer\":", i ? "," : "");
                json_string(stdout, row->timer);
                printf(",\"service\":");
                json_string(stdout, row->service);
                printf(",\"monitored\":%s,\"origin\":", on ? "true" : "false");
                if (row->check) {
                        printf("{\"kind\":\"%s\",\"section\":", check_origin_kind(row->check));
                        json_string(stdout,
                                    row->check->origin == CHECK_FROM_ANNOTATION ? "X-Timerbeat" : row->check->name);
                        const char *file;
                        unsigned line;

                        check_where(row->check, &file, &line);
                        printf(",\"file\":");
                        json_string(stdout, file);
                        printf(",\"line\":%u,\"enabled\":%s}", line, row->check->enabled ? "true" : "false");
                } else
                        printf("null");
                printf(",\"url\":");
                json_string(stdout, on ? url : NULL);
                printf(",\"method\":");
                json_string(stdout, on && row->check ? http_method_to_string(row->check->method) : NULL);
                /* Unknown or never: null, not 0 or 2^64-1. */
                printf(",\"state\":");
                json_string(stdout, row->state_text);
                printf(",\"runs_here\":%s,\"last_trigger_usec\":",
                       unit_state_is_problem(row->state) ? "false" : "true");
                json_usec(row->timer_props.last_trigger);
                printf(",\"next_elapse_usec\":");
                json_usec(row->timer ? next : 0);
                printf(",\"running_since_usec\":");
                json_usec(row->state == UNIT_STATE_RUNNING ? sp->start : 0);
                printf(",\"last_run\":");
                if (!isempty(sp->invocation)) {
                        printf("{\"invocation\":\"%s\",\"result\":", sp->invocation);
                        json_string(stdout, sp->result);
                        printf(",\"active_state\":");
                        json_string(stdout, sp->active);
                        printf(",\"exit_usec\":%" PRIu64 "}", (uint64_t) sp->exit);
                } else
                        printf("null");
                printf(",\"last_ping\":");
                if (has_ping)
                        printf("{\"outcome\":\"%s\",\"status\":%ld,\"time_usec\":%" PRIu64 "}", ping.outcome,
                               ping.status, (uint64_t) ping.time);
                else
                        printf("null");
                printf(",\"last_delivered_usec\":");
                if (has_ping && ping.delivered > 0)
                        printf("%" PRIu64, (uint64_t) ping.delivered);
                else
                        printf("null");
                printf(",\"undelivered\":%u", row_undelivered(undelivered, row));
                list_print_provision_json(c, row, res);
                printf(",\"errors\":[");
                for (size_t e = 0; e < row->errors.n; e++) {
                        if (e)
                                putchar(',');
                        json_string(stdout, row->errors.items[e]);
                }
                printf("]}");
        }
        putchar(']');
        list_print_daemon_json(c, state);
        printf("}\n");
}

static void list_print_footer(const Inventory *inv, size_t monitored) {
        printf("\n%zu unit%s, %zu with a heartbeat.", inv->n, inv->n == 1 ? "" : "s", monitored);
        if (monitored < inv->n) {
                printf(" Without: ");
                for (size_t i = 0, first = 1; i < inv->n; i++) {
                        const Row *row = &inv->rows[i];

                        if (row->monitored)
                                continue;
                        printf("%s%s", first ? "" : ", ", row_unit(row));
                        first = 0;
                }
        }
        printf("\n");
        for (size_t i = 0; i < inv->n; i++)
                for (size_t e = 0; e < inv->rows[i].errors.n; e++)
                        fprintf(stderr, "%s\n", inv->rows[i].errors.items[e]);
}

#define LIST_COLUMNS 11

/* The cells of one row of `list`, each allocated (NULL only on out of memory). */
static void row_cells(const Row *row, const char *state_dir, Hashmap *undelivered, char *cells[static LIST_COLUMNS]) {
        char tbuf[64], nbuf[64], pbuf[96], dbuf[64], obuf[600];
        const char *file = "", *result = "-";
        unsigned line = 0;
        usec_t next = row_next(row);
        PingRecord ping;
        bool has_ping = state_dir && outbox_read_ping(state_dir, row_unit(row), &ping) >= 0;

        if (row->check)
                check_where(row->check, &file, &line);
        if (!row->check)
                snprintf(obuf, sizeof(obuf), "-");
        else if (!row->check->enabled)
                snprintf(obuf, sizeof(obuf), "disabled (%s:%u)", file, line);
        else if (row->check->origin == CHECK_FROM_ANNOTATION)
                snprintf(obuf, sizeof(obuf), "annotation %s:%u", file, line);
        else
                snprintf(obuf, sizeof(obuf), "%s[%s] %s:%u", row->check->pattern ? "pattern " : "", row->check->name,
                         file, line);
        if (has_ping) {
                char t2[64];
                snprintf(pbuf, sizeof(pbuf), "%s %s (HTTP %ld)", format_time(t2, sizeof(t2), ping.time), ping.outcome,
                         ping.status);
        } else
                snprintf(pbuf, sizeof(pbuf), "-");
        if (!isempty(row->service_props.invocation) && row->state != UNIT_STATE_RUNNING)
                result = row->service_props.result;
        cells[0] = strdup(row->timer ?: "-");
        cells[1] = strdup(row->service ?: "-");
        cells[2] = strdup(obuf);
        cells[3] = row->monitored ? row_url(row, false) : strdup("-");
        cells[4] = strdup(!row->timer           ? "-" :
                          next == USEC_INFINITY ? "never" :
                                                  format_time(nbuf, sizeof(nbuf), next));
        cells[5] = strdup(format_time(tbuf, sizeof(tbuf), row->service_props.exit));
        cells[6] = strdup(result);
        cells[7] = strdup(row->state_text);
        cells[8] = strdup(pbuf);
        cells[9] = strdup(has_ping && ping.delivered > 0 ? format_time(dbuf, sizeof(dbuf), ping.delivered) : "-");
        if (asprintf(&cells[10], "%u", row_undelivered(undelivered, row)) < 0)
                cells[10] = NULL;
}

/* A table, widths from the content; returns how many rows are monitored. */
static size_t list_print_table(const Inventory *inv, const char *state_dir, Hashmap *undelivered) {
        static const char *const hdr[LIST_COLUMNS] = { "TIMER",     "SERVICE",   "CHECK",      "URL",
                                                       "NEXT",      "LAST RUN",  "RESULT",     "STATE",
                                                       "LAST PING", "DELIVERED", "UNDELIVERED" };
        size_t w[LIST_COLUMNS], monitored = 0;
        char *(*cells)[LIST_COLUMNS] = calloc(inv->n ?: 1, sizeof(*cells));

        if (!cells)
                return log_oom(), 0;
        for (size_t k = 0; k < LIST_COLUMNS; k++)
                w[k] = strlen(hdr[k]);
        for (size_t i = 0; i < inv->n; i++) {
                row_cells(&inv->rows[i], state_dir, undelivered, cells[i]);
                for (size_t k = 0; k < LIST_COLUMNS; k++) {
                        if (!cells[i][k])
                                cells[i][k] = strdup("?");
                        if (cells[i][k] && text_width(cells[i][k]) > w[k])
                                w[k] = text_width(cells[i][k]);
                }
                monitored += inv->rows[i].monitored;
        }
        for (size_t k = 0; k < LIST_COLUMNS; k++)
                print_cell(hdr[k], w[k], k == LIST_COLUMNS - 1);
        for (size_t i = 0; i < inv->n; i++)
                for (size_t k = 0; k < LIST_COLUMNS; k++) {
                        print_cell(cells[i][k], w[k], k == LIST_COLUMNS - 1);
                        free(cells[i][k]);
                }
        free(cells);
        return monitored;
}

int cli_list(const CliOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(hashmap_freep) Hashmap *undelivered = NULL;
        _cleanup_free_ char *state = NULL, *results = NULL;
        _cleanup_(sync_results_done) SyncResults res = {};
        Inventory inv = { .last_runs = true };
        size_t monitored = 0;
        int r;

        r = load_config(o->manager, &c);
        (void) manager_state_dir(o->manager, &state);
        if (r != 0) {
                /* What runs still matters when the files on disk are broken. */
                if (!o->json)
                        cli_daemon_print(o, NULL, state);
                return r;
        }
        if (state && outbox_count_undelivered(state, &undelivered) < 0)
                log_debug("Cannot count the outbox's entries in %s.", state);
        if (state &&
            (asprintf(&results, "%s/%s", state, SYNC_STATUS_FILE) < 0 || sync_results_read(results, &res) < 0))
                log_debug("Cannot read %s/%s.", state, SYNC_STATUS_FILE);
        r = inventory_collect(o->manager, c, &inv);
        if (r < 0) {
                inventory_done(&inv);
                log_error_errno(r, "Cannot ask systemd for its timers over the %s bus: %m",
                                o->manager->user ? "user" : "system");
                return EXIT_FAILURE;
        }

        if (o->json) {
                list_print_json(o, c, &inv, state, undelivered, &res);
                inventory_done(&inv);
                return EXIT_SUCCESS;
        }

        monitored = list_print_table(&inv, state, undelivered);
        list_print_footer(&inv, monitored);
        list_print_provision(c, &inv, &res);
        cli_daemon_print(o, c, state);
        inventory_done(&inv);
        return EXIT_SUCCESS;
}

typedef struct PingState {
        sd_event *event;
        HttpResult result;
        char error[256];
        bool done;
} PingState;

static void on_ping_done(Http *h _unused_, const HttpResult *res, void *userdata) {
        PingState *st = userdata;

        st->result = *res;
        snprintf(st->error, sizeof(st->error), "%s", strempty(res->error));
        st->done = true;
        sd_event_exit(st->event, 0);
}

static int event_from_string(const char *s, Event *ret) {
        for (Event e = 0; e < _EVENT_MAX; e++)
                if (streq(s, event_to_string(e))) {
                        *ret = e;
                        return 0;
                }
        return -EINVAL;
}

/* Whether systemd knows the unit from a unit file: 1 yes, 0 no (LoadState in ret_load), < 0 cannot
 * ask. Reading the unit's properties loads it, which is fine outside the daemon. */
static int unit_known(const ManagerOptions *mo, const char *unit, char ret_load[static 32]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(props_done) UnitProps p = {};
        int r;

        r = mo->user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r >= 0)
                r = read_unit(bus, unit, last_run_names, 1, &p); /* LoadState */
        if (r < 0)
                return r;
        snprintf(ret_load, 32, "%s", p.has_load ? p.load : "?");
        return unit_is_loaded(&p);
}

/* The check that `ping` uses for a unit, exactly as the daemon resolves it. A pattern or an
 * annotation applies only to a unit systemd knows: a mistyped name is an error, not a new check
 * (with ?create=1 it would make one at the monitor). Sets *ret_unknown then. */
static const Check *ping_resolve(const CliOptions *o, const Config *c, Inventory *inv, const Row **ret_row,
                                 bool *ret_unknown) {
        const Check *check = config_find_check(c, o->unit);
        char load[32];
        int r;

        *ret_row = NULL;
        *ret_unknown = false;
        if (check && !check->pattern)
                return check; /* exact sections need no bus */
        r = inventory_collect(o->manager, c, inv);
        if (r >= 0) {
                for (size_t i = 0; i < inv->n; i++)
                        if (streq_ptr(inv->rows[i].timer, o->unit) ||
                            (!inv->rows[i].timer && streq_ptr(inv->rows[i].service, o->unit)))
                                *ret_row = &inv->rows[i];
                /* A service name: the timer that triggers it. */
                for (size_t i = 0; !*ret_row && i < inv->n; i++)
                        if (streq_ptr(inv->rows[i].service, o->unit) && inv->rows[i].check)
                                *ret_row = &inv->rows[i];
                if (*ret_row)
                        return (*ret_row)->check;
                r = unit_known(o->manager, o->unit, load);
        }
        if (r < 0) {
                log_error_errno(r,
                                "%s: cannot ask systemd whether the unit exists (%m); only a [%s] section "
                                "applies without it.",
                                o->unit, o->unit);
                *ret_unknown = true;
                return NULL;
        }
        if (r == 0) {
                log_error("%s: systemd knows no such unit (LoadState=%s); check the name with systemctl "
                          "list-timers or timerbeat list. A pattern applies only to units that exist.",
                          o->unit, load);
                *ret_unknown = true;
                return NULL;
        }
        return config_match(c, o->unit);
}

/* Prints the request as it goes on the wire: request line, headers, blank line, body. */
static void ping_print(const Ping *p, const Config *c, const char *shown) {
        printf("%s %s\n", http_method_to_string(p->method), shown);
        printf("User-Agent: %s\n", c->user_agent);
        if (p->source)
                printf("Origin: %s\n", p->source);
        if (!p->body && p->method == HTTP_METHOD_POST)
                printf("Content-Type: application/x-www-form-urlencoded\n"); /* libcurl's, for an empty POST */
        if (p->body) {
                printf("Content-Type: %s\n\n", strempty(p->content_type));
                fwrite(p->body, 1, p->body_size, stdout);
                if (p->body_size > 0 && p->body[p->body_size - 1] != '\n')
                        putchar('\n');
        }
}

static int ping_send(const Config *c, Ping *p, const char *shown) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(http_freep) Http *http = NULL;
        const char *method = http_method_to_string(p->method);
        PingState st = {};
        int level, r;

        r = sd_event_new(&event);
        if (r >= 0)
                r = http_new(&http, event, on_ping_done, &st);
        if (r >= 0)
                r = http_set_config(http, c);
        if (r >= 0)
                r = http_set_retries(http, 0);
        if (r < 0) {
                ping_free(p);
                return log_error_errno(r, "Failed to set up: %m"), EXIT_FAILURE;
        }
        st.event = event;
        /* The result is the one line printed below; http's log lines say the same for the daemon. */
        level = log_get_max_level();
        log_set_max_level(LOG_CRIT);
        r = http_submit(http, p);
        if (r >= 0)
                r = sd_event_loop(event);
        log_set_max_level(level);
        if (r < 0 || !st.done)
                return log_error_errno(r, "Failed to send: %m"), EXIT_FAILURE;

        if (st.result.outcome == HTTP_DELIVERED) {
                printf("%s %s: HTTP %ld in %llu ms\n", method, shown, st.result.status,
                       (unsigned long long) (st.result.elapsed / USEC_PER_MSEC));
                return EXIT_SUCCESS;
        }
        if (st.result.status > 0)
                printf("%s %s: HTTP %ld in %llu ms (not accepted)\n", method, shown, st.result.status,
                       (unsigned long long) (st.result.elapsed / USEC_PER_MSEC));
        else
                printf("%s %s: %s\n", method, shown, st.error);
        return EXIT_FAILURE;
}

/* The last run of the unit's service, as systemd remembers it. */
static int last_run_props(const CliOptions *o, const Row *row, UnitProps *ret, char **ret_service) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(props_done) UnitProps tp = {};
        const char *service = row ? row->service : NULL;
        int r;

        r = o->manager->user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        if (!service && endswith(o->unit, ".timer")) {
                r = read_unit(bus, o->unit, timer_unit_names, ELEMENTSOF(timer_unit_names), &tp);
                if (r < 0)
                        return r;
                if (!isempty(tp.unit))
                        service = tp.unit;
        }
        if (!service)
                service = o->unit;
        *ret_service = strdup(service);
        if (!*ret_service)
                return -ENOMEM;
        return read_unit(bus, service, last_run_names, ELEMENTSOF(last_run_names), ret);
}

typedef struct TailState {
        sd_event *event;
        char *text;
        size_t size;
} TailState;

static void on_cli_tail(const char *text, size_t size, int error, void *userdata) {
        TailState *t = userdata;

        if (error >= 0 && text && (t->text = malloc(size + 1))) {
                memcpy(t->text, text, size);
                t->text[size] = 0;
                t->size = size;
        }
        sd_event_exit(t->event, 0);
}

/* The run's journal output, as the daemon reads it for a log body (a child, waited for). */
static void last_run_log(const Check *c, const WatchRun *run, TailState *t) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sd_event_new(&event) < 0 || sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return;
        t->event = event;
        if (journal_tail_async(event,
                               &(JournalQuery) { .invocation = run->invocation,
                                                 .unit = run->service,
                                                 .since = run->start_timestamp,
                                                 .until = run->exit_timestamp,
                                                 .max = c->preset && c->preset->body_cap > 0 ?
                                                                MIN(c->body_max, c->preset->body_cap) :
                                                                c->body_max },
                               on_cli_tail, t, NULL) >= 0)
                (void) sd_event_loop(event);
}

/* The request the daemon built (or builds) for event e of the unit's last run. */
static int ping_build_last_run(const CliOptions *o, const Config *c, const Check *check, const Row *row, Event e,
                               Ping **ret) {
        _cleanup_(props_done) UnitProps sp = {};
        _cleanup_free_ char *service = NULL, *text = NULL;
        char host[256] = "";
        TailState t = {};
        Decision d;
        int r;

        r = last_run_props(o, row, &sp, &service);
        if (r < 0) {
                (void) log_error_errno(r, "Cannot ask systemd for the last run of %s: %m", o->unit);
                return r;
        }
        if (isempty(sp.invocation)) {
                log_error("systemd remembers no run of %s; start it once first.", service);
                return -ENODATA;
        }
        WatchRun run = {
                .check = row ? row_unit(row) : o->unit,
                .service = service,
                .invocation = sp.invocation,
                .active_state = sp.active,
                .result = sp.has_result ? sp.result : NULL,
                .exec_main_code = sp.code,
                .exec_main_status = sp.status,
                .exit_timestamp = sp.exit,
                .start_timestamp = sp.start,
                .activated_by_timer = -1,
        };
        decide_event(check, &run, e, &d);
        if (ping_body_kind(check, e) == BODY_LOG) {
                last_run_log(check, &run, &t);
                text = t.text;
        }
        if (hostname_read_sync(host, sizeof(host)) < 0)
                host[0] = 0;
        PingRun pr = decide_ping_run(&run, &d, host);
        r = ping_build(check, c, e, &pr, text ?: (ping_body_kind(check, e) == BODY_LOG ? "" : NULL), t.size, ret);
        if (r < 0) {
                (void) log_error_errno(r, "Cannot build the request: %m");
                return r;
        }
        return 0;
}

int cli_ping(const CliOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(inventory_done) Inventory inv = {}; /* owns annotations: freed last */
        _cleanup_(ping_freep) Ping *ping = NULL;
        _cleanup_free_ char *shown = NULL;
        const Row *row = NULL;
        const Check *check;
        bool unknown;
        char host[256] = "";
        PingRun run;
        Event e;
        int r;

        if (event_from_string(o->event, &e) < 0) {
                log_error("Unknown event '%s'; use success, start, failure or log.", o->event);
                return 2;
        }
        r = load_config(o->manager, &c);
        if (r != 0)
                return r;
        check = ping_resolve(o, c, &inv, &row, &unknown);
        if (unknown)
                return EXIT_NO_CHECK;
        if (!check_is_active(check)) {
                log_error("%s has no heartbeat configured%s; see timerbeat list.", o->unit,
                          check && !check->enabled ? " (it is disabled)" : "");
                return EXIT_NO_CHECK;
        }
        if (!check_template(check, e)) {
                log_error("%s has no %s endpoint (preset %s); set %s-url= in [%s] to send one.", o->unit,
                          event_to_string(e), check->preset ? check->preset->name : "generic", event_to_string(e),
                          check->name);
                return EXIT_NO_CHECK;
        }
        /* As the daemon has it: systemd-hostnamed's name, else gethostname(). */
        if (hostname_read_sync(host, sizeof(host)) < 0)
                host[0] = 0;
        if (o->last_run) {
                if (ping_build_last_run(o, c, check, row, e, &ping) < 0)
                        return EXIT_FAILURE;
        } else {
                run = manual_run(row ? row_unit(row) : o->unit, row ? row->service : NULL, e, o->exit_code, host);
                r = ping_build(check, c, e, &run, run.message, strlen(run.message), &ping);
                if (r < 0)
                        return log_error_errno(r, "Cannot build the request: %m"), EXIT_FAILURE;
        }
        shown = o->show_secrets ? strdup(ping->url) : url_mask(ping->url);
        if (!shown)
                return log_oom(), EXIT_FAILURE;
        if (o->dry_run) {
                ping_print(ping, c, shown);
                return EXIT_SUCCESS;
        }
        return ping_send(c, TAKE_PTR(ping), shown);
}

/* Run by root for the system manager: the files must be readable by the service's user too. */
static bool check_service_access(const CliOptions *o, const Config *c) {
        _cleanup_(strv_done) Strv storage = {}, problems = {};
        ConfigSource src = {};

        if (o->manager->user)
                return true;
        if (!o->manager->config_file && config_source_default(&src, false, &storage) < 0)
                return log_oom(), false;
        if (access_report_service(&c->files, src.dropin_dirs, &problems) < 0)
                return log_oom(), false;
        for (size_t i = 0; i < problems.n; i++)
                log_error("%s", problems.items[i]);
        return problems.n == 0;
}

/* Counts units and the sections they come from, as the daemon's STATUS= does. */
typedef struct Count {
        size_t units;
        size_t n_sections;
        Hashmap *sections; /* "file:line" (a lookup each: 10,000 drop-ins stay linear) */
} Count;

static void count_done(Count *n) {
        hashmap_free(n->sections);
}

static void count_add(Count *n, const Check *k) {
        char key[PATH_MAX + 16];
        const char *file;
        unsigned line;

        check_where(k, &file, &line);
        snprintf(key, sizeof(key), "%s:%u", file, line);
        n->units++;
        if (!n->sections && hashmap_new(&n->sections, HASHMAP_KEYS_COPY) < 0) {
                log_oom();
                return;
        }
        if (!hashmap_get(n->sections, key)) {
                if (hashmap_put(n->sections, key, n) < 0)
                        log_oom();
                else
                        n->n_sections++;
        }
}

/* The sections of the configuration files. A named unit is counted here only without a bus;
 * with one, once it is known to systemd (check_units()). */
static void check_sections(const Config *c, bool count_named, Count *n) {
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                _cleanup_free_ char *masked = check_url_summary(c, k);
                const char *file;
                unsigned line;

                check_where(k, &file, &line);
                if (!k->enabled) {
                        printf("[%s] disabled (%s:%u)\n", k->name, file, line);
                        continue;
                }
                if (count_named && !k->pattern && check_is_active(k))
                        count_add(n, k);
                printf("[%s] %s%s %s%s%s (%s:%u)\n", k->name, k->pattern ? "pattern " : "",
                       http_method_to_string(k->method), strempty(masked), (k->source ?: c->source) ? " origin=" : "",
                       strempty(k->source ?: c->source), file, line);
        }
}

/* What systemd says about each unit: annotation errors (returned), units that will not run, the
 * units covered by patterns and annotations. */
static size_t check_units(const Inventory *inv, Count *n) {
        size_t bad = 0;

        for (size_t i = 0; i < inv->n; i++) {
                const Row *row = &inv->rows[i];
                const Check *k = row->check;
                bool covered = k && (k->origin == CHECK_FROM_ANNOTATION || k->pattern);
                _cleanup_free_ char *u = NULL;
                const char *file;
                unsigned line;

                for (size_t e = 0; e < row->errors.n; e++) {
                        log_error("%s", row->errors.items[e]);
                        bad++;
                }
                if (!k)
                        continue;
                check_where(k, &file, &line);
                if (covered && !k->enabled) {
                        printf("%s excluded by %s %s:%u\n", row_unit(row), check_origin_kind(k), file, line);
                        continue;
                }
                if (!check_is_active(k))
                        continue;
                if (row->monitored)
                        count_add(n, k);
                /* Named in the config, or covered and followed: a timer that cannot run is worth a
                 * warning. A covered one merely loaded is not followed, and said so. */
                if (unit_state_is_problem(row->state) &&
                    (!covered || row->monitored || row->state == UNIT_STATE_NOT_SERVICE))
                        log_warning("warning: %s (%s:%u): %s; no heartbeat will come from it.", row_unit(row), file,
                                    line, row->state_text);
                else if (covered && !row->monitored)
                        printf("%s not monitored: %s (%s %s:%u)\n", row_unit(row), row->state_text,
                               check_origin_kind(k), file, line);
                if (!covered || !row->monitored)
                        continue;
                u = row_url(row, false);
                printf("%s %s %s (%s %s:%u)\n", row_unit(row), http_method_to_string(k->method), strempty(u),
                       check_origin_kind(k), file, line);
        }
        return bad;
}

int cli_check(const CliOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(count_done) Count n = {};
        Inventory inv = {};
        size_t bad = 0;
        int r;

        r = load_config(o->manager, &c);
        if (r != 0)
                return r;

        for (size_t i = 0; i < c->files.n; i++)
                printf("# %s\n", c->files.items[i]);
        if (c->files.n == 0)
                printf("# no configuration file found\n");

        /* Which units exist, their annotations and what patterns cover: ask systemd. */
        r = inventory_collect(o->manager, c, &inv);
        check_sections(c, r < 0, &n);
        if (r < 0) {
                errno = -r;
                if (c->annotations || config_has_patterns(c))
                        printf("# annotations and patterns not checked: cannot ask systemd over the %s bus (%m)\n",
                               o->manager->user ? "user" : "system");
        } else
                bad = check_units(&inv, &n);
        inventory_done(&inv);
        if (bad > 0) {
                log_error("%zu annotation error%s; fix the lines above and run systemctl daemon-reload.", bad,
                          bad == 1 ? "" : "s");
                return EX_CONFIG;
        }
        if (!check_service_access(o, c))
                return EX_CONFIG;
        printf("OK: watching %zu unit%s from %zu section%s.\n", n.units, n.units == 1 ? "" : "s", n.n_sections,
               n.n_sections == 1 ? "" : "s");
        return EXIT_SUCCESS;
}
