/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "hashmap.h"

#define HASHMAP_MIN_BUCKETS 16U

typedef struct Entry Entry;
struct Entry {
        Entry *next;
        char *key; /* owned with HASHMAP_KEYS_COPY */
        void *value;
        unsigned hash;
};

struct Hashmap {
        Entry **buckets;
        size_t n_buckets; /* a power of two */
        size_t n_entries;
        HashmapKeys keys;
};

unsigned hashmap_string_hash(const char *s) {
        unsigned h = 2166136261U;

        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 16777619U;
        }
        return h;
}

int hashmap_new(Hashmap **ret, HashmapKeys keys) {
        Hashmap *m;

        assert(ret);
        m = calloc(1, sizeof(Hashmap));
        if (!m)
                return -ENOMEM;
        m->buckets = calloc(HASHMAP_MIN_BUCKETS, sizeof(Entry *));
        if (!m->buckets) {
                free(m);
                return -ENOMEM;
        }
        m->n_buckets = HASHMAP_MIN_BUCKETS;
        m->keys = keys;
        *ret = m;
        return 0;
}

static Entry *entry_free(Hashmap *m, Entry *e) {
        if (m->keys == HASHMAP_KEYS_COPY)
                free(e->key);
        free(e);
        return NULL;
}

Hashmap *hashmap_free(Hashmap *m) {
        if (!m)
                return NULL;
        for (size_t b = 0; b < m->n_buckets; b++)
                while (m->buckets[b]) {
                        Entry *e = m->buckets[b];

                        m->buckets[b] = e->next;
                        entry_free(m, e);
                }
        free(m->buckets);
        free(m);
        return NULL;
}

static Entry **hashmap_slot(const Hashmap *m, const char *key, unsigned hash) {
        Entry **pp = &m->buckets[hash & (m->n_buckets - 1)];

        for (; *pp; pp = &(*pp)->next)
                if ((*pp)->hash == hash && streq((*pp)->key, key))
                        break;
        return pp;
}

/* Doubles the bucket array. On allocation failure the map keeps working, only slower. */
static void hashmap_grow(Hashmap *m) {
        size_t n = m->n_buckets * 2;
        Entry **b = calloc(n, sizeof(Entry *));

        if (!b)
                return;
        for (size_t i = 0; i < m->n_buckets; i++)
                while (m->buckets[i]) {
                        Entry *e = m->buckets[i];

                        m->buckets[i] = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        free(m->buckets);
        m->buckets = b;
        m->n_buckets = n;
}

int hashmap_put(Hashmap *m, const char *key, void *value) {
        unsigned hash;
        Entry **pp, *e;

        assert(m);
        assert(key);
        hash = hashmap_string_hash(key);
        pp = hashmap_slot(m, key, hash);
        if (*pp)
                return -EEXIST;
        e = calloc(1, sizeof(Entry));
        if (!e)
                return -ENOMEM;
        e->key = m->keys == HASHMAP_KEYS_COPY ? strdup(key) : (char *) key;
        if (!e->key) {
                free(e);
                return -ENOMEM;
        }
        e->value = value;
        e->hash = hash;
        /* Insert at the head of the bucket: *pp is the chain's end, not its head. */
        pp = &m->buckets[hash & (m->n_buckets - 1)];
        e->next = *pp;
        *pp = e;
        if (++m->n_entries > m->n_buckets)
                hashmap_grow(m);
        return 0;
}

int hashmap_replace(Hashmap *m, const char *key, void *value) {
        Entry *e;

        assert(m);
        assert(key);
        e = *hashmap_slot(m, key, hashmap_string_hash(key));
        if (!e)
                return hashmap_put(m, key, value);
        e->value = value;
        return 0;
}

void hashmap_rekey(Hashmap *m, const char *key) {
        Entry *e;

        assert(m);
        assert(key);
        assert(m->keys == HASHMAP_KEYS_BORROW);
        e = *hashmap_slot(m, key, hashmap_string_hash(key));
        if (e)
                e->key = (char *) key;
}

void *hashmap_get(const Hashmap *m, const char *key) {
        Entry *e;

        assert(m);
        assert(key);
        e = *hashmap_slot(m, key, hashmap_string_hash(key));
        return e ? e->value : NULL;
}

void *hashmap_remove(Hashmap *m, const char *key) {
        Entry **pp, *e;
        void *value;

        assert(m);
        assert(key);
        pp = hashmap_slot(m, key, hashmap_string_hash(key));
        e = *pp;
        if (!e)
                return NULL;
        *pp = e->next;
        value = e->value;
        entry_free(m, e);
        m->n_entries--;
        return value;
}

size_t hashmap_size(const Hashmap *m) {
        return m ? m->n_entries : 0;
}

bool hashmap_iterate(Hashmap *m, HashmapIter *i, const char **ret_key, void **ret_value) {
        Entry *e;

        assert(i);
        if (!m)
                return false;
        if (!i->started) {
                i->started = true;
                i->bucket = 0;
                i->next = m->buckets[0];
        }
        /* i->next is taken before the entry is returned, so the caller may remove that entry. */
        while (!i->next) {
                if (++i->bucket >= m->n_buckets)
                        return false;
                i->next = m->buckets[i->bucket];
        }
        e = i->next;
        i->next = e->next;
        if (ret_key)
                *ret_key = e->key;
        if (ret_value)
                *ret_value = e->value;
        return true;
}
