/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

/* Owns the event loop and wires the modules together: config → watch (which runs ended) →
 * the decision (only Result=success pings) → http (send it). Also signals and sd_notify. */

typedef struct Manager Manager;

typedef struct ManagerOptions {
        bool user;
        const char *config_file; /* --config: this file only, no drop-ins */
        const char *state_dir;   /* --state-dir, or NULL for the default */
} ManagerOptions;

/* The state directory: $STATE_DIRECTORY (set by StateDirectory=) or /var/lib/timerbeat for
 * the system; $XDG_STATE_HOME/timerbeat (~/.local/state/timerbeat) for --user. */
int manager_state_dir(const ManagerOptions *o, char **ret);

/* Takes a loaded config (also on failure), connects, and returns a manager ready to run. */
int manager_new(Manager **ret, const ManagerOptions *o, Config *config);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Runs until SIGTERM/SIGINT or a fatal error; returns the exit status. */
int manager_run(Manager *m);

/* Loads the config for `timerbeat check` and the daemon: prints every problem to stderr. */
int manager_load_config(const ManagerOptions *o, Config **ret);
/* The same, with a copy of each error appended to ret_errors (may be NULL); warnings listed in
 * said (those of the configuration running, may be NULL) are not printed again. */
int manager_load_config_full(const ManagerOptions *o, const Strv *said, Config **ret, Strv *ret_errors);
