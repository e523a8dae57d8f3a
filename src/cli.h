/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The command line tools: they work without the daemon, from the config, the unit files'
 * annotations and systemd over D-Bus (synchronous calls are fine here), and the daemon's
 * state directory. Each returns an exit status. */

#define EXIT_NO_CHECK 3 /* ping: the unit has no heartbeat configured */

typedef struct CliOptions {
        const ManagerOptions *manager;
        bool json;
        bool dry_run;
        bool show_secrets;
        const char *event; /* success (default), start, failure, log */
        int exit_code;     /* ping --event failure: the exit code to report */
        bool last_run;     /* ping: the request of the unit's last run, as the daemon builds it */
        const char *unit;
} CliOptions;

int cli_list(const CliOptions *o);
int cli_ping(const CliOptions *o);
/* Validates config and annotations; prints each check with its origin. */
int cli_check(const CliOptions *o);
