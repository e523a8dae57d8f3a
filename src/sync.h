/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cli.h"
#include "provision.h"

/* timerbeat sync: the monitor's checks from the timers themselves (provision = healthchecks).
 * Reads systemd over D-Bus and talks to healthchecks' Management API v3 with synchronous
 * libcurl — a command, never the daemon. The pure part is provision.c. */

typedef struct SyncOptions {
        const CliOptions *cli;
        bool prune;
        char *const *units; /* NULL-terminated; empty: every timer */
        bool background;    /* the daemon's sync (--background): "unchanged" lines are not printed */
} SyncOptions;

int cli_sync(const SyncOptions *o);

/* The daemon's and the commands' side: each unit of the state directory's mapping whose
 * check is provisioned and has no url= gets its provisioned ping URL (config_add_provisioned).
 * A missing mapping is not an error. */
/* Returns how many checks got a URL. */
int sync_apply_provisioned(Config *c, const char *state_dir);

#define SYNC_MAP_FILE "provisioned"
#define SYNC_STATUS_FILE "sync-status"

/* The state directory's files, written atomically (temporary file, fsync, rename; mode 0600). */
int sync_write_file(const char *path, const char *text);
/* SYNC_STATUS_FILE: each unit's last sync, for list; a missing file is empty. */
int sync_results_read(const char *path, SyncResults *ret);
int sync_results_write(const char *path, const SyncResults *r);
