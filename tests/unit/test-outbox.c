/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <sys/stat.h>

#include "hashmap.h"
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

static void rm_rf(const char *d) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ASSERT(f);
        fputs(text, f);
        fclose(f);
}

static off_t file_size(const char *path) {
        struct stat st;

        ASSERT(stat(path, &st) == 0);
        return st.st_size;
}

/* Each kind of record survives format and parse; damaged ones are refused. */
static void test_records(void) {
        OutboxRecord done = { .type = OUTBOX_RECORD_DONE, .seq = 42 }, last = { .type = OUTBOX_RECORD_LAST },
                     ping = { .type = OUTBOX_RECORD_PING }, back;
        _cleanup_free_ char *a = NULL, *l = NULL, *d = NULL, *p = NULL;

        snprintf(last.check, sizeof(last.check), "backup.timer");
        snprintf(last.invocation, sizeof(last.invocation), "%s", sample.invocation);
        last.exit = 1700000000000001ULL;
        ping.ping = (PingRecord) { "delivered", 200, 1700000000000002ULL, "", 1700000000000002ULL };
        snprintf(ping.check, sizeof(ping.check), "backup.timer");

        ASSERT_EQ(outbox_record_format_add(&sample, 7, &a), 0);
        ASSERT_EQ(outbox_record_parse(a, strlen(a), &back), 0);
        ASSERT(back.type == OUTBOX_RECORD_ADD && back.seq == 7 && back.created == sample.created);
        ASSERT_STREQ(back.check, "backup.timer");
        /* An add record is an entry too: the same parser reads the ping back. */
        Ping e = {};
        ASSERT_EQ(outbox_entry_parse(a, strlen(a), &e), 0);
        ASSERT_STREQ(e.url, sample.url);
        ping_done(&e);

        ASSERT_EQ(outbox_record_format(&done, &d), 0);
        ASSERT_EQ(outbox_record_parse(d, strlen(d), &back), 0);
        ASSERT(back.type == OUTBOX_RECORD_DONE && back.seq == 42);

        ASSERT_EQ(outbox_record_format(&last, &l), 0);
        ASSERT_EQ(outbox_record_parse(l, strlen(l), &back), 0);
        ASSERT(back.type == OUTBOX_RECORD_LAST && back.exit == last.exit);
        ASSERT_STREQ(back.invocation, sample.invocation);

        ASSERT_EQ(outbox_record_format(&ping, &p), 0);
        ASSERT_EQ(outbox_record_parse(p, strlen(p), &back), 0);
        ASSERT(back.type == OUTBOX_RECORD_PING && back.ping.status == 200 &&
               back.ping.delivered == ping.ping.delivered);
        ASSERT_STREQ(back.ping.outcome, "delivered");

        /* Refused: checksums right over wrong content. */
        static const char *const wrong[] = {
                "timerbeat-outbox 1\ndone=x1\n",                               /* not a number */
                "timerbeat-outbox 1\ndone=99999999999999999999\n",             /* too large */
                "timerbeat-outbox 1\nlast=a.timer\ninvocation=0123\nexit=1\n", /* short id */
                "timerbeat-outbox 1\nping=a.timer\nstatus=1\n",                /* no outcome */
                "timerbeat-outbox 1\nseq=1\ncreated=1\n",                      /* an add without check */
                "timerbeat-outbox 1\nwhat=1\n",                                /* nothing known */
                "timerbeat-outbox 1\nno equals sign\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                char buf[256];

                snprintf(buf, sizeof(buf), "%scrc=%08x\n", wrong[i], crc32_compute(wrong[i], strlen(wrong[i])));
                ASSERT_EQ(outbox_record_parse(buf, strlen(buf), &back), -EBADMSG);
        }
}

typedef struct Walked {
        size_t adds, dones, lasts, pings;
} Walked;

static void count_record(const OutboxRecord *rec, size_t offset, size_t size, void *userdata) {
        Walked *w = userdata;

        (void) offset;
        (void) size;
        w->adds += rec->type == OUTBOX_RECORD_ADD;
        w->dones += rec->type == OUTBOX_RECORD_DONE;
        w->lasts += rec->type == OUTBOX_RECORD_LAST;
        w->pings += rec->type == OUTBOX_RECORD_PING;
}

