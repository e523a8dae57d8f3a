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
#include "template.h"
#include "watch.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"

/* One monitored (or unmonitored) job, as `list` shows it. */
typedef struct Row {
        char *timer; /* NULL for a service configured without a timer */
        char *service;
        const Check *check; /* NULL: no heartbeat; owned by the config or Inventory.resolver */
        Strv errors;        /* annotation errors */
        UnitProps timer_props, service_props;
} Row;

typedef struct Inventory {
        Resolver *resolver; /* the daemon's resolution: conf section, annotation, pattern */
        Row *rows;
        size_t n;
        bool bus_ok;
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
        *inv = (Inventory) {};
}

static int get_all(sd_bus *bus, const char *unit, UnitProps *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = unit_dbus_path(unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                               "s", "");
        if (r < 0)
                return r;
        return read_props(reply, ret);
}

static int list_timers(sd_bus *bus, Strv *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *id;
        int r;

        r = sd_bus_message_new_method_call(bus, &req, SYSTEMD_DEST, SYSTEMD_PATH, "org.freedesktop.systemd1.Manager",
                                           "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(req, NULL);
        if (r >= 0)
                r = sd_bus_message_append_strv(req, (char *[]) { (char *) "*.timer", NULL });
        if (r >= 0)
                r = sd_bus_call(bus, req, 0, &error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r > 0) {
                r = sd_bus_message_read(reply, "(ssssssouso)", &id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                        NULL);
                if (r > 0 && unit_name_is_valid(id) && strv_push(ret, id) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        strv_sort(ret);
        return 0;
}

static Row *inventory_add(Inventory *inv) {
        Row *n = realloc(inv->rows, sizeof(Row) * (inv->n + 1));

        if (!n)
                return NULL;
        inv->rows = n;
        n[inv->n] = (Row) {};
        return &n[inv->n++];
}

/* The check for a unit, resolved exactly as the daemon does. */
static int row_resolve(Inventory *inv, Row *row, const Config *c, const char *unit) {
        _cleanup_(strv_done) Strv tf = {}, sf = {};

        (void) props_files(&row->timer_props, &tf);
        (void) props_files(&row->service_props, &sf);
        return resolver_update(inv->resolver, c, unit, &tf, &sf, &row->check, &row->errors);
}

static int inventory_collect(const ManagerOptions *mo, const Config *c, Inventory *inv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(strv_done) Strv timers = {};
        int r;

        if (!inv->resolver && resolver_new(&inv->resolver) < 0)
                return log_oom();
        r = mo->user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r >= 0)
                r = list_timers(bus, &timers);
        if (r < 0)
                return r; /* the caller says what that means for it */
        inv->bus_ok = true;

        for (size_t i = 0; i < timers.n; i++) {
                Row *row = inventory_add(inv);

                if (!row || !(row->timer = strdup(timers.items[i])))
                        return log_oom();
                if (get_all(bus, row->timer, &row->timer_props) >= 0 && !isempty(row->timer_props.unit)) {
                        row->service = strdup(row->timer_props.unit);
                        if (!row->service)
                                return log_oom();
                        (void) get_all(bus, row->service, &row->service_props);
                }
                if (row_resolve(inv, row, c, row->timer) < 0)
                        return log_oom();
        }

        /* Services named in the config without a timer of theirs in the list. */
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                bool seen = false;
                Row *row;

                if (k->pattern || !endswith(k->name, ".service"))
                        continue;
                for (size_t j = 0; j < inv->n; j++)
                        if (!inv->rows[j].timer ? streq_ptr(inv->rows[j].service, k->name) : false)
                                seen = true;
                if (seen)
                        continue;
                row = inventory_add(inv);
                if (!row || !(row->service = strdup(k->name)))
                        return log_oom();
                (void) get_all(bus, row->service, &row->service_props);
                row->check = k;
        }
        /* Timers named in the config that systemd does not know. */
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                bool seen = false;
                Row *row;

                if (k->pattern || !endswith(k->name, ".timer"))
                        continue;
                for (size_t j = 0; j < inv->n; j++)
                        if (streq_ptr(inv->rows[j].timer, k->name))
                                seen = true;
                if (seen)
                        continue;
                row = inventory_add(inv);
                if (!row || !(row->timer = strdup(k->name)))
                        return log_oom();
                row->check = k;
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

static void list_print_json(const CliOptions *o, const Config *c, const Inventory *inv, const char *state,
                            Hashmap *undelivered) {
        printf("{\"manager\":\"%s\",\"units\":[", o->manager->user ? "user" : "system");
        for (size_t i = 0; i < inv->n; i++) {
                const Row *row = &inv->rows[i];
                const UnitProps *sp = &row->service_props;
                _cleanup_free_ char *url = row_url(row, false);
                bool on = row->check && check_is_active(row->check);
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
                        printf(",\"file\":");
                        json_string(stdout, row->check->file);
                        printf(",\"line\":%u,\"enabled\":%s}", row->check->line,
                               row->check->enabled ? "true" : "false");
                } else
                        printf("null");
                printf(",\"url\":");
                json_string(stdout, on ? url : NULL);
                printf(",\"method\":");
                json_string(stdout, on && row->check ? http_method_to_string(row->check->method) : NULL);
                printf(",\"last_trigger_usec\":%" PRIu64 ",\"next_elapse_usec\":%" PRIu64,
                       (uint64_t) row->timer_props.last_trigger, (uint64_t) row->timer_props.next_elapse);
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

                        if (check_is_active(row->check))
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

#define LIST_COLUMNS 9

/* The cells of one row of the table; NULL cells on out of memory. */
static void list_row_cells(const Row *row, const char *state, Hashmap *undelivered, char **cells) {
        char tbuf[64], pbuf[96], dbuf[64], obuf[600];
        PingRecord ping;
        bool on = row->check && check_is_active(row->check),
             has_ping = state && outbox_read_ping(state, row_unit(row), &ping) >= 0;

        if (!row->check)
                snprintf(obuf, sizeof(obuf), "-");
        else if (!row->check->enabled)
                snprintf(obuf, sizeof(obuf), "disabled (%s:%u)", strempty(row->check->file), row->check->line);
        else if (row->check->origin == CHECK_FROM_ANNOTATION)
                snprintf(obuf, sizeof(obuf), "annotation %s:%u", strempty(row->check->file), row->check->line);
        else
                snprintf(obuf, sizeof(obuf), "%s[%s] %s:%u", row->check->pattern ? "pattern " : "", row->check->name,
                         strempty(row->check->file), row->check->line);
        if (has_ping) {
                char t2[64];
                snprintf(pbuf, sizeof(pbuf), "%s %s (HTTP %ld)", format_time(t2, sizeof(t2), ping.time), ping.outcome,
                         ping.status);
        } else
                snprintf(pbuf, sizeof(pbuf), "-");
        cells[0] = strdup(row->timer ?: "-");
        cells[1] = strdup(row->service ?: "-");
        cells[2] = strdup(obuf);
        cells[3] = on ? row_url(row, false) : strdup("-");
        cells[4] = strdup(format_time(tbuf, sizeof(tbuf), row->service_props.exit));
        cells[5] = strdup(isempty(row->service_props.invocation) ? "-" : row->service_props.result);
        cells[6] = strdup(pbuf);
        cells[7] = strdup(has_ping && ping.delivered > 0 ? format_time(dbuf, sizeof(dbuf), ping.delivered) : "-");
        if (asprintf(&cells[8], "%u", row_undelivered(undelivered, row)) < 0)
                cells[8] = NULL;
}

int cli_list(const CliOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(hashmap_freep) Hashmap *undelivered = NULL;
        _cleanup_free_ char *state = NULL;
        Inventory inv = {};
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
        r = inventory_collect(o->manager, c, &inv);
        if (r < 0) {
                inventory_done(&inv);
                log_error_errno(r, "Cannot ask systemd for its timers over the %s bus: %m",
                                o->manager->user ? "user" : "system");
                return EXIT_FAILURE;
        }

        if (o->json) {
                list_print_json(o, c, &inv, state, undelivered);
                inventory_done(&inv);
                return EXIT_SUCCESS;
        }

        /* A table: widths from the content. */
        const char *hdr[LIST_COLUMNS] = { "TIMER",  "SERVICE",   "CHECK",     "URL",        "LAST RUN",
                                          "RESULT", "LAST PING", "DELIVERED", "UNDELIVERED" };
        size_t w[LIST_COLUMNS];
        char ***cells = calloc(inv.n, sizeof(char **));

        if (!cells && inv.n > 0) {
                inventory_done(&inv);
                return log_oom(), EXIT_FAILURE;
        }
        for (size_t k = 0; k < LIST_COLUMNS; k++)
                w[k] = strlen(hdr[k]);
        for (size_t i = 0; i < inv.n; i++) {
                cells[i] = calloc(LIST_COLUMNS, sizeof(char *));
                if (!cells[i])
                        break;
                list_row_cells(&inv.rows[i], state, undelivered, cells[i]);
                for (size_t k = 0; k < LIST_COLUMNS; k++) {
                        if (!cells[i][k])
                                cells[i][k] = strdup("?");
                        if (cells[i][k] && text_width(cells[i][k]) > w[k])
                                w[k] = text_width(cells[i][k]);
                }
                monitored += check_is_active(inv.rows[i].check);
        }
        for (size_t k = 0; k < LIST_COLUMNS; k++)
                print_cell(hdr[k], w[k], k == LIST_COLUMNS - 1);
        for (size_t i = 0; i < inv.n && cells[i]; i++) {
                for (size_t k = 0; k < LIST_COLUMNS; k++)
                        print_cell(cells[i][k], w[k], k == LIST_COLUMNS - 1);
                for (size_t k = 0; k < LIST_COLUMNS; k++)
                        free(cells[i][k]);
                free(cells[i]);
        }
        free(cells);

        list_print_footer(&inv, monitored);
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

/* The check that `ping` uses for a unit, exactly as the daemon resolves it. */
static const Check *ping_resolve(const CliOptions *o, const Config *c, Inventory *inv, const Row **ret_row) {
        const Check *check = config_find_check(c, o->unit);
        int r;

        *ret_row = NULL;
        if (check && !check->pattern)
                return check; /* exact sections need no bus */
        r = inventory_collect(o->manager, c, inv);
        if (r < 0) {
                check = config_match(c, o->unit);
                log_warning_errno(r, "Cannot ask systemd for annotations (%m)%s%s%s.", check ? "; using [" : "",
                                  check ? check->name : "", check ? "]" : "");
                return check;
        }
        for (size_t i = 0; i < inv->n; i++)
                if (streq_ptr(inv->rows[i].timer, o->unit) ||
                    (!inv->rows[i].timer && streq_ptr(inv->rows[i].service, o->unit)))
                        *ret_row = &inv->rows[i];
        /* A service name: the timer that triggers it. */
        for (size_t i = 0; !*ret_row && i < inv->n; i++)
                if (streq_ptr(inv->rows[i].service, o->unit) && inv->rows[i].check)
                        *ret_row = &inv->rows[i];
        return *ret_row ? (*ret_row)->check : config_match(c, o->unit);
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
        int r;

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
        r = http_submit(http, p);
        if (r >= 0)
                r = sd_event_loop(event);
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
                r = get_all(bus, o->unit, &tp);
                if (r < 0)
                        return r;
                service = tp.unit;
        }
        if (!service)
                service = o->unit;
        *ret_service = strdup(service);
        if (!*ret_service)
                return -ENOMEM;
        return get_all(bus, service, ret);
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
        check = ping_resolve(o, c, &inv, &row);
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

int cli_check(const CliOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        Inventory inv = {};
        size_t enabled = 0, bad = 0;
        int r;

        r = load_config(o->manager, &c);
        if (r != 0)
                return r;

        for (size_t i = 0; i < c->files.n; i++)
                printf("# %s\n", c->files.items[i]);
        if (c->files.n == 0)
                printf("# no configuration file found\n");
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                _cleanup_free_ char *masked = check_url_summary(c, k);

                if (!k->enabled) {
                        printf("[%s] disabled (%s:%u)\n", k->name, k->file, k->line);
                        continue;
                }
                enabled++;
                printf("[%s] %s%s %s%s%s (%s:%u)\n", k->name, k->pattern ? "pattern " : "",
                       http_method_to_string(k->method), strempty(masked), (k->source ?: c->source) ? " origin=" : "",
                       strempty(k->source ?: c->source), k->url_file ?: k->file, k->url_file ? k->url_line : k->line);
        }

        /* Annotations live in unit files: ask systemd which timers there are and read theirs. */
        if (c->annotations || config_has_patterns(c)) {
                r = inventory_collect(o->manager, c, &inv);
                if (r < 0) {
                        errno = -r;
                        printf("# annotations and patterns not checked: cannot ask systemd over the %s bus (%m)\n",
                               o->manager->user ? "user" : "system");
                }
                for (size_t i = 0; i < inv.n; i++) {
                        const Row *row = &inv.rows[i];

                        for (size_t e = 0; e < row->errors.n; e++) {
                                log_error("%s", row->errors.items[e]);
                                bad++;
                        }
                        if (!row->check || !row->timer)
                                continue;
                        if (row->check->origin == CHECK_FROM_ANNOTATION || row->check->pattern) {
                                _cleanup_free_ char *u = row_url(row, false);

                                if (!row->check->enabled) {
                                        printf("%s excluded by %s %s:%u\n", row->timer, check_origin_kind(row->check),
                                               strempty(row->check->file), row->check->line);
                                        continue;
                                }
                                enabled++;
                                printf("%s %s %s (%s %s:%u)\n", row->timer, http_method_to_string(row->check->method),
                                       strempty(u), check_origin_kind(row->check), strempty(row->check->file),
                                       row->check->line);
                        }
                }
        }
        inventory_done(&inv);
        if (bad > 0) {
                log_error("%zu annotation error%s; fix the lines above and run systemctl daemon-reload.", bad,
                          bad == 1 ? "" : "s");
                return EX_CONFIG;
        }
        if (!check_service_access(o, c))
                return EX_CONFIG;
        printf("%zu check%s OK.\n", enabled, enabled == 1 ? "" : "s");
        return EXIT_SUCCESS;
}
