/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "ping.h"

/* Sends heartbeat requests with libcurl's multi interface, driven by sd-event: sockets and
 * curl's timer become event sources, so no request ever blocks the loop. Each request is
 * retried with back-off on transient failures. Queue and parallelism are bounded. */

typedef struct Http Http;

/* How a request ended for good. Shutting down is not an end: the entry stays in the outbox. */
typedef enum HttpOutcome {
        HTTP_DELIVERED, /* 2xx */
        HTTP_REJECTED,  /* a permanent error: non-retryable status, bad URL or redirect */
        HTTP_EXPIRED,   /* older than max-age, or out of retries */
        HTTP_DROPPED,   /* pushed out of a full queue */
} HttpOutcome;

typedef struct HttpResult {
        const Ping *ping; /* what was sent; its id is the outbox entry (NULL: in memory only) */
        HttpOutcome outcome;
        long status;       /* the last HTTP status, 0 if none */
        const char *error; /* the last transport error, NULL if none */
        usec_t elapsed;    /* of the last attempt */
        unsigned attempts;
        const char *body_head; /* the first bytes of the last answer's body */
        long body_limit;       /* the Ping-Body-Limit header of the last answer, -1 if none */
} HttpResult;

typedef void (*http_done_t)(Http *h, const HttpResult *result, void *userdata);

int http_new(Http **ret, sd_event *event, http_done_t on_done, void *userdata);
Http *http_free(Http *h);
static inline void http_freep(Http **h) {
        http_free(*h);
}

/* Timeouts, retries, limits and the user agent of requests submitted from now on. */
int http_set_retries(Http *h, unsigned retries);
int http_set_config(Http *h, const Config *c);

/* Queues a request. When the queue (or the check's share of it) is full, the oldest request
 * that is not in flight is dropped to make room (reported as HTTP_DROPPED); -ENOBUFS when
 * nothing can be dropped. Requests of the same check are sent in submission order, one at a
 * time, so a start never overtakes the finish before it. */
int http_submit(Http *h, Ping *ping); /* takes ownership, also on failure */

/* Requests queued, waiting to retry or in flight. */
size_t http_pending(const Http *h);

/* Stops retries and new attempts; requests in flight may finish. on_idle is called once
 * nothing is in flight any more. Requests not delivered stay in the outbox. */
typedef void (*http_idle_t)(Http *h, void *userdata);
void http_shutdown(Http *h, http_idle_t on_idle, void *userdata);