/* What a crash or the disk can do to the log, and what the walk makes of it. */
static void test_log_walk(void) {
        OutboxRecord done = { .type = OUTBOX_RECORD_DONE, .seq = 1 }, last = { .type = OUTBOX_RECORD_LAST };
        _cleanup_free_ char *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL, *log = NULL;
        size_t l1, l2, l3, l4, n;

        snprintf(last.check, sizeof(last.check), "backup.timer");
        snprintf(last.invocation, sizeof(last.invocation), "%s", sample.invocation);
        ASSERT_EQ(outbox_record_format_add(&sample, 1, &r1), 0);
        ASSERT_EQ(outbox_record_format_add(&sample, 2, &r2), 0);
        ASSERT_EQ(outbox_record_format(&done, &r3), 0);
        ASSERT_EQ(outbox_record_format(&last, &r4), 0);
        l1 = strlen(r1), l2 = strlen(r2), l3 = strlen(r3), l4 = strlen(r4);
        ASSERT(asprintf(&log, "%s%s%s%s", r1, r2, r3, r4) > 0);
        n = strlen(log);

        struct {
                const char *name;
                char *data;
                size_t size;
                size_t n, damaged, end, adds;
        } rows[] = {
                { "whole", strdup(log), n, 4, 0, n, 2 },
                { "torn last record", strndup(log, n - 5), n - 5, 3, 0, l1 + l2 + l3, 2 },
                { "torn after its magic line", strndup(log, l1 + l2 + l3 + 20), l1 + l2 + l3 + 20, 3, 0, l1 + l2 + l3,
                  2 },
                { "torn crc line", strndup(log, n - 1), n - 1, 3, 0, l1 + l2 + l3, 2 },
                { "bad crc in the middle", strdup(log), n, 3, 1, n, 1 },
                { "bad crc at the end", strdup(log), n, 3, 0, l1 + l2 + l3, 2 },
                { "garbage before", NULL, 0, 4, 1, 0, 2 },
                { "zeros after (delayed allocation)", calloc(1, n + 100), n + 100, 4, 0, n, 2 },
                /* The record right after a torn one is lost with it (its magic line is not at a
                 * line start): which is why the log is cut back to its last whole record before
                 * anything is appended. */
                { "torn record, then appends", NULL, 0, 2, 1, 0, 1 },
                { "empty", strdup(""), 0, 0, 0, 0, 0 },
        };
        rows[4].data[l1 + 60] ^= 0x01;
        rows[5].data[n - 20] ^= 0x01;
        ASSERT(asprintf(&rows[6].data, "x\ngarbage\n%s", log) > 0);
        rows[6].size = strlen(rows[6].data);
        rows[6].end = rows[6].size;
        memcpy(rows[7].data, log, n);
        ASSERT(asprintf(&rows[8].data, "%s%.*s%s%s", r1, (int) (l2 / 2), r2, r3, r4) > 0);
        rows[8].size = strlen(rows[8].data);
        rows[8].end = rows[8].size;

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                OutboxLogStats st;
                Walked w = {};

                fprintf(stderr, "log walk: %s\n", rows[i].name);
                outbox_log_walk(rows[i].data, rows[i].size, count_record, &w, &st);
                ASSERT_EQ(st.n, rows[i].n);
                ASSERT_EQ(st.damaged, rows[i].damaged);
                ASSERT_EQ(st.end, rows[i].end);
                ASSERT_EQ(w.adds, rows[i].adds);
                free(rows[i].data);
        }
        /* Every truncation: the whole records before the cut, nothing damaged. */
        for (size_t cut = 0; cut < n; cut++) {
                OutboxLogStats st;
                Walked w = {};
                size_t whole = cut >= l1 + l2 + l3 + l4 ? 4 :
                               cut >= l1 + l2 + l3      ? 3 :
                               cut >= l1 + l2           ? 2 :
                                                          cut >= l1;

                outbox_log_walk(log, cut, count_record, &w, &st);
                ASSERT_EQ(st.n, whole);
                ASSERT_EQ(st.damaged, 0);
        }
}

