/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* What each heartbeat service understands: the URL templates of its success, start,
 * failure and log-only events. The user gives the base URL (or token URL); every template
 * can be overridden per check. */

typedef enum Event {
        EVENT_SUCCESS,
        EVENT_START,
        EVENT_FAILURE,
        EVENT_LOG, /* a failure sent as a log entry only (failure-threshold) */
        _EVENT_MAX,
} Event;

const char *event_to_string(Event e);

typedef enum BodyKind {
        BODY_NONE,
        BODY_LOG,  /* the tail of the run's journal output */
        BODY_JSON, /* unit, invocation, result, exit code, times, hostname */
        _BODY_MAX,
} BodyKind;

typedef struct Preset {
        const char *name;
        const char *templates[_EVENT_MAX]; /* NULL: the service has no such endpoint */
        BodyKind failure_body;             /* what the service expects with a failure */
        size_t body_cap;                   /* the largest body it takes; 0: no limit known */
} Preset;

const Preset *preset_find(const char *name);
const Preset *preset_generic(void);
/* "healthchecks, cronitor, …" */
const char *preset_names(void);

/* The exit code monitors expect (0–255) for how a run ended: the exit status when it exited,
 * 128+N when killed by signal N, and fixed codes for systemd's other results (see
 * timerbeat.conf(5)). */
int exit_code_from_run(const char *result, int exec_main_code, int exec_main_status);

/* A URL built from templates may end up with two '?' ("{url}?rid=…" where url has a query):
 * every '?' after the first becomes '&'. */
void url_fix_query(char *url);
