/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attribute.h"
#include "heldrun.h"
#include "log.h"
#include "util.h"

#define ATTRIBUTE_WAITING_MAX 256U

typedef struct Query Query;

typedef struct Ask {
        Query *query;
        sd_bus_slot *slot;
        char *timer;
        uint64_t trigger; /* LastTriggerUSec; 0: never, or no answer */
} Ask;

struct Query {
        Attributor *owner;
        Query *next;
        HeldRun held;
        Ask *asks;
        size_t n, pending;
        bool service_section, shared;
        uint64_t start, prev_exit;
};

struct Attributor {
        Query *head, *tail;
        size_t n;
        attributor_done_t done;
        void *userdata;
};

static void query_free(Query *q) {
        if (!q)
                return;
        for (size_t i = 0; q->asks && i < q->n; i++) {
                sd_bus_slot_unref(q->asks[i].slot);
                free(q->asks[i].timer);
        }
        free(q->asks);
        held_run_done(&q->held);
        free(q);
}

int attributor_new(Attributor **ret, attributor_done_t done, void *userdata) {
        Attributor *a = calloc(1, sizeof(Attributor));

        if (!a)
                return -ENOMEM;
        a->done = done;
        a->userdata = userdata;
        *ret = a;
        return 0;
}

Attributor *attributor_free(Attributor *a) {
        if (!a)
                return NULL;
        while (a->head) {
                Query *q = a->head;

                a->head = q->next;
                query_free(q);
        }
        free(a);
        return NULL;
}

bool attributor_waiting(const Attributor *a) {
        return a && a->head;
}

/* The run with its owner: the timer that started it, else the service's own section. */
static void query_deliver(Attributor *a, Query *q) {
        WatchRun run = held_run_get(&q->held);
        const char *timers[ATTRIBUTE_WAITING_MAX];
        uint64_t triggers[ATTRIBUTE_WAITING_MAX];
        const char *owner;

        if (q->n > 0 && q->pending == 0) {
                for (size_t i = 0; i < q->n; i++) {
                        timers[i] = q->asks[i].timer;
                        triggers[i] = q->asks[i].trigger;
                }
                owner = run_trigger_owner(timers, triggers, q->n, q->start ?: now_usec(CLOCK_REALTIME), q->prev_exit);
                /* What ActivationDetails would have said, had they been new. */
                run.activated_by_timer = owner != NULL;
                run.trigger_unit = owner;
                run.shared = q->shared;
                run.owner = owner ?: q->service_section ? run.service : NULL;
        }
        a->done(&run, a->userdata);
}

/* Hands on the runs at the head, in order: those whose answers are all in, or every one
 * (all: the answers will not come). */
static void attributor_deliver(Attributor *a, bool all) {
        while (a->head && (all || a->head->pending == 0)) {
                Query *q = a->head;

                a->head = q->next;
                if (!a->head)
                        a->tail = NULL;
                a->n--;
                query_deliver(a, q);
                query_free(q);
        }
}

void attributor_release(Attributor *a) {
        if (a)
                attributor_deliver(a, true);
}

static int on_last_trigger(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Ask *ask = userdata;
        Query *q = ask->query;
        uint64_t t = 0;

        ask->slot = sd_bus_slot_unref(ask->slot);
        /* An error or a malformed answer: this timer did not start the run, as far as we know. */
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_enter_container(m, 'v', "t") > 0 &&
            sd_bus_message_read_basic(m, 't', &t) > 0)
                ask->trigger = t;
        assert(q->pending > 0);
        q->pending--;
        attributor_deliver(q->owner, false);
        return 0;
}

static int query_ask(Query *q, sd_bus *bus, size_t i) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = unit_dbus_path(q->asks[i].timer, &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(bus, &q->asks[i].slot, "org.freedesktop.systemd1", path,
                                     "org.freedesktop.DBus.Properties", "Get", on_last_trigger, &q->asks[i], "ss",
                                     "org.freedesktop.systemd1.Timer", "LastTriggerUSec");
        if (r >= 0)
                q->pending++;
        return r;
}

int attributor_add(Attributor *a, sd_bus *bus, const WatchRun *run, const AttributeRequest *req) {
        Query *q;
        int r;

        assert(a && run && req);
        if (req->n_timers == 0 && !a->head) {
                a->done(run, a->userdata);
                return 0;
        }
        if (a->n >= ATTRIBUTE_WAITING_MAX || req->n_timers > ATTRIBUTE_WAITING_MAX)
                return -ENOBUFS;
        q = calloc(1, sizeof(Query));
        if (!q)
                return -ENOMEM;
        q->owner = a;
        q->service_section = req->service_section;
        q->shared = req->shared;
        q->start = req->start;
        q->prev_exit = req->prev_exit;
        r = held_run_init(&q->held, run);
        if (r >= 0 && req->n_timers > 0) {
                q->asks = calloc(req->n_timers, sizeof(Ask));
                r = q->asks ? 0 : -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < req->n_timers; i++) {
                q->asks[i] = (Ask) { .query = q, .timer = strdup(req->timers[i]) };
                q->n++;
                r = q->asks[i].timer ? query_ask(q, bus, i) : -ENOMEM;
        }
        if (r < 0) {
                query_free(q);
                return r;
        }
        if (a->tail)
                a->tail->next = q;
        else
                a->head = q;
        a->tail = q;
        a->n++;
        return 0;
}