static size_t count_live(Outbox *o) {
        OutboxRef *refs = NULL;
        size_t n = 0;

        ASSERT_EQ(outbox_list(o, &refs, &n), 0);
        outbox_refs_free(refs, n);
        return n;
}

static void test_store_replay(void) {
        char tmpl[] = "/tmp/test-outbox-XXXXXX";
        char *d = mkdtemp(tmpl), path[512], inv[33];
        _cleanup_free_ char *legacy = NULL;
        Outbox *o = NULL;
        OutboxRef *refs = NULL;
        size_t n = 0;
        usec_t t;
        Ping *back = NULL;

        ASSERT(d);
        ASSERT_EQ(outbox_new(&o, d), 0);
        Ping later = sample, first = sample;
        later.created = sample.created + 1;
        ASSERT_EQ(outbox_store(o, &later), 0);
        ASSERT_EQ(outbox_store(o, &first), 0);
        /* A run end's ping is also its check's last run: the newest one. */
        ASSERT_EQ(outbox_read_last(o, "backup.timer", inv, &t), 0);
        ASSERT_EQ(t, later.created);
        ASSERT_STREQ(later.id, "1");
        ASSERT_STREQ(first.id, "2");
        ASSERT_EQ(outbox_write_last(o, "backup.timer", sample.invocation, 42), 0);
        ASSERT_EQ(outbox_write_ping(o, "backup.timer", "delivered", 200, 100, sample.invocation), 0);
        ASSERT_EQ(outbox_write_ping(o, "backup.timer", "rejected", 404, 200, sample.invocation), 0);
        outbox_free(o);

        /* An older version's files: a damaged entry, a good one, a last and a ping record. */
        snprintf(path, sizeof(path), "%s/outbox/00000000000000000000-000000.ping", d);
        write_text(path, "timerbeat-outbox 1\nnot really\n");
        Ping old = sample;
        old.created = sample.created - 1;
        old.check = (char *) "old.timer";
        ASSERT_EQ(outbox_entry_format(&old, &legacy), 0);
        snprintf(path, sizeof(path), "%s/outbox/00000000000000000001-000000.ping", d);
        write_text(path, legacy);
        snprintf(path, sizeof(path), "%s/last", d);
        ASSERT(mkdir(path, 0700) == 0);
        snprintf(path, sizeof(path), "%s/last/old.timer", d);
        write_text(path, "invocation=fedcba9876543210fedcba9876543210\nexit=7\n");

        ASSERT_EQ(outbox_new(&o, d), 0);
        snprintf(path, sizeof(path), "%s/outbox/00000000000000000000-000000.ping.corrupt", d);
        ASSERT(access(path, F_OK) == 0);
        snprintf(path, sizeof(path), "%s/outbox/00000000000000000001-000000.ping", d);
        ASSERT(access(path, F_OK) < 0); /* moved into the log */
        snprintf(path, sizeof(path), "%s/last", d);
        ASSERT(access(path, F_OK) < 0);

        /* In the order the runs ended, whatever the order they were stored in. */
        ASSERT_EQ(outbox_list(o, &refs, &n), 0);
        ASSERT_EQ(n, 3);
        ASSERT_STREQ(refs[0].check, "old.timer");
        ASSERT_EQ(refs[1].seq, 2);
        ASSERT_EQ(refs[2].seq, 1);
        ASSERT_EQ(outbox_load(o, refs[1].seq, &back), 0);
        ASSERT_STREQ(back->url, sample.url);
        ASSERT_EQ(back->created, sample.created);
        ASSERT_STREQ(back->id, "2");
        ping_free(back);
        outbox_refs_free(refs, n);

        ASSERT_EQ(outbox_remove(o, "2"), 0);
        ASSERT_EQ(outbox_remove(o, "2"), 0);   /* already done: fine */
        ASSERT_EQ(outbox_remove(o, "999"), 0); /* never there: fine */
        ASSERT_EQ(outbox_load(o, 2, &back), -ENOENT);
        ASSERT_EQ(count_live(o), 2);
        ASSERT_EQ(outbox_read_last(o, "old.timer", inv, &t), 0);
        ASSERT_EQ(t, 7);
        ASSERT_EQ(outbox_read_last(o, "nope.timer", inv, &t), -ENOENT);
        outbox_free(o);

        /* After a restart: the same. */
        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(count_live(o), 2);
        ASSERT_EQ(outbox_read_last(o, "backup.timer", inv, &t), 0);
        ASSERT_STREQ(inv, sample.invocation);
        ASSERT_EQ(t, 42);
        /* A new entry does not reuse a seq. */
        Ping third = sample;
        ASSERT_EQ(outbox_store(o, &third), 0);
        ASSERT_STREQ(third.id, "4");
        outbox_free(o);

        PingRecord pr;
        Hashmap *counts = NULL;
        ASSERT_EQ(outbox_read_ping(d, "backup.timer", &pr), 0);
        ASSERT_STREQ(pr.outcome, "rejected");
        ASSERT_EQ(pr.status, 404);
        ASSERT_EQ(pr.delivered, 100); /* kept from the delivered one before */
        ASSERT_EQ(outbox_count_undelivered(d, &counts), 0);
        ASSERT_EQ((uintptr_t) hashmap_get(counts, "backup.timer"), 2);
        ASSERT_EQ((uintptr_t) hashmap_get(counts, "old.timer"), 1);
        hashmap_free(counts);

        free(first.id);
        free(later.id);
        free(third.id);
        rm_rf(d);
}

