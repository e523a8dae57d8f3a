/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Minimal assertions: print where and what, then abort so meson marks the test failed. */
#define ASSERT(expr)                                                                              \
        do {                                                                                      \
                if (!(expr)) {                                                                    \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                        \
        do {                                                                                      \
                const char *_a = (a), *_b = (b);                                                  \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                          \
                        fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
                                _b ? _b : "(null)", _a ? _a : "(null)");                          \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                              \
        do {                                                                                      \
                const char *_h = (hay), *_n = (needle);                                           \
                if (!_h || !strstr(_h, _n)) {                                                     \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                                _h ? _h : "(null)", _n);                                          \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)

#define ASSERT_EQ(a, b)                                                                           \
        do {                                                                                      \
                long long _a = (long long) (a), _b = (long long) (b);                             \
                if (_a != _b) {                                                                   \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, \
                                _b);                                                              \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)
