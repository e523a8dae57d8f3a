/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "hashmap.h"
#include "resolve.h"

/* What the log said each unit is monitored by: unit → a 64-bit digest of its check_signature()
 * (the value itself, not a pointer to anything). A line is logged when this changes, not at every
 * start, reload or daemon-reload. Bounded by the watchers (see watch.c). The map is created with
 * hashmap_new(HASHMAP_KEYS_COPY). */

/* Says when a unit's monitoring changes: added, origin or URL changed, dropped (c NULL). */
void monitored_say(Hashmap *monitored, const char *unit, const char *service, const Check *c);

/* "N units from M sections": the units whose runs are followed, and the sections of the
 * configuration (or annotations) they come from. `timerbeat check` counts the same way. */
void monitored_count(Hashmap *monitored, const Resolver *resolver, const Config *config, size_t *ret_units,
                     size_t *ret_sections);

Hashmap *monitored_free(Hashmap *monitored);
