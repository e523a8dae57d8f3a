/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* URL templates: "{name}" placeholders, replaced by percent-encoded values. "{{" and "}}" are
 * literal braces. An unknown placeholder is an error found when the config is loaded. */

typedef struct TemplateVars {
        const char *unit; /* the unit the check is for: backup.timer */
        const char *hostname;
        const char *url;    /* the check's base URL, inserted as it is (not encoded) */
        const char *rid;    /* InvocationID, 32 hex digits */
        const char *result; /* systemd's Result */
        const char *message;
        int exit_code;   /* see exit_code_from_run() */
        usec_t duration; /* of the run */
} TemplateVars;

/* Placeholders: {unit} {unit_prefix} {hostname} {url} {url_origin} (scheme://host of url)
 * {url_last} (last path segment of url) {rid} (8-4-4-4-12) {rid_hex} {exit_code} {result}
 * {duration_s} {duration_ms} {message}. A length cap may follow a colon, {message:256}: the
 * value is cut (on a UTF-8 boundary) before it is encoded. */
#define TEMPLATE_PLACEHOLDERS                                                                    \
        "{unit}, {unit_prefix}, {hostname}, {url}, {url_origin}, {url_last}, {rid}, {rid_hex}, " \
        "{exit_code}, {result}, {duration_s}, {duration_ms}, {message}"

/* Checks that every placeholder is known; on error *reason explains and returns -EINVAL. */
int template_validate(const char *tmpl, const char **reason, char **ret_bad_name);

/* Expands tmpl; values are percent-encoded (RFC 3986 unreserved characters stay). A query
 * parameter whose value is made only of placeholders that all expand to empty is left out with
 * its separator ("{url}?rid={rid}&a=1" without a run id is "{url}?a=1"): a monitor refuses an
 * empty run id. */
int template_expand(const char *tmpl, const TemplateVars *v, char **ret);

/* True if the string contains a placeholder. */
bool template_has_placeholders(const char *tmpl);

/* Percent-encodes everything but A-Z a-z 0-9 - . _ ~ */
char *percent_encode(const char *s);
