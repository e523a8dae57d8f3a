/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "monitored.h"

/* A digest of the signature, kept as the map's value instead of the string (issue 14: memory
 * per check; the signature holds the URL, too). Never NULL, which means absent. */
static void *signature_digest(const char *sig) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (const char *c = sig; *c; c++)
                h = (h ^ (unsigned char) *c) * UINT64_C(1099511628211);
        return (void *) (uintptr_t) (h | 1);
}

void monitored_say(Hashmap *monitored, const char *unit, const char *service, const Check *c) {
        _cleanup_free_ char *sig = NULL;
        void *old = hashmap_get(monitored, unit), *digest;
        const char *file;
        unsigned line;

        if (!c) {
                if (!old)
                        return;
                log_unit(LOG_INFO, service ?: unit, NULL, "%s is no longer monitored.", unit);
                (void) hashmap_remove(monitored, unit);
                return;
        }
        sig = check_signature(c);
        if (!sig) {
                log_oom();
                return;
        }
        digest = signature_digest(sig);
        if (old == digest)
                return;
        check_where(c, &file, &line);
        log_unit(LOG_INFO, service ?: unit, NULL, "%s is monitored%s (%s%s%s:%u).", unit, old ? " now" : "",
                 c->origin == CHECK_FROM_ANNOTATION ? "annotation " : "", c->pattern ? "pattern " : "", file, line);
        if (hashmap_replace(monitored, unit, digest) < 0)
                log_oom();
}

void monitored_count(Hashmap *monitored, const Resolver *resolver, const Config *config, size_t *ret_units,
                     size_t *ret_sections) {
        _cleanup_(hashmap_freep) Hashmap *sections = NULL;
        HashmapIter i = HASHMAP_ITER_INIT;
        const char *unit;

        *ret_units = hashmap_size(monitored);
        *ret_sections = 0;
        if (hashmap_new(&sections, HASHMAP_KEYS_COPY) < 0)
                return;
        while (hashmap_iterate(monitored, &i, &unit, NULL)) {
                const Check *c = resolver_lookup(resolver, config, unit);
                char key[PATH_MAX + 16];
                const char *file;
                unsigned line;

                if (!c)
                        continue;
                check_where(c, &file, &line);
                snprintf(key, sizeof(key), "%s:%u", file, line);
                if (hashmap_put(sections, key, (void *) 1) >= 0)
                        (*ret_sections)++;
        }
}

Hashmap *monitored_free(Hashmap *monitored) {
        return hashmap_free(monitored);
}
