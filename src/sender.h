/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "decide.h"
#include "hostname.h"
#include "http.h"
#include "metrics.h"
#include "outbox.h"

/* Sending what was decided: builds the request (ping.c), keeps it in the outbox before the
 * first attempt, reads a run's journal output for a log body, hands the request to http and
 * records the outcome. Owns the http client and the journal reads in flight. */

typedef struct Sender Sender;

/* outbox and config stay owned by the caller and must outlive the sender (see
 * sender_set_config for a new config). */
int sender_new(Sender **ret, sd_event *event, Outbox *outbox, const Config *config);
Sender *sender_free(Sender *s);
static inline void sender_freep(Sender **s) {
        sender_free(*s);
}

int sender_set_config(Sender *s, const Config *config);
/* Where {hostname} comes from (not owned; NULL: gethostname() at each ping). */
void sender_set_hostname(Sender *s, Hostname *h);

/* Builds and sends the request of a decision (d->send must be set). */
void sender_dispatch(Sender *s, const Check *c, const WatchRun *run, const Decision *d);
/* Keeps what decide said to remember of a run end (DecideRecord) in the outbox's run record. */
void sender_record_run(Sender *s, const WatchRun *run, DecideRecord what);

/* Where outcomes and the outbox's gauges are counted (not owned; NULL: nowhere). */
void sender_set_metrics(Sender *s, Metrics *m);

/* Sends timerbeat's own heartbeat (config->self_check), built by ping.c like any ping: through
 * the outbox and http's retries, without a run. */
void sender_dispatch_self(Sender *s);

/* When (CLOCK_REALTIME) the longest-waiting ping of a check not yet answered for good was
 * queued, self-heartbeats left out; 0 if there is none. */
usec_t sender_oldest_queued(const Sender *s);

/* Queues what a previous instance could not deliver, each entry to the URL stored in it (the
 * request as it was built when the run ended, even if the check's URL changed since). keep()
 * says for each entry's check: > 0 send it, 0 the check is gone (the entry is deleted), < 0
 * not known yet (only when final is false: an annotation may decide), then the entry waits
 * for sender_replay_held(), which asks again with final set. Dropped entries are logged once
 * per check at debug level, with one summary line. */
typedef int (*sender_keep_t)(const char *check, bool final, void *userdata);
int sender_replay(Sender *s, sender_keep_t keep, void *userdata);
void sender_replay_held(Sender *s);

/* Requests queued, waiting to retry or in flight. */
size_t sender_pending(const Sender *s);

/* Stops retries and new attempts; on_idle once nothing is in flight any more. */
void sender_shutdown(Sender *s, http_idle_t on_idle, void *userdata);
