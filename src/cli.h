/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"
#include "status.h"
#include "watch.h"

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
/* Sends SIGHUP to the daemon ($MAINPID, else the status file's PID) and waits for its verdict:
 * 0 when the new configuration runs, EX_CONFIG (its errors printed) when it was refused. */
int cli_reload(const CliOptions *o);
/* The running daemon's configuration compared with the one on disk (for `list`). */
typedef struct DaemonView {
        DaemonStatus status;
        bool differs;
        Strv changed, added, removed; /* files on disk changed since the daemon read them, new, gone */
} DaemonView;
/* -ENOENT: no status file; -ESRCH: its daemon no longer runs. disk NULL: the files on disk
 * are refused. */
int cli_daemon_compare(const Config *disk, const char *state_dir, DaemonView *ret);
void daemon_view_done(DaemonView *v);
/* One or two lines for `list`: what the daemon runs, whether the files on disk differ (disk
 * NULL: they are refused; nothing is printed then when the daemon does not run). */
void cli_daemon_print(const CliOptions *o, const Config *disk, const char *state_dir);

/* Validates config and annotations; prints each check with its origin. */
int cli_check(const CliOptions *o);

/* A synchronous D-Bus helper of the commands (never used by the daemon): the units matching
 * patterns that are loaded from a unit file, sorted (ListUnitsByPatterns, which loads nothing). */
int cli_list_units(sd_bus *bus, char **patterns, Strv *ret);
