/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "util.h"

/* Which unit files and drop-ins systemd reads for a unit, and what in their text concerns us:
 * pure, so that the daemon can tell from the files alone whether any instance of a template
 * timer may carry an [X-Timerbeat] annotation (annotscan.c). */

/* Whether a line of a unit file is the header of our annotation section: "[X-Timerbeat]" in any
 * case, blanks before it allowed. */
bool dropin_is_annotation_header(const char *line, size_t len);

/* Whether a unit file's text has an [X-Timerbeat] section. */
bool dropin_has_annotation(const char *text, size_t size);

/* Pushes the values of the Unit= lines of the [Timer] sections in a timer file onto units, in
 * order ("" for a line that resets it). */
int dropin_timer_units(const char *text, size_t size, Strv *units);

/* The unit that the instances of template timer (foo@.timer) trigger, given its Unit= value
 * (NULL or "": unset), as a name for dropin_entry_applies(): unset → foo@.service;
 * "bar@%i.service" → bar@.service (every instance); a fixed name → that name. -EINVAL when the
 * value has other specifiers: which unit it names cannot be told from the files. */
int dropin_service_of(const char *template, const char *unit, char **ret);

/* Whether entry, a name in a directory of the unit search path, is a unit file or a drop-in
 * directory systemd reads for unit — or, for a template (foo@.timer), for any of its instances:
 * fragments foo@….timer, drop-in directories foo@….timer.d, the dash prefixes' ones (for
 * a-b@x.timer: a-@x.timer.d, a-@.timer.d) and the type's own, timer.d (systemd ≥ 244). */
bool dropin_entry_applies(const char *unit, const char *entry);
