/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "template.h"

static const char *const known[] = {
        "unit",    "unit_prefix", "hostname", "url",        "url_origin",  "url_last", "rid",
        "rid_hex", "exit_code",   "result",   "duration_s", "duration_ms", "message",
};

/* "name" or "name:N": the name's length and the cap (0: none). -EINVAL if N is not a number. */
static int split_cap(const char *s, size_t n, size_t *ret_len, size_t *ret_cap) {
        const char *colon = memchr(s, ':', n);
        size_t cap = 0;

        *ret_len = colon ? (size_t) (colon - s) : n;
        if (colon) {
                if (colon + 1 == s + n)
                        return -EINVAL;
                for (const char *p = colon + 1; p < s + n; p++) {
                        if (*p < '0' || *p > '9' || cap > 100000)
                                return -EINVAL;
                        cap = cap * 10 + (size_t) (*p - '0');
                }
                if (cap == 0)
                        return -EINVAL;
        }
        *ret_cap = cap;
        return 0;
}

/* Cuts s to at most cap bytes, not inside a UTF-8 sequence. */
static void utf8_cut(char *s, size_t cap) {
        size_t l = strlen(s);

        if (cap == 0 || l <= cap)
                return;
        while (cap > 0 && ((unsigned char) s[cap] & 0xc0) == 0x80)
                cap--;
        s[cap] = 0;
}

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
        size_t len, cap;

        if (!placeholder)
                return 0;
        if (split_cap(s, n, &len, &cap) >= 0)
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        if (strlen(known[i]) == len && strncmp(known[i], s, len) == 0)
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
                *reason = "unknown placeholder; known: " TEMPLATE_PLACEHOLDERS;
                if (ret_bad_name)
                        *ret_bad_name = st.bad;
                else
                        free(st.bad);
                return -EINVAL;
        }
        free(st.bad);
        return r;
}

/* A query parameter whose value is made only of placeholders that all expand to empty is left
 * out, separator and all: "{url}?rid={rid}" without a run is "{url}", never "{url}?rid=",
 * which monitors refuse (healthchecks: "400 invalid uuid format"). The parameter being built
 * starts at param_start; its "region" is the value after '=' (the whole parameter without one). */
