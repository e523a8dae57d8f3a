/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fnmatch.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "annotscan.h"
#include "hashmap.h"
#include "log.h"
#include "retry.h"
#include "unitstate.h"
#include "watch.h"
#include "attribute.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define DBUS_PROPERTIES "org.freedesktop.DBus.Properties"
#define UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define TIMER_IFACE "org.freedesktop.systemd1.Timer"

/* Replies awaited at once: the system bus allows a client 128 (dbus-daemon's default), the
 * session bus 50,000 unless configured otherwise: when the bus refuses a call for that, the
 * limit drops below what was in flight and the read is made again. More would not read faster
 * (systemd answers one at a time) and cost memory: every call in flight is a message of about
 * 1 KB, and the heap keeps its high-water mark (1,024 were the start-up's peak, issue 14). */
#define WATCH_CALLS_MAX 96U
#define WATCH_CALLS_MAX_USER 128U
/* A unit is read with one Get per property it needs, never GetAll: GetAll makes systemd
 * compute every property, UnitFileState (a walk of the unit directories, milliseconds) and
 * UnitFilePreset included. */
#define WATCH_READ_MAX 16U
#define WATCH_READ_RETRIES 5U
/* Discovered timers that are neither active nor (as far as the listing tells) anything but
 * loaded: whether they are enabled is asked after start-up, this many at a time. */
#define WATCH_PROBES_MAX 2U
/* How many per-service matches one connection may hold is the bus's to say: dbus-daemon refuses
 * the next AddMatch with LimitsExceeded (512 per connection on the system bus by default, 50,000
 * on the session bus; its configuration may say otherwise), and the watch learns the limit from
 * that refusal (Watch.max_matches). dbus-broker has per-user quotas instead and, for a connection
 * of the bus's own user, was measured to drop the connection rather than refuse (at about
 * 195,000): this ceiling keeps us far below that. $TIMERBEAT_MAX_MATCHES overrides it (tests). */
#define WATCH_MATCHES_CEILING 20000U
#define WATCH_NEW_MAX 1024U
/* Installed timer files systemd has not loaded, each matched by object path when discovery is
 * for annotations only (issue 20). Beyond this many, UnitNew, UnitRemoved and JobRemoved are
 * followed instead: one match each, whatever the number of files. */
#define WATCH_PENDING_MAX 256U
/* Template timers whose files are read to tell whether an instance may be annotated; beyond
 * this many, one is assumed to be. */
#define WATCH_TEMPLATES_MAX 32U

typedef struct Watcher Watcher;

/* One property of a read: which, and the reply awaited. */
typedef struct PropGet {
        Watcher *watcher;
        const char *name;
        sd_bus_slot *slot;
} PropGet;

typedef struct PropName {
        const char *iface, *name;
} PropName;

typedef void (*watcher_read_done_t)(Watcher *wr);

/* A read in flight: allocated for it and freed when it is done, so that an idle watcher costs
 * its few names and run state only. */
typedef struct WatcherRead {
        PropGet gets[WATCH_READ_MAX];
        unsigned n_gets; /* replies awaited */
        UnitProps props;
        char *error; /* the first error a Get answered */
        watcher_read_done_t done;
} WatcherRead;

struct Watcher {
        Watch *watch;
        Watcher *next;

        char *name; /* the unit: backup.timer or backup.service */
        bool is_timer;
        bool discovered;  /* found by a pattern or annotation scan, not named in the config */
        bool monitored;   /* the manager wants its runs (decided after each resolution) */
        bool ask_trigger; /* the manager wants to know whether its timer started each run */
        bool listed;      /* seen in the latest discovery */
        Strv timer_files; /* the timer's FragmentPath and DropInPaths */
        char *service;    /* resolved service name (its object path is computed when needed) */
        bool hashed;      /* in Watch.by_service */
        char *timer_path; /* the timer's object path (a timer check) */

        /* The resolution step in flight: one Get per property, gathered in props. */
        WatcherRead *read;
        Watcher *probe_next; /* waiting to be asked whether it is enabled */
        bool probe_queued, probing;
        /* The PropertiesChanged rule for the service's path, registered with the bus by our own
         * AddMatch (no sd-bus match: one filter dispatches every watcher's signals by path, see
         * on_filter): slot_match is that call while it is in flight. */
        sd_bus_slot *slot_match;
        sd_bus_slot *slot_timer; /* PropertiesChanged of timer_path: a found timer started or stopped */
        int timer_up;            /* whether the timer was active when last seen: -1 not known */
        bool match_on;           /* AddMatch sent on this connection, RemoveMatch not yet */
        bool match_held;         /* the bus accepted it */
        Watcher *path_next;      /* the next watcher of the same service (Watch.by_service) */
        Watcher *queue_next;     /* waiting for a free call slot */
        char *problem;           /* the last problem logged: said once, again only when it changes */
        usec_t quiet_until;      /* ignore UnitNew for this timer until then (CLOCK_MONOTONIC) */
        int said_monitored;      /* what the debug line said last: -1 nothing yet */
        bool queued;
        bool again;            /* resolve again once the call in flight returns */
        unsigned read_retries; /* reads made again for a missing answer, since the last whole one */
        bool refresh;          /* the GetAll in flight only re-decides monitoring */
        bool resolving;
        bool unsupported; /* a timer whose Unit= is not a service: resolved again on daemon-reload only */
        bool missing;     /* a named unit systemd does not know: resolved again on daemon-reload */

        RunTracker run;      /* what systemd told about the service's runs */
        SuccessExit success; /* the service's SuccessExitStatus=, from the latest full read */
};

struct Watch {
        sd_event *event;
        sd_bus *bus;
        Watcher *watchers;
        Hashmap *by_name; /* unit name → its watcher (keys borrowed from Watcher.name) */
        unsigned n_resolving;

        /* The system bus allows a client 128 calls awaiting replies (dbus-daemon's default);
         * resolutions beyond WATCH_CALLS_MAX wait in this queue. */
        unsigned n_calls, max_calls;
        Watcher *queue_head, *queue_tail;
        /* Discovered timers to ask whether they are enabled, after every resolution is done. */
        Watcher *probe_head, *probe_tail;
        unsigned n_probing;

        /* One PropertiesChanged match per watched service, until the bus refuses more (512 per
         * connection on the system bus by default): then one match for all units (broad),
         * dispatched by object path through this table. */
        size_t n_watchers;
        sd_bus_slot *slot_broad;
        sd_bus_slot *slot_filter; /* every message: PropertiesChanged of a service path goes to its watchers */
        /* service name → the first of its watchers, chained by path_next; the key is borrowed from
         * that watcher's service. */
        Hashmap *by_service;
        Attributor *attributor; /* runs of shared services waiting for their timers (attribute.c) */
        sd_bus_slot *slot_reloading, *slot_unit_new, *slot_unit_removed, *slot_job_removed, *slot_disconnected,
                *slot_subscribe, *slot_owner;
        sd_event_source *reconnect_timer;
        unsigned reconnect_attempt;
        bool subscribed; /* systemd answered our Subscribe() on this connection */
        /* Above this many watchers, one broad match from the start: WATCH_MATCHES_CEILING until
         * the bus refuses a per-service match, then as many as it had accepted (kept across
         * reconnects: the same bus, the same limit). */
        unsigned max_matches;

        /* systemd's unique name on the bus. Any peer can send a signal to us directly, and a
         * match on the well-known name does not stop it: every signal is checked against this. */
        char *systemd_owner;
        sd_bus_slot *slot_owner_call;
        /* The user manager's PID (the bus driver knows it from the owner's socket): the
         * journal history trusts only that process's messages. Asking counts as resolving, so
         * on_settled comes after it is known. */
        sd_bus_slot *slot_pid_call;
        pid_t manager_pid;
        bool identifying;

        watch_run_end_t on_run_end;
        watch_settled_t on_settled;
        watch_reloaded_t on_reloaded;
        void *reloaded_userdata;
        watch_subscribed_t on_subscribed;
        void *subscribed_userdata;
        watch_want_t want;
        watch_dropped_t on_dropped;
        void *userdata;

        /* Discovery: units matching these globs are candidates (timers for annotations and
         * patterns, services for service patterns). */
        Strv discover;
        sd_bus_slot *slot_discover;

        /* Names from UnitNew that match a pattern, looked up together with one
         * ListUnitsByPatterns (which loads nothing) from a defer source: only units that are
         * loaded, i.e. have a unit file, get a watcher. At most WATCH_NEW_MAX wait; beyond that
         * (new_overflow), one full listing replaces them. */
        Strv new_names;
        sd_event_source *new_defer;
        sd_bus_slot *slot_new_list;

        bool user;
        bool broad;
        bool had_owner;         /* systemd was on the bus before: a new owner is a return, not the first */
        bool systemd_reloading; /* between Reloading(true) and Reloading(false) */
        bool discovering;
        bool discover_refresh; /* the listing in flight re-reads the units found before, too */
        bool new_overflow;

        /* Discovery for annotations only (no pattern sections) follows found and installed timers
         * by object path instead of systemd's UnitNew, UnitRemoved and JobRemoved broadcasts,
         * which would route every unit loaded and every job on the system to us (issue 20). */
        Hashmap *pending; /* unit name → PendingUnit: installed timer files systemd has not loaded */
        sd_bus_slot *slot_unit_files, *slot_files_changed;
        bool patterns;       /* pattern sections: their instances cannot be listed, broadcasts are kept */
        bool files_known;    /* the latest ListUnitFilesByPatterns answered */
        bool files_template; /* a template timer (foo@.timer) listed may annotate: only UnitNew finds its instances */
        bool files_failed;   /* the latest ListUnitFilesByPatterns failed */
        /* The template timers listed (name, and its fragment at the same index) and the
         * manager's UnitPath, asked together: from their files, whether any instance can carry
         * an annotation (annotscan.c, issue 14). */
        Strv templates, template_files, unit_path;
        sd_bus_slot *slot_unit_path;
        bool unit_path_known;
        bool files_overflow; /* more than WATCH_PENDING_MAX files to match */
        bool paths_refused;  /* the bus refused a match on a timer's path */
};

/* An installed timer file systemd has not loaded: when systemd loads and starts it, its
 * PropertiesChanged reaches us on this match, and it is looked up like a UnitNew. */
typedef struct PendingUnit {
        Watch *watch;
        char *name;
        sd_bus_slot *slot;
        bool listed; /* seen in the latest listing of the unit files */
} PendingUnit;

bool watch_state_is_run_end(const char *active, const char *sub) {
        return run_state_is_end(active, sub);
}

static void watcher_resolve(Watcher *wr);
static void watcher_resolve_now(Watcher *wr);
static bool watcher_reply_superseded(Watcher *wr);
static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static bool from_systemd(Watch *w, sd_bus_message *m);
static bool w_want(Watch *w, const WatchUnitInfo *info);
static void watch_discover(Watch *w, bool refresh);
static Watcher *watch_find(Watch *w, const char *unit);
static bool watch_wants_name(Watch *w, const char *unit);
static int watch_add(Watch *w, const char *unit, bool discovered, Watcher **ret);
static bool watch_by_path(const Watch *w);
static bool watch_timers_by_path(const Watch *w);
static int watcher_follow_timer(Watcher *wr);
static void watch_unpend(Watch *w, const char *name);
static void watcher_drop_match(Watcher *wr);

static void watcher_unhash(Watcher *wr) {
        Hashmap *services = wr->watch->by_service;
        Watcher *head;

        if (!wr->hashed)
                return;
        wr->hashed = false;
        head = hashmap_get(services, wr->service);
        if (head == wr) {
                /* Replacing a value does not allocate: this cannot fail. The key was wr's. */
                if (wr->path_next) {
                        (void) hashmap_replace(services, wr->service, wr->path_next);
                        hashmap_rekey(services, wr->path_next->service);
                } else
                        (void) hashmap_remove(services, wr->service);
        } else
                for (Watcher *i = head; i; i = i->path_next)
                        if (i->path_next == wr) {
                                i->path_next = wr->path_next;
                                break;
                        }
        wr->path_next = NULL;
}

static int watcher_hash(Watcher *wr) {
        Watcher *head = hashmap_get(wr->watch->by_service, wr->service);
        int r = 0;

        if (!head)
                r = hashmap_put(wr->watch->by_service, wr->service, wr);
        else {
                wr->path_next = head->path_next;
                head->path_next = wr;
        }
        wr->hashed = r >= 0;
        return r;
}

/* Following the service's signals, with a known baseline: what it knows is current. */
static bool watcher_is_following(Watcher *wr) {
        return run_tracker_is_baselined(&wr->run) && wr->monitored && (wr->match_on || wr->watch->broad);
}

