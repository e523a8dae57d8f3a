/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

/* Which check applies to a unit: one resolution for the daemon and for `list`, `check` and
 * `ping`. Precedence: a section of timerbeat.conf named after the unit, then the unit's
 * [X-Timerbeat] annotation, then the best matching pattern section. A disabled check is an
 * exclusion. The Resolver owns the annotations read from unit files. */

typedef struct Resolver Resolver;

int resolver_new(Resolver **ret);
Resolver *resolver_free(Resolver *r);
static inline void resolver_freep(Resolver **r) {
        resolver_free(*r);
}

/* Forgets every annotation (the configuration changed; units are read again). */
void resolver_reset(Resolver *r);

/* Reads the unit's annotation (the timer's own files first, its service's if the timer has
 * none), remembers it and returns the check that applies (NULL: none). Annotation problems
 * are appended to errors ("file:line: …"); an invalid annotation leaves the unit unmonitored,
 * as timerbeat.conf(5) says. Returns -ENOMEM or 0. */
int resolver_update(Resolver *r, const Config *c, const char *unit, const Strv *timer_files,
                    const Strv *service_files, const Check **ret, Strv *errors);

/* The check for a unit from what is known now (no file is read). */
const Check *resolver_lookup(const Resolver *r, const Config *c, const char *unit);

/* Whether a check named so still exists (an outbox entry of it is sent): 1 yes, 0 no. A
 * section named after the unit decides at once; an annotation could override a pattern, so
 * with annotations on and final false the rest is not known yet: -1. */
int resolver_keeps(const Resolver *r, const Config *c, const char *check, bool final);

/* Whether a check can send anything: enabled, with a success endpoint. */
bool check_is_active(const Check *k);

/* What a unit's monitoring is, as a string that changes when the origin (kind, section, file:line)
 * or an endpoint changes: the daemon logs a unit's monitoring only when it does. Holds URLs (kept
 * in memory, never logged). NULL on out of memory. */
char *check_signature(const Check *k);

/* Where a check is shown to come from, the same in `check`, `list` and the daemon's log: the
 * line that set its url= (the last one, across drop-ins), else its section's line. */
void check_where(const Check *k, const char **ret_file, unsigned *ret_line);

/* "config", "annotation", "pattern" or "none". */
const char *check_origin_kind(const Check *k);
