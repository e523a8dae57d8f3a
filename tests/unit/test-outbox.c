/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <sys/stat.h>

#include "outbox.h"
#include "tests.h"

static const Ping sample = {
        .check = (char *) "backup.timer",
        .unit = (char *) "backup.service",
        .invocation = (char *) "0123456789abcdef0123456789abcdef",
        .url = (char *) "https://hc-ping.com/5f6e1b2c",
        .method = HTTP_METHOD_POST,
        .source = (char *) "host-a",
        .created = 1700000000123456ULL,
        .event = EVENT_FAILURE,
};

static void test_roundtrip(void) {
        _cleanup_free_ char *text = NULL;
        Ping e = {};

        ASSERT_EQ(outbox_entry_format(&sample, &text), 0);
        ASSERT_EQ(outbox_entry_parse(text, strlen(text), &e), 0);
        ASSERT_STREQ(e.check, sample.check);
        ASSERT_STREQ(e.unit, sample.unit);
        ASSERT_STREQ(e.invocation, sample.invocation);
        ASSERT_STREQ(e.url, sample.url);
        ASSERT_STREQ(e.source, sample.source);
        ASSERT_EQ(e.method, HTTP_METHOD_POST);
        ASSERT_EQ(e.created, sample.created);
        ASSERT_EQ(e.event, EVENT_FAILURE);
        ping_done(&e);

        /* Optional fields may be empty. */
        Ping bare = sample;
        bare.invocation = NULL;
        bare.source = NULL;
        free(text);
        text = NULL;
        ASSERT_EQ(outbox_entry_format(&bare, &text), 0);
        ASSERT_EQ(outbox_entry_parse(text, strlen(text), &e), 0);
        ASSERT(!e.invocation && !e.source);
        ping_done(&e);
}

static void test_damaged(void) {
        _cleanup_free_ char *text = NULL;
        Ping e = {};
        size_t n;

        ASSERT_EQ(outbox_entry_format(&sample, &text), 0);
        n = strlen(text);

        /* Every truncation is refused. */
        for (size_t l = 0; l < n; l++)
                ASSERT_EQ(outbox_entry_parse(text, l, &e), -EBADMSG);
        /* Every single flipped byte is refused. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *copy = strdup(text);
                copy[i] ^= 0x01;
                ASSERT(outbox_entry_parse(copy, n, &e) < 0);
        }
        ASSERT_EQ(outbox_entry_parse("", 0, &e), -EBADMSG);
        ASSERT_EQ(outbox_entry_parse("garbage\n", 8, &e), -EBADMSG);

        /* A valid checksum over missing fields is still refused. */
        const char *body = "timerbeat-outbox 1\ncheck=a.timer\n";
        char buf[256];
        snprintf(buf, sizeof(buf), "%scrc=%08x\n", body, crc32_compute(body, strlen(body)));
        ASSERT_EQ(outbox_entry_parse(buf, strlen(buf), &e), -EBADMSG);

        /* Values with newlines or control characters cannot be written. */
        Ping bad = sample;
        char *t = NULL;
        bad.url = (char *) "https://x/\nurl=https://evil/";
        ASSERT_EQ(outbox_entry_format(&bad, &t), -EINVAL);
}

static void test_crc(void) {
        /* The standard CRC-32 check value. */
        ASSERT_EQ(crc32_compute("123456789", 9), 0xcbf43926U);
        ASSERT_EQ(crc32_compute("", 0), 0);
}

typedef struct Seen {
        int n, corrupt;
        usec_t first;
} Seen;

static void cb(Outbox *ob, Ping *e, void *u) {
        Seen *seen = u;

        (void) ob;
        ASSERT(e->id && endswith(e->id, ".ping"));
        if (seen->n++ == 0)
                seen->first = e->created;
        ping_free(e);
}

static void bad(Outbox *ob, const char *name, const char *why, void *u) {
        (void) ob;
        (void) name;
        (void) why;
        ((Seen *) u)->corrupt++;
}

static void test_store_replay(void) {
        char tmpl[] = "/tmp/test-outbox-XXXXXX";
        char *d = mkdtemp(tmpl), path[512], inv[33];
        const char *n1, *n2;
        Outbox *o = NULL;
        usec_t t;

        ASSERT(d);
        ASSERT_EQ(outbox_new(&o, d), 0);
        Ping later = sample, first = sample;
        later.created = sample.created + 1;
        ASSERT_EQ(outbox_store(o, &later), 0);
        ASSERT_EQ(outbox_store(o, &first), 0);
        n1 = first.id;
        n2 = later.id;
        ASSERT(n1 && n2);
        ASSERT(strcmp(n1, n2) < 0); /* names sort by the time the run ended */

        snprintf(path, sizeof(path), "%s/outbox/00000000000000000000-000000.ping", d);
        FILE *f = fopen(path, "we");
        fputs("timerbeat-outbox 1\nnot really\n", f);
        fclose(f);

        Seen seen = {};
        ASSERT_EQ(outbox_replay(o, cb, bad, &seen), 0);
        ASSERT_EQ(seen.n, 2);
        ASSERT_EQ(seen.corrupt, 1);
        ASSERT_EQ(seen.first, sample.created);
        snprintf(path, sizeof(path), "%s/outbox/00000000000000000000-000000.ping.corrupt", d);
        ASSERT(access(path, F_OK) == 0);

        ASSERT_EQ(outbox_remove(o, n1), 0);
        ASSERT_EQ(outbox_remove(o, n1), 0); /* already gone: fine */
        seen.n = 0;
        ASSERT_EQ(outbox_replay(o, cb, bad, &seen), 0);
        ASSERT_EQ(seen.n, 1);

        ASSERT_EQ(outbox_read_last(o, "backup.timer", inv, &t), -ENOENT);
        ASSERT_EQ(outbox_write_last(o, "backup.timer", sample.invocation, 42), 0);
        ASSERT_EQ(outbox_read_last(o, "backup.timer", inv, &t), 0);
        ASSERT_STREQ(inv, sample.invocation);
        ASSERT_EQ(t, 42);

        free(first.id);
        free(later.id);
        outbox_free(o);
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

int main(void) {
        test_roundtrip();
        test_damaged();
        test_crc();
        test_store_replay();
        return 0;
}
