/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the HTTP side makes of a response: the status classification, a Retry-After header value
 * (as http.c's header callback hands it over, CR LF included) and the back-off it leads to.
 * Input: 8 bytes "now", 8 bytes status, 4 bytes attempt, 8 bytes base, 8 bytes max, 8 bytes
 * jitter, then the header value; missing bytes are zero. */
#include <errno.h>
#include <time.h>

#include "fuzz.h"
#include "retry.h"

static uint64_t take(const uint8_t **p, size_t *left, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++) {
                v = v << 8 | (*left > 0 ? **p : 0);
                if (*left > 0)
                        (*p)++, (*left)--;
        }
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *p = data;
        size_t left = size;
        _cleanup_free_ char *value = NULL;
        time_t now;
        long status;
        unsigned attempt;
        usec_t base, max, t = 0, d;
        double rnd;
        RetryVerdict v;
        int r;

        if (size > 4096)
                return 0;
        now = (time_t) (take(&p, &left, 8) % (UINT64_C(1) << 40)); /* up to year ~36812 */
        status = (long) take(&p, &left, 8);
        attempt = (unsigned) take(&p, &left, 4);
        /* base 0 makes retry_backoff() loop `attempt` times (up to 2^32) without doubling; the
         * daemon never passes 0 (retry-delay >= 10ms, reconnects 100ms). Reported; drop the "?: 1"
         * once retry_backoff() stops early. */
        base = take(&p, &left, 8) ?: 1;
        max = take(&p, &left, 8);
        rnd = (double) (take(&p, &left, 8) >> 11) / (double) (UINT64_C(1) << 53); /* as random_unit() */
        value = fuzz_strndup(p, left);

        v = retry_classify_status(status);
        FUZZ_ASSERT(v == RETRY_DONE || v == RETRY_AGAIN || v == RETRY_GIVE_UP);
        FUZZ_ASSERT((v == RETRY_DONE) == (status >= 200 && status <= 299));

        r = retry_after_parse(value, now, &t);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        if (r == 0)
                FUZZ_ASSERT(t <= RETRY_AFTER_MAX);

        /* Equal jitter: between half of min(base·2^attempt, max) and all of it. */
        d = retry_backoff(attempt, base, max, rnd);
        FUZZ_ASSERT(d <= max);
        FUZZ_ASSERT(d >= MIN(base, max) / 2);
        FUZZ_ASSERT(retry_backoff(attempt, base, max, -1.0) <= retry_backoff(attempt, base, max, 2.0));
        return 0;
}
