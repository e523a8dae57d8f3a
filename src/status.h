/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "util.h"

/* The daemon's status file ("daemon" in the state directory): which configuration files the
 * running daemon loaded (each with a digest of its content), and the verdict of the last
 * reload with its errors. The daemon rewrites it at start and after each SIGHUP;
 * `timerbeat reload` waits in it for the verdict of the reload it asked for, and `list`
 * compares its files with those on disk.
 *
 * A reload is identified by its generation (one more per SIGHUP the daemon handles) and the
 * CLOCK_MONOTONIC time the daemon took the signal: a reload that began after `timerbeat reload`
 * sent its signal read the files after that, so its verdict is the answer, even when another
 * SIGHUP was merged with ours. */

#define STATUS_FILE "daemon"
#define STATUS_FILE_MAX (256U * 1024U)

typedef struct DaemonStatus {
        pid_t pid;
        char boot_id[33];    /* of the boot the daemon runs in: a file from an older boot is stale */
        uint64_t generation; /* reloads handled; 0 at start */
        usec_t started;      /* CLOCK_MONOTONIC: when the last reload (or the start) began */
        bool refused;        /* the last reload was refused: the previous configuration runs */
        usec_t loaded;       /* CLOCK_REALTIME: when the running configuration was loaded */
        Strv files;          /* the running configuration's files, in the order applied */
        Strv digests;        /* one per file: config_file_digest() of what was read */
        Strv errors;         /* why the last reload was refused */
} DaemonStatus;

void daemon_status_done(DaemonStatus *s);

/* Pure: the text of the file, and back. Parsing refuses anything malformed with -EBADMSG. */
int daemon_status_format(const DaemonStatus *s, char **ret);
int daemon_status_parse(const char *text, DaemonStatus *ret);

/* This boot's ID (32 hex digits), from /proc/sys/kernel/random/boot_id. */
int boot_id_read(char ret[static 33]);

/* Atomic write (rename) into dir; read back, -ENOENT when there is none. */
/* A reload's verdict (refused, with its errors) and, when files is set, the configuration now
 * running: its files and their digests, loaded now. */
int daemon_status_update(DaemonStatus *s, const Strv *files, const Strv *digests, bool refused, const Strv *errors);
int daemon_status_write(const char *dir, const DaemonStatus *s);
int daemon_status_read(const char *dir, DaemonStatus *ret);

/* The daemon that wrote s still runs: this boot, and its PID exists. */
bool daemon_status_alive(const DaemonStatus *s);
