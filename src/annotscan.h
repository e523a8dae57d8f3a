/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Whether any instance of an installed template timer (foo@.timer) can carry an [X-Timerbeat]
 * annotation, from the files systemd would read for it: the timer's fragment (at fragment, as
 * listed) and every file or drop-in that applies to it or to one of its instances in the
 * directories of unit_path (the manager's UnitPath), and the same for the services its Unit=
 * values name (foo@.service when unset). Without one, its instances need not be looked for, and
 * systemd's UnitNew and UnitRemoved need not be followed for them (issue 14).
 * 1: an annotation is there, or cannot be ruled out (too many files, one unreadable, a Unit=
 * with specifiers); 0: none can be. Reads small local files: a bounded number, on the loop. */
int annotscan_template(const char *template, const char *fragment, char *const *unit_path);
