/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "watch.h"

/* The command line tools' reads of unit properties: one Get per property, many in flight, the
 * caller blocked until every answer is in (never used by the daemon, whose loop must not block).
 * A GetAll makes systemd compute every property of the unit, UnitFileState among them (a walk of
 * the unit directories): milliseconds a unit, seconds over thousands. */

typedef struct UnitPropName {
        const char *iface, *name;
} UnitPropName;

/* One unit to read: its properties named in names[0..n_names) go into props. */
typedef struct UnitRead {
        const char *unit;
        UnitProps *props;
        const UnitPropName *names;
        size_t n_names;
} UnitRead;

/* At most this many calls in flight: the bus allows a connection 128 pending replies. */
#define UNIT_READ_MAX_CALLS 64

/* Reads every property of every unit in reads. A property systemd does not have (an older version,
 * another unit type, an error reply) is left unset; an invalid unit name is skipped. Fails
 * (-errno) only when the bus does or memory runs out. */
int unit_read_bulk(sd_bus *bus, const UnitRead *reads, size_t n);
