/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Section names: which are unit names we watch, and the D-Bus object path each becomes. */
#include "fuzz.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *name = NULL, *path = NULL;
        const char *suffix;

        if (size > 1024 || memchr(data, 0, size)) /* a config section name never holds a NUL */
                return 0;
        name = fuzz_strndup(data, size);
        if (!unit_name_is_valid(name))
                return 0;

        FUZZ_ASSERT(strlen(name) <= 255);
        suffix = unit_suffix(name);
        FUZZ_ASSERT(suffix && (streq(suffix, ".timer") || streq(suffix, ".service")));
        FUZZ_ASSERT(!strchr(name, '/'));

        FUZZ_ASSERT(unit_dbus_path(name, &path) == 0);
        FUZZ_ASSERT(strncmp(path, "/org/freedesktop/systemd1/unit/", 31) == 0);
        /* A valid object path element: [A-Za-z0-9_] only, never empty. */
        FUZZ_ASSERT(path[31] != 0);
        for (const char *c = path + 31; *c; c++)
                FUZZ_ASSERT((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                            *c == '_');
        return 0;
}
