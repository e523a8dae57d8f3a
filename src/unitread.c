/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>

#include "unitread.h"
#include "util.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"

typedef struct BulkRead BulkRead;

/* One Get in flight. */
typedef struct BulkGet {
        BulkRead *bulk;
        sd_bus_slot *slot;
        UnitProps *props;
        const char *name;
} BulkGet;

struct BulkRead {
        BulkGet gets[UNIT_READ_MAX_CALLS];
        BulkGet *idle[UNIT_READ_MAX_CALLS]; /* the slots of gets[] not in flight */
        size_t n_idle;
};

static int on_get(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        BulkGet *g = userdata;
        BulkRead *b = g->bulk;

        /* An error reply (UnknownProperty, UnknownInterface: another systemd or unit type) leaves
         * the property unset, as the daemon's reads do; so does a malformed value (as with GetAll,
         * whose reader stopped at it). */
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) props_read_value(m, g->name, g->props);
        g->slot = sd_bus_slot_unref(g->slot);
        b->idle[b->n_idle++] = g;
        return 0;
}

static int bulk_get(sd_bus *bus, BulkRead *b, const char *path, UnitProps *props, const UnitPropName *p) {
        BulkGet *g = b->idle[--b->n_idle];
        int r;

        *g = (BulkGet) { .bulk = b, .props = props, .name = p->name };
        r = sd_bus_call_method_async(bus, &g->slot, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "Get",
                                     on_get, g, "ss", p->iface, p->name);
        if (r < 0)
                b->idle[b->n_idle++] = g;
        return r;
}

/* Runs the bus until a call in flight is answered. */
static int bulk_wait(sd_bus *bus) {
        int r;

        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

static void bulk_done(BulkRead *b) {
        for (size_t i = 0; i < UNIT_READ_MAX_CALLS; i++)
                b->gets[i].slot = sd_bus_slot_unref(b->gets[i].slot);
}

int unit_read_bulk(sd_bus *bus, const UnitRead *reads, size_t n) {
        _cleanup_(bulk_done) BulkRead b = {};
        int r = 0;

        for (size_t i = 0; i < UNIT_READ_MAX_CALLS; i++)
                b.idle[b.n_idle++] = &b.gets[i];
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *path = NULL;

                r = unit_dbus_path(reads[i].unit, &path);
                if (r == -ENOMEM)
                        break;
                if (r < 0) {
                        r = 0; /* not a unit name: nothing to read */
                        continue;
                }
                for (size_t j = 0; j < reads[i].n_names && r >= 0; j++) {
                        /* The slot's userdata outlives the call: path is copied into the message. */
                        while (b.n_idle == 0 && r >= 0)
                                r = bulk_wait(bus);
                        if (r >= 0)
                                r = bulk_get(bus, &b, path, reads[i].props, &reads[i].names[j]);
                }
        }
        while (b.n_idle < UNIT_READ_MAX_CALLS && r >= 0)
                r = bulk_wait(bus);
        return r;
}
