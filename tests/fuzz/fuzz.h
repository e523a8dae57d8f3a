/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry point; tests/fuzz/fuzz-main.c calls it for each file of a corpus when the
 * targets are built without libFuzzer (then they are regression tests in every build). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the target checks: print what broke and abort, which libFuzzer reports as a
 * crash (and saves the input) and which fails a regression run. */
#define FUZZ_ASSERT(expr)                                                                            \
        do {                                                                                         \
                if (!(expr)) {                                                                       \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                     \
                }                                                                                    \
        } while (0)

/* A NUL-terminated copy of the input (the parsers take C strings). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        if (size > 0)
                memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* True if s contains a C0 control character or DEL (other than those in allow). */
static inline int fuzz_has_control(const char *s, const char *allow) {
        for (; *s; s++)
                if (((unsigned char) *s < 0x20 || *s == 0x7f) && !strchr(allow, *s))
                        return 1;
        return 0;
}
