/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "hostname.h"
#include "log.h"
#include "macro.h"

struct Hostname {
        sd_bus *bus;
        sd_bus_slot *match, *get;
        char *name;    /* hostnamed's; NULL: use gethostname() */
        char buf[256]; /* gethostname()'s */
};

static void hostname_set(Hostname *h, const char *name) {
        if (isempty(name) || streq_ptr(h->name, name))
                return;
        if (h->name)
                log_info("The hostname is now %s (systemd-hostnamed); {hostname} follows.", name);
        else
                log_debug("The hostname is %s (systemd-hostnamed).", name);
        if (free_and_strdup(&h->name, name) < 0)
                log_oom();
}

static int on_get(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Hostname *h = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *name;
        int r;

        h->get = sd_bus_slot_unref(h->get);
        if (e) {
                /* No hostnamed here: gethostname() it is, as without the bus. */
                log_debug("systemd-hostnamed does not answer (%s); {hostname} is gethostname().", e->message);
                h->name = mfree(h->name);
                return 0;
        }
        r = sd_bus_message_read(m, "v", "s", &name);
        if (r < 0) {
                log_debug_errno(r, "Cannot read hostnamed's Hostname: %m");
                return 0;
        }
        hostname_set(h, name);
        return 0;
}

static int hostname_request(Hostname *h) {
        h->get = sd_bus_slot_unref(h->get);
        return sd_bus_call_method_async(h->bus, &h->get, HOSTNAMED_DEST, HOSTNAMED_PATH,
                                        "org.freedesktop.DBus.Properties", "Get", on_get, h, "ss", HOSTNAMED_IFACE,
                                        "Hostname");
}

/* PropertiesChanged: the new value, or the name of an invalidated property (then ask again). */
static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        Hostname *h = userdata;
        const char *iface, *key, *name;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || !streq(iface, HOSTNAMED_IFACE))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r > 0) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && streq(key, "Hostname"))
                        r = sd_bus_message_read(m, "v", "s", &name) >= 0 ? (hostname_set(h, name), 1) : -EBADMSG;
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        while (r > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r > 0 && streq(key, "Hostname") && hostname_request(h) < 0)
                        log_debug("Cannot ask systemd-hostnamed for the hostname.");
        }
        if (r < 0)
                log_debug_errno(r, "Malformed PropertiesChanged from systemd-hostnamed: %m");
        return 0;
}

int hostname_new(Hostname **ret, sd_event *event, sd_bus *bus) {
        _cleanup_(hostname_freep) Hostname *h = NULL;
        int r;

        h = calloc(1, sizeof(Hostname));
        if (!h)
                return -ENOMEM;
        if (bus)
                h->bus = sd_bus_ref(bus);
        else {
                r = sd_bus_open_system(&h->bus);
                if (r >= 0)
                        r = sd_bus_attach_event(h->bus, event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        log_debug_errno(r, "No system bus (%m); {hostname} is gethostname().");
                        h->bus = sd_bus_flush_close_unref(h->bus);
                        *ret = TAKE_PTR(h);
                        return 0;
                }
        }
        /* The match first: a change between the two is then not missed. The bus daemon lets
         * only hostnamed's signals through (sender=). */
        r = sd_bus_match_signal_async(h->bus, &h->match, HOSTNAMED_DEST, HOSTNAMED_PATH,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged", on_changed, NULL, h);
        if (r >= 0)
                r = hostname_request(h);
        if (r < 0)
                log_debug_errno(r, "Cannot follow systemd-hostnamed (%m); {hostname} is gethostname().");
        *ret = TAKE_PTR(h);
        return 0;
}

Hostname *hostname_free(Hostname *h) {
        if (!h)
                return NULL;
        sd_bus_slot_unref(h->match);
        sd_bus_slot_unref(h->get);
        sd_bus_flush_close_unref(h->bus);
        free(h->name);
        free(h);
        return NULL;
}

const char *hostname_get(Hostname *h) {
        if (h && h->name && h->bus && sd_bus_is_open(h->bus) > 0)
                return h->name;
        if (!h)
                return "";
        if (gethostname(h->buf, sizeof(h->buf) - 1) < 0)
                h->buf[0] = 0;
        h->buf[sizeof(h->buf) - 1] = 0;
        return h->buf;
}

bool hostname_is_live(const Hostname *h) {
        return h && h->name;
}

int hostname_read_sync(char *buf, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *name = NULL;

        if (sd_bus_open_system(&bus) >= 0 &&
            sd_bus_get_property_string(bus, HOSTNAMED_DEST, HOSTNAMED_PATH, HOSTNAMED_IFACE, "Hostname", NULL,
                                       &name) >= 0 &&
            !isempty(name)) {
                snprintf(buf, size, "%s", name);
                return 1;
        }
        if (gethostname(buf, size - 1) < 0)
                return -errno;
        buf[size - 1] = 0;
        return 0;
}
