/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* A map from strings to pointers: separate chaining, doubling its bucket array when it holds
 * more than one entry per bucket on average, so lookups stay O(1) at any number of units.
 *
 * Keys: with HASHMAP_KEYS_COPY the map keeps its own copy of each key and frees it; with
 * HASHMAP_KEYS_BORROW it keeps the caller's pointer, which must stay valid and unchanged while
 * the entry exists (typically a name owned by the value itself).
 * Values: never owned. The map does not free them; hashmap_remove() hands the value back. */

typedef struct Hashmap Hashmap;

typedef enum HashmapKeys {
        HASHMAP_KEYS_COPY,
        HASHMAP_KEYS_BORROW,
} HashmapKeys;

/* Walks every entry once, in no particular order. Removing the entry just returned is allowed;
 * any other change to the map during the walk invalidates the iterator. */
typedef struct HashmapIter {
        size_t bucket;
        void *next; /* the entry to return next; internal */
        bool started;
} HashmapIter;
#define HASHMAP_ITER_INIT ((HashmapIter) {})

int hashmap_new(Hashmap **ret, HashmapKeys keys);
Hashmap *hashmap_free(Hashmap *m);
static inline void hashmap_freep(Hashmap **m) {
        hashmap_free(*m);
}

/* Adds key → value. -EEXIST when the key is there already (the map is unchanged), -ENOMEM. */
int hashmap_put(Hashmap *m, const char *key, void *value);
/* Sets key → value, adding the key when absent; replacing a value never allocates. */
int hashmap_replace(Hashmap *m, const char *key, void *value);
/* With HASHMAP_KEYS_BORROW: the entry of key borrows this pointer (an equal string) from now on,
 * e.g. when the value that owned the key before goes. Nothing happens when key is absent. */
void hashmap_rekey(Hashmap *m, const char *key);
/* The value for key, or NULL. */
void *hashmap_get(const Hashmap *m, const char *key);
/* Removes key and returns its value (NULL when absent). */
void *hashmap_remove(Hashmap *m, const char *key);
size_t hashmap_size(const Hashmap *m);
/* The next entry: true and its key and value (either may be NULL), or false at the end. */
bool hashmap_iterate(Hashmap *m, HashmapIter *i, const char **ret_key, void **ret_value);

/* The string hash the map uses (FNV-1a), for tests. */
unsigned hashmap_string_hash(const char *s);
