/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One configuration file's bytes through the parser and the validation pass, as config_load()
 * does with each file it reads. */
#include <errno.h>

#include "config.h"
#include "fuzz.h"

#define PATH "/etc/timerbeat/fuzz.conf"

static void check_error(const char *e) {
        const char *p = NULL;

        /* Every message names where: "file:line: …", or "[timerbeat]: …" from the validation. */
        if (strncmp(e, PATH ":", strlen(PATH ":")) == 0) {
                p = e + strlen(PATH ":");
                FUZZ_ASSERT(*p >= '1' && *p <= '9');
                p += strspn(p, "0123456789");
                FUZZ_ASSERT(p[0] == ':' && p[1] == ' ');
        } else
                FUZZ_ASSERT(strncmp(e, "[timerbeat]: ", 13) == 0);
        FUZZ_ASSERT(e[0] != '\x01'); /* the parser's internal markers never leak out */
        FUZZ_ASSERT(!strchr(e, '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(strv_done) Strv errors = {};
        int r;

        if (size > CONFIG_FILE_MAX) /* config_load() refuses larger files before parsing */
                return 0;

        c = config_new();
        FUZZ_ASSERT(c);
        r = config_parse_data(c, PATH, (const char *) data, size, &errors);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        if (r == 0)
                r = config_validate(c, &errors);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        FUZZ_ASSERT((r < 0) == (errors.n > 0));

        for (size_t i = 0; i < errors.n; i++)
                check_error(errors.items[i]);
        if (r < 0)
                return 0;

        /* A valid configuration holds only what the rest of the daemon can rely on. */
        FUZZ_ASSERT(c->retry_delay <= c->retry_max_delay);
        FUZZ_ASSERT(c->max_parallel >= 1 && c->max_queue >= 1);
        FUZZ_ASSERT(c->user_agent && !fuzz_has_control(c->user_agent, ""));
        FUZZ_ASSERT(!c->source || !fuzz_has_control(c->source, ""));
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                const char *reason = NULL;

                FUZZ_ASSERT(unit_name_is_valid(k->name) || unit_pattern_is_valid(k->name));
                FUZZ_ASSERT(config_find_check(c, k->name) == k); /* sections are merged */
                FUZZ_ASSERT(http_method_to_string(k->method));
                FUZZ_ASSERT(!k->source || !fuzz_has_control(k->source, ""));
                /* An enabled check has a success endpoint: url=, success-url=, or a provisioned one. */
                FUZZ_ASSERT(k->url || k->templates[EVENT_SUCCESS] || !k->enabled || check_is_provisioned(c, k));
                if (k->url) {
                        _cleanup_free_ char *masked = url_mask(k->url);

                        FUZZ_ASSERT(url_validate(k->url, &reason) == 0);
                        FUZZ_ASSERT(k->url_line >= 1 && k->url_file && strcmp(k->url_file, PATH) == 0);
                        FUZZ_ASSERT(masked && !fuzz_has_control(masked, ""));
                }
        }
        return 0;
}