static void watcher_dequeue(Watcher *wr) {
        Watch *w = wr->watch;
        Watcher *prev = NULL;

        if (!wr->queued)
                return;
        for (Watcher *i = w->queue_head; i; prev = i, i = i->queue_next)
                if (i == wr) {
                        if (prev)
                                prev->queue_next = wr->queue_next;
                        else
                                w->queue_head = wr->queue_next;
                        if (w->queue_tail == wr)
                                w->queue_tail = prev;
                        break;
                }
        wr->queue_next = NULL;
        wr->queued = false;
}

/* The reply arrived or we gave up on it: the call slot is free again. */
static void watcher_call_done(Watcher *wr) {
        wr->again = false;
        if (wr->read) {
                for (unsigned i = 0; i < ELEMENTSOF(wr->read->gets); i++)
                        wr->read->gets[i].slot = sd_bus_slot_unref(wr->read->gets[i].slot);
                wr->watch->n_calls -= wr->read->n_gets;
                wr->read->n_gets = 0;
        }
        if (wr->probing) {
                wr->probing = false;
                wr->watch->n_probing--;
        }
}

static bool watcher_reading(const Watcher *wr) {
        return wr->read && wr->read->n_gets > 0;
}

static bool watch_can_call(const Watch *w) {
        return w->n_calls + WATCH_READ_MAX <= w->max_calls;
}

static void watch_dispatch_queue(Watch *w) {
        while (w->queue_head && watch_can_call(w)) {
                Watcher *wr = w->queue_head;

                watcher_dequeue(wr);
                watcher_resolve_now(wr);
        }
}

static void watcher_probe_dequeue(Watcher *wr) {
        Watch *w = wr->watch;
        Watcher *prev = NULL;

        if (!wr->probe_queued)
                return;
        for (Watcher *i = w->probe_head; i; prev = i, i = i->probe_next)
                if (i == wr) {
                        if (prev)
                                prev->probe_next = wr->probe_next;
                        else
                                w->probe_head = wr->probe_next;
                        if (w->probe_tail == wr)
                                w->probe_tail = prev;
                        break;
                }
        wr->probe_next = NULL;
        wr->probe_queued = false;
}

static void watcher_read_free(Watcher *wr) {
        if (!wr->read)
                return;
        props_done(&wr->read->props);
        free(wr->read->error);
        wr->read = mfree(wr->read);
}

static Watcher *watcher_free(Watcher *wr) {
        if (!wr)
                return NULL;
        if (wr->resolving)
                wr->watch->n_resolving--;
        watcher_dequeue(wr);
        watcher_unhash(wr);
        if (hashmap_get(wr->watch->by_name, wr->name) == wr)
                (void) hashmap_remove(wr->watch->by_name, wr->name);
        watcher_call_done(wr);
        watcher_probe_dequeue(wr);
        watcher_read_free(wr);
        watcher_drop_match(wr);
        sd_bus_slot_unref(wr->slot_timer);
        free(wr->name);
        free(wr->service);
        free(wr->timer_path);
        free(wr->problem);
        strv_done(&wr->timer_files);
        run_tracker_done(&wr->run);
        free(wr);
        return NULL;
}

static int watch_follow_broadcasts(Watch *w);

/* The broadcasts again as the watch now needs them; a failure only delays finding new units. */
static void watch_refollow(Watch *w) {
        if (watch_follow_broadcasts(w) < 0)
                log_warning("Cannot follow systemd's new units and jobs: they are found at the next daemon-reload.");
}
static void watch_probe_next(Watch *w);

static void watch_maybe_settled(Watch *w) {
        if (w->n_resolving != 0)
                return;
        watch_refollow(w);
        if (w->on_settled)
                w->on_settled(w, w->userdata);
        watch_probe_next(w);
        /* The reads are done: the replies and messages they held are free, in holes of the heap
         * that the checks' small allocations do not fill. Give those pages back (issue 14). */
        (void) malloc_trim(0);
}

static void watcher_set_resolving(Watcher *wr, bool b) {
        if (wr->resolving == b)
                return;
        wr->resolving = b;
        if (b)
                wr->watch->n_resolving++;
        else {
                wr->watch->n_resolving--;
                watch_dispatch_queue(wr->watch);
                watch_maybe_settled(wr->watch);
        }
}

/* Logs a problem with a unit once: the same text again (every daemon-reload, every UnitNew) is
 * not repeated, a different one is. */
_printf_(3, 4) static void watcher_problem(Watcher *wr, int level, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                log_oom();
                return;
        }
        if (streq_ptr(wr->problem, msg))
                return;
        log_unit(level, wr->name, NULL, "%s", msg);
        free(wr->problem);
        wr->problem = TAKE_PTR(msg);
}

static void watcher_problem_clear(Watcher *wr) {
        wr->problem = mfree(wr->problem);
}

/* The debug line about a unit not being monitored, said when that changes. */
static void watcher_say_monitored(Watcher *wr, bool monitored) {
        if (wr->said_monitored == (int) monitored)
                return;
        wr->said_monitored = monitored;
        if (!monitored)
                log_unit(LOG_DEBUG, wr->service ?: wr->name, NULL, "%s: not monitored.", wr->name);
}

/* Stops following a unit's runs for a reason of systemd's (see watch_dropped_t). */
static void watcher_unmonitor(Watcher *wr) {
        Watch *w = wr->watch;

        watcher_drop_match(wr);
        wr->monitored = false;
        watcher_say_monitored(wr, false);
        if (w->on_dropped)
                w->on_dropped(w, wr->name, w->userdata);
}

static void watch_remove(Watch *w, Watcher *dead);

/* A found unit that is gone, unloaded or has no unit file: its watcher goes, so that what
 * anyone makes systemd load leaves nothing behind. */
static void watch_drop(Watch *w, Watcher *wr) {
        log_debug("%s is gone or not installed; no longer watching it.", wr->name);
        watch_remove(w, wr);
        watch_dispatch_queue(w);
        watch_maybe_settled(w);
}

/* Reads an "ay" InvocationID into 32 hex characters; an empty array means "none". */
static int read_invocation(sd_bus_message *m, char ret[static 33]) {
        const void *p;
        size_t n;
        int r;

        r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                ret[0] = 0;
                return 0;
        }
        if (n != 16)
                return -EBADMSG;
        for (size_t i = 0; i < 16; i++)
                sprintf(ret + 2 * i, "%02x", ((const uint8_t *) p)[i]);
        return 0;
}

static int read_string_into(sd_bus_message *m, char *buf, size_t size) {
        const char *s;
        int r;

        r = sd_bus_message_read_basic(m, 's', &s);
        if (r < 0)
                return r;
        snprintf(buf, size, "%s", s);
        return 0;
}

void props_done(UnitProps *p) {
        strv_done(&p->files);
        free(p->fragment);
}

