/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The value parsers behind the config keys: time spans (and their formatting, which must parse
 * back to the same value), unsigned numbers and booleans. */
#include <errno.h>

#include "fuzz.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL;
        char buf[64];
        usec_t t, t2;
        unsigned u;
        int r;

        if (size > 1024)
                return 0;
        s = fuzz_strndup(data, size);

        r = parse_timespan(s, &t);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0 && t != USEC_INFINITY) {
                format_timespan(buf, sizeof(buf), t);
                FUZZ_ASSERT(strlen(buf) < sizeof(buf) - 1);
                FUZZ_ASSERT(parse_timespan(buf, &t2) == 0);
                FUZZ_ASSERT(t2 == t);
        }

        r = parse_unsigned(s, 0, UINT32_MAX, &u);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0) {
                unsigned v;

                snprintf(buf, sizeof(buf), "%u", u);
                FUZZ_ASSERT(parse_unsigned(buf, 0, UINT32_MAX, &v) == 0 && v == u);
                if (u < UINT32_MAX)
                        FUZZ_ASSERT(parse_unsigned(s, u + 1, UINT32_MAX, &v) == -ERANGE);
        }

        r = parse_boolean(s);
        FUZZ_ASSERT(r == 0 || r == 1 || r == -EINVAL);
        return 0;
}
