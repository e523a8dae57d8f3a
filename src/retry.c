/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <curl/curl.h>

#include "retry.h"

usec_t retry_backoff(unsigned attempt, usec_t base, usec_t max, double rnd) {
        usec_t d = base;

        if (d == 0 || max == 0)
                return 0;
        for (unsigned i = 0; i < attempt && d < max; i++)
                d = d > max / 2 ? max : d * 2;
        d = MIN(d, max);
        if (rnd < 0)
                rnd = 0;
        if (rnd >= 1)
                rnd = 0.999999;
        return d / 2 + (usec_t) (rnd * (double) (d - d / 2));
}

int retry_after_parse(const char *value, time_t now, usec_t *ret) {
        const char *p = value;
        time_t t;

        if (!value)
                return -EINVAL;
        while (*p == ' ' || *p == '\t')
                p++;
        if (!*p)
                return -EINVAL;

        if (isdigit((unsigned char) *p)) {
                unsigned long long s = 0;

                for (; isdigit((unsigned char) *p); p++) {
                        s = s * 10 + (unsigned long long) (*p - '0');
                        if (s > RETRY_AFTER_MAX / USEC_PER_SEC)
                                s = RETRY_AFTER_MAX / USEC_PER_SEC;
                }
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                        p++;
                if (*p)
                        return -EINVAL;
                *ret = (usec_t) s * USEC_PER_SEC;
                return 0;
        }

        t = curl_getdate(p, NULL);
        if (t == (time_t) -1)
                return -EINVAL;
        if (t <= now)
                *ret = 0;
        else
                *ret = MIN((usec_t) (t - now) * USEC_PER_SEC, RETRY_AFTER_MAX);
        return 0;
}

RetryVerdict retry_classify_status(long status) {
        if (status >= 200 && status < 300)
                return RETRY_DONE;
        if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600))
                return RETRY_AGAIN;
        return RETRY_GIVE_UP;
}