typedef struct ExpandState {
        const TemplateVars *v;
        char *buf;
        size_t len, size;
        bool in_query;      /* after a '?' and before a '#' */
        bool param;         /* a parameter of the template's own is being built */
        size_t param_start; /* where its separator is in buf */
        bool eq;            /* its '=' was seen */
        bool literal;       /* its region holds literal text */
        bool placeholder;   /* its region holds a placeholder */
        bool filled;        /* one of those placeholders expanded to something */
        bool want_qmark;    /* a dropped parameter took the '?' with it: the next one brings it back */
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

static char *url_part(const char *url, bool origin) {
        const char *sep, *end;

        if (!url)
                return strdup("");
        sep = strstr(url, "://");
        if (origin) {
                if (!sep)
                        return strdup("");
                end = sep + 3 + strcspn(sep + 3, "/?#");
                return strndup(url, (size_t) (end - url));
        }
        end = url + strcspn(url, "?#");
        while (end > url && end[-1] == '/')
                end--;
        for (const char *p = end; p > url; p--)
                if (p[-1] == '/')
                        return strndup(p, (size_t) (end - p));
        return strdup("");
}

/* Ends the parameter being built: drops it if its value is only placeholders that were empty. */
static void param_end(ExpandState *st) {
        if (st->param && st->placeholder && !st->literal && !st->filled) {
                bool qmark = st->buf[st->param_start] == '?';

                st->len = st->param_start;
                st->buf[st->len] = 0;
                if (qmark && !strchr(st->buf, '?'))
                        st->want_qmark = true;
        }
        st->param = false;
}

static int expand_literal(ExpandState *st, const char *s, size_t n) {
        int r;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '?' || (c == '&' && st->in_query)) {
                        param_end(st);
                        if (st->want_qmark)
                                c = '?';
                        st->want_qmark = false;
                        st->in_query = st->param = true;
                        st->param_start = st->len;
                        st->eq = st->literal = st->placeholder = st->filled = false;
                } else if (c == '#') {
                        param_end(st);
                        st->in_query = st->want_qmark = false;
                } else if (c == '=' && st->param && !st->eq) {
                        st->eq = true;
                        st->literal = st->placeholder = st->filled = false;
                } else
                        st->literal = true;
                r = append(st, &c, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A value in the query: the parameter being built is not droppable if it has one. A raw value
 * ({url}) brings its own query, which is the user's and never dropped. */
static int expand_value(ExpandState *st, const char *value, bool raw) {
        st->placeholder = true;
        st->filled = st->filled || *value;
        if (raw && strpbrk(value, "?&#=")) {
                param_end(st);
                st->param = false;
                if (strchr(value, '?'))
                        st->in_query = true;
                if (strchr(value, '#'))
                        st->in_query = false;
        }
        return append(st, value, strlen(value));
}

static int expand_emit(void *userdata, const char *s, size_t n, bool placeholder) {
        ExpandState *st = userdata;
        const TemplateVars *v = st->v;
        _cleanup_free_ char *value = NULL, *enc = NULL;
        size_t len, cap;
        bool raw = false;

        if (!placeholder)
                return expand_literal(st, s, n);
        if (split_cap(s, n, &len, &cap) < 0)
                return -EINVAL;

#define IS(name) (strlen(name) == len && strncmp(name, s, len) == 0)
        if (IS("unit"))
                value = strdup(strempty(v->unit));
        else if (IS("unit_prefix")) {
                const char *u = strempty(v->unit), *dot = strrchr(u, '.');
                value = dot ? strndup(u, (size_t) (dot - u)) : strdup(u);
        } else if (IS("hostname"))
                value = strdup(strempty(v->hostname));
        else if (IS("url")) {
                value = strdup(strempty(v->url));
                raw = true;
        } else if (IS("url_origin")) {
                value = url_part(v->url, true);
                raw = true;
        } else if (IS("url_last"))
                value = url_part(v->url, false);
        else if (IS("rid")) {
                const char *r = strempty(v->rid);
                if (strlen(r) == 32)
                        (void) asprintf(&value, "%.8s-%.4s-%.4s-%.4s-%.12s", r, r + 8, r + 12, r + 16, r + 20);
                else
                        value = strdup(r);
        } else if (IS("rid_hex"))
                value = strdup(strempty(v->rid));
        else if (IS("exit_code"))
                (void) asprintf(&value, "%d", v->exit_code);
        else if (IS("result"))
                value = strdup(strempty(v->result));
        else if (IS("duration_s"))
                (void) asprintf(&value, "%.3f", (double) v->duration / (double) USEC_PER_SEC);
        else if (IS("duration_ms"))
                (void) asprintf(&value, "%llu", (unsigned long long) (v->duration / USEC_PER_MSEC));
        else if (IS("message"))
                value = strdup(strempty(v->message));
        else
                return -EINVAL;
#undef IS
        if (!value)
                return -ENOMEM;
        utf8_cut(value, cap);
        if (raw)
                return expand_value(st, value, true);
        enc = percent_encode(value);
        if (!enc)
                return -ENOMEM;
        return expand_value(st, enc, false);
}

int template_expand(const char *tmpl, const TemplateVars *v, char **ret) {
        ExpandState st = { .v = v };
        const char *reason;
        int r;

        assert(tmpl && v && ret);
        r = append(&st, "", 0);
        if (r >= 0)
                r = template_walk(tmpl, expand_emit, &st, &reason);
        if (r >= 0)
                param_end(&st);
        if (r < 0) {
                free(st.buf);
                return r;
        }
        *ret = st.buf;
        return 0;
}