/* A crash mid-append: the torn record is cut off before the next append, which is then read
 * back whole (appended after the torn bytes, it would be lost with them). */
static void test_torn_tail_cut(void) {
        char tmpl[] = "/tmp/test-outbox-XXXXXX";
        char *d = mkdtemp(tmpl), path[512];
        _cleanup_free_ char *rec = NULL, *torn = NULL;
        Outbox *o = NULL;
        Ping next = sample;

        ASSERT(d);
        ASSERT_EQ(outbox_record_format_add(&sample, 1, &rec), 0);
        ASSERT(asprintf(&torn, "%s%.*s", rec, (int) (strlen(rec) / 2), rec) > 0);
        snprintf(path, sizeof(path), "%s/outbox", d);
        ASSERT(mkdir(path, 0700) == 0);
        snprintf(path, sizeof(path), "%s/outbox/log", d);
        write_text(path, torn);

        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(count_live(o), 1);
        ASSERT_EQ(file_size(path), (off_t) strlen(rec)); /* cut back */
        ASSERT_EQ(outbox_store(o, &next), 0);
        ASSERT_STREQ(next.id, "2");
        outbox_free(o);
        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(count_live(o), 2);
        outbox_free(o);
        free(next.id);
        rm_rf(d);
}

/* A log that is mostly done records is rewritten with what it still needs. */
static void test_compaction(void) {
        char tmpl[] = "/tmp/test-outbox-XXXXXX";
        char *d = mkdtemp(tmpl), path[512], inv[33];
        _cleanup_free_ char *body = malloc(100000);
        Outbox *o = NULL;
        Ping keep = sample;
        usec_t t;
        off_t peak = 0;

        ASSERT(d && body);
        memset(body, 'x', 100000);
        snprintf(path, sizeof(path), "%s/outbox/log", d);
        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(outbox_store(o, &keep), 0);
        ASSERT_EQ(outbox_write_last(o, "backup.timer", sample.invocation, sample.created + 100), 0);
        for (int i = 0; i < 12; i++) {
                Ping big = sample;

                big.body = body;
                big.body_size = 100000;
                ASSERT_EQ(outbox_store(o, &big), 0);
                peak = MAX(peak, file_size(path));
                ASSERT_EQ(outbox_remove(o, big.id), 0);
                free(big.id);
        }
        ASSERT(peak > 1024 * 1024);
        ASSERT(file_size(path) < 8192); /* rewritten */
        ASSERT_EQ(count_live(o), 1);
        outbox_free(o);

        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(count_live(o), 1);
        ASSERT_EQ(outbox_read_last(o, "backup.timer", inv, &t), 0);
        ASSERT_EQ(t, sample.created + 100);
        Ping *back = NULL;
        ASSERT_EQ(outbox_load(o, 1, &back), 0);
        ASSERT_STREQ(back->url, sample.url);
        ping_free(back);
        outbox_free(o);
        free(keep.id);
        rm_rf(d);
}