/* FragmentPath first, then the drop-ins in systemd's order. */
int props_files(UnitProps *p, Strv *ret) {
        int r;

        strv_done(ret);
        if (!isempty(p->fragment)) {
                r = strv_push(ret, p->fragment);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->files.n; i++) {
                r = strv_push(ret, p->files.items[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Readers for one property's value, called inside its variant. */
typedef int (*prop_reader_t)(sd_bus_message *m, UnitProps *p, size_t offset, size_t size);

static int read_prop_string(sd_bus_message *m, UnitProps *p, size_t offset, size_t size) {
        return read_string_into(m, (char *) p + offset, size);
}

static int read_prop_int(sd_bus_message *m, UnitProps *p, size_t offset, size_t size _unused_) {
        return sd_bus_message_read_basic(m, 'i', (uint8_t *) p + offset);
}

static int read_prop_time(sd_bus_message *m, UnitProps *p, size_t offset, size_t size _unused_) {
        return sd_bus_message_read_basic(m, 't', (uint8_t *) p + offset);
}

static int read_prop_invocation(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        return read_invocation(m, p->invocation);
}

static int read_prop_fragment(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        const char *f;
        int r;

        r = sd_bus_message_read_basic(m, 's', &f);
        if (r < 0)
                return r;
        return free_and_strdup(&p->fragment, f);
}

static int read_prop_dropins(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (;;) {
                const char *f;

                r = sd_bus_message_read_basic(m, 's', &f);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (p->files.n < 64 && strv_push(&p->files, f) < 0)
                        return -ENOMEM;
        }
        return sd_bus_message_exit_container(m);
}

static int read_prop_bool(sd_bus_message *m, UnitProps *p, size_t offset, size_t size _unused_) {
        int b, r;

        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r >= 0)
                *(int *) ((uint8_t *) p + offset) = b;
        return r;
}

/* The first condition that failed, as a unit file writes it: "ConditionVirtualization=!container". */
static int read_prop_conditions(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        const char *type, *param;
        int trigger, negate, state, r;

        p->failed_condition[0] = 0;
        r = sd_bus_message_enter_container(m, 'a', "(sbbsi)");
        while (r > 0) {
                r = sd_bus_message_read(m, "(sbbsi)", &type, &trigger, &negate, &param, &state);
                if (r > 0 && state < 0 && !p->failed_condition[0])
                        snprintf(p->failed_condition, sizeof(p->failed_condition), "%s=%s%s%s", type,
                                 trigger ? "|" : "", negate ? "!" : "", param);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

/* systemd ≥ 253 (Debian 12's 252 has it backported): who started this run. */
static int read_prop_activation(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        const char *k, *val;
        int r;

        p->activated_by_timer = 0;
        p->trigger_unit[0] = 0;
        p->trigger_realtime = 0;
        r = sd_bus_message_enter_container(m, 'a', "(ss)");
        while (r > 0) {
                r = sd_bus_message_read(m, "(ss)", &k, &val);
                if (r > 0 && streq(k, "trigger_unit")) {
                        snprintf(p->trigger_unit, sizeof(p->trigger_unit), "%s", val);
                        p->activated_by_timer = endswith(val, ".timer");
                } else if (r > 0 && streq(k, "trigger_timer_realtime_usec"))
                        p->trigger_realtime = strtoull(val, NULL, 10); /* only compared for equality */
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

bool success_exit_has_status(const SuccessExit *s, int status) {
        return s && status >= 0 && status <= 255 && (s->status[status / 64] >> (status % 64)) & 1;
}

bool success_exit_has_signal(const SuccessExit *s, int sig) {
        return s && sig > 0 && sig < 64 && (s->signals >> sig) & 1;
}

/* SuccessExitStatus: (aiai), the exit statuses, then the signals. */
static int read_prop_success(sd_bus_message *m, UnitProps *p, size_t offset _unused_, size_t size _unused_) {
        const int32_t *v;
        size_t n;
        int r;

        p->success = (SuccessExit) {};
        r = sd_bus_message_enter_container(m, 'r', "aiai");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'i', (const void **) &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n / sizeof(int32_t); i++)
                if (v[i] >= 0 && v[i] <= 255)
                        p->success.status[v[i] / 64] |= UINT64_C(1) << (v[i] % 64);
        r = sd_bus_message_read_array(m, 'i', (const void **) &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n / sizeof(int32_t); i++)
                if (v[i] > 0 && v[i] < 64)
                        p->success.signals |= UINT64_C(1) << v[i];
        return sd_bus_message_exit_container(m);
}

#define PROP(n, sig, reader, field, has) \
        { n, sig, reader, offsetof(UnitProps, field), sizeof(((UnitProps *) NULL)->field), offsetof(UnitProps, has) }

/* What timerbeat reads, by name and D-Bus signature: anything else, or a known name with an
 * unexpected type, is skipped. */
static const struct {
        const char *name, *signature;
        prop_reader_t read;
        size_t offset, size, has;
} prop_table[] = {
        PROP("ActiveState", "s", read_prop_string, active, has_active),
        PROP("SubState", "s", read_prop_string, sub, has_sub),
        PROP("Result", "s", read_prop_string, result, has_result),
        PROP("LoadState", "s", read_prop_string, load, has_load),
        PROP("Unit", "s", read_prop_string, unit, has_unit),
        PROP("InvocationID", "ay", read_prop_invocation, invocation, has_invocation),
        PROP("ExecMainCode", "i", read_prop_int, code, has_code),
        PROP("ExecMainStatus", "i", read_prop_int, status, has_status),
        PROP("ExecMainStartTimestamp", "t", read_prop_time, start, has_start),
        PROP("ExecMainExitTimestamp", "t", read_prop_time, exit, has_exit),
        PROP("LastTriggerUSec", "t", read_prop_time, last_trigger, has_last_trigger),
        PROP("NextElapseUSecRealtime", "t", read_prop_time, next_elapse, has_next_elapse),
        PROP("NextElapseUSecMonotonic", "t", read_prop_time, next_elapse_mono, has_next_elapse_mono),
        PROP("ActivationDetails", "a(ss)", read_prop_activation, trigger_unit, has_activation),
        PROP("FragmentPath", "s", read_prop_fragment, fragment, has_fragment),
        PROP("DropInPaths", "as", read_prop_dropins, files, has_files),
        PROP("SuccessExitStatus", "(aiai)", read_prop_success, success, has_success),
        PROP("UnitFileState", "s", read_prop_string, unit_file_state, has_unit_file_state),
        PROP("ConditionResult", "b", read_prop_bool, condition_result, has_condition_result),
        PROP("ConditionTimestamp", "t", read_prop_time, condition_timestamp, has_condition_timestamp),
        PROP("Conditions", "a(sbbsi)", read_prop_conditions, failed_condition, has_conditions),
};

/* A property's variant, read if we know the name and its type, skipped otherwise. */
static int read_prop_value(sd_bus_message *m, const char *name, UnitProps *p) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != 'v')
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(prop_table); i++) {
                if (!streq(name, prop_table[i].name) || !streq(contents, prop_table[i].signature))
                        continue;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = prop_table[i].read(m, p, prop_table[i].offset, prop_table[i].size);
                if (r >= 0)
                        *(bool *) ((uint8_t *) p + prop_table[i].has) = true;
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                return r;
        }
        return sd_bus_message_skip(m, "v");
}

int props_read_value(sd_bus_message *m, const char *name, UnitProps *p) {
        return read_prop_value(m, name, p);
}

/* One dict entry: the name, then its variant. */
static int read_prop(sd_bus_message *m, UnitProps *p) {
        const char *name;
        int r;

        r = sd_bus_message_read_basic(m, 's', &name);
        if (r < 0)
                return r;
        return read_prop_value(m, name, p);
}

/* Reads an a{sv} of unit properties, taking what we know and skipping the rest. A property
 * with an unexpected type is skipped, never trusted. */
int read_props(sd_bus_message *m, UnitProps *p) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = read_prop(m, p);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

/* The answer to one Get of a read. A property systemd does not have (an older version) is
 * left unset; the read is done when every answer is in. */
static int on_prop_got(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        PropGet *g = userdata;
        Watcher *wr = g->watcher;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = 0;

        WatcherRead *rd = wr->read;

        g->slot = sd_bus_slot_unref(g->slot);
        rd->n_gets--;
        wr->watch->n_calls--;
        if (e && sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.LimitsExceeded")) {
                unsigned max = MAX(WATCH_READ_MAX, (wr->watch->n_calls + 1) * 3 / 4);

                if (max < wr->watch->max_calls) {
                        log_debug("The bus refused a call (%s); at most %u replies awaited from now on.",
                                  e->message ?: e->name, max);
                        wr->watch->max_calls = max;
                }
                wr->again = true;
        } else if (e && !sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.UnknownProperty") &&
                   wr->read_retries < WATCH_READ_RETRIES) {
                /* One answer missing (systemd re-executing, the bus restarting, a reply lost):
                 * the other answers alone are not a baseline (an InvocationID missing from one
                 * would hide a run), so the whole read is made again, a few times. */
                wr->read_retries++;
                wr->again = true;
        } else if (e) {
                if (!rd->error && !sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.UnknownProperty"))
                        (void) free_and_strdup(&rd->error, e->message ?: e->name);
        } else
                r = read_prop_value(m, g->name, &rd->props);
        if (r < 0 && !rd->error)
                (void) free_and_strdup(&rd->error, "malformed property value");
        if (rd->n_gets == 0)
                rd->done(wr);
        return 0;
}

/* Reads the named properties of the unit at path (adding to carry's, taken over, when a second
 * step of a read); done is called once every answer is in. */
static int watcher_read(Watcher *wr, const char *path, const PropName *props, size_t n, watcher_read_done_t done,
                        UnitProps *carry) {
        Watch *w = wr->watch;
        int r;

        assert(n <= WATCH_READ_MAX && !watcher_reading(wr));
        watcher_read_free(wr);
        wr->read = calloc(1, sizeof(WatcherRead));
        if (!wr->read)
                return -ENOMEM;
        if (carry) {
                wr->read->props = *carry;
                *carry = (UnitProps) {};
        }
        wr->read->done = done;
        for (size_t i = 0; i < n; i++) {
                PropGet *g = &wr->read->gets[i];

                g->watcher = wr;
                g->name = props[i].name;
                r = sd_bus_call_method_async(w->bus, &g->slot, SYSTEMD_DEST, path, DBUS_PROPERTIES, "Get",
                                             on_prop_got, g, "ss", props[i].iface, props[i].name);
                if (r < 0) {
                        watcher_call_done(wr);
                        return r;
                }
                wr->read->n_gets++;
                w->n_calls++;
        }
        return 0;
}

/* What a finished read gathered, handed to its done handler (which frees it), with the first
 * error, if any, in ret_error (the caller's buffer). */
static UnitProps watcher_take_props(Watcher *wr, char *ret_error, size_t size) {
        UnitProps p = {};

        ret_error[0] = 0;
        if (wr->read) {
                p = wr->read->props;
                wr->read->props = (UnitProps) {};
                snprintf(ret_error, size, "%s", wr->read->error ?: "no answer");
        }
        watcher_read_free(wr);
        return p;
}

/* What a timer is read for: the service it triggers, whether it exists, its files (for
 * annotations), whether it is active. */
static const PropName timer_props[] = {
        { TIMER_IFACE, "Unit" },        { UNIT_IFACE, "LoadState" },   { UNIT_IFACE, "ActiveState" },
        { UNIT_IFACE, "FragmentPath" }, { UNIT_IFACE, "DropInPaths" },
};
/* Only for a found timer that is not active: whether it is enabled. */
static const PropName enabled_props[] = {
        { UNIT_IFACE, "UnitFileState" },
};
/* The probe of a found timer the listing showed inactive: whether it is enabled, and whether it
 * was started since (its start job may have ended before we followed it: by its path, or by a
 * JobRemoved that came before the watcher existed). */
static const PropName probe_path_props[] = {
        { UNIT_IFACE, "UnitFileState" },
        { UNIT_IFACE, "ActiveState" },
};
/* A service's baseline: its state and last run. */
static const PropName service_props[] = {
        { UNIT_IFACE, "LoadState" },
        { UNIT_IFACE, "ActiveState" },
        { UNIT_IFACE, "SubState" },
        { UNIT_IFACE, "InvocationID" },
        { UNIT_IFACE, "FragmentPath" },
        { UNIT_IFACE, "DropInPaths" },
        { UNIT_IFACE, "ActivationDetails" },
        { UNIT_IFACE, "ConditionResult" },
        { UNIT_IFACE, "ConditionTimestamp" },
        { SERVICE_IFACE, "Result" },
        { SERVICE_IFACE, "ExecMainCode" },
        { SERVICE_IFACE, "ExecMainStatus" },
        { SERVICE_IFACE, "ExecMainStartTimestamp" },
        { SERVICE_IFACE, "ExecMainExitTimestamp" },
        { SERVICE_IFACE, "SuccessExitStatus" },
};
/* A followed service after daemon-reload: only what may have changed with its files. */
static const PropName service_refresh_props[] = {
        { UNIT_IFACE, "LoadState" },
        { UNIT_IFACE, "FragmentPath" },
        { UNIT_IFACE, "DropInPaths" },
        { SERVICE_IFACE, "SuccessExitStatus" },
};

/* What systemd told, as the run tracker takes it. The strings point into p. */
static void props_to_update(const UnitProps *p, RunSource source, RunUpdate *ret) {
        *ret = (RunUpdate) {
                .source = source,
                .has_active_state = p->has_active,
                .has_sub_state = p->has_sub,
                .has_invocation = p->has_invocation,
                .has_result = p->has_result,
                .has_exec_main_code = p->has_code,
                .has_exec_main_status = p->has_status,
                .has_start_timestamp = p->has_start,
                .has_exit_timestamp = p->has_exit,
                .has_activation = p->has_activation,
                .active_state = p->active,
                .sub_state = p->sub,
                .invocation = p->invocation,
                .result = p->result,
                .exec_main_code = p->code,
                .exec_main_status = p->status,
                .start_timestamp = p->start,
                .exit_timestamp = p->exit,
                .trigger_unit = isempty(p->trigger_unit) ? NULL : p->trigger_unit,
                .trigger_realtime = p->trigger_realtime,
                .has_condition = p->has_condition_result && p->has_condition_timestamp,
                .condition_result = p->condition_result,
                .condition_timestamp = p->condition_timestamp,
        };
}

/* The checks watching wr's service (wr included): whether there are several, the timers among
 * them and whether one is for the service itself. Bounded: with more than WATCH_OWNERS_MAX, a
 * run is everyone's. */
#define WATCH_OWNERS_MAX 64U
typedef struct Siblings {
        const char *checks[WATCH_OWNERS_MAX], *timers[WATCH_OWNERS_MAX];
        size_t n, n_timers;
        bool service_section;
} Siblings;

static bool watcher_siblings(const Watcher *wr, Siblings *ret) {
        *ret = (Siblings) {};
        for (Watcher *o = hashmap_get(wr->watch->by_service, wr->service); o; o = o->path_next) {
                if (!o->monitored)
                        continue;
                if (ret->n == WATCH_OWNERS_MAX)
                        return false;
                ret->checks[ret->n++] = o->name;
                if (o->is_timer)
                        ret->timers[ret->n_timers++] = o->name;
                else if (streq(o->name, wr->service))
                        ret->service_section = true;
        }
        return ret->n > 1;
}

static void on_attributed(const WatchRun *run, void *userdata) {
        Watch *w = userdata;

        w->on_run_end(w, run, w->userdata);
}

/* The one place a run event becomes a WatchRun for the manager. A baseline without a run to
 * catch up is still handed over (empty invocation, catch_up): the manager starts its record
 * for a new check there, so that a run ending while timerbeat is stopped is caught up later.
 * A run of a service other checks watch too goes to the check of the timer that started it
 * (run_owner with fresh ActivationDetails, else the timers' LastTriggerUSec: attribute.c). */
static void watcher_report(Watcher *wr, RunEventKind kind, const RunRecord *r) {
        Watch *w = wr->watch;
        AttributeRequest req = { .start = r->start_timestamp, .prev_exit = r->prev_exit };
        Siblings sib;
        WatchRun run;
        int q;

        if (kind == RUN_NONE)
                return;
        run = (WatchRun) {
                .check = wr->name,
                .service = wr->service,
                .invocation = r->invocation,
                .active_state = r->active_state,
                .result = r->result,
                .exec_main_code = r->exec_main_code,
                .exec_main_status = r->exec_main_status,
                .exit_timestamp = r->exit_timestamp,
                .start_timestamp = r->start_timestamp,
                .catch_up = r->catch_up,
                .start = kind == RUN_START,
                .skipped = kind == RUN_SKIPPED,
                .activated_by_timer = r->activated_by_timer,
                .trigger_unit = r->trigger_unit,
                .success_exit = &wr->success,
        };
        if (isempty(run.invocation))
                ; /* a baseline without a run: nothing to attribute */
        else if (watcher_siblings(wr, &sib)) {
                if (r->activated_by_timer >= 0)
                        run.shared = run_owner(wr->service, r->activated_by_timer, r->trigger_unit, sib.checks, sib.n,
                                               &run.owner);
                else if (!r->catch_up) {
                        req.timers = sib.timers;
                        req.n_timers = sib.n_timers;
                        req.service_section = sib.service_section;
                        req.shared = true;
                }
        } else if (wr->ask_trigger && wr->is_timer && r->activated_by_timer < 0 && !r->catch_up) {
                sib.timers[0] = wr->name;
                req.timers = sib.timers;
                req.n_timers = 1;
        }
        if (!w->attributor && (req.n_timers > 0) && attributor_new(&w->attributor, on_attributed, w) < 0)
                log_oom();
        if (w->attributor && w->bus) {
                q = attributor_add(w->attributor, w->bus, &run, &req);
                if (q >= 0)
                        return;
                log_unit_errno(LOG_WARNING, q, wr->service, run.invocation,
                               "Cannot ask the timers who started this run (%m); every check of %s hears it.",
                               wr->service);
        }
        w->on_run_end(w, &run, w->userdata);
}

static void watcher_feed(Watcher *wr, const UnitProps *p, RunSource source) {
        RunUpdate u;
        RunRecord r;
        RunEventKind kind;

        props_to_update(p, source, &u);
        kind = run_tracker_feed(&wr->run, &u, &r);
        watcher_report(wr, kind, &r);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watcher *wr = userdata;
        const char *iface;
        _cleanup_(props_done) UnitProps p = {};
        bool baselined = run_tracker_is_baselined(&wr->run);
        int r;

        if (!from_systemd(wr->watch, m))
                return 0;
        r = sd_bus_message_read_basic(m, 's', &iface);
        if (r >= 0)
                r = read_props(m, &p);
        if (r < 0) {
                log_unit_errno(LOG_WARNING, r, wr->service, NULL, "Ignoring malformed PropertiesChanged signal: %m");
                return 0;
        }
        log_unit(LOG_DEBUG, wr->service, NULL, "%s: %s%s%s%s%s%s%s%s%s", iface, p.has_active ? " ActiveState=" : "",
                 p.has_active ? p.active : "", p.has_sub ? " SubState=" : "", p.has_sub ? p.sub : "",
                 p.has_invocation ? " InvocationID=" : "", p.has_invocation ? p.invocation : "",
                 p.has_result ? " Result=" : "", p.has_result ? p.result : "", baselined ? "" : " (before baseline)");
        /* A read is one Get per property: a change that falls between two of its answers would
         * leave a baseline of mixed times, so read again once this one is in. */
        if (!baselined && watcher_reading(wr))
                wr->again = true;
        /* Only the watchers whose runs the manager wants follow the signals (in broad mode
         * every watcher of the path sees them); the others are read again when that changes. */
        if (!wr->monitored)
                return 0;
        if (streq(iface, "org.freedesktop.systemd1.Service"))
                watcher_feed(wr, &p, RUN_SOURCE_SERVICE);
        else if (streq(iface, "org.freedesktop.systemd1.Unit"))
                watcher_feed(wr, &p, RUN_SOURCE_UNIT);
        return 0;
}

/* Asks the manager whether this unit is monitored: it decides from the config, patterns and
 * the [X-Timerbeat] annotations in the unit files. */
static bool watcher_want(Watcher *wr, UnitProps *p) {
        _cleanup_(strv_done) Strv service_files = {};
        WatchUnitInfo info = {
                .unit = wr->name,
                .service = wr->service,
                .timer_files = &wr->timer_files,
                .service_files = &service_files,
                .discovered = wr->discovered,
                .ask_trigger = &wr->ask_trigger,
        };

        if (props_files(p, &service_files) < 0)
                log_oom();
        wr->ask_trigger = false;
        wr->monitored = w_want(wr->watch, &info);
        if (!wr->monitored)
                watcher_drop_match(wr);
        watcher_say_monitored(wr, wr->monitored);
        return wr->monitored;
}

/* The state read is the baseline: from here on, signals count. A run that ended before we
 * looked is handed over as catch_up: the manager knows from its records whether it was
 * reported already. */
static void watcher_baseline(Watcher *wr, UnitProps *p) {
        watcher_feed(wr, p, RUN_SOURCE_BASELINE);
        log_unit(LOG_DEBUG, wr->service, NULL, "[%s] watches %s (%s/%s, run %s).", wr->name, wr->service,
                 p->has_active ? p->active : "?", p->has_sub ? p->sub : "?", p->has_invocation ? p->invocation : "?");
}

static void on_service_state(Watcher *wr) {
        char error[256];
        _cleanup_(props_done) UnitProps p = watcher_take_props(wr, error, sizeof(error));
        bool refresh;

        if (watcher_reply_superseded(wr))
                return;
        wr->read_retries = 0;
        refresh = wr->refresh;
        wr->refresh = false;
        /* LoadState is there for any unit systemd can name: without it, nothing is known. */
        if (!p.has_load) {
                log_unit(LOG_WARNING, wr->service, NULL, "Failed to read the state of %s for [%s]: %s", wr->service,
                         wr->name, error);
                watcher_set_resolving(wr, false);
                return;
        }

        if (p.has_success)
                wr->success = p.success;
        /* A service without a unit file. Found by a pattern (anyone can make systemd load any
         * name): forget it. Named in the config: say so once, and look again on daemon-reload. */
        wr->missing = p.has_load && !streq(p.load, "loaded");
        if (wr->missing && wr->discovered) {
                watch_drop(wr->watch, wr);
                return;
        }
        if (wr->missing) {
                watcher_problem(wr, LOG_WARNING,
                                "[%s]: %s does not exist (yet); it will be watched once it is installed.", wr->name,
                                wr->service);
                if (wr->watch->on_dropped)
                        wr->watch->on_dropped(wr->watch, wr->name, wr->watch->userdata);
                watcher_baseline(wr, &p);
                watcher_set_resolving(wr, false);
                return;
        }
        if (!wr->is_timer)
                watcher_problem_clear(wr);

        /* A refresh (daemon-reload, same service, still watched): the signals we have been
         * following are newer than this read, so keep the run state and only decide again. */
        if (refresh && watcher_is_following(wr)) {
                (void) watcher_want(wr, &p);
                watcher_set_resolving(wr, false);
                return;
        }
        if (watcher_want(wr, &p))
                watcher_baseline(wr, &p);
        watcher_set_resolving(wr, false);
        return;
}

static void watch_go_broad(Watch *w);

static bool w_want(Watch *w, const WatchUnitInfo *info) {
        return w->want ? w->want(w, info, w->userdata) : true;
}

/* The bus refused a per-service match (too many): switch to one match for all units. The bus
 * answers AddMatch calls in order, so the matches it holds when it refuses one are what it allows
 * this connection: that is the limit from now on. */
static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watcher *wr = userdata;
        Watch *w = wr->watch;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        unsigned held = 0;

        wr->slot_match = sd_bus_slot_unref(wr->slot_match);
        if (!e) {
                wr->match_held = true;
                return 0;
        }
        /* Not registered: no RemoveMatch for it (an identical rule of another watcher of the
         * same service would go instead). */
        wr->match_on = false;
        for (Watcher *i = w->watchers; i; i = i->next)
                held += i->match_on && i->match_held;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_LIMITS_EXCEEDED) && held < w->max_matches)
                w->max_matches = held;
        log_notice("The bus refused another match after %u per-service matches (%s); watching all units with "
                   "one match instead.",
                   held, e->message ?: e->name);
        watch_go_broad(w);
        return 0;
}

/* The bus-side rule of a service's PropertiesChanged. An sd-bus match would cost each watcher
 * its slot, rule string and a branch of sd-bus's match tree (about 500 bytes, issue 14); the
 * filter (on_filter) dispatches by path through Watch.by_service instead. */
static int service_match_rule(const char *path, char **ret) {
        return asprintf(ret,
                        "type='signal',sender='" SYSTEMD_DEST "',path='%s',interface='" DBUS_PROPERTIES
                        "',member='PropertiesChanged'",
                        path) < 0 ?
                       -ENOMEM :
                       0;
}

static int watcher_add_match(Watcher *wr, const char *path) {
        _cleanup_free_ char *rule = NULL;
        int r;

        watcher_drop_match(wr);
        r = service_match_rule(path, &rule);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(wr->watch->bus, &wr->slot_match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "AddMatch", on_match_installed, wr, "s", rule);
        if (r < 0)
                return r;
        wr->match_on = true;
        wr->match_held = false;
        return 0;
}

/* Stops the signals of the watcher's service: the AddMatch in flight is not waited for, and
 * the bus (which answers in order) removes the rule after adding it. */
static void watcher_drop_match(Watcher *wr) {
        _cleanup_free_ char *path = NULL, *rule = NULL;

        wr->slot_match = sd_bus_slot_unref(wr->slot_match);
        if (!wr->match_on)
                return;
        wr->match_on = wr->match_held = false;
        if (!wr->watch->bus || !wr->service || unit_dbus_path(wr->service, &path) < 0 ||
            service_match_rule(path, &rule) < 0)
                return;
        /* No reply wanted: a failure leaves a rule whose signals on_filter ignores. */
        (void) sd_bus_call_method_async(wr->watch->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "RemoveMatch", NULL, NULL, "s", rule);
}

static int watcher_watch_service(Watcher *wr, const char *service) {
        Watch *w = wr->watch;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!unit_name_is_valid(service) || !endswith(service, ".service"))
                return -EINVAL;

        if (wr->service && streq(wr->service, service) && watcher_is_following(wr)) {
                /* Unchanged: keep the match and what we know. A named service needs nothing
                 * more; for a timer or a found unit, read the files again (annotations may have
                 * changed) without dropping what the signals told us. */
                if (!wr->discovered && !wr->is_timer && !wr->missing) {
                        watcher_set_resolving(wr, false);
                        return 0;
                }
                r = unit_dbus_path(service, &path);
                if (r < 0)
                        return r;
                wr->refresh = true;
                return watcher_read(wr, path, service_refresh_props, ELEMENTSOF(service_refresh_props),
                                    on_service_state, false);
        }

        r = unit_dbus_path(service, &path);
        if (r < 0)
                return r;

        watcher_drop_match(wr);
        watcher_unhash(wr);
        if (streq_ptr(wr->service, service))
                run_tracker_lost(&wr->run);
        else {
                run_tracker_done(&wr->run);
                run_tracker_init(&wr->run); /* another service: its invocations are new to us */
        }
        r = free_and_strdup(&wr->service, service);
        if (r < 0)
                return r;
        r = watcher_hash(wr);
        if (r < 0)
                return r;

        /* Match first, then read the state: the bus orders both, so no change falls between. */
        if (!w->broad) {
                r = watcher_add_match(wr, path);
                if (r < 0)
                        return r;
        }
        return watcher_read(wr, path, service_props, ELEMENTSOF(service_props), on_service_state, NULL);
}

