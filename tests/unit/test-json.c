/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON reader of the management APIs: what it accepts, what it refuses, and strings
 * written back. */
#include "json.h"
#include "tests.h"

static void test_parse(void) {
        static const struct {
                const char *text;
                int r;
                JsonType type;
        } table[] = {
                { "{}", 0, JSON_OBJECT },
                { " [1, 2.5e3, -0.5, true, false, null, \"s\", {\"a\": []}] ", 0, JSON_ARRAY },
                { "\"\\u00e9\\ud83d\\ude00\\n\\/\"", 0, JSON_STRING },
                { "42", 0, JSON_NUMBER },
                { "", -EBADMSG, JSON_NULL },
                { "{", -EBADMSG, JSON_NULL },
                { "[1,]", -EBADMSG, JSON_NULL },
                { "{\"a\" 1}", -EBADMSG, JSON_NULL },
                { "{a: 1}", -EBADMSG, JSON_NULL },
                { "\"unterminated", -EBADMSG, JSON_NULL },
                { "\"\\ud83d\"", -EBADMSG, JSON_NULL },  /* a lone surrogate */
                { "\"\\u0000\"", -EBADMSG, JSON_NULL },  /* NUL cannot be a C string */
                { "\"tab\there\"", -EBADMSG, JSON_NULL }, /* a raw control character */
                { "\"\\x\"", -EBADMSG, JSON_NULL },
                { "nul", -EBADMSG, JSON_NULL },
                { "1 2", -EBADMSG, JSON_NULL },
                { "1e999", -EBADMSG, JSON_NULL },
                { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", -EBADMSG, JSON_NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                JsonValue *v = NULL;
                int r = json_parse(table[i].text, strlen(table[i].text), &v);

                if (r != table[i].r)
                        fprintf(stderr, "case %zu (%s): %d\n", i, table[i].text, r);
                ASSERT_EQ(r, table[i].r);
                if (r == 0)
                        ASSERT_EQ(v->type, table[i].type);
                json_free(v);
        }
}

static void test_get(void) {
        const char *text = "{\"a\": \"x\", \"n\": 60, \"neg\": -1, \"s\": \"\\u00e9\\ud83d\\ude00\", \"a\": \"y\", "
                           "\"o\": {\"k\": null}}";
        JsonValue *v = NULL;

        ASSERT_EQ(json_parse(text, strlen(text), &v), 0);
        ASSERT_STREQ(json_get_string(v, "a"), "y"); /* the last one */
        ASSERT_STREQ(json_get_string(v, "s"), "\xc3\xa9\xf0\x9f\x98\x80");
        ASSERT_EQ(json_get_uint(v, "n", 0), 60);
        ASSERT_EQ(json_get_uint(v, "neg", 7), 7);
        ASSERT_EQ(json_get_uint(v, "a", 7), 7);
        ASSERT(!json_get_string(v, "n"));
        ASSERT(!json_get(v, "missing"));
        ASSERT_EQ(json_get(json_get(v, "o"), "k")->type, JSON_NULL);
        json_free(v);
}

static void test_write(void) {
        char *b = strdup("x");

        ASSERT(b);
        ASSERT_EQ(json_append_string(&b, "a\"b\\c\nd\x01"), 0);
        ASSERT_STREQ(b, "x\"a\\\"b\\\\c\\nd\\u0001\"");
        free(b);
        b = NULL;
        ASSERT_EQ(json_append_string(&b, ""), 0);
        ASSERT_STREQ(b, "\"\"");
        free(b);
}

int main(void) {
        test_parse();
        test_get();
        test_write();
        return 0;
}
