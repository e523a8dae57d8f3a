/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <syslog.h>

#include "macro.h"

/* Logging: to the journal with structured fields when our stderr is connected to it
 * ($JOURNAL_STREAM), to stderr otherwise. Every log_*_errno() returns -abs(error), so a
 * caller can "return log_error_errno(r, ...)" and "%m" prints that error. */

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_setup(LogTarget target);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);

/* unit and invocation may be NULL; they become UNIT= and INVOCATION_ID= journal fields and a
 * "unit: " prefix on stderr. */
int log_full_errno(int level, int error, const char *unit, const char *invocation, const char *fmt, ...)
        _printf_(5, 6);

#define log_full(level, ...) log_full_errno((level), 0, NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), NULL, NULL, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), NULL, NULL, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), NULL, NULL, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), NULL, NULL, __VA_ARGS__)
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* With the unit and invocation as structured fields. */
#define log_unit(level, unit, inv, ...) log_full_errno((level), 0, (unit), (inv), __VA_ARGS__)
#define log_unit_errno(level, e, unit, inv, ...) log_full_errno((level), (e), (unit), (inv), __VA_ARGS__)