/* Whether a timer's service can be watched: 1 yes; 0 no, said once; -1 the watcher goes (a
 * timer found by a pattern that is not installed). */
static int watcher_timer_usable(Watcher *wr, const UnitProps *p) {
        wr->missing = isempty(p->unit) || (p->has_load && !streq(p->load, "loaded"));
        wr->unsupported = !wr->missing && !endswith(p->unit, ".service");
        if (wr->missing && wr->discovered)
                return -1;
        if (wr->missing || wr->unsupported)
                watcher_unmonitor(wr);
        if (wr->missing) {
                wr->quiet_until = now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC;
                watcher_problem(
                        wr, LOG_WARNING,
                        "[%s]: %s does not exist (yet) or triggers nothing; watching it once it is installed.",
                        wr->name, wr->name);
                return 0;
        }
        /* Not re-read on UnitNew (reading it loads it, which sends UnitNew): on daemon-reload. */
        if (wr->unsupported) {
                watcher_problem(wr, LOG_WARNING,
                                "[%s]: triggers %s, which is not a service; timerbeat follows the runs of services "
                                "only, so %s is not monitored. Point its Unit= at a service, or exclude it with "
                                "enabled = no.",
                                wr->name, p->unit, wr->name);
                return 0;
        }
        watcher_problem_clear(wr);
        if (wr->discovered && !unit_timer_is_eligible(p->active, p->unit_file_state)) {
                /* Merely loaded: followed once it is started or enabled (JobRemoved, Reloading). */
                watcher_unmonitor(wr);
                return 0;
        }
        return 1;
}

static void on_timer_state(Watcher *wr) {
        char error[256];
        _cleanup_(props_done) UnitProps p = watcher_take_props(wr, error, sizeof(error));
        int r;

        if (watcher_reply_superseded(wr))
                return;
        if (!p.has_load) {
                log_unit(LOG_WARNING, wr->name, NULL, "[%s]: cannot read the timer: %s", wr->name, error);
                watcher_set_resolving(wr, false);
                return;
        }
        if (p.has_active)
                wr->timer_up = unit_timer_is_eligible(p.active, NULL);
        /* A found timer that is not active: whether it is enabled decides, asked only now. */
        if (wr->discovered && !p.has_unit_file_state && p.has_active && !unit_timer_is_eligible(p.active, NULL)) {
                r = watcher_read(wr, wr->timer_path, enabled_props, ELEMENTSOF(enabled_props), on_timer_state, &p);
                if (r < 0) {
                        log_unit_errno(LOG_WARNING, r, wr->name, NULL, "[%s]: cannot read the timer: %m", wr->name);
                        watcher_set_resolving(wr, false);
                }
                return;
        }
        r = props_files(&p, &wr->timer_files);
        if (r < 0) {
                log_unit_errno(LOG_WARNING, r, wr->name, NULL, "[%s]: cannot parse the timer's properties: %m",
                               wr->name);
                watcher_set_resolving(wr, false);
                return;
        }
        r = watcher_timer_usable(wr, &p);
        if (r <= 0) {
                if (r < 0)
                        watch_drop(wr->watch, wr);
                else
                        watcher_set_resolving(wr, false);
                return;
        }
        if (wr->service && !streq(wr->service, p.unit))
                log_unit(LOG_INFO, wr->name, NULL, "[%s] now triggers %s (was %s).", wr->name, p.unit, wr->service);

        r = watcher_watch_service(wr, p.unit);
        if (r < 0) {
                log_unit_errno(LOG_WARNING, r, wr->name, NULL, "[%s]: cannot watch %s: %m", wr->name, p.unit);
                watcher_set_resolving(wr, false);
        }
        return;
}

