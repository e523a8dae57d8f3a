/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "resolve.h"

/* An annotated unit: its check, or NULL when its annotation was invalid (then the unit is
 * ignored rather than falling back to a pattern). */
typedef struct Annotation Annotation;
struct Annotation {
        char *unit;
        Check *check;
        Annotation *next;
};

struct Resolver {
        Annotation *annotations;
};

int resolver_new(Resolver **ret) {
        Resolver *r = calloc(1, sizeof(Resolver));

        assert(ret);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static void annotation_free(Annotation *a) {
        free(a->unit);
        check_free(a->check);
        free(a);
}

void resolver_reset(Resolver *r) {
        while (r && r->annotations) {
                Annotation *n = r->annotations->next;

                annotation_free(r->annotations);
                r->annotations = n;
        }
}

Resolver *resolver_free(Resolver *r) {
        resolver_reset(r);
        free(r);
        return NULL;
}

static Annotation *resolver_find(const Resolver *r, const char *unit) {
        for (Annotation *a = r->annotations; a; a = a->next)
                if (streq(a->unit, unit))
                        return a;
        return NULL;
}

static void resolver_forget(Resolver *r, const char *unit) {
        for (Annotation **pp = &r->annotations; *pp; pp = &(*pp)->next)
                if (streq((*pp)->unit, unit)) {
                        Annotation *a = *pp;

                        *pp = a->next;
                        annotation_free(a);
                        return;
                }
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
                a->next = r->annotations;
                r->annotations = a;
        }
        *ret = resolver_lookup(r, c, unit);
        return 0;
}

bool check_is_active(const Check *k) {
        return k && k->enabled && (k->url || k->templates[EVENT_SUCCESS]);
}

const char *check_origin_kind(const Check *k) {
        if (!k)
                return "none";
        if (k->origin == CHECK_FROM_ANNOTATION)
                return "annotation";
        return k->pattern ? "pattern" : "config";
}
