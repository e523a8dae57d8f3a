/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "template.h"

static const char *const known[] = { "unit", "unit_prefix", "hostname" };

char *percent_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *ret, *t;

        ret = malloc(strlen(s) * 3 + 1);
        if (!ret)
                return NULL;
        for (t = ret; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~')
                        *t++ = (char) c;
                else {
                        *t++ = '%';
                        *t++ = hex[c >> 4];
                        *t++ = hex[c & 15];
                }
        }
        *t = 0;
        return ret;
}

bool template_has_placeholders(const char *tmpl) {
        return tmpl && strchr(tmpl, '{');
}

/* Walks tmpl, calling emit for literal runs and placeholders. */
typedef int (*emit_t)(void *userdata, const char *s, size_t n, bool placeholder);

static int template_walk(const char *tmpl, emit_t emit, void *userdata, const char **reason) {
        const char *p = tmpl;
        int r;

        while (*p) {
                const char *open = strpbrk(p, "{}");

                if (!open)
                        return emit(userdata, p, strlen(p), false);
                if (open > p) {
                        r = emit(userdata, p, (size_t) (open - p), false);
                        if (r < 0)
                                return r;
                }
                if (open[0] == open[1]) { /* "{{" or "}}" */
                        r = emit(userdata, open, 1, false);
                        if (r < 0)
                                return r;
                        p = open + 2;
                        continue;
                }
                if (*open == '}') {
                        *reason = "a '}' without '{'; write '}}' for a literal brace";
                        return -EINVAL;
                }
                const char *close = strchr(open + 1, '}');
                if (!close) {
                        *reason = "a '{' without '}'; write '{{' for a literal brace";
                        return -EINVAL;
                }
                r = emit(userdata, open + 1, (size_t) (close - open - 1), true);
                if (r < 0)
                        return r;
                p = close + 1;
        }
        return 0;
}

typedef struct ValidateState {
        char *bad;
} ValidateState;

static int validate_emit(void *userdata, const char *s, size_t n, bool placeholder) {
        ValidateState *st = userdata;

        if (!placeholder)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (strlen(known[i]) == n && strncmp(known[i], s, n) == 0)
                        return 0;
        st->bad = strndup(s, n);
        return -ENOENT;
}

int template_validate(const char *tmpl, const char **reason, char **ret_bad_name) {
        ValidateState st = {};
        int r;

        *reason = NULL;
        r = template_walk(tmpl, validate_emit, &st, reason);
        if (r == -ENOENT) {
                *reason = "unknown placeholder; known: {unit}, {unit_prefix}, {hostname}";
                if (ret_bad_name)
                        *ret_bad_name = st.bad;
                else
                        free(st.bad);
                return -EINVAL;
        }
        free(st.bad);
        return r;
}

typedef struct ExpandState {
        const TemplateVars *v;
        char *buf;
        size_t len, size;
} ExpandState;

static int append(ExpandState *st, const char *s, size_t n) {
        if (st->len + n + 1 > st->size) {
                size_t ns = MAX(st->size * 2, st->len + n + 64);
                char *nb = realloc(st->buf, ns);

                if (!nb)
                        return -ENOMEM;
                st->buf = nb;
                st->size = ns;
        }
        memcpy(st->buf + st->len, s, n);
        st->len += n;
        st->buf[st->len] = 0;
        return 0;
}

static int expand_emit(void *userdata, const char *s, size_t n, bool placeholder) {
        ExpandState *st = userdata;
        _cleanup_free_ char *value = NULL, *enc = NULL;

        if (!placeholder)
                return append(st, s, n);

#define IS(name) (strlen(name) == n && strncmp(name, s, n) == 0)
        if (IS("unit"))
                value = strdup(strempty(st->v->unit));
        else if (IS("unit_prefix")) {
                const char *u = strempty(st->v->unit), *dot = strrchr(u, '.');
                value = dot ? strndup(u, (size_t) (dot - u)) : strdup(u);
        } else if (IS("hostname"))
                value = strdup(strempty(st->v->hostname));
        else
                return -EINVAL;
#undef IS
        if (!value)
                return -ENOMEM;
        enc = percent_encode(value);
        if (!enc)
                return -ENOMEM;
        return append(st, enc, strlen(enc));
}

int template_expand(const char *tmpl, const TemplateVars *v, char **ret) {
        ExpandState st = { .v = v };
        const char *reason;
        int r;

        r = append(&st, "", 0);
        if (r >= 0)
                r = template_walk(tmpl, expand_emit, &st, &reason);
        if (r < 0) {
                free(st.buf);
                return r;
        }
        *ret = st.buf;
        return 0;
}