static void watcher_enqueue_or_run(Watcher *wr) {
        Watch *w = wr->watch;

        if (wr->queued)
                return;
        if (!watch_can_call(w)) {
                if (w->queue_tail)
                        w->queue_tail->queue_next = wr;
                else
                        w->queue_head = wr;
                w->queue_tail = wr;
                wr->queued = true;
                return;
        }
        watcher_resolve_now(wr);
}

/* (Re)finds the service to watch: a service check names it; a timer check asks the timer. A
 * call in flight is not cancelled (the bus would still count it against our pending-reply
 * limit): we resolve again when it returns. */
static void watcher_resolve(Watcher *wr) {
        Watch *w = wr->watch;

        if (!w->bus)
                return; /* disconnected: everything is re-read once we are back */
        /* A full read decides, whether it is enabled included: no probe after it. */
        watcher_probe_dequeue(wr);
        watcher_set_resolving(wr, true);
        if (watcher_reading(wr)) {
                wr->again = true;
                return;
        }
        watcher_enqueue_or_run(wr);
}

/* Called first thing in a reply handler: true if the reply is stale and a new call was made. */
static bool watcher_reply_superseded(Watcher *wr) {
        bool again = wr->again;

        watcher_call_done(wr);
        if (!again)
                return false;
        watcher_enqueue_or_run(wr);
        /* Its calls are free now: when every read in flight is made again, nothing else would
         * start the ones waiting (the queue would stall with no call in flight). */
        watch_dispatch_queue(wr->watch);
        return true;
}

static void watcher_resolve_now(Watcher *wr) {
        int r;

        if (!wr->is_timer)
                r = watcher_watch_service(wr, wr->name);
        else {
                r = wr->timer_path ? 0 : unit_dbus_path(wr->name, &wr->timer_path);
                if (r >= 0)
                        /* Reading a property of a unit object loads the unit, like LoadUnit(). */
                        r = watcher_read(wr, wr->timer_path, timer_props, ELEMENTSOF(timer_props), on_timer_state,
                                         NULL);
        }
        if (r < 0) {
                log_unit_errno(LOG_WARNING, r, wr->name, NULL, "[%s]: failed to resolve: %m", wr->name);
                watcher_set_resolving(wr, false);
        }
}

/* A found timer that is merely loaded (not active) is monitored only once it is enabled; that
 * is asked after every resolution is done, WATCH_PROBES_MAX at a time: UnitFileState is the
 * one expensive property, and thousands of idle timers must not delay start-up. */
static void watcher_probe(Watcher *wr) {
        Watch *w = wr->watch;

        if (wr->probe_queued || wr->probing)
                return;
        wr->monitored = false;
        if (w->probe_tail)
                w->probe_tail->probe_next = wr;
        else
                w->probe_head = wr;
        w->probe_tail = wr;
        wr->probe_queued = true;
}

static void on_probed(Watcher *wr) {
        char error[256];
        _cleanup_(props_done) UnitProps p = watcher_take_props(wr, error, sizeof(error));
        Watch *w = wr->watch;

        if (!watcher_reply_superseded(wr)) {
                if ((p.has_unit_file_state && unit_timer_is_eligible(NULL, p.unit_file_state)) ||
                    (p.has_active && unit_timer_is_eligible(p.active, NULL)))
                        watcher_resolve(wr); /* enabled or started: read it in full */
                else
                        watcher_unmonitor(wr);
        }
        watch_probe_next(w);
}

static void watch_probe_next(Watch *w) {
        while (w->probe_head && w->bus && w->n_resolving == 0 && w->n_probing < WATCH_PROBES_MAX &&
               watch_can_call(w)) {
                Watcher *wr = w->probe_head;
                int r;

                watcher_probe_dequeue(wr);
                if (watcher_reading(wr) || wr->resolving)
                        continue; /* a resolution took over */
                r = wr->timer_path ? 0 : unit_dbus_path(wr->name, &wr->timer_path);
                if (r >= 0) {
                        wr->probing = true;
                        w->n_probing++;
                        r = watcher_read(wr, wr->timer_path, probe_path_props, ELEMENTSOF(probe_path_props),
                                         on_probed, NULL);
                }
                if (r < 0)
                        log_unit_errno(LOG_WARNING, r, wr->name, NULL, "[%s]: cannot ask whether it is enabled: %m",
                                       wr->name);
        }
}

/* A unit found by a listing: a timer the listing shows inactive waits for the probe. */
static void watch_examine(Watcher *wr, const char *active) {
        wr->timer_up = unit_timer_is_eligible(active, NULL);
        if (wr->is_timer && wr->discovered && !unit_timer_is_eligible(active, NULL))
                watcher_probe(wr);
        else
                watcher_resolve(wr);
}

/* Every message that reaches the connection passes here first: a PropertiesChanged of a watched
 * service's object path goes to its watchers (the rules the bus holds, per service or the broad
 * one, decide what arrives). Never consumed: sd-bus's own matches (timers, broadcasts) still see
 * it. */
static int on_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *path = sd_bus_message_get_path(m);
        _cleanup_free_ char *unit = NULL;
        Watcher *wr, *next;

        if (!path || !sd_bus_message_is_signal(m, DBUS_PROPERTIES, "PropertiesChanged") ||
            sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &unit) <= 0)
                return 0;
        wr = hashmap_get(w->by_service, unit);
        if (!wr || !from_systemd(w, m))
                return 0;
        for (; wr; wr = next) {
                next = wr->path_next;
                if (sd_bus_message_rewind(m, true) < 0)
                        return 0;
                (void) on_properties_changed(m, wr, NULL);
        }
        (void) sd_bus_message_rewind(m, true);
        return 0;
}

/* The services' signals go through on_filter; this match only has the bus send them. */
static int on_broad_signal(sd_bus_message *m _unused_, void *userdata _unused_, sd_bus_error *ret_error _unused_) {
        return 0;
}

static int on_broad_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (!e)
                return 0;
        log_error("The bus refused the match for all units too (%s): no run end can be seen. Raise the bus's "
                  "max_match_rules_per_connection, or watch fewer units.",
                  e->message ?: e->name);
        w->slot_broad = sd_bus_slot_unref(w->slot_broad);
        return 0;
}

static void watch_rebaseline(Watch *w);

static void watch_go_broad(Watch *w) {
        int r;

        if (w->broad || !w->bus)
                return;
        /* Drop the narrow matches first: the bus may be at its limit, and the RemoveMatch calls
         * reach it before our AddMatch. A run that ends in between is caught up below. */
        for (Watcher *wr = w->watchers; wr; wr = wr->next)
                watcher_drop_match(wr);
        r = sd_bus_add_match_async(w->bus, &w->slot_broad,
                                   "type='signal',sender='" SYSTEMD_DEST "',interface='" DBUS_PROPERTIES "',"
                                   "member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'",
                                   on_broad_signal, on_broad_installed, w);
        if (r < 0) {
                log_error_errno(r, "Failed to add a match for all units: %m; no run end can be seen.");
                return;
        }
        w->broad = true;
        /* The match for all units carries the timers' signals, too: no match by path. */
        watch_refollow(w);
        watch_rebaseline(w);
}

static int on_reloading(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        int active, r;

        if (!from_systemd(w, m))
                return 0;
        r = sd_bus_message_read_basic(m, 'b', &active);
        if (r < 0)
                return 0;
        /* A daemon-reload removes and recreates every unit: UnitRemoved meanwhile means nothing. */
        w->systemd_reloading = active;
        if (active)
                return 0;
        /* daemon-reload finished: a timer's Unit= may point elsewhere, unit files (and their
         * [X-Timerbeat] sections) may have changed, units may have come or gone. */
        log_debug("systemd reloaded; re-resolving.");
        if (w->on_reloaded)
                w->on_reloaded(w, w->reloaded_userdata);
        for (Watcher *wr = w->watchers; wr; wr = wr->next)
                if ((wr->is_timer || wr->discovered || wr->missing) && !(wr->discovered && w->discover.n > 0))
                        watcher_resolve(wr);
        watch_discover(w, true); /* the found units: re-examined with what the listing says */
        return 0;
}

/* A unit that may be new to us, looked up with the others from a defer source. */
static void watch_queue_new(Watch *w, const char *id) {
        if (strv_contains(&w->new_names, id))
                return;
        if (w->new_names.n >= WATCH_NEW_MAX)
                w->new_overflow = true;
        else if (strv_push(&w->new_names, id) < 0) {
                log_oom();
                return;
        }
        if (!w->slot_new_list && sd_event_source_set_enabled(w->new_defer, SD_EVENT_ONESHOT) < 0)
                log_warning("Cannot schedule the look-up of new units; they are found at the next daemon-reload.");
}

static int on_unit_new(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *id, *path;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        Watcher *wr;

        /* Most units loaded are neither timers nor services (scopes, slices, mounts, devices):
         * the cheapest test first. */
        if (sd_bus_message_read(m, "so", &id, &path) < 0 || !(endswith(id, ".timer") || endswith(id, ".service")) ||
            !from_systemd(w, m))
                return 0;
        wr = watch_find(w, id);
        /* Only a timer we could not resolve yet cares (a transient timer appearing); a change of
         * Unit= comes with Reloading. Reading a missing timer loads it, which sends UnitNew, and
         * systemd unloads it again: ignore the UnitNew that our own read caused. */
        if (wr) {
                if (wr->is_timer && !wr->service && !wr->unsupported && !wr->resolving && now >= wr->quiet_until)
                        watcher_resolve(wr);
                return 0;
        }
        /* A unit we would discover (a new timer, a service matching a pattern). Anyone can make
         * systemd load a unit by name, installed or not: look the names up together, without
         * loading anything, and keep those that are loaded from a unit file. */
        if (unit_name_is_valid(id) && watch_wants_name(w, id))
                watch_queue_new(w, id);
        return 0;
}

static int watch_look_up_new(Watch *w);

static int on_new_listed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        Watcher *wr;
        int r;

        w->slot_new_list = sd_bus_slot_unref(w->slot_new_list);
        if (sd_bus_message_is_method_error(m, NULL))
                log_debug("Cannot look up new units: %s", strempty(sd_bus_message_get_error(m)->message));
        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        while (r > 0) {
                const char *id, *load, *active;

                r = sd_bus_message_read(m, "(ssssssouso)", &id, NULL, &load, &active, NULL, NULL, NULL, NULL, NULL,
                                        NULL);
                if (r <= 0 || !streq(load, "loaded") || !unit_name_is_valid(id) || !watch_wants_name(w, id) ||
                    watch_find(w, id))
                        continue;
                if (watch_add(w, id, true, &wr) < 0) {
                        log_oom();
                        break;
                }
                log_debug("%s appeared; examining it.", id);
                watch_examine(wr, active);
        }
        /* Names that came meanwhile. */
        if (w->new_names.n > 0 || w->new_overflow)
                (void) watch_look_up_new(w);
        /* A timer found inactive (its start job still running when the listing was made) is
         * asked now whether it is enabled or active, not at the next settling: its start may
         * have ended before anything follows it. */
        watch_probe_next(w);
        return 0;
}

/* One ListUnitsByPatterns for the names UnitNew brought (a full listing if there were too many). */
static int watch_look_up_new(Watch *w) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        int r;

        if (!w->bus || w->slot_new_list)
                return 0;
        if (w->new_overflow) {
                w->new_overflow = false;
                strv_done(&w->new_names);
                watch_discover(w, false);
                return 0;
        }
        if (w->new_names.n == 0)
                return 0;
        r = sd_bus_message_new_method_call(w->bus, &req, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(req, NULL);
        if (r >= 0)
                r = sd_bus_message_append_strv(req, w->new_names.items);
        if (r >= 0)
                r = sd_bus_call_async(w->bus, &w->slot_new_list, req, on_new_listed, w, 0);
        strv_done(&w->new_names);
        if (r < 0)
                log_warning_errno(r, "Failed to look up new units: %m; they are found at the next daemon-reload.");
        return 0;
}

static int on_new_defer(sd_event_source *s _unused_, void *userdata) {
        return watch_look_up_new(userdata);
}

