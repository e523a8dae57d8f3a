/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* The host's name for {hostname}, live. timerbeat.service has ProtectHostname=yes: the daemon
 * has a UTS namespace of its own, and gethostname() there keeps the name it started with. So
 * the name comes from systemd-hostnamed (org.freedesktop.hostname1, property Hostname), read
 * asynchronously and followed through its PropertiesChanged signal; where hostnamed does not
 * answer (no system bus, a container without it) gethostname() is asked at every use. */

#define HOSTNAMED_DEST "org.freedesktop.hostname1"
#define HOSTNAMED_PATH "/org/freedesktop/hostname1"
#define HOSTNAMED_IFACE "org.freedesktop.hostname1"

typedef struct Hostname Hostname;

/* bus: a connection attached to event (tests pass their own); NULL: the system bus. Never
 * fails for want of hostnamed: that is the fallback. */
int hostname_new(Hostname **ret, sd_event *event, sd_bus *bus);
Hostname *hostname_free(Hostname *h);
static inline void hostname_freep(Hostname **h) {
        hostname_free(*h);
}

/* The current name: hostnamed's, or gethostname()'s. Valid until the next call. */
const char *hostname_get(Hostname *h);
/* Whether the name comes from hostnamed (for tests and the log). */
bool hostname_is_live(const Hostname *h);

/* For the commands (synchronous, fine outside the daemon): the same answer the daemon gives. */
int hostname_read_sync(char *buf, size_t size);
