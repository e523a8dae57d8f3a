/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <time.h>

#include "macro.h"

/* When and whether to try a heartbeat request again. Pure functions, unit-tested. */

/* Delay before retry number attempt (0 = the first retry): base·2^attempt, capped at max,
 * with "equal jitter": half of it fixed, half random (rnd in [0, 1)), so that many pings that
 * failed together do not retry together, yet never sooner than half the computed delay. */
usec_t retry_backoff(unsigned attempt, usec_t base, usec_t max, double rnd);

/* Parses a Retry-After header value: delta-seconds or an HTTP-date (relative to now).
 * Returns the delay, capped at RETRY_AFTER_MAX, or -EINVAL. */
#define RETRY_AFTER_MAX (6ULL * USEC_PER_HOUR)
int retry_after_parse(const char *value, time_t now, usec_t *ret);

typedef enum RetryVerdict {
        RETRY_DONE,    /* delivered */
        RETRY_AGAIN,   /* transient: try again later */
        RETRY_GIVE_UP, /* permanent: do not try again */
} RetryVerdict;

/* Classifies an HTTP status: 2xx done; 408, 425, 429 and 5xx again; everything else gives up. */
RetryVerdict retry_classify_status(long status);