/* systemd unloaded a unit (garbage collection, or it was never installed): a watcher found by a
 * pattern goes with it; it comes back through UnitNew when the unit is loaded again. */
static int on_unit_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *id, *path;
        Watcher *wr;

        if (!from_systemd(w, m) || sd_bus_message_read(m, "so", &id, &path) < 0)
                return 0;
        wr = watch_find(w, id);
        if (wr && wr->discovered && !w->systemd_reloading)
                watch_drop(w, wr);
        return 0;
}

/* A job of a found timer finished (systemctl start/stop): whether it is active changed. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *path, *id, *result;
        uint32_t job;
        Watcher *wr;

        if (!from_systemd(w, m) || sd_bus_message_read(m, "uoss", &job, &path, &id, &result) < 0)
                return 0;
        wr = watch_find(w, id);
        if (wr && wr->is_timer && wr->discovered)
                watcher_resolve(wr);
        return 0;
}

static int watch_connect(Watch *w);
static void watch_disconnect(Watch *w);

/* UnitNew, UnitRemoved and JobRemoved are broadcast for every unit and job on the system: a
 * match for one has the bus route each of them to us (issue 20), and a match rule cannot
 * select a suffix (".timer"). Discovery needs what they tell (new timers, units gone, a merely
 * loaded timer started); for annotations alone, matches on the found and installed timers'
 * object paths tell it instead (watch_by_path). Pattern sections keep the three broadcasts;
 * with a template timer installed UnitNew and UnitRemoved stay (its instances have no file to
 * list) but JobRemoved goes (watch_timers_by_path). A named timer systemd does not know yet
 * waits for UnitNew. So each match exists only while needed, re-examined whenever the watch
 * has settled. */
static int watch_follow_broadcast(Watch *w, sd_bus_slot **slot, bool want, const char *member,
                                  sd_bus_message_handler_t handler) {
        if (!w->bus || !want) {
                *slot = sd_bus_slot_unref(*slot);
                return 0;
        }
        if (*slot)
                return 0;
        return sd_bus_match_signal_async(w->bus, slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, member, handler,
                                         NULL, w);
}

static int on_unit_new(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_unit_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_unit_files_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static void watch_sync_paths(Watch *w);

static int watch_follow_broadcasts(Watch *w) {
        bool discover = w->discover.n > 0, broadcasts = discover && !watch_by_path(w);
        bool jobs = discover && !watch_timers_by_path(w), waiting = w->n_resolving > 0 || !w->subscribed;
        int r;

        /* The matches by path first: the bus takes them before the broadcasts' RemoveMatch, so
         * that nothing falls between. */
        watch_sync_paths(w);
        for (Watcher *wr = w->watchers; !broadcasts && !waiting && wr; wr = wr->next)
                waiting = !wr->discovered && wr->is_timer && !wr->service && !wr->unsupported;
        r = watch_follow_broadcast(w, &w->slot_unit_new, broadcasts || waiting, "UnitNew", on_unit_new);
        if (r >= 0)
                r = watch_follow_broadcast(w, &w->slot_unit_removed, broadcasts, "UnitRemoved", on_unit_removed);
        if (r >= 0)
                r = watch_follow_broadcast(w, &w->slot_job_removed, jobs, "JobRemoved", on_job_removed);
        /* Sent on enable, disable, link and mask only: rare. */
        if (r >= 0)
                r = watch_follow_broadcast(w, &w->slot_files_changed, discover && !w->patterns, "UnitFilesChanged",
                                           on_unit_files_changed);
        return r;
}

/* Whether discovery follows timers by their object paths rather than systemd's broadcasts:
 * annotations only, the installed timer files listed (none a template, not too many), the bus
 * taking every match, and no match for all units (broad) that would carry the signals anyway. */
static bool watch_by_path(const Watch *w) {
        return watch_timers_by_path(w) && !w->files_template && !w->files_overflow;
}

/* The part of it that holds with a template timer installed (or too many files): the found
 * timers are followed by path, so JobRemoved, the most frequent of the three broadcasts (every
 * job on the system), is not needed; UnitNew and UnitRemoved are, for the instances. */
static bool watch_timers_by_path(const Watch *w) {
        return w->bus && w->discover.n > 0 && !w->patterns && w->files_known && !w->paths_refused && !w->broad;
}

/* The bus refused a match on a path (its limit of matches per connection): the broadcasts
 * again, which are one match each. */
static void watch_paths_refused(Watch *w, const sd_bus_error *e) {
        if (w->paths_refused)
                return;
        w->paths_refused = true;
        log_debug("The bus refused a match on a timer's path (%s): following systemd's new units and jobs instead.",
                  e->message ?: e->name);
        watch_refollow(w);
}

static int on_path_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watcher *wr = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                watch_paths_refused(wr->watch, e);
        return 0;
}

/* A found timer started or stopped (what JobRemoved told): whether it is eligible may have
 * changed, so it is read again. Its other signals (a job queued, its Timer properties at
 * every elapse) leave ActiveState as it was and cost nothing more. */
static int on_timer_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watcher *wr = userdata;
        _cleanup_(props_done) UnitProps p = {};
        const char *iface;
        int up;

        if (!from_systemd(wr->watch, m) || sd_bus_message_read_basic(m, 's', &iface) < 0 ||
            !streq(iface, UNIT_IFACE) || read_props(m, &p) < 0 || !p.has_active)
                return 0;
        up = unit_timer_is_eligible(p.active, NULL);
        if (up == wr->timer_up)
                return 0;
        wr->timer_up = up;
        log_debug("%s is %s; examining it.", wr->name, p.active);
        watcher_resolve(wr);
        return 0;
}

static int watcher_follow_timer(Watcher *wr) {
        int r;

        if (wr->slot_timer)
                return 0;
        r = wr->timer_path ? 0 : unit_dbus_path(wr->name, &wr->timer_path);
        if (r < 0)
                return r;
        return sd_bus_match_signal_async(wr->watch->bus, &wr->slot_timer, SYSTEMD_DEST, wr->timer_path,
                                         DBUS_PROPERTIES, "PropertiesChanged", on_timer_changed,
                                         on_path_match_installed, wr);
}

static PendingUnit *pending_free(PendingUnit *pu) {
        if (!pu)
                return NULL;
        sd_bus_slot_unref(pu->slot);
        free(pu->name);
        free(pu);
        return NULL;
}

static void watch_unpend(Watch *w, const char *name) {
        pending_free(hashmap_remove(w->pending, name));
}

static void watch_clear_pending(Watch *w) {
        HashmapIter i = HASHMAP_ITER_INIT;
        const char *name;

        while (hashmap_iterate(w->pending, &i, &name, NULL))
                watch_unpend(w, name);
}

/* An installed timer systemd had not loaded changed state: it is loaded now, and started or
 * pulled in. (systemd announces the load itself with UnitNew only; the start's state change
 * comes with PropertiesChanged, from a later turn of its loop.) Looked up like a UnitNew: only
 * a unit loaded from a unit file gets a watcher. */
static int on_pending_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        PendingUnit *pu = userdata;

        if (from_systemd(pu->watch, m))
                watch_queue_new(pu->watch, pu->name);
        return 0;
}

static int on_pending_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        PendingUnit *pu = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                watch_paths_refused(pu->watch, e);
        return 0;
}

/* Matches an installed timer file by its path unless a watcher or a match has it already:
 * 1 if a match was added, 0 if not, -ENOSPC beyond WATCH_PENDING_MAX. */
static int watch_pend(Watch *w, const char *name) {
        _cleanup_free_ char *path = NULL;
        PendingUnit *pu;
        int r;

        if (watch_find(w, name))
                return 0;
        pu = hashmap_get(w->pending, name);
        if (pu) {
                pu->listed = true;
                return 0;
        }
        if (hashmap_size(w->pending) >= WATCH_PENDING_MAX)
                return -ENOSPC;
        r = unit_dbus_path(name, &path);
        if (r < 0)
                return r;
        pu = calloc(1, sizeof(PendingUnit));
        if (!pu)
                return -ENOMEM;
        *pu = (PendingUnit) { .watch = w, .name = strdup(name), .listed = true };
        r = pu->name ? hashmap_put(w->pending, pu->name, pu) : -ENOMEM;
        if (r < 0) {
                pending_free(pu);
                return r;
        }
        r = sd_bus_match_signal_async(w->bus, &pu->slot, SYSTEMD_DEST, path, DBUS_PROPERTIES, "PropertiesChanged",
                                      on_pending_changed, on_pending_installed, pu);
        if (r < 0) {
                watch_unpend(w, name);
                return r;
        }
        log_debug("%s is installed, not loaded: following it by its path.", name);
        return 1;
}

/* Reads a ListUnitFilesByPatterns answer into the pending matches; drops those whose file is
 * gone. */
static int watch_read_files(Watch *w, sd_bus_message *m) {
        HashmapIter i = HASHMAP_ITER_INIT;
        PendingUnit *pu;
        int q, r;

        while (hashmap_iterate(w->pending, &i, NULL, (void **) &pu))
                pu->listed = false;
        r = sd_bus_message_enter_container(m, 'a', "(ss)");
        while (r > 0) {
                const char *file, *state, *name;

                r = sd_bus_message_read(m, "(ss)", &file, &state);
                if (r <= 0)
                        break;
                name = strrchr(file, '/');
                name = name ? name + 1 : file;
                if (!watch_wants_name(w, name) || streq(state, "masked"))
                        continue;
                /* A template's instances have no file of their own to match: whether one may
                 * be annotated is read from its files once the listing is complete
                 * (watch_files_settle). (A template's name is no valid unit name: asked first.) */
                if (strstr(name, "@.")) {
                        if (w->templates.n >= WATCH_TEMPLATES_MAX) {
                                w->files_template = true;
                                continue;
                        }
                        q = strv_push(&w->templates, name);
                        if (q >= 0)
                                q = strv_push(&w->template_files, file);
                        if (q < 0)
                                return q;
                        continue;
                }
                if (!unit_name_is_valid(name))
                        continue;
                q = watch_pend(w, name);
                if (q == -ENOSPC) {
                        w->files_overflow = true;
                        break;
                }
                if (q < 0)
                        log_debug_errno(q,
                                        "Cannot follow %s by its path (%m); it is found at the next daemon-reload.",
                                        name);
                /* Started while its match was on the way: the look-up after the match sees it. */
                if (q > 0)
                        watch_queue_new(w, name);
        }
        i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(w->pending, &i, NULL, (void **) &pu))
                if (!pu->listed)
                        watch_unpend(w, pu->name);
        return r;
}

/* Whether an installed template timer may have an annotated instance: the first that may is
 * named. Without UnitPath, every template is assumed to. */
static bool watch_templates_annotate(Watch *w) {
        for (size_t i = 0; i < w->templates.n; i++) {
                int r = w->unit_path_known ? annotscan_template(w->templates.items[i], w->template_files.items[i],
                                                                w->unit_path.items) :
                                             1;

                if (r < 0)
                        log_debug_errno(r, "Cannot read the files of %s (%m): assuming an annotation.",
                                        w->templates.items[i]);
                if (r != 0) {
                        log_debug("A template timer is installed, %s, and its instances may be annotated: following "
                                  "systemd's new and removed units to find them.",
                                  w->templates.items[i]);
                        return true;
                }
                log_debug("%s is installed; no annotation applies to its instances: they are not looked for.",
                          w->templates.items[i]);
        }
        return false;
}

/* Both the listing of the installed timers and UnitPath answered: what discovery follows.
 * When UnitNew is followed anew for a template, a listing of the loaded timers follows the
 * match: an instance loaded while nothing followed UnitNew (between the daemon-reload that
 * brought its annotation and now) is found by it. */
static void watch_files_settle(Watch *w) {
        bool followed = w->slot_unit_new;

        if (w->slot_unit_files || w->slot_unit_path)
                return;
        w->files_known = !w->files_failed;
        w->files_template = w->files_template || watch_templates_annotate(w);
        strv_done(&w->templates);
        strv_done(&w->template_files);
        if (w->files_overflow)
                log_debug("More than %u installed timers not loaded: following systemd's new units and jobs instead "
                          "of a match on each.",
                          WATCH_PENDING_MAX);
        watch_refollow(w);
        if (!followed && w->slot_unit_new && w->files_template)
                watch_discover(w, false);
}

static int on_files_listed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = -EIO;

        w->slot_unit_files = sd_bus_slot_unref(w->slot_unit_files);
        w->files_template = w->files_overflow = false;
        strv_done(&w->templates);
        strv_done(&w->template_files);
        if (e)
                log_debug("Cannot list the installed timers (%s): following systemd's new units and jobs.",
                          e->message ?: e->name);
        else {
                r = watch_read_files(w, m);
                if (r < 0)
                        log_warning_errno(r, "Failed to read the list of installed timers: %m");
        }
        w->files_failed = r < 0;
        watch_files_settle(w);
        return 0;
}

