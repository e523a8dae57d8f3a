/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The string map: tables of operations, growth, removal, full-hash collisions, iteration. */
#include <stdio.h>

#include "hashmap.h"
#include "tests.h"

/* One operation and what it must return. */
typedef enum Op { PUT, REPLACE, GET, REMOVE, SIZE } Op;
typedef struct Step {
        Op op;
        const char *key;
        intptr_t value; /* PUT: what to store; GET, REMOVE: what must come back (0: NULL) */
        int ret;        /* PUT: its return; SIZE: the size */
} Step;

static void run_steps(HashmapKeys keys, const Step *steps, size_t n) {
        _cleanup_(hashmap_freep) Hashmap *m = NULL;

        ASSERT_EQ(hashmap_new(&m, keys), 0);
        for (size_t i = 0; i < n; i++) {
                const Step *s = &steps[i];

                switch (s->op) {
                case PUT:
                        ASSERT_EQ(hashmap_put(m, s->key, (void *) s->value), s->ret);
                        break;
                case REPLACE:
                        ASSERT_EQ(hashmap_replace(m, s->key, (void *) s->value), s->ret);
                        break;
                case GET:
                        ASSERT_EQ((intptr_t) hashmap_get(m, s->key), s->value);
                        break;
                case REMOVE:
                        ASSERT_EQ((intptr_t) hashmap_remove(m, s->key), s->value);
                        break;
                case SIZE:
                        ASSERT_EQ(hashmap_size(m), s->ret);
                        break;
                }
        }
}

static void test_table(void) {
        static const Step steps[] = {
                { SIZE, NULL, 0, 0 },
                { GET, "backup.timer", 0, 0 },
                { REMOVE, "backup.timer", 0, 0 },
                { PUT, "backup.timer", 1, 0 },
                { PUT, "backup.timer", 2, -EEXIST }, /* refused, the first value stays */
                { GET, "backup.timer", 1, 0 },
                { PUT, "backup.service", 3, 0 },
                { PUT, "", 4, 0 }, /* the empty string is a key like any other */
                { GET, "", 4, 0 },
                { GET, "backup", 0, 0 },
                { GET, "Backup.timer", 0, 0 }, /* case matters */
                { SIZE, NULL, 0, 3 },
                { REMOVE, "backup.timer", 1, 0 },
                { GET, "backup.timer", 0, 0 },
                { GET, "backup.service", 3, 0 },
                { REMOVE, "backup.timer", 0, 0 },
                { PUT, "backup.timer", 5, 0 }, /* back after removal */
                { GET, "backup.timer", 5, 0 },
                { SIZE, NULL, 0, 3 },
                { REPLACE, "backup.timer", 9, 0 }, /* replaces */
                { GET, "backup.timer", 9, 0 },
                { REPLACE, "new.timer", 10, 0 }, /* adds */
                { GET, "new.timer", 10, 0 },
                { SIZE, NULL, 0, 4 },
                { REMOVE, "new.timer", 10, 0 },
                /* FNV-1a collisions: same full hash, different keys. */
                { PUT, "costarring", 6, 0 },
                { PUT, "liquid", 7, 0 },
                { GET, "costarring", 6, 0 },
                { GET, "liquid", 7, 0 },
                { REMOVE, "costarring", 6, 0 },
                { GET, "liquid", 7, 0 },
                { GET, "costarring", 0, 0 },
                { PUT, "costarring", 8, 0 },
                { REMOVE, "liquid", 7, 0 },
                { GET, "costarring", 8, 0 },
        };

        run_steps(HASHMAP_KEYS_COPY, steps, ELEMENTSOF(steps));
        run_steps(HASHMAP_KEYS_BORROW, steps, ELEMENTSOF(steps));
}

static void test_collisions_are_real(void) {
        static const char *pairs[][2] = {
                { "costarring", "liquid" },
                { "declinate", "macallums" },
                { "altarage", "zinke" },
        };

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                _cleanup_(hashmap_freep) Hashmap *m = NULL;

                ASSERT_EQ(hashmap_string_hash(pairs[i][0]), hashmap_string_hash(pairs[i][1]));
                ASSERT_EQ(hashmap_new(&m, HASHMAP_KEYS_COPY), 0);
                ASSERT_EQ(hashmap_put(m, pairs[i][0], (void *) 1), 0);
                ASSERT_EQ(hashmap_put(m, pairs[i][1], (void *) 2), 0);
                ASSERT_EQ((intptr_t) hashmap_get(m, pairs[i][0]), 1);
                ASSERT_EQ((intptr_t) hashmap_get(m, pairs[i][1]), 2);
        }
}

