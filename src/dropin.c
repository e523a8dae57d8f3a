/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dropin.h"

#define ANNOTATION_SECTION "X-Timerbeat"

static size_t line_length(const char *s, size_t left) {
        const char *nl = memchr(s, '\n', left);

        return nl ? (size_t) (nl - s) : left;
}

/* Blanks off both ends of s[0..*len) (a line ending "\r" included). */
static const char *strip(const char *s, size_t *len) {
        while (*len > 0 && (*s == ' ' || *s == '\t'))
                s++, (*len)--;
        while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
                (*len)--;
        return s;
}

bool dropin_is_annotation_header(const char *line, size_t len) {
        const char *close;

        while (len > 0 && (*line == ' ' || *line == '\t'))
                line++, len--;
        if (len == 0 || *line != '[')
                return false;
        close = memchr(line, ']', len);
        return close && (size_t) (close - line - 1) == strlen(ANNOTATION_SECTION) &&
               strncasecmp(line + 1, ANNOTATION_SECTION, strlen(ANNOTATION_SECTION)) == 0;
}

bool dropin_has_annotation(const char *text, size_t size) {
        for (size_t pos = 0; pos < size;) {
                size_t len = line_length(text + pos, size - pos);

                if (dropin_is_annotation_header(text + pos, len))
                        return true;
                pos += len + 1;
        }
        return false;
}

int dropin_timer_units(const char *text, size_t size, Strv *units) {
        bool in_timer = false;

        for (size_t pos = 0; pos < size;) {
                size_t len = line_length(text + pos, size - pos);
                const char *s = strip(text + pos, &len), *value;
                _cleanup_free_ char *v = NULL;
                int r;

                pos += line_length(text + pos, size - pos) + 1;
                if (len > 0 && *s == '[') {
                        in_timer = len == strlen("[Timer]") && memcmp(s, "[Timer]", len) == 0;
                        continue;
                }
                if (!in_timer || len < strlen("Unit") || memcmp(s, "Unit", strlen("Unit")) != 0)
                        continue;
                value = s + strlen("Unit");
                len -= strlen("Unit");
                value = strip(value, &len);
                if (len == 0 || *value != '=')
                        continue;
                value++, len--;
                value = strip(value, &len);
                v = strndup(value, len);
                if (!v)
                        return -ENOMEM;
                r = strv_push(units, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

int dropin_service_of(const char *template, const char *unit, char **ret) {
        const char *at = strchr(template, '@'), *suffix = unit_suffix(template), *spec;
        char *s;

        if (!at || !suffix || suffix != at + 1)
                return -EINVAL;
        if (isempty(unit)) {
                if (asprintf(&s, "%.*s.service", (int) (suffix - template), template) < 0)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        spec = strchr(unit, '%');
        if (!spec) {
                s = strdup(unit);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        /* X@%i.service or X@%I.service: the instance's, whichever it is. */
        if (spec == unit || spec[-1] != '@' || (spec[1] != 'i' && spec[1] != 'I') || spec[2] != '.' ||
            strchr(spec + 2, '%'))
                return -EINVAL;
        if (asprintf(&s, "%.*s%s", (int) (spec - unit), unit, spec + 2) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* systemd's next, shorter dash prefix of a unit name's prefix (src/shared/dropin.c,
 * unit_file_find_dirs): "a-b-c" → "a-b-" → "a-"; false when there is none. */
static bool prefix_next(char *p) {
        bool chopped = false;

        for (;;) {
                char *dash = strrchr(p, '-');
                size_t n;

                if (!dash || dash == p)
                        return false;
                n = (size_t) (dash - p);
                if (p[n + 1] != 0 || chopped) {
                        p[n + 1] = 0;
                        return true;
                }
                p[n] = 0; /* a trailing dash: chopped off once */
                chopped = true;
        }
}

/* Whether stem[0..len) is prefix or one of its dash prefixes. */
static bool in_chain(const char *prefix, size_t prefix_len, const char *stem, size_t len) {
        char p[256];

        if (prefix_len >= sizeof(p))
                return false;
        memcpy(p, prefix, prefix_len);
        p[prefix_len] = 0;
        do
                if (strlen(p) == len && memcmp(p, stem, len) == 0)
                        return true;
        while (prefix_next(p));
        return false;
}

static bool dir_applies(const char *unit, size_t unit_len, const char *stem, size_t len) {
        const char *at = memchr(unit, '@', unit_len), *sat = memchr(stem, '@', len);

        if (!at) /* a-b-c.service: a-b-c.service.d, a-b-.service.d, a-.service.d */
                return !sat && in_chain(unit, unit_len, stem, len);
        if (!sat)
                /* Not systemd's for an instance; taken for safety: a-.timer.d for a-b@.timer. */
                return len > 0 && stem[len - 1] == '-' && in_chain(unit, (size_t) (at - unit), stem, len);
        if (!in_chain(unit, (size_t) (at - unit), stem, (size_t) (sat - stem)))
                return false;
        /* a template (any instance), or this instance, or the template's own */
        return at + 1 == unit + unit_len || sat + 1 == stem + len ||
               (unit + unit_len - at == stem + len - sat && memcmp(at, sat, (size_t) (unit + unit_len - at)) == 0);
}

bool dropin_entry_applies(const char *unit, const char *entry) {
        const char *suffix = unit_suffix(unit), *at = strchr(unit, '@');
        size_t unit_len, elen = strlen(entry), slen, stem, plen;

        if (!suffix || suffix == unit)
                return false;
        unit_len = (size_t) (suffix - unit);
        slen = strlen(suffix);
        /* timer.d: for every unit of the type */
        if (elen == slen + 1 && memcmp(entry, suffix + 1, slen - 1) == 0 && streq(entry + slen - 1, ".d"))
                return true;
        if (elen > slen + 2 && streq(entry + elen - 2, ".d") && memcmp(entry + elen - 2 - slen, suffix, slen) == 0)
                return dir_applies(unit, unit_len, entry, elen - 2 - slen);
        if (elen <= slen || !streq(entry + elen - slen, suffix))
                return false;
        /* A unit file: the unit's own, or for an instance the template's too (systemd reads
         * foo@x.timer if there is one, else foo@.timer), or for a template any instance's. */
        stem = elen - slen;
        if (!at)
                return stem == unit_len && memcmp(entry, unit, unit_len) == 0;
        plen = (size_t) (at - unit) + 1;
        if (stem < plen || memcmp(entry, unit, plen) != 0)
                return false;
        return at + 1 == suffix || stem == plen || (stem == unit_len && memcmp(entry, unit, unit_len) == 0);
}
