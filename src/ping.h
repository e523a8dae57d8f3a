/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

/* Building a request, in one place: a check and what to tell about a run become one owned
 * Ping (method, URL, headers, body). The outbox stores it, http sends it, nothing copies it.
 * Pure: no I/O; the caller supplies the hostname and, for log bodies, the journal text. */

typedef struct Ping {
        char *check;      /* the unit the check is for (backup.timer): per-check order and limits */
        char *unit;       /* the service whose run it reports, for log fields */
        char *invocation; /* InvocationID; NULL for a request without a run */
        char *url;
        HttpMethod method;
        char *source;   /* sent as Origin:, may be NULL */
        usec_t created; /* CLOCK_REALTIME of what it reports */
        char *body;     /* POSTed when set; may contain NUL bytes */
        size_t body_size;
        char *content_type;
        Event event; /* what it tells (for metrics); stored in the outbox as event= */
        char *id;    /* the outbox entry, NULL while it is only in memory */
} Ping;

/* What a request says about a run. An empty invocation means "no run" (a manual ping). */
typedef struct PingRun {
        const char *unit;       /* the unit the check is for */
        const char *service;    /* the service that ran */
        const char *invocation; /* 32 hex digits, or NULL */
        const char *result;     /* systemd's Result, NULL for a start */
        const char *message;    /* human-readable, for {message} */
        const char *hostname;
        int exit_code;
        usec_t start_timestamp, exit_timestamp; /* CLOCK_REALTIME, 0 if unknown */
        usec_t created;                         /* what the Ping's created becomes */
} PingRun;

void ping_done(Ping *p);
Ping *ping_free(Ping *p);
static inline void ping_freep(Ping **p) {
        ping_free(*p);
}

/* Which body an event's request carries for a check. */
BodyKind ping_body_kind(const Check *c, Event e);

/* The URL of an event: the check's base URL with its own placeholders expanded, inside the
 * event's template (explicit key, else the preset's). -ENOENT when the check has no such
 * endpoint. */
int ping_url(const Check *c, Event e, const PingRun *run, char **ret);

/* The whole request. log_text is the body of a BODY_LOG event; NULL sends it without a body
 * (no run to read the journal of). */
int ping_build(const Check *c, const Config *cfg, Event e, const PingRun *run, const char *log_text, size_t log_size,
               Ping **ret);

/* The JSON body (BODY_JSON), exposed for the tests. */
char *ping_run_json(const PingRun *run, Event e, usec_t duration);