/* A log larger than the window it is read in (1 MiB, src/outbox.c LOG_WINDOW), with a damaged
 * record across the first window's end: every other record is found, at the right offset. */
static void test_large_log(void) {
        char tmpl[] = "/tmp/test-outbox-XXXXXX";
        char *d = mkdtemp(tmpl), path[512];
        _cleanup_free_ char *rec = NULL;
        size_t len, k, n = 0, bad = 0;
        Outbox *o = NULL;
        Ping *back = NULL;
        FILE *f;

        ASSERT(d);
        snprintf(path, sizeof(path), "%s/outbox", d);
        ASSERT(mkdir(path, 0700) == 0);
        snprintf(path, sizeof(path), "%s/outbox/log", d);
        ASSERT((f = fopen(path, "w")));
        ASSERT_EQ(outbox_record_format_add(&sample, 1, &rec), 0);
        len = strlen(rec);
        k = (9U << 20) / len + 1;
        for (size_t seq = 1; seq <= k; seq++) {
                char *r = NULL;

                ASSERT_EQ(outbox_record_format_add(&sample, seq, &r), 0);
                if (n <= (1U << 20) && n + strlen(r) > (1U << 20)) {
                        r[strlen(r) / 2] ^= 0x01; /* the record across the first window's end */
                        bad = seq;
                }
                n += strlen(r);
                ASSERT(fputs(r, f) >= 0);
                free(r);
        }
        ASSERT(fclose(f) == 0);
        ASSERT(bad > 0);

        ASSERT_EQ(outbox_new(&o, d), 0);
        ASSERT_EQ(count_live(o), k - 1);
        ASSERT_EQ(file_size(path), (off_t) n);
        ASSERT_EQ(outbox_load(o, bad, &back), -ENOENT);
        for (size_t i = 0; i < 4; i++) {
                size_t seq = (size_t[]) { 1, bad - 1, bad + 1, k }[i];

                ASSERT_EQ(outbox_load(o, seq, &back), 0);
                ASSERT_STREQ(back->url, sample.url);
                ping_free(back);
                back = NULL;
        }
        outbox_free(o);
        rm_rf(d);
}

/* What a full queue keeps, computed the slow way: per check the newest max_per_check (by
 * created, then seq), of those the newest max_items. */
typedef struct BoundEntry {
        uint64_t seq;
        usec_t created;
        unsigned check;
        bool done;
        bool kept;
} BoundEntry;