/* The manager's unit search path, asked with every listing of the installed timers. */
static int on_unit_path(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = -EIO;

        w->slot_unit_path = sd_bus_slot_unref(w->slot_unit_path);
        strv_done(&w->unit_path);
        if (!e)
                r = sd_bus_message_enter_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        while (r > 0) {
                const char *dir;

                r = sd_bus_message_read_basic(m, 's', &dir);
                if (r > 0)
                        r = strv_push(&w->unit_path, dir) < 0 ? -ENOMEM : 1;
        }
        w->unit_path_known = r >= 0;
        if (r < 0)
                log_debug("Cannot read systemd's unit search path (%s): an installed template timer is assumed "
                          "to annotate its instances.",
                          e ? (e->message ?: e->name) : strerror(-r));
        watch_files_settle(w);
        return 0;
}

/* The installed timer files, without loading any unit: after every listing of the loaded ones,
 * and when systemd says unit files were enabled or disabled. */
static void watch_list_files(Watch *w) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        int r;

        if (!w->bus || w->discover.n == 0 || w->patterns)
                return;
        /* UnitPath first: systemd answers in order, so the files' answer completes the pair. */
        w->slot_unit_path = sd_bus_slot_unref(w->slot_unit_path);
        r = sd_bus_call_method_async(w->bus, &w->slot_unit_path, SYSTEMD_DEST, SYSTEMD_PATH, DBUS_PROPERTIES, "Get",
                                     on_unit_path, w, "ss", SYSTEMD_MANAGER, "UnitPath");
        if (r < 0) {
                w->unit_path_known = false;
                log_debug_errno(r, "Cannot ask for systemd's unit search path (%m): an installed template timer is "
                                   "assumed to annotate its instances.");
        }
        w->slot_unit_files = sd_bus_slot_unref(w->slot_unit_files);
        r = sd_bus_message_new_method_call(w->bus, &req, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "ListUnitFilesByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(req, NULL); /* every state */
        if (r >= 0)
                r = sd_bus_message_append_strv(req, w->discover.items);
        if (r >= 0)
                r = sd_bus_call_async(w->bus, &w->slot_unit_files, req, on_files_listed, w, 0);
        if (r < 0) {
                log_warning_errno(r, "Failed to list the installed timers: %m");
                w->slot_unit_path = sd_bus_slot_unref(w->slot_unit_path);
        }
}

static int on_unit_files_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;

        if (from_systemd(w, m))
                watch_list_files(w);
        return 0;
}

/* The matches by path: one per found timer (watch_timers_by_path) and one per installed timer
 * not loaded (watch_by_path), or none. */
static void watch_sync_paths(Watch *w) {
        bool by_path = watch_by_path(w), timers = watch_timers_by_path(w);

        for (Watcher *wr = w->watchers; wr; wr = wr->next)
                if (!timers || !wr->discovered || !wr->is_timer)
                        wr->slot_timer = sd_bus_slot_unref(wr->slot_timer);
                else if (watcher_follow_timer(wr) < 0)
                        log_debug("Cannot follow %s by its path; it is read again at the next daemon-reload.",
                                  wr->name);
        if (!by_path)
                watch_clear_pending(w);
}

/* Every watcher reads its service again: after a reconnect, or when systemd re-executed. */
static void watch_rebaseline(Watch *w) {
        for (Watcher *wr = w->watchers; wr; wr = wr->next) {
                run_tracker_lost(&wr->run);
                /* Found timers not followed: the listing tells which to read again. */
                if (!(wr->discovered && wr->is_timer && !wr->monitored && w->discover.n > 0))
                        watcher_resolve(wr);
        }
        watch_discover(w, true);
}

static int on_reconnect_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Watch *w = userdata;
        int r;

        w->reconnect_timer = sd_event_source_disable_unref(w->reconnect_timer);
        if (w->bus)
                watch_disconnect(w);
        r = watch_connect(w);
        if (r < 0) {
                char buf[32];
                usec_t delay = retry_backoff(++w->reconnect_attempt, 100 * USEC_PER_MSEC, 30 * USEC_PER_SEC,
                                             random_unit());

                log_warning_errno(r, "Cannot reconnect to the %s bus: %m; trying again in %s.",
                                  w->user ? "user" : "system", format_timespan(buf, sizeof(buf), delay));
                r = sd_event_add_time_relative(w->event, &w->reconnect_timer, CLOCK_MONOTONIC, delay, 0,
                                               on_reconnect_timer, w);
                if (r < 0) {
                        log_error_errno(r, "Failed to schedule a reconnect: %m; exiting.");
                        sd_event_exit(w->event, EXIT_FAILURE);
                }
                return 0;
        }
        log_info("Reconnected to the %s bus.", w->user ? "user" : "system");
        w->reconnect_attempt = 0;
        watch_rebaseline(w);
        return 0;
}

/* Drops the connection and everything tied to it; watchers keep what they know. */
static void watch_disconnect(Watch *w) {
        for (Watcher *wr = w->watchers; wr; wr = wr->next) {
                watcher_call_done(wr);
                /* The rules go with the connection. */
                wr->slot_match = sd_bus_slot_unref(wr->slot_match);
                wr->match_on = wr->match_held = false;
                wr->slot_timer = sd_bus_slot_unref(wr->slot_timer);
                run_tracker_lost(&wr->run);
        }
        watch_clear_pending(w);
        w->slot_unit_files = sd_bus_slot_unref(w->slot_unit_files);
        w->slot_unit_path = sd_bus_slot_unref(w->slot_unit_path);
        strv_done(&w->templates);
        strv_done(&w->template_files);
        w->slot_files_changed = sd_bus_slot_unref(w->slot_files_changed);
        /* A new connection lists the files again, and its bus may take more matches. */
        w->files_known = w->files_template = w->files_overflow = w->paths_refused = w->unit_path_known = false;
        w->slot_reloading = sd_bus_slot_unref(w->slot_reloading);
        w->slot_unit_new = sd_bus_slot_unref(w->slot_unit_new);
        w->slot_unit_removed = sd_bus_slot_unref(w->slot_unit_removed);
        w->slot_job_removed = sd_bus_slot_unref(w->slot_job_removed);
        w->slot_new_list = sd_bus_slot_unref(w->slot_new_list);
        strv_done(&w->new_names);
        w->new_overflow = false;
        w->slot_disconnected = sd_bus_slot_unref(w->slot_disconnected);
        w->slot_subscribe = sd_bus_slot_unref(w->slot_subscribe);
        w->slot_owner = sd_bus_slot_unref(w->slot_owner);
        w->slot_owner_call = sd_bus_slot_unref(w->slot_owner_call);
        w->slot_pid_call = sd_bus_slot_unref(w->slot_pid_call);
        if (w->identifying) {
                w->identifying = false;
                w->n_resolving--;
        }
        w->systemd_owner = mfree(w->systemd_owner);
        w->systemd_reloading = false;
        w->slot_broad = sd_bus_slot_unref(w->slot_broad);
        w->slot_filter = sd_bus_slot_unref(w->slot_filter);
        w->slot_discover = sd_bus_slot_unref(w->slot_discover);
        if (w->discovering) {
                w->discovering = false;
                w->n_resolving--;
        }
        w->broad = false;
        w->subscribed = false;
        w->n_calls = 0;
        attributor_release(w->attributor); /* their answers will not come on a new bus */
        w->bus = sd_bus_flush_close_unref(w->bus);
}

static int on_disconnected(sd_bus_message *m _unused_, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        int r;

        /* Tear the connection down from the timer, not from inside its own dispatch. */
        log_warning("Lost the connection to the %s bus; reconnecting.", w->user ? "user" : "system");
        if (w->reconnect_timer)
                return 0;
        r = sd_event_add_time_relative(w->event, &w->reconnect_timer, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC, 0,
                                       on_reconnect_timer, w);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule a reconnect: %m; exiting.");
                sd_event_exit(w->event, EXIT_FAILURE);
        }
        return 0;
}

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        w->slot_subscribe = sd_bus_slot_unref(w->slot_subscribe);
        w->subscribed = !e || sd_bus_error_has_name(e, "org.freedesktop.systemd1.AlreadySubscribed");
        if (!w->subscribed)
                log_warning("Subscribe() to systemd failed: %s; no run ends will be seen.", e->message ?: e->name);
        else if (w->on_subscribed)
                w->on_subscribed(w, w->subscribed_userdata);
        return 0;
}

static int watch_subscribe(Watch *w) {
        w->slot_subscribe = sd_bus_slot_unref(w->slot_subscribe);
        w->subscribed = false;
        return sd_bus_call_method_async(w->bus, &w->slot_subscribe, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                        "Subscribe", on_subscribed, w, "");
}

/* systemd came back (daemon-reexec, or a restart of the manager): its subscriber list and our
 * view of the units may be stale, so subscribe again and re-read every service. */
static bool from_systemd(Watch *w, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        if (w->systemd_owner && sender && streq(sender, w->systemd_owner))
                return true;
        log_debug("Ignoring %s.%s from %s: not systemd (%s).", strempty(sd_bus_message_get_interface(m)),
                  strempty(sd_bus_message_get_member(m)), strempty(sender), strempty(w->systemd_owner));
        return false;
}

static void watch_set_identifying(Watch *w, bool b) {
        if (w->identifying == b)
                return;
        w->identifying = b;
        if (b)
                w->n_resolving++;
        else {
                w->n_resolving--;
                watch_maybe_settled(w);
        }
}

static int on_pid_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        uint32_t pid;

        w->slot_pid_call = sd_bus_slot_unref(w->slot_pid_call);
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "u", &pid) > 0)
                w->manager_pid = (pid_t) pid;
        else
                log_warning("Cannot tell the user manager's PID from the bus; its journal messages are not "
                            "trusted, and runs are caught up from systemd's state only.");
        watch_set_identifying(w, false);
        return 0;
}

/* Who systemd is, as a process: PID 1 for the system manager; asked of the bus for a user
 * manager. */
static void watch_identify(Watch *w) {
        int r;

        if (!w->user) {
                w->manager_pid = 1;
                watch_set_identifying(w, false);
                return;
        }
        w->slot_pid_call = sd_bus_slot_unref(w->slot_pid_call);
        r = sd_bus_call_method_async(w->bus, &w->slot_pid_call, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixProcessID", on_pid_reply, w, "s",
                                     w->systemd_owner);
        if (r < 0) {
                log_warning_errno(r, "Failed to ask for the user manager's PID: %m");
                watch_set_identifying(w, false);
                return;
        }
        watch_set_identifying(w, true);
}

pid_t watch_manager_pid(const Watch *w) {
        return w->manager_pid;
}

static int on_owner_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *owner;

        w->slot_owner_call = sd_bus_slot_unref(w->slot_owner_call);
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "s", &owner) < 0) {
                watch_set_identifying(w, false);
                return 0; /* not there yet: NameOwnerChanged will tell */
        }
        (void) free_and_strdup(&w->systemd_owner, owner);
        w->had_owner = true;
        if (w->systemd_owner)
                watch_identify(w);
        else
                watch_set_identifying(w, false);
        return 0;
}

/* systemd came back (daemon-reexec, or a restart of the manager): its subscriber list and our
 * view of the units may be stale, so subscribe again and re-read every service. */
static int on_systemd_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        /* Only the bus itself speaks for name owners. */
        if (!streq_ptr(sd_bus_message_get_sender(m), "org.freedesktop.DBus"))
                return 0;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, SYSTEMD_DEST))
                return 0;
        (void) free_and_strdup(&w->systemd_owner, isempty(new_owner) ? NULL : new_owner);
        if (isempty(new_owner)) {
                w->subscribed = false;
                log_info("systemd left the bus; waiting for it to come back.");
                return 0;
        }
        /* The first owner we see is no return (timerbeat may start before systemd is on the
         * system bus); either way, subscribe and read every service now that it can answer. */
        if (w->had_owner)
                log_info("systemd is on the bus again; resubscribing and catching up.");
        else
                log_debug("systemd is on the bus; subscribing.");
        w->had_owner = true;
        if (w->systemd_owner)
                watch_identify(w);
        r = watch_subscribe(w);
        if (r < 0)
                log_warning_errno(r, "Failed to subscribe again: %m");
        watch_rebaseline(w);
        return 0;
}

