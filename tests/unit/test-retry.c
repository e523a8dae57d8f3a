/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "retry.h"
#include "tests.h"

static void test_backoff(void) {
        const usec_t base = USEC_PER_SEC, max = 5 * USEC_PER_MINUTE;

        /* rnd = 0: exactly half the exponential delay; rnd → 1: (almost) all of it. */
        ASSERT_EQ(retry_backoff(0, base, max, 0), USEC_PER_SEC / 2);
        ASSERT_EQ(retry_backoff(1, base, max, 0), USEC_PER_SEC);
        ASSERT_EQ(retry_backoff(2, base, max, 0), 2 * USEC_PER_SEC);
        ASSERT(retry_backoff(2, base, max, 0.999999) <= 4 * USEC_PER_SEC);
        ASSERT(retry_backoff(2, base, max, 0.999999) > 3 * USEC_PER_SEC);
        /* Capped, however many attempts, without overflow. */
        ASSERT_EQ(retry_backoff(8, base, max, 0), 128 * USEC_PER_SEC);
        ASSERT_EQ(retry_backoff(9, base, max, 0), max / 2);
        ASSERT_EQ(retry_backoff(63, base, max, 0), max / 2);
        ASSERT_EQ(retry_backoff(1000, base, max, 0.999999), max / 2 + (usec_t) (0.999999 * (double) (max / 2)));
        ASSERT(retry_backoff(1000, base, max, 5.0) <= max); /* out-of-range randomness is clamped */
        /* Monotonic in the attempt number for the same randomness. */
        for (unsigned a = 0; a < 20; a++)
                ASSERT(retry_backoff(a, base, max, 0.5) <= retry_backoff(a + 1, base, max, 0.5));
        /* Jitter spreads: distinct values for distinct randomness. */
        ASSERT(retry_backoff(3, base, max, 0.1) != retry_backoff(3, base, max, 0.9));
}

static void test_retry_after(void) {
        usec_t t = 0;
        time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

        ASSERT_EQ(retry_after_parse("120", now, &t), 0);
        ASSERT_EQ(t, 120 * USEC_PER_SEC);
        ASSERT_EQ(retry_after_parse(" 0\r\n", now, &t), 0);
        ASSERT_EQ(t, 0);
        ASSERT_EQ(retry_after_parse("99999999999999999999", now, &t), 0);
        ASSERT_EQ(t, RETRY_AFTER_MAX);
        ASSERT_EQ(retry_after_parse("Tue, 14 Nov 2023 22:14:20 GMT", now, &t), 0);
        ASSERT_EQ(t, 60 * USEC_PER_SEC);
        ASSERT_EQ(retry_after_parse("Tue, 14 Nov 2023 22:00:00 GMT", now, &t), 0); /* in the past */
        ASSERT_EQ(t, 0);
        ASSERT_EQ(retry_after_parse("soon", now, &t), -EINVAL);
        ASSERT_EQ(retry_after_parse("12abc", now, &t), -EINVAL);
        ASSERT_EQ(retry_after_parse("", now, &t), -EINVAL);
        ASSERT_EQ(retry_after_parse(NULL, now, &t), -EINVAL);
}

static void test_classify(void) {
        static const struct {
                long status;
                RetryVerdict v;
        } table[] = {
                { 200, RETRY_DONE },      { 201, RETRY_DONE },      { 204, RETRY_DONE },
                { 301, RETRY_GIVE_UP },   { 400, RETRY_GIVE_UP },   { 401, RETRY_GIVE_UP },
                { 404, RETRY_GIVE_UP },   { 408, RETRY_AGAIN },     { 425, RETRY_AGAIN },
                { 429, RETRY_AGAIN },     { 500, RETRY_AGAIN },     { 502, RETRY_AGAIN },
                { 503, RETRY_AGAIN },     { 599, RETRY_AGAIN },     { 0, RETRY_GIVE_UP },
                { 100, RETRY_GIVE_UP },   { 600, RETRY_GIVE_UP },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT_EQ(retry_classify_status(table[i].status), table[i].v);
}

int main(void) {
        test_backoff();
        test_retry_after();
        test_classify();
        return 0;
}