static int cmp_newest(const void *a, const void *b) {
        const BoundEntry *x = *(BoundEntry *const *) a, *y = *(BoundEntry *const *) b;

        if (x->created != y->created)
                return x->created > y->created ? -1 : 1;
        return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static size_t expect_kept(BoundEntry *e, size_t n, size_t max_items, size_t max_per_check) {
        _cleanup_free_ BoundEntry **order = calloc(n + 1, sizeof(BoundEntry *));
        unsigned per[8] = {};
        size_t m = 0, kept = 0;

        ASSERT(order);
        for (size_t i = 0; i < n; i++)
                if (!e[i].done)
                        order[m++] = &e[i];
        qsort(order, m, sizeof(BoundEntry *), cmp_newest);
        for (size_t i = 0; i < m; i++)
                if ((max_per_check == 0 || per[order[i]->check] < max_per_check) &&
                    (max_items == 0 || kept < max_items)) {
                        per[order[i]->check]++;
                        order[i]->kept = true;
                        kept++;
                }
        return kept;
}

static void test_bounded_load(void) {
        static const struct {
                size_t n, max_items, max_per_check;
                unsigned checks; /* entries go round-robin to this many checks... */
                unsigned skew;   /* ...except every skew-th goes to check 0 (0: none) */
                unsigned late;   /* every late-th entry ended earlier than its seq says (0: none) */
                unsigned done;   /* every done-th entry is answered right after its add (0: none) */
        } rows[] = {
                { 50, 1000, 100, 3, 0, 0, 0 },     /* within the bounds: nothing dropped */
                { 1000, 1000, 100, 5, 0, 0, 0 },   /* per check: 200 each, 100 kept */
                { 5000, 50, 20, 3, 2, 0, 0 },      /* both bounds, one check has most */
                { 5000, 50, 0, 4, 0, 7, 0 },       /* max-queue only, some runs ended late */
                { 3000, 0, 10, 6, 3, 5, 4 },       /* per check only, with done records */
                { 20000, 1000, 100, 7, 5, 11, 9 }, /* the replay test's size, everything at once */
                { 400, 1, 1, 2, 0, 3, 0 },         /* the smallest bounds */
        };

        for (size_t t = 0; t < ELEMENTSOF(rows); t++) {
                char tmpl[] = "/tmp/test-outbox-XXXXXX";
                char *d = mkdtemp(tmpl), path[512];
                _cleanup_free_ BoundEntry *e = calloc(rows[t].n, sizeof(BoundEntry));
                OutboxRef *refs = NULL;
                size_t n_refs = 0, kept, held, dropped, live = 0;
                Outbox *o = NULL;
                off_t before;
                FILE *f;

                ASSERT(d && e);
                snprintf(path, sizeof(path), "%s/outbox", d);
                ASSERT(mkdir(path, 0700) == 0);
                snprintf(path, sizeof(path), "%s/outbox/log", d);
                ASSERT((f = fopen(path, "w")));
                for (size_t i = 0; i < rows[t].n; i++) {
                        char check[32], *r = NULL;
                        Ping p = sample;

                        e[i].seq = i + 1;
                        e[i].check = rows[t].skew && i % rows[t].skew == 0 ? 0 : (unsigned) (i % rows[t].checks);
                        e[i].created = sample.created + i * 10 - (rows[t].late && i % rows[t].late == 0 ? 35 : 0);
                        e[i].done = rows[t].done && i % rows[t].done == 0;
                        snprintf(check, sizeof(check), "c%u.timer", e[i].check);
                        p.check = check;
                        p.created = e[i].created;
                        ASSERT_EQ(outbox_record_format_add(&p, e[i].seq, &r), 0);
                        ASSERT(fputs(r, f) >= 0);
                        free(r);
                        if (e[i].done) {
                                OutboxRecord rec = { .type = OUTBOX_RECORD_DONE, .seq = e[i].seq };

                                ASSERT_EQ(outbox_record_format(&rec, &r), 0);
                                ASSERT(fputs(r, f) >= 0);
                                free(r);
                        }
                        live += !e[i].done;
                }
                ASSERT(fclose(f) == 0);
                before = file_size(path);
                kept = expect_kept(e, rows[t].n, rows[t].max_items, rows[t].max_per_check);

                ASSERT_EQ(outbox_new_bounded(&o, d, rows[t].max_items, rows[t].max_per_check), 0);
                outbox_load_dropped(o, &held, &dropped);
                ASSERT_EQ(held, live);
                ASSERT_EQ(dropped, live - kept);
                ASSERT_EQ(outbox_list(o, &refs, &n_refs), 0);
                ASSERT_EQ(n_refs, kept);
                for (size_t i = 0; i < n_refs; i++) {
                        const BoundEntry *x = &e[refs[i].seq - 1];
                        char check[32];

                        snprintf(check, sizeof(check), "c%u.timer", x->check);
                        ASSERT(x->kept);
                        ASSERT_STREQ(refs[i].check, check);
                        ASSERT_EQ(refs[i].created, x->created);
                }
                outbox_refs_free(refs, n_refs);
                outbox_free(o);
                /* The dropped ones left the log: read without bounds, the same entries. */
                if (dropped > 0)
                        ASSERT(file_size(path) < before);
                ASSERT_EQ(outbox_new(&o, d), 0);
                ASSERT_EQ(count_live(o), kept);
                outbox_free(o);
                rm_rf(d);
        }
}

int main(void) {
        test_roundtrip();
        test_damaged();
        test_crc();
        test_records();
        test_log_walk();
        test_store_replay();
        test_torn_tail_cut();
        test_compaction();
        test_large_log();
        test_bounded_load();
        return 0;
}
