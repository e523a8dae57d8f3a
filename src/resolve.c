/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "hashmap.h"
#include "resolve.h"

/* An annotated unit: its check, or NULL when its annotation was invalid (then the unit is
 * ignored rather than falling back to a pattern). */
typedef struct Annotation {
        char *unit;
        Check *check;
} Annotation;

struct Resolver {
        Hashmap *annotations; /* unit → Annotation, keyed by its own unit */
};

int resolver_new(Resolver **ret) {
        Resolver *r = calloc(1, sizeof(Resolver));

        assert(ret);
        if (!r || hashmap_new(&r->annotations, HASHMAP_KEYS_BORROW) < 0) {
                free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

static void annotation_free(Annotation *a) {
        free(a->unit);
        check_free(a->check);
        free(a);
}

void resolver_reset(Resolver *r) {
        HashmapIter i = HASHMAP_ITER_INIT;
        void *a;

        while (r && hashmap_iterate(r->annotations, &i, NULL, &a)) {
                hashmap_remove(r->annotations, ((Annotation *) a)->unit);
                annotation_free(a);
        }
}

Resolver *resolver_free(Resolver *r) {
        if (!r)
                return NULL;
        resolver_reset(r);
        hashmap_free(r->annotations);
        free(r);
        return NULL;
}

static Annotation *resolver_find(const Resolver *r, const char *unit) {
        return hashmap_get(r->annotations, unit);
}

static void resolver_forget(Resolver *r, const char *unit) {
        Annotation *a = hashmap_remove(r->annotations, unit);

        if (a)
                annotation_free(a);
}

const Check *resolver_lookup(const Resolver *r, const Config *c, const char *unit) {
        const Check *exact = config_find_check(c, unit);
        const Annotation *a;

        assert(r && c && unit);
        if (exact && !exact->pattern)
                return exact;
        a = resolver_find(r, unit);
        if (a)
                return a->check;
        return config_match(c, unit);
}

static int read_annotation(const Config *c, const char *unit, const Strv *files, Check **ret, Strv *errors) {
        if (!files || files->n == 0) {
                *ret = NULL;
                return 0;
        }
        return config_parse_annotation(c, unit, files->items, files->n, ret, errors);
}

int resolver_update(Resolver *r, const Config *c, const char *unit, const Strv *timer_files,
                    const Strv *service_files, const Check **ret, Strv *errors) {
        const Check *exact = config_find_check(c, unit);
        _cleanup_(check_freep) Check *k = NULL;
        Annotation *a;
        int q;

        assert(r && c && unit && ret);
        resolver_forget(r, unit);
        if ((exact && !exact->pattern) || !c->annotations) {
                *ret = resolver_lookup(r, c, unit); /* timerbeat.conf wins over annotations */
                return 0;
        }
        q = read_annotation(c, unit, timer_files, &k, errors);
        if (q >= 0 && !k)
                q = read_annotation(c, unit, service_files, &k, errors);
        if (q == -ENOMEM)
                return q;
        if (q < 0 || k) {
                /* -EINVAL: reported through errors; the unit is ignored until it is fixed. */
                a = calloc(1, sizeof(Annotation));
                if (!a || !(a->unit = strdup(unit))) {
                        free(a);
                        return -ENOMEM;
                }
                a->check = q < 0 ? NULL : TAKE_PTR(k);
                if (hashmap_put(r->annotations, a->unit, a) < 0) {
                        annotation_free(a);
                        return -ENOMEM;
                }
        }
        *ret = resolver_lookup(r, c, unit);
        return 0;
}

bool check_is_active(const Check *k) {
        return k && k->enabled && (k->url || k->templates[EVENT_SUCCESS]);
}

void check_where(const Check *k, const char **ret_file, unsigned *ret_line) {
        assert(k && ret_file && ret_line);
        *ret_file = k->url_file ?: strempty(k->file);
        *ret_line = k->url_file ? k->url_line : k->line;
}

char *check_signature(const Check *k) {
        const char *file;
        unsigned line;
        char *s;

        assert(k);
        check_where(k, &file, &line);
        if (asprintf(&s, "%s [%s] %s:%u %s %s|%s|%s|%s", check_origin_kind(k), k->name, file, line,
                     k->enabled ? "on" : "off", strempty(k->url), strempty(k->templates[EVENT_SUCCESS]),
                     strempty(k->templates[EVENT_FAILURE]), strempty(k->templates[EVENT_START])) < 0)
                return NULL;
        return s;
}

const char *check_origin_kind(const Check *k) {
        if (!k)
                return "none";
        if (k->origin == CHECK_FROM_ANNOTATION)
                return "annotation";
        return k->pattern ? "pattern" : "config";
}

int resolver_keeps(const Resolver *r, const Config *c, const char *check, bool final) {
        const Check *exact = config_find_check(c, check);

        if (exact && !exact->pattern)
                return check_is_active(exact);
        if (!final && c->annotations)
                return -1;
        return check_is_active(resolver_lookup(r, c, check));
}
