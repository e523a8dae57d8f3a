/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* A small JSON reader and string writer for the monitors' management APIs (timerbeat sync):
 * pure, bounded (depth, size), and strict: anything that is not JSON is -EBADMSG. */

typedef enum JsonType {
        JSON_NULL,
        JSON_BOOL,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
        JsonType type;
        bool boolean;
        double number;
        char *string;     /* JSON_STRING, NUL-terminated UTF-8 (an embedded \u0000 is refused) */
        char **keys;      /* JSON_OBJECT: n keys */
        JsonValue *items; /* JSON_ARRAY and JSON_OBJECT: n values */
        size_t n;
};

#define JSON_DEPTH_MAX 32

int json_parse(const char *text, size_t size, JsonValue **ret);
JsonValue *json_free(JsonValue *v);
static inline void json_freep(JsonValue **v) {
        json_free(*v);
}

/* The member of an object (the last one of that name), or NULL. */
const JsonValue *json_get(const JsonValue *object, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_string(const JsonValue *object, const char *key);
/* The member's number as a non-negative integer, or def. */
uint64_t json_get_uint(const JsonValue *object, const char *key, uint64_t def);

/* Appends s to *buf as a JSON string literal (quoted and escaped). */
int json_append_string(char **buf, const char *s);
