/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "json.h"

typedef struct JsonParser {
        const char *s, *end;
        unsigned depth;
} JsonParser;

static void json_done(JsonValue *v) {
        free(v->string);
        for (size_t i = 0; i < v->n; i++) {
                if (v->keys)
                        free(v->keys[i]);
                json_done(&v->items[i]);
        }
        free(v->keys);
        free(v->items);
        *v = (JsonValue) {};
}

JsonValue *json_free(JsonValue *v) {
        if (v) {
                json_done(v);
                free(v);
        }
        return NULL;
}

static void skip_ws(JsonParser *p) {
        while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
                p->s++;
}

static bool literal(JsonParser *p, const char *word) {
        size_t l = strlen(word);

        if ((size_t) (p->end - p->s) < l || strncmp(p->s, word, l) != 0)
                return false;
        p->s += l;
        return true;
}

static int hex4(JsonParser *p, unsigned *ret) {
        unsigned v = 0;

        if (p->end - p->s < 4)
                return -EBADMSG;
        for (int i = 0; i < 4; i++) {
                char c = *p->s++;

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return -EBADMSG;
        }
        *ret = v;
        return 0;
}

static size_t utf8_put(char *out, unsigned cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* \uXXXX, with a surrogate pair made one code point; a lone surrogate or NUL is refused. */
static int unicode_escape(JsonParser *p, unsigned *ret) {
        unsigned cp, lo;

        if (hex4(p, &cp) < 0)
                return -EBADMSG;
        if (cp >= 0xdc00 && cp <= 0xdfff)
                return -EBADMSG;
        if (cp >= 0xd800 && cp <= 0xdbff) {
                if (!literal(p, "\\u") || hex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return -EBADMSG;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0)
                return -EBADMSG;
        *ret = cp;
        return 0;
}

/* The string at p->s (after its opening quote). Escapes never make it longer than its source. */
static int parse_string(JsonParser *p, char **ret) {
        const char *start = p->s;
        _cleanup_free_ char *out = NULL;
        size_t n = 0;

        while (start < p->end && *start != '"')
                start += *start == '\\' && start + 1 < p->end ? 2 : 1;
        out = malloc((size_t) (start - p->s) + 1);
        if (!out)
                return -ENOMEM;
        while (p->s < p->end && *p->s != '"') {
                unsigned char c = (unsigned char) *p->s++;
                unsigned cp;

                if (c < 0x20)
                        return -EBADMSG;
                if (c != '\\') {
                        out[n++] = (char) c;
                        continue;
                }
                if (p->s >= p->end)
                        return -EBADMSG;
                c = (unsigned char) *p->s++;
                switch (c) {
                case '"':
                case '\\':
                case '/':
                        out[n++] = (char) c;
                        break;
                case 'b':
                        out[n++] = '\b';
                        break;
                case 'f':
                        out[n++] = '\f';
                        break;
                case 'n':
                        out[n++] = '\n';
                        break;
                case 'r':
                        out[n++] = '\r';
                        break;
                case 't':
                        out[n++] = '\t';
                        break;
                case 'u':
                        if (unicode_escape(p, &cp) < 0)
                                return -EBADMSG;
                        n += utf8_put(out + n, cp);
                        break;
                default:
                        return -EBADMSG;
                }
        }
        if (p->s >= p->end)
                return -EBADMSG;
        p->s++; /* the closing quote */
        out[n] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_number(JsonParser *p, JsonValue *v) {
        char buf[64], *e;
        size_t l = 0;

        while (p->s + l < p->end && l < sizeof(buf) - 1 && strchr("+-0123456789.eE", p->s[l]))
                l++;
        if (l == 0 || l == sizeof(buf) - 1)
                return -EBADMSG;
        memcpy(buf, p->s, l);
        buf[l] = 0;
        v->number = strtod(buf, &e);
        if (*e || !isfinite(v->number))
                return -EBADMSG;
        v->type = JSON_NUMBER;
        p->s += l;
        return 0;
}

static int parse_value(JsonParser *p, JsonValue *v);

static int add_item(JsonValue *v, char *key) {
        JsonValue *items = realloc(v->items, sizeof(JsonValue) * (v->n + 1));

        if (!items) {
                free(key);
                return -ENOMEM;
        }
        v->items = items;
        items[v->n] = (JsonValue) {};
        if (v->type == JSON_OBJECT) {
                char **keys = realloc(v->keys, sizeof(char *) * (v->n + 1));

                if (!keys) {
                        free(key);
                        return -ENOMEM;
                }
                v->keys = keys;
                keys[v->n] = key;
        }
        v->n++;
        return 0;
}

/* An array or object, after its opening bracket. */
static int parse_container(JsonParser *p, JsonValue *v, char close) {
        int r;

        skip_ws(p);
        if (p->s < p->end && *p->s == close) {
                p->s++;
                return 0;
        }
        for (;;) {
                char *key = NULL;

                skip_ws(p);
                if (close == '}') {
                        if (p->s >= p->end || *p->s != '"')
                                return -EBADMSG;
                        p->s++;
                        r = parse_string(p, &key);
                        if (r < 0)
                                return r;
                        skip_ws(p);
                        if (p->s >= p->end || *p->s != ':') {
                                free(key);
                                return -EBADMSG;
                        }
                        p->s++;
                }
                r = add_item(v, key);
                if (r < 0)
                        return r;
                r = parse_value(p, &v->items[v->n - 1]);
                if (r < 0)
                        return r;
                skip_ws(p);
                if (p->s < p->end && *p->s == ',') {
                        p->s++;
                        continue;
                }
                if (p->s < p->end && *p->s == close) {
                        p->s++;
                        return 0;
                }
                return -EBADMSG;
        }
}

static int parse_value(JsonParser *p, JsonValue *v) {
        int r;

        skip_ws(p);
        if (p->s >= p->end)
                return -EBADMSG;
        switch (*p->s) {
        case '{':
        case '[':
                if (++p->depth > JSON_DEPTH_MAX)
                        return -EBADMSG;
                v->type = *p->s == '{' ? JSON_OBJECT : JSON_ARRAY;
                p->s++;
                r = parse_container(p, v, v->type == JSON_OBJECT ? '}' : ']');
                p->depth--;
                return r;
        case '"':
                p->s++;
                v->type = JSON_STRING;
                return parse_string(p, &v->string);
        default:
                if (literal(p, "true") || literal(p, "false")) {
                        v->type = JSON_BOOL;
                        v->boolean = p->s[-1] == 'e' && p->s[-2] == 'u';
                        return 0;
                }
                if (literal(p, "null")) {
                        v->type = JSON_NULL;
                        return 0;
                }
                return parse_number(p, v);
        }
}

int json_parse(const char *text, size_t size, JsonValue **ret) {
        _cleanup_(json_freep) JsonValue *v = NULL;
        JsonParser p;
        int r;

        assert(text && ret);
        p = (JsonParser) { .s = text, .end = text + size };
        v = calloc(1, sizeof(JsonValue));
        if (!v)
                return -ENOMEM;
        r = parse_value(&p, v);
        if (r < 0)
                return r;
        skip_ws(&p);
        if (p.s != p.end)
                return -EBADMSG;
        *ret = TAKE_PTR(v);
        return 0;
}

const JsonValue *json_get(const JsonValue *o, const char *key) {
        const JsonValue *found = NULL;

        if (!o || o->type != JSON_OBJECT)
                return NULL;
        for (size_t i = 0; i < o->n; i++)
                if (streq(o->keys[i], key))
                        found = &o->items[i];
        return found;
}

const char *json_get_string(const JsonValue *o, const char *key) {
        const JsonValue *v = json_get(o, key);

        return v && v->type == JSON_STRING ? v->string : NULL;
}

uint64_t json_get_uint(const JsonValue *o, const char *key, uint64_t def) {
        const JsonValue *v = json_get(o, key);

        if (!v || v->type != JSON_NUMBER || v->number < 0 || v->number > 1e15)
                return def;
        return (uint64_t) v->number;
}

int json_append_string(char **buf, const char *s) {
        size_t old = *buf ? strlen(*buf) : 0, n = old;
        char *b = realloc(*buf, old + strlen(s) * 6 + 3);

        if (!b)
                return -ENOMEM;
        *buf = b;
        b[n++] = '"';
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if (*c == '"' || *c == '\\') {
                        b[n++] = '\\';
                        b[n++] = (char) *c;
                } else if (*c == '\n') {
                        b[n++] = '\\';
                        b[n++] = 'n';
                } else if (*c < 0x20 || *c == 0x7f)
                        n += (size_t) sprintf(b + n, "\\u%04x", *c);
                else
                        b[n++] = (char) *c;
        }
        b[n++] = '"';
        b[n] = 0;
        return 0;
}