/* Many keys: the map grows through several doublings and keeps every entry; then half go. */
static void test_growth_and_removal(void) {
        static const size_t sizes[] = { 1, 16, 17, 100, 5000 };

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_(hashmap_freep) Hashmap *m = NULL;
                size_t n = sizes[s];
                char key[32];

                ASSERT_EQ(hashmap_new(&m, HASHMAP_KEYS_COPY), 0);
                for (size_t i = 0; i < n; i++) {
                        snprintf(key, sizeof(key), "unit-%zu.timer", i);
                        ASSERT_EQ(hashmap_put(m, key, (void *) (i + 1)), 0);
                }
                ASSERT_EQ(hashmap_size(m), n);
                for (size_t i = 0; i < n; i++) {
                        snprintf(key, sizeof(key), "unit-%zu.timer", i);
                        ASSERT_EQ((intptr_t) hashmap_get(m, key), i + 1);
                }
                for (size_t i = 0; i < n; i += 2) {
                        snprintf(key, sizeof(key), "unit-%zu.timer", i);
                        ASSERT_EQ((intptr_t) hashmap_remove(m, key), i + 1);
                }
                ASSERT_EQ(hashmap_size(m), n / 2);
                for (size_t i = 0; i < n; i++) {
                        snprintf(key, sizeof(key), "unit-%zu.timer", i);
                        ASSERT_EQ((intptr_t) hashmap_get(m, key), i % 2 ? (intptr_t) i + 1 : 0);
                }
        }
}

/* Borrowed keys are the caller's pointers; copied keys are not. */
static void test_key_ownership(void) {
        _cleanup_(hashmap_freep) Hashmap *copy = NULL, *borrow = NULL;
        char key[] = "backup.timer";
        const char *k;
        HashmapIter i = HASHMAP_ITER_INIT;

        ASSERT_EQ(hashmap_new(&copy, HASHMAP_KEYS_COPY), 0);
        ASSERT_EQ(hashmap_new(&borrow, HASHMAP_KEYS_BORROW), 0);
        ASSERT_EQ(hashmap_put(copy, key, key), 0);
        ASSERT_EQ(hashmap_put(borrow, key, key), 0);
        ASSERT(hashmap_iterate(borrow, &i, &k, NULL));
        ASSERT(k == key);
        i = HASHMAP_ITER_INIT;
        ASSERT(hashmap_iterate(copy, &i, &k, NULL));
        ASSERT(k != key);
        key[0] = 'B'; /* the copy does not see the change */
        ASSERT(hashmap_get(copy, "backup.timer") == key);
        ASSERT(hashmap_get(borrow, "backup.timer") == NULL);
}

/* A borrowed key handed to another owner (watch.c: the next watcher of a service): the entry
 * keeps working after the first owner's string is gone. */
static void test_rekey(void) {
        _cleanup_(hashmap_freep) Hashmap *m = NULL;
        char *first = strdup("backup.service"), *second = strdup("backup.service");
        const char *k;
        HashmapIter i = HASHMAP_ITER_INIT;

        ASSERT(first && second);
        ASSERT_EQ(hashmap_new(&m, HASHMAP_KEYS_BORROW), 0);
        ASSERT_EQ(hashmap_put(m, first, first), 0);
        ASSERT_EQ(hashmap_replace(m, first, second), 0);
        hashmap_rekey(m, second);
        hashmap_rekey(m, "absent.service"); /* nothing to do */
        free(first);
        ASSERT(hashmap_get(m, "backup.service") == second);
        ASSERT(hashmap_iterate(m, &i, &k, NULL));
        ASSERT(k == second);
        ASSERT_EQ(hashmap_size(m), 1);
        ASSERT(hashmap_remove(m, "backup.service") == second);
        free(second);
}

/* Iteration visits every entry once, also while removing the entry it just returned. */
static void test_iterate(void) {
        static const size_t sizes[] = { 0, 1, 15, 16, 17, 300 };

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_(hashmap_freep) Hashmap *m = NULL;
                size_t n = sizes[s], seen = 0, sum = 0;
                HashmapIter i = HASHMAP_ITER_INIT;
                const char *k;
                void *v;
                char key[32];

                ASSERT_EQ(hashmap_new(&m, HASHMAP_KEYS_COPY), 0);
                for (size_t j = 0; j < n; j++) {
                        snprintf(key, sizeof(key), "%zu", j);
                        ASSERT_EQ(hashmap_put(m, key, (void *) (j + 1)), 0);
                }
                while (hashmap_iterate(m, &i, &k, &v)) {
                        seen++;
                        sum += (size_t) v;
                        if ((size_t) v % 3 == 0) {
                                snprintf(key, sizeof(key), "%s", k);
                                ASSERT(hashmap_remove(m, key) == v);
                        }
                }
                ASSERT(!hashmap_iterate(m, &i, &k, &v)); /* stays at the end */
                ASSERT_EQ(seen, n);
                ASSERT_EQ(sum, n * (n + 1) / 2);
                ASSERT_EQ(hashmap_size(m), n - n / 3);
        }
        /* No map, no entries. */
        HashmapIter i = HASHMAP_ITER_INIT;
        ASSERT(!hashmap_iterate(NULL, &i, NULL, NULL));
}

int main(void) {
        test_table();
        test_collisions_are_real();
        test_growth_and_removal();
        test_key_ownership();
        test_rekey();
        test_iterate();
        return 0;
}
