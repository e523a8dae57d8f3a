/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "monitored.h"

void monitored_say(Hashmap *monitored, const char *unit, const char *service, const Check *c) {
        _cleanup_free_ char *sig = NULL;
        char *old = hashmap_get(monitored, unit);
        const char *file;
        unsigned line;

        if (!c) {
                if (!old)
                        return;
                log_unit(LOG_INFO, service ?: unit, NULL, "%s is no longer monitored.", unit);
                free(hashmap_remove(monitored, unit));
                return;
        }
        sig = check_signature(c);
        if (!sig) {
                log_oom();
                return;
        }
        if (streq_ptr(old, sig))
                return;
        check_where(c, &file, &line);
        log_unit(LOG_INFO, service ?: unit, NULL, "%s is monitored%s (%s%s%s:%u).", unit, old ? " now" : "",
                 c->origin == CHECK_FROM_ANNOTATION ? "annotation " : "", c->pattern ? "pattern " : "", file, line);
        if (hashmap_replace(monitored, unit, sig) < 0) {
                log_oom();
                return;
        }
        TAKE_PTR(sig);
        free(old);
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
        HashmapIter i = HASHMAP_ITER_INIT;
        void *sig;

        if (!monitored)
                return NULL;
        while (hashmap_iterate(monitored, &i, NULL, &sig))
                free(sig);
        return hashmap_free(monitored);
}
