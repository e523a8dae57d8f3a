/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* URL templates: "{name}" placeholders, replaced by percent-encoded values. "{{" and "}}" are
 * literal braces. An unknown placeholder is an error found when the config is loaded. */

typedef struct TemplateVars {
        const char *unit;     /* the unit the check is for: backup.timer */
        const char *hostname;
} TemplateVars;

/* Checks that every placeholder is known; on error *reason explains and returns -EINVAL. */
int template_validate(const char *tmpl, const char **reason, char **ret_bad_name);

/* Expands tmpl; values are percent-encoded (RFC 3986 unreserved characters stay). */
int template_expand(const char *tmpl, const TemplateVars *v, char **ret);

/* True if the string contains a placeholder. */
bool template_has_placeholders(const char *tmpl);

/* Percent-encodes everything but A-Z a-z 0-9 - . _ ~ */
char *percent_encode(const char *s);
