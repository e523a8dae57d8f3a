/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"

/* Sends heartbeat requests with libcurl's multi interface, driven by sd-event: sockets and
 * curl's timer become event sources, so no request ever blocks the loop. Each request is
 * retried with back-off on transient failures. Queue and parallelism are bounded. */

typedef struct Http Http;

typedef struct HttpPing {
        const char *unit;       /* for log fields */
        const char *invocation; /* may be NULL */
        const char *url;
        HttpMethod method;
        const char *source;     /* Origin: header, may be NULL */
} HttpPing;

int http_new(Http **ret, sd_event *event);
Http *http_free(Http *h);
static inline void http_freep(Http **h) {
        http_free(*h);
}

/* Timeouts, retries, limits and the user agent of requests submitted from now on. */
int http_set_config(Http *h, const Config *c);

/* Queues a request; -ENOBUFS when the queue is full. */
int http_submit(Http *h, const HttpPing *ping);

/* Requests queued, waiting to retry or in flight. */
size_t http_pending(const Http *h);

/* Stops retries and new attempts: requests waiting are dropped with a warning; those in flight
 * may finish. on_idle is called once nothing is in flight any more. */
typedef void (*http_idle_t)(Http *h, void *userdata);
void http_shutdown(Http *h, http_idle_t on_idle, void *userdata);
