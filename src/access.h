/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include "util.h"

/* Who can read a configuration file, and the exact command that makes it readable by the
 * service and no one else. timerbeat.service runs as the system user SERVICE_USER; the Debian
 * package makes /etc/timerbeat and conf.d/ root:timerbeat 2750 (setgid), so new files there
 * are the group's. ACLs are not considered. */

#define SERVICE_USER "timerbeat"

typedef struct Credentials {
        uid_t uid;
        gid_t gids[64]; /* primary group first */
        size_t n_gids;
} Credentials;

/* Pure: may someone with these credentials read (R_OK) or search (X_OK) what st describes?
 * uid 0 may always read and search directories. */
bool access_mode_allows(const struct stat *st, const Credentials *who, int want);

/* Pure: the command that gives a file the mode it should have: for the system's files
 * (system = true) "chgrp timerbeat PATH && chmod 0640 PATH" (a directory: 2750), for a
 * user's "chmod 0600 PATH" (a directory: 0700). */
char *access_fix(const char *path, bool system, bool directory);

/* The system's configuration (/etc, /run, /usr/lib) or a user's, by its path. */
bool access_is_system_path(const char *path);

/* This process's credentials, or SERVICE_USER's (-ENOENT when there is no such user). */
int access_self(Credentials *ret);
int access_service_user(Credentials *ret);

/* Walks path from /: every directory searchable, the file (or directory: want) allowed. Returns
 * 0, or -EACCES with the first path that stops who in *ret_blocker. */
int access_check_path(const char *path, const Credentials *who, int want, char **ret_blocker);

/* Everyone can read path: it is o+r and every directory above it o+x. */
bool access_world_readable(const char *path, const struct stat *st);

/* "PATH (root:root 0640)" for messages. */
char *access_describe(const char *path);

/* "PATH: cannot read: DIR (root:root 0700) keeps out user timerbeat; run: chgrp timerbeat DIR &&
 * chmod 2750 DIR": for a file this process may not read (EACCES). */
char *access_denied_message(const char *path);

/* Run as root for the system: appends a problem ("file: what keeps the service's user out; run:
 * the fix") for each of files (read) and existing dirs (listed; NULL-terminated) that
 * SERVICE_USER could not use. 1 when checked, 0 when not root or there is no such user. */
int access_report_service(const Strv *files, const char *const *dirs, Strv *problems);
