/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "macro.h"

/* Heartbeat URLs are secrets: this returns the scheme, the host (never user:password) and the
 * path with each key-like segment (a uuid, a ping key, a token) shown as "…" and its last four
 * characters: "https://hc-ping.com/…a4b5", "https://hc-ping.com/ping/…01wA/nightly-backup".
 * The query is "?…" — unless the path has no key and a query parameter is one: then that one
 * is shown masked, "https://example.com/hook?token=…cdef". A URL with nothing key-like has its
 * last path segment masked. */
char *url_mask(const char *url);

/* Parses "30s", "500ms", "5min", "1h 30min", "2d"; a bare number is seconds. */
int parse_timespan(const char *s, usec_t *ret);
/* Formats a time span into buf, e.g. "1min 30s", "250ms". */
const char *format_timespan(char *buf, size_t size, usec_t t);

int parse_boolean(const char *s);
int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret);

/* Unit names as systemd accepts them: [A-Za-z0-9:_.\\@-], at most 255 bytes, a known suffix. */
bool unit_name_is_valid(const char *name);
/* A glob of unit names ([*.timer], [backup-?.timer], [db@*.service]); the suffix is literal. */
bool unit_pattern_is_valid(const char *name);
const char *unit_suffix(const char *name);

/* Escapes a unit name into the object path systemd serves it under. */
int unit_dbus_path(const char *name, char **ret);

/* Reads a whole file of at most max bytes. -EFBIG when it is larger. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Returns a pseudo-random number in [0, 1) for jitter. */
double random_unit(void);

usec_t now_usec(clockid_t clock);

/* A growing list of strings; items is NULL-terminated (or NULL while empty). */
typedef struct Strv {
        char **items;
        size_t n;
        size_t allocated; /* room in items (strv_push grows it geometrically) */
} Strv;

/* Room for need elements of elem bytes in *p, whose room is *allocated: grown geometrically, so
 * that adding one element at a time stays linear (a realloc per element can copy the whole array
 * each time: it does under ASan, and for large arrays without it). */
int grow_array(void **p, size_t *allocated, size_t need, size_t elem);

int strv_push(Strv *v, const char *s);
void strv_done(Strv *v);
void strv_sort(Strv *v);
bool strv_contains(const Strv *v, const char *s);

#include <dirent.h>
static inline void closedirp_(DIR **d) {
        if (*d)
                closedir(*d);
}