static int watch_connect(Watch *w) {
        int r;

        r = w->user ? sd_bus_open_user(&w->bus) : sd_bus_open_system(&w->bus);
        if (r < 0)
                return r;
        (void) sd_bus_set_description(w->bus, "timerbeat");
        r = sd_bus_attach_event(w->bus, w->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_add_filter(w->bus, &w->slot_filter, on_filter, w);
        if (r >= 0)
                r = sd_bus_match_signal_async(w->bus, &w->slot_reloading, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                              "Reloading", on_reloading, NULL, w);
        if (r >= 0)
                r = watch_follow_broadcasts(w);
        if (r >= 0)
                r = sd_bus_add_match_async(w->bus, &w->slot_owner,
                                           "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                           "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                           "arg0='" SYSTEMD_DEST "'",
                                           on_systemd_owner, NULL, w);
        /* Who systemd is: asked after the match above is in place, so that a change of owner
         * in between is not missed, and before any of its signals can reach us (the bus keeps
         * the order of what it sends us). */
        if (r >= 0)
                r = sd_bus_call_method_async(w->bus, &w->slot_owner_call, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                             on_owner_reply, w, "s", SYSTEMD_DEST);
        if (r >= 0)
                watch_set_identifying(w, true);
        if (r >= 0)
                r = sd_bus_match_signal(w->bus, &w->slot_disconnected, "org.freedesktop.DBus.Local",
                                        "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                        on_disconnected, w);
        /* systemd only sends unit signals to clients that subscribed. */
        if (r >= 0)
                r = watch_subscribe(w);
        if (r >= 0 && w->max_matches < w->n_watchers)
                watch_go_broad(w);
        if (r < 0)
                watch_disconnect(w);
        return r;
}

int watch_new(Watch **ret, sd_event *event, bool user, watch_run_end_t on_run_end, watch_settled_t on_settled,
              watch_want_t want, watch_dropped_t on_dropped, void *userdata) {
        Watch *w = calloc(1, sizeof(Watch));
        const char *e;
        int r;

        if (!w)
                return -ENOMEM;
        if (hashmap_new(&w->by_name, HASHMAP_KEYS_BORROW) < 0 ||
            hashmap_new(&w->by_service, HASHMAP_KEYS_BORROW) < 0 ||
            hashmap_new(&w->pending, HASHMAP_KEYS_BORROW) < 0) {
                hashmap_free(w->by_name);
                hashmap_free(w->by_service);
                free(w);
                return -ENOMEM;
        }
        r = sd_event_add_defer(event, &w->new_defer, on_new_defer, w);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->new_defer, SD_EVENT_OFF);
        if (r < 0) {
                sd_event_source_disable_unref(w->new_defer);
                hashmap_free(w->by_name);
                hashmap_free(w->by_service);
                hashmap_free(w->pending);
                free(w);
                return r;
        }
        w->event = sd_event_ref(event);
        w->user = user;
        w->on_run_end = on_run_end;
        w->on_settled = on_settled;
        w->want = want;
        w->on_dropped = on_dropped;
        w->userdata = userdata;
        w->max_calls = user ? WATCH_CALLS_MAX_USER : WATCH_CALLS_MAX;
        w->max_matches = WATCH_MATCHES_CEILING;
        e = getenv("TIMERBEAT_MAX_MATCHES");
        if (e)
                (void) parse_unsigned(e, 0, UINT32_MAX, &w->max_matches);
        *ret = w;
        return 0;
}

Watch *watch_free(Watch *w) {
        if (!w)
                return NULL;
        w->attributor = attributor_free(w->attributor); /* nothing is handed on while shutting down */
        /* First: the rules go with the connection, not one RemoveMatch per watcher. */
        watch_disconnect(w);
        while (w->watchers) {
                Watcher *next = w->watchers->next;
                watcher_free(w->watchers);
                w->watchers = next;
        }
        sd_event_source_disable_unref(w->reconnect_timer);
        sd_event_source_disable_unref(w->new_defer);
        strv_done(&w->discover);
        strv_done(&w->unit_path);
        hashmap_free(w->by_name);
        hashmap_free(w->by_service);
        hashmap_free(w->pending); /* emptied by watch_disconnect */
        sd_event_unref(w->event);
        free(w);
        return NULL;
}

int watch_start(Watch *w) {
        int r;

        r = watch_connect(w);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus and subscribe to systemd: %m",
                                       w->user ? "user" : "system");
        return 0;
}

static Watcher *watch_find(Watch *w, const char *unit) {
        return hashmap_get(w->by_name, unit);
}

static int watch_add(Watch *w, const char *unit, bool discovered, Watcher **ret) {
        Watcher *wr = calloc(1, sizeof(Watcher));
        int r;

        if (!wr)
                return -ENOMEM;
        wr->watch = w;
        wr->name = strdup(unit);
        r = wr->name ? hashmap_put(w->by_name, wr->name, wr) : -ENOMEM;
        if (r < 0) {
                free(wr->name);
                free(wr);
                return r;
        }
        wr->is_timer = endswith(unit, ".timer");
        wr->discovered = discovered;
        wr->monitored = true;
        wr->said_monitored = -1;
        wr->timer_up = -1;
        run_tracker_init(&wr->run);
        wr->listed = true;
        wr->next = w->watchers;
        w->watchers = wr;
        w->n_watchers++;
        /* A watcher follows it from now on: its match on the path goes. A found timer is
         * matched before it is read, so that a start between the read and the match is not
         * missed. */
        watch_unpend(w, unit);
        if (discovered && wr->is_timer && watch_timers_by_path(w) && watcher_follow_timer(wr) < 0)
                log_debug("Cannot follow %s by its path; it is read again at the next daemon-reload.", unit);
        if (ret)
                *ret = wr;
        return 0;
}

/* Every removal tells the manager, which says so if the unit was monitored. */
static void watch_remove(Watch *w, Watcher *dead) {
        if (w->on_dropped)
                w->on_dropped(w, dead->name, w->userdata);
        for (Watcher **pp = &w->watchers; *pp; pp = &(*pp)->next)
                if (*pp == dead) {
                        *pp = dead->next;
                        w->n_watchers--;
                        watcher_free(dead);
                        return;
                }
}

static bool watch_wants_name(Watch *w, const char *unit) {
        for (size_t i = 0; i < w->discover.n; i++)
                if (fnmatch(w->discover.items[i], unit, 0) == 0)
                        return true;
        return false;
}

static void watch_discovery_done(Watch *w) {
        if (!w->discovering)
                return;
        w->discovering = false;
        w->n_resolving--;
        watch_maybe_settled(w);
}

static int on_discovered(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        Watcher *wr, *next;
        int r;

        w->slot_discover = sd_bus_slot_unref(w->slot_discover);
        if (e) {
                log_warning("Cannot list units for patterns and annotations: %s", e->message ?: e->name);
                watch_discovery_done(w);
                return 0;
        }

        for (wr = w->watchers; wr; wr = wr->next)
                wr->listed = false;

        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        while (r > 0) {
                const char *id, *load, *active;

                r = sd_bus_message_read(m, "(ssssssouso)", &id, NULL, &load, &active, NULL, NULL, NULL, NULL, NULL,
                                        NULL);
                if (r <= 0)
                        break;
                /* Loaded for a moment by name without a unit file (systemctl status NAME): none of
                 * ours. */
                if (!streq(load, "loaded") || !unit_name_is_valid(id) || !watch_wants_name(w, id))
                        continue;
                wr = watch_find(w, id);
                if (wr) {
                        wr->listed = true;
                        if (wr->discovered && w->discover_refresh)
                                watch_examine(wr, active); /* its files or Unit= may have changed */
                        continue;
                }
                if (watch_add(w, id, true, &wr) < 0) {
                        log_oom();
                        break;
                }
                watch_examine(wr, active);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to parse the list of units: %m");

        /* Units that are gone (removed, unloaded) are no longer watched. */
        for (wr = w->watchers; wr; wr = next) {
                next = wr->next;
                if (wr->discovered && !wr->listed) {
                        log_debug("%s is gone; no longer watching it.", wr->name);
                        watch_remove(w, wr);
                }
        }
        if (w->n_watchers > w->max_matches && !w->broad) {
                log_info("%zu units: watching all units with one match instead of one match per service.",
                         w->n_watchers);
                watch_go_broad(w);
        }
        watch_list_files(w);
        watch_discovery_done(w);
        return 0;
}

static void watch_discover(Watch *w, bool refresh) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        int r;

        if (!w->bus || w->discover.n == 0)
                return;
        /* A listing in flight that refreshes stays one that refreshes. */
        w->discover_refresh = refresh || (w->slot_discover && w->discover_refresh);
        w->slot_discover = sd_bus_slot_unref(w->slot_discover);
        r = sd_bus_message_new_method_call(w->bus, &req, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(req, NULL);
        if (r >= 0)
                r = sd_bus_message_append_strv(req, w->discover.items);
        if (r >= 0)
                r = sd_bus_call_async(w->bus, &w->slot_discover, req, on_discovered, w, 0);
        if (r < 0) {
                log_warning_errno(r, "Failed to list units for patterns and annotations: %m");
                return;
        }
        if (!w->discovering) {
                w->discovering = true;
                w->n_resolving++;
        }
}

void watch_set_on_reloaded(Watch *w, watch_reloaded_t cb, void *userdata) {
        w->on_reloaded = cb;
        w->reloaded_userdata = userdata;
}

void watch_set_on_subscribed(Watch *w, watch_subscribed_t cb, void *userdata) {
        w->on_subscribed = cb;
        w->subscribed_userdata = userdata;
}

int watch_set_checks(Watch *w, const Config *c, bool discover) {
        Watcher *wr, *next;
        bool any_new = false;
        int r;

        /* What to discover: every timer (annotations, timer patterns) and the service patterns. */
        strv_done(&w->discover);
        w->patterns = discover && config_has_patterns(c);
        w->files_known = w->files_known && discover; /* listed again below, with what is discovered now */
        if (discover) {
                r = strv_push(&w->discover, "*.timer");
                if (r < 0)
                        return r;
                for (size_t i = 0; i < c->n_checks; i++)
                        if (c->checks[i]->pattern && endswith(c->checks[i]->name, ".service")) {
                                r = strv_push(&w->discover, c->checks[i]->name);
                                if (r < 0)
                                        return r;
                        }
        }
        r = watch_follow_broadcasts(w);
        if (r < 0)
                log_warning_errno(r, "Cannot follow systemd's new units and jobs (%m): they are found at the next "
                                     "daemon-reload.");

        /* Drop watchers no longer wanted: named ones whose section is gone or disabled, found
         * ones when nothing is discovered any more. The others are re-examined below. */
        for (wr = w->watchers; wr; wr = next) {
                const Check *check = config_find_check(c, wr->name);
                bool named = check && !check->pattern && check->enabled;

                next = wr->next;
                if (named)
                        wr->discovered = false;
                else if (!wr->discovered && !watch_wants_name(w, wr->name)) {
                        log_debug("No longer watching %s.", wr->name);
                        watch_remove(w, wr);
                } else
                        wr->discovered = true;
        }

        size_t n_named = 0;
        for (size_t i = 0; i < c->n_checks; i++)
                n_named += !c->checks[i]->pattern && c->checks[i]->enabled;
        if (n_named > w->max_matches && !w->broad && w->bus) {
                log_info("%zu checks: watching all units with one match instead of one match per service.", n_named);
                watch_go_broad(w);
        }

        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *check = c->checks[i];

                if (!check->enabled || check->pattern || watch_find(w, check->name))
                        continue;
                r = watch_add(w, check->name, false, &wr);
                if (r < 0)
                        return r;
                watcher_resolve(wr);
                any_new = true;
        }
        /* Watchers found earlier, and ones that were not monitored: their check may have
         * changed with the config. (Monitored ones keep their state; see refresh.) */
        for (wr = w->watchers; wr; wr = wr->next)
                if ((discover ? !wr->discovered && !wr->monitored : wr->discovered || !wr->monitored) &&
                    !wr->resolving) {
                        watcher_resolve(wr);
                        any_new = true;
                }

        if (discover) {
                watch_discover(w, true);
                any_new = true;
        }
        if (!any_new)
                watch_maybe_settled(w);
        return 0;
}

bool watch_is_connected(const Watch *w) {
        return w->bus && !w->reconnect_timer && w->systemd_owner && w->subscribed;
}

void watch_foreach_check(Watch *w, const char *service, watch_check_t f, void *userdata) {
        for (Watcher *wr = w->watchers; wr; wr = wr->next)
                if (wr->monitored && streq_ptr(wr->service, service))
                        f(w, wr->name, wr->service, &wr->success, userdata);
}

bool watch_is_settled(const Watch *w) {
        return w->n_resolving == 0;
}
