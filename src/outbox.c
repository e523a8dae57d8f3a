/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "hashmap.h"
#include "log.h"
#include "outbox.h"

#define OUTBOX_MAGIC "timerbeat-outbox 1\n"
#define MAGIC_LEN (sizeof(OUTBOX_MAGIC) - 1)
#define LOG_NAME "log"
/* The log is rewritten when it is larger than this and four times what it still needs: each
 * record is copied O(1) times on average, and a quiet host rewrites it every ~1,500 pings. */
#define COMPACT_MIN (1024U * 1024U)
/* What a check's last and ping records take in the log, for that estimate. */
#define CHECK_RECORDS_SIZE 256U

/* A ping not answered for good: where its newest add record is in the log. */
typedef struct Item {
        uint64_t seq;
        uint64_t offset;
        uint32_t size;
        bool dead; /* answered; the slot goes at the next packing of the array */
        usec_t created;
        char *check;
} Item;

typedef struct LastRecord {
        char invocation[33];
        usec_t exit;
} LastRecord;

struct Outbox {
        char *state_dir;
        bool broken;    /* the last write to the state directory failed */
        bool read_only; /* opened by a command, to look */
        char *dir;      /* .../outbox */
        char *log_path; /* .../outbox/log */
        int fd;         /* the log, appended to; -EBADF until it could be opened for writing */
        uint64_t size;  /* of the log: the end of its last whole record */
        uint64_t compact_failed_at;
        uint64_t next_seq;
        int load_error;
        bool loaded; /* the log was read: what follows its last whole record may be cut */
        /* Adds appended since the last fdatasync, and when the oldest of them was (monotonic):
         * the sender syncs right after handing them to the connection (outbox_sync). */
        bool unsynced;
        usec_t unsynced_since;

        Item *items; /* by seq, ascending */
        size_t n_items, n_dead, allocated;
        uint64_t live_bytes; /* the add records of live items */
        Hashmap *last;       /* check → LastRecord */
        Hashmap *pings;      /* check → PingRecord */

        /* While the log is read: what a full queue keeps (max-queue, max-queue-per-check; 0 no
         * bound) and each check's live entries, so that the index never holds much more than
         * the bounds, however many entries an outage left (issue 14). */
        size_t max_items, max_per_check;
        Hashmap *counts;      /* check → live entries, as a number (while the log is read) */
        size_t held, dropped; /* live entries the log held, and those dropped beyond the bounds */
};

static uint32_t crc_tables[8][256];

static void crc_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;

                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1U)));
                crc_tables[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
                for (int k = 1; k < 8; k++)
                        crc_tables[k][i] = (crc_tables[k - 1][i] >> 8) ^ crc_tables[0][crc_tables[k - 1][i] & 0xffU];
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

uint32_t crc32_compute(const void *data, size_t size) {
        const uint32_t(*t)[256] = crc_tables;
        const uint8_t *p = data;
        uint32_t crc = 0xffffffffU;

        /* Eight bytes a step ("slicing-by-8"): the whole log is checked at start. */
        if (crc_tables[0][1] == 0)
                crc_init();
        for (; size >= 8; p += 8, size -= 8) {
                uint32_t a = le32(p) ^ crc, b = le32(p + 4);

                crc = t[7][a & 0xffU] ^ t[6][(a >> 8) & 0xffU] ^ t[5][(a >> 16) & 0xffU] ^ t[4][a >> 24] ^
                      t[3][b & 0xffU] ^ t[2][(b >> 8) & 0xffU] ^ t[1][(b >> 16) & 0xffU] ^ t[0][b >> 24];
        }
        for (; size > 0; p++, size--)
                crc = t[0][(crc ^ *p) & 0xffU] ^ (crc >> 8);
        return ~crc;
}

static bool value_ok(const char *v) {
        for (; v && *v; v++)
                if ((unsigned char) *v < 0x20 || *v == 0x7f)
                        return false;
        return true;
}

static char *hex_encode(const char *p, size_t n) {
        static const char hex[] = "0123456789abcdef";
        char *r = malloc(n * 2 + 1);

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                r[2 * i] = hex[(unsigned char) p[i] >> 4];
                r[2 * i + 1] = hex[(unsigned char) p[i] & 15];
        }
        r[2 * n] = 0;
        return r;
}

static int hex_decode(const char *s, char **ret, size_t *ret_size) {
        size_t n = strlen(s);
        char *r;

        if (n % 2)
                return -EBADMSG;
        r = malloc(n / 2 + 1);
        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < n / 2; i++) {
                int hi = (unsigned char) s[2 * i], lo = (unsigned char) s[2 * i + 1];

                hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
                lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
                if (hi < 0 || lo < 0) {
                        free(r);
                        return -EBADMSG;
                }
                r[i] = (char) (hi << 4 | lo);
        }
        r[n / 2] = 0;
        *ret = r;
        *ret_size = n / 2;
        return 0;
}

/* A record is the magic line, "key=value" lines and a last line "crc=XXXXXXXX" over everything
 * before it. Sets *ret_crc_line to where that line starts. */
static int record_verify(const char *data, size_t size, const char **ret_crc_line) {
        const char *crc_line = NULL, *end = data + size;
        unsigned long crc;
        char *crc_end;

        if (size < MAGIC_LEN || size > OUTBOX_ENTRY_MAX || memchr(data, 0, size) ||
            memcmp(data, OUTBOX_MAGIC, MAGIC_LEN) != 0 || data[size - 1] != '\n')
                return -EBADMSG;
        for (const char *p = end - 1; p > data; p--)
                if (p[-1] == '\n') {
                        crc_line = p;
                        break;
                }
        if (!crc_line || end - crc_line != 13 || strncmp(crc_line, "crc=", 4) != 0)
                return -EBADMSG;
        errno = 0;
        crc = strtoul(crc_line + 4, &crc_end, 16);
        if (errno != 0 || crc_end != end - 1 || crc != crc32_compute(data, (size_t) (crc_line - data)))
                return -EBADMSG;
        *ret_crc_line = crc_line;
        return 0;
}

/* Takes body (n bytes) and returns it with its crc line. */
static int record_seal(const char *body, size_t n, char **ret) {
        char *full;

        if (asprintf(&full, "%scrc=%08" PRIx32 "\n", body, crc32_compute(body, n)) < 0)
                return -ENOMEM;
        *ret = full;
        return 0;
}

static int entry_format(const Ping *e, uint64_t seq, char **ret) {
        char seq_line[32] = "";
        _cleanup_free_ char *body = NULL, *hex = NULL;
        int n;

        if (!e->check || !e->unit || !e->url || !value_ok(e->check) || !value_ok(e->unit) || !value_ok(e->url) ||
            !value_ok(e->invocation) || !value_ok(e->source) || !value_ok(e->content_type))
                return -EINVAL;
        if (e->body && e->body_size > (OUTBOX_ENTRY_MAX - 4096) / 2)
                return -E2BIG;
        if (e->body) {
                hex = hex_encode(e->body, e->body_size);
                if (!hex)
                        return -ENOMEM;
        }
        if (seq > 0)
                snprintf(seq_line, sizeof(seq_line), "seq=%" PRIu64 "\n", seq);
        n = asprintf(&body,
                     OUTBOX_MAGIC "%scheck=%s\nunit=%s\ninvocation=%s\nurl=%s\nmethod=%s\nsource=%s\ncreated=%" PRIu64
                                  "\nevent=%s\n%s%s%s%s%s%s",
                     seq_line, e->check, e->unit, strempty(e->invocation), e->url, http_method_to_string(e->method),
                     strempty(e->source), (uint64_t) e->created, strempty(event_to_string(e->event)),
                     hex ? "body=" : "", strempty(hex), hex ? "\n" : "", e->content_type ? "content-type=" : "",
                     strempty(e->content_type), e->content_type ? "\n" : "");
        if (n < 0)
                return -ENOMEM;
        if ((size_t) n > OUTBOX_ENTRY_MAX - 32)
                return -E2BIG;
        return record_seal(body, (size_t) n, ret);
}

int outbox_entry_format(const Ping *e, char **ret) {
        return entry_format(e, 0, ret);
}

int outbox_record_format_add(const Ping *e, uint64_t seq, char **ret) {
        return entry_format(e, seq, ret);
}

int outbox_entry_parse(const char *data, size_t size, Ping *ret) {
        Ping e = { .method = _HTTP_METHOD_MAX };
        const char *crc_line, *p;
        bool have_created = false;
        int r = -EBADMSG;

        if (record_verify(data, size, &crc_line) < 0)
                return -EBADMSG;

        for (p = data + strlen(OUTBOX_MAGIC); p < crc_line;) {
                const char *nl = memchr(p, '\n', (size_t) (crc_line - p)), *eq;
                _cleanup_free_ char *value = NULL;
                size_t klen;

                if (!nl)
                        goto fail;
                eq = memchr(p, '=', (size_t) (nl - p));
                if (!eq)
                        goto fail;
                klen = (size_t) (eq - p);
                value = strndup(eq + 1, (size_t) (nl - eq - 1));
                if (!value) {
                        r = -ENOMEM;
                        goto fail;
                }
#define KEY(k) (klen == strlen(k) && strncmp(p, k, klen) == 0)
                if (KEY("check"))
                        free(e.check), e.check = TAKE_PTR(value);
                else if (KEY("unit"))
                        free(e.unit), e.unit = TAKE_PTR(value);
                else if (KEY("invocation")) {
                        free(e.invocation);
                        e.invocation = isempty(value) ? NULL : TAKE_PTR(value);
                } else if (KEY("url"))
                        free(e.url), e.url = TAKE_PTR(value);
                else if (KEY("source")) {
                        free(e.source);
                        e.source = isempty(value) ? NULL : TAKE_PTR(value);
                } else if (KEY("method")) {
                        e.method = streq(value, "GET")  ? HTTP_METHOD_GET :
                                   streq(value, "POST") ? HTTP_METHOD_POST :
                                                          _HTTP_METHOD_MAX;
                } else if (KEY("body")) {
                        free(e.body);
                        e.body = NULL;
                        r = hex_decode(value, &e.body, &e.body_size);
                        if (r < 0)
                                goto fail;
                        r = -EBADMSG;
                } else if (KEY("event")) {
                        /* An entry written before event= existed counts as success. */
                        for (Event ev = 0; ev < _EVENT_MAX; ev++)
                                if (streq(value, event_to_string(ev)))
                                        e.event = ev;
                } else if (KEY("content-type"))
                        free(e.content_type), e.content_type = TAKE_PTR(value);
                else if (KEY("created")) {
                        char *x;
                        errno = 0;
                        e.created = strtoull(value, &x, 10);
                        if (errno != 0 || *x || isempty(value))
                                goto fail;
                        have_created = true;
                }
                /* Unknown keys: written by a newer version; ignore. */
#undef KEY
                p = nl + 1;
        }

        if (!e.check || !e.unit || !e.url || e.method == _HTTP_METHOD_MAX || !have_created)
                goto fail;
        *ret = e;
        return 0;

fail:
        ping_done(&e);
        return r;
}

int outbox_record_format(const OutboxRecord *rec, char **ret) {
        _cleanup_free_ char *body = NULL;
        const PingRecord *p = &rec->ping;
        int n;

        if (rec->type != OUTBOX_RECORD_DONE && (isempty(rec->check) || !value_ok(rec->check)))
                return -EINVAL;
        switch (rec->type) {
        case OUTBOX_RECORD_DONE:
                n = asprintf(&body, OUTBOX_MAGIC "done=%" PRIu64 "\n", rec->seq);
                break;
        case OUTBOX_RECORD_LAST:
                if (!value_ok(rec->invocation))
                        return -EINVAL;
                n = asprintf(&body, OUTBOX_MAGIC "last=%s\ninvocation=%s\nexit=%" PRIu64 "\n", rec->check,
                             rec->invocation, (uint64_t) rec->exit);
                break;
        case OUTBOX_RECORD_PING:
                if (isempty(p->outcome) || !value_ok(p->outcome) || !value_ok(p->invocation))
                        return -EINVAL;
                n = asprintf(&body,
                             OUTBOX_MAGIC "ping=%s\noutcome=%s\nstatus=%ld\ntime=%" PRIu64 "\ninvocation=%s\n"
                                          "delivered=%" PRIu64 "\n",
                             rec->check, p->outcome, p->status, (uint64_t) p->time, p->invocation,
                             (uint64_t) p->delivered);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0)
                return -ENOMEM;
        return record_seal(body, (size_t) n, ret);
}

static int parse_u64(const char *p, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 20)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (uint64_t) (p[i] - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (p[i] - '0');
        }
        *ret = v;
        return 0;
}

static int copy_value(char *dst, size_t dst_size, const char *p, size_t n) {
        if (n >= dst_size)
                return -EBADMSG;
        memcpy(dst, p, n);
        dst[n] = 0;
        return 0;
}

/* One "key=value" line of a record into rec; which keys were seen goes into *seen. */
enum { SEEN_SEQ = 1, SEEN_DONE = 2, SEEN_CREATED = 4, SEEN_CHECK = 8, SEEN_LAST = 16, SEEN_PING = 32 };

static int record_line(OutboxRecord *rec, const char *k, size_t klen, const char *v, size_t n, unsigned *seen) {
        uint64_t u;

#define KEY(s) (klen == strlen(s) && memcmp(k, s, klen) == 0)
        if (KEY("seq") || KEY("done") || KEY("created") || KEY("exit") || KEY("time") || KEY("delivered")) {
                if (parse_u64(v, n, &u) < 0)
                        return -EBADMSG;
                if (KEY("seq") || KEY("done"))
                        rec->seq = u;
                *seen |= KEY("seq") ? SEEN_SEQ : KEY("done") ? SEEN_DONE : KEY("created") ? SEEN_CREATED : 0;
                if (KEY("created"))
                        rec->created = u;
                else if (KEY("exit"))
                        rec->exit = u;
                else if (KEY("time"))
                        rec->ping.time = u;
                else if (KEY("delivered"))
                        rec->ping.delivered = u;
        } else if (KEY("check") || KEY("last") || KEY("ping")) {
                *seen |= KEY("check") ? SEEN_CHECK : KEY("last") ? SEEN_LAST : SEEN_PING;
                return copy_value(rec->check, sizeof(rec->check), v, n);
        } else if (KEY("invocation")) {
                /* An add's run may have none; a last record's is 32 hex digits. */
                if (copy_value(rec->invocation, sizeof(rec->invocation), v, n) < 0)
                        return (*seen & SEEN_LAST) ? -EBADMSG : 0;
                memcpy(rec->ping.invocation, rec->invocation, sizeof(rec->invocation));
        } else if (KEY("event"))
                rec->start = n == 5 && memcmp(v, "start", 5) == 0;
        else if (KEY("outcome"))
                return copy_value(rec->ping.outcome, sizeof(rec->ping.outcome), v, n);
        else if (KEY("status")) {
                char buf[24], *end;

                if (copy_value(buf, sizeof(buf), v, n) < 0)
                        return -EBADMSG;
                errno = 0;
                rec->ping.status = strtol(buf, &end, 10);
                if (errno != 0 || *end || n == 0)
                        return -EBADMSG;
        }
        /* Other keys: an add's other fields, or written by a newer version. */
#undef KEY
        return 0;
}

int outbox_record_parse(const char *data, size_t size, OutboxRecord *ret) {
        OutboxRecord rec = {};
        const char *crc_line;
        unsigned seen = 0;

        if (record_verify(data, size, &crc_line) < 0)
                return -EBADMSG;
        for (const char *p = data + MAGIC_LEN; p < crc_line;) {
                const char *nl = memchr(p, '\n', (size_t) (crc_line - p)), *eq;

                if (!nl || !(eq = memchr(p, '=', (size_t) (nl - p))))
                        return -EBADMSG;
                if (record_line(&rec, p, (size_t) (eq - p), eq + 1, (size_t) (nl - eq - 1), &seen) < 0)
                        return -EBADMSG;
                p = nl + 1;
        }
        if ((seen & (SEEN_SEQ | SEEN_CHECK | SEEN_CREATED)) == (SEEN_SEQ | SEEN_CHECK | SEEN_CREATED) &&
            !isempty(rec.check))
                rec.type = OUTBOX_RECORD_ADD;
        else if (seen == SEEN_DONE)
                rec.type = OUTBOX_RECORD_DONE;
        else if ((seen & SEEN_LAST) && !isempty(rec.check) && strlen(rec.invocation) == 32)
                rec.type = OUTBOX_RECORD_LAST;
        else if ((seen & SEEN_PING) && !isempty(rec.check) && !isempty(rec.ping.outcome))
                rec.type = OUTBOX_RECORD_PING;
        else
                return -EBADMSG;
        *ret = rec;
        return 0;
}

static bool at_magic(const char *p, size_t left) {
        return left >= MAGIC_LEN && memcmp(p, OUTBOX_MAGIC, MAGIC_LEN) == 0;
}

/* The length of the record at p up to its crc line (or up to the next record if it has none);
 * 0 when its end is not in the data: an append cut short. */
static size_t record_extent(const char *p, size_t left) {
        size_t pos = MAGIC_LEN;

        while (pos < left) {
                const char *nl = memchr(p + pos, '\n', left - pos);

                if (!nl)
                        return 0;
                if (left - pos >= 4 && memcmp(p + pos, "crc=", 4) == 0)
                        return (size_t) (nl - p) + 1;
                if (at_magic(p + pos, left - pos))
                        return pos;
                pos = (size_t) (nl - p) + 1;
        }
        return 0;
}

void outbox_log_walk(const char *data, size_t size, outbox_record_cb cb, void *userdata, OutboxLogStats *ret) {
        OutboxLogStats st = {};
        size_t pos = 0, damaged = 0;

        while (pos < size) {
                size_t len = at_magic(data + pos, size - pos) ? record_extent(data + pos, size - pos) : 0;
                const char *next;
                OutboxRecord rec;

                if (len > 0 && outbox_record_parse(data + pos, len, &rec) >= 0) {
                        cb(&rec, pos, len, userdata);
                        pos += len;
                        st.end = pos;
                        st.n++;
                        st.damaged += damaged; /* damage before a valid record is not a torn end */
                        damaged = 0;
                        continue;
                }
                /* Damaged or cut short: go on at the next record's magic line, if any. */
                next = memmem(data + pos + 1, size - pos - 1, "\n" OUTBOX_MAGIC, MAGIC_LEN + 1);
                if (!next)
                        break;
                damaged++;
                pos = (size_t) (next - data) + 1;
        }
        *ret = st;
}

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_all(int fd, const char *data, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t k = write(fd, data + done, size - done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        return 0;
}

static void fsync_dir(const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd >= 0)
                (void) fsync(dfd);
}

int write_file_atomic(const char *dir, const char *name, const char *data, size_t size, bool durable) {
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&tmp, "%s/.#%s.tmp", dir, name) < 0 || asprintf(&final, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r >= 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, final) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        /* Make the rename itself durable. */
        if (durable)
                fsync_dir(dir);
        return 0;
}

/* --- the live entries: an array by seq (seqs are handed out in ascending order) ------------ */

static void count_add(Outbox *o, const char *check, int d) {
        uintptr_t c;

        if (!o->counts)
                return;
        c = (uintptr_t) hashmap_get(o->counts, check);
        c = d < 0 ? (c > 0 ? c - 1 : 0) : c + 1;
        if (c == 0)
                (void) hashmap_remove(o->counts, check); /* an entry only for checks with live ones */
        else /* no memory for the count: that check is bounded at the log's end instead */
                (void) hashmap_replace(o->counts, check, (void *) c);
}

static Item *item_find(Outbox *o, uint64_t seq) {
        size_t lo = 0, hi = o->n_items;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (o->items[mid].seq == seq)
                        return &o->items[mid];
                if (o->items[mid].seq < seq)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static int item_put(Outbox *o, uint64_t seq, uint64_t offset, uint32_t size, usec_t created, const char *check) {
        /* A new seq is the largest: no search. */
        Item *i = o->n_items > 0 && o->items[o->n_items - 1].seq < seq ? NULL : item_find(o, seq);
        size_t at;
        int r;

        if (i) {
                if (!i->dead)
                        count_add(o, i->check, -1);
                count_add(o, check, +1);
                r = free_and_strdup(&i->check, check);
                if (r < 0)
                        return r;
                if (i->dead)
                        o->n_dead--;
                else
                        o->live_bytes -= i->size;
                *i = (Item) { seq, offset, size, false, created, i->check };
                o->live_bytes += size;
                return 0;
        }
        if (o->n_items == o->allocated) {
                size_t a = MAX(o->allocated * 2, (size_t) 64);
                Item *n = realloc(o->items, a * sizeof(Item));

                if (!n)
                        return -ENOMEM;
                o->items = n;
                o->allocated = a;
        }
        /* Almost always at the end; an older version's seqs may come in any order. */
        for (at = o->n_items; at > 0 && o->items[at - 1].seq > seq; at--)
                ;
        memmove(o->items + at + 1, o->items + at, (o->n_items - at) * sizeof(Item));
        o->items[at] = (Item) { seq, offset, size, false, created, strdup(check) };
        if (!o->items[at].check) {
                memmove(o->items + at, o->items + at + 1, (o->n_items - at) * sizeof(Item));
                return -ENOMEM;
        }
        o->n_items++;
        o->live_bytes += size;
        count_add(o, check, +1);
        return 0;
}

/* Drops the answered slots from the array. Invalidates Item pointers. */
static void items_pack(Outbox *o) {
        size_t k = 0;

        for (size_t i = 0; i < o->n_items; i++)
                if (o->items[i].dead)
                        free(o->items[i].check);
                else
                        o->items[k++] = o->items[i];
        o->n_items = k;
        o->n_dead = 0;
}

/* Marks an entry answered without packing the array: Item pointers and indexes stay valid. */
static void item_mark_dead(Outbox *o, Item *i) {
        i->dead = true;
        o->n_dead++;
        o->live_bytes -= i->size;
        count_add(o, i->check, -1);
}

static void items_maybe_pack(Outbox *o) {
        if (o->n_dead > 64 && o->n_dead * 2 > o->n_items)
                items_pack(o);
}

static void item_kill(Outbox *o, Item *i) {
        item_mark_dead(o, i);
        items_maybe_pack(o);
}

static int last_put(Outbox *o, const char *check, const char *invocation, usec_t exit_usec) {
        LastRecord *l = hashmap_get(o->last, check);
        int r;

        if (!l) {
                l = calloc(1, sizeof(LastRecord));
                if (!l)
                        return -ENOMEM;
                r = hashmap_put(o->last, check, l);
                if (r < 0) {
                        free(l);
                        return r;
                }
        }
        snprintf(l->invocation, sizeof(l->invocation), "%s", invocation);
        l->exit = exit_usec;
        return 0;
}

static int ping_put(Outbox *o, const char *check, const PingRecord *p) {
        PingRecord *e = hashmap_get(o->pings, check);
        int r;

        if (!e) {
                e = calloc(1, sizeof(PingRecord));
                if (!e)
                        return -ENOMEM;
                r = hashmap_put(o->pings, check, e);
                if (r < 0) {
                        free(e);
                        return r;
                }
        }
        *e = *p;
        return 0;
}

/* --- the bounds while the log is read ------------------------------------------------------- */

static int cmp_items_by_age(const void *a, const void *b, void *userdata) {
        const Item *items = userdata, *x = &items[*(const size_t *) a], *y = &items[*(const size_t *) b];

        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The live entries' indexes (of check, or of all with NULL), oldest first in the replay's order:
 * when the run ended, then seq. */
static int live_by_age(Outbox *o, const char *check, size_t **ret, size_t *ret_n) {
        size_t *idx = malloc(sizeof(size_t) * (o->n_items + 1)), n = 0;

        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < o->n_items; i++)
                if (!o->items[i].dead && (!check || streq(o->items[i].check, check)))
                        idx[n++] = i;
        qsort_r(idx, n, sizeof(size_t), cmp_items_by_age, o->items);
        *ret = idx;
        *ret_n = n;
        return 0;
}

/* Drops a check's oldest live entries until keep are left. */
static int trim_check(Outbox *o, const char *check, size_t keep) {
        _cleanup_free_ size_t *idx = NULL;
        size_t n;
        int r = live_by_age(o, check, &idx, &n);

        if (r < 0 || n <= keep)
                return r;
        for (size_t i = 0; i < n - keep; i++)
                item_mark_dead(o, &o->items[idx[i]]);
        o->dropped += n - keep;
        items_maybe_pack(o);
        return 0;
}

/* Keeps what a full queue keeps, as the replay would (sender.c): newest first, an entry stays
 * if its check has fewer than max-queue-per-check newer ones kept and fewer than max-queue are
 * kept in all. An entry dropped now would be dropped at the end too: every later add is newer,
 * and one that pushes an entry of its check out is itself kept in its place. */
static int trim_all(Outbox *o) {
        _cleanup_(hashmap_freep) Hashmap *per_check = NULL;
        _cleanup_free_ size_t *idx = NULL;
        size_t n = 0, kept = 0, dropped = 0;
        int r;

        r = hashmap_new(&per_check, HASHMAP_KEYS_BORROW);
        if (r >= 0)
                r = live_by_age(o, NULL, &idx, &n);
        for (size_t i = n; r >= 0 && i > 0; i--) {
                Item *it = &o->items[idx[i - 1]];
                uintptr_t c = (uintptr_t) hashmap_get(per_check, it->check) + 1;

                if ((o->max_per_check == 0 || c <= o->max_per_check) && (o->max_items == 0 || kept < o->max_items)) {
                        r = hashmap_replace(per_check, it->check, (void *) c);
                        kept++;
                        continue;
                }
                item_mark_dead(o, it);
                dropped++;
        }
        o->dropped += dropped;
        items_maybe_pack(o);
        return r;
}

/* After each add while the log is read: a check at twice its bound is cut back to it, and all
 * of them when twice max-queue are live (amortized: the index holds at most about twice the
 * bounds, however long the log). */
static int bound_after_add(Outbox *o, const char *check) {
        int r = 0;

        if (o->max_per_check > 0 && o->counts && (uintptr_t) hashmap_get(o->counts, check) >= 2 * o->max_per_check)
                r = trim_check(o, check, o->max_per_check);
        if (r >= 0 && o->max_items > 0 && o->n_items - o->n_dead >= 2 * o->max_items)
                r = trim_all(o);
        return r;
}

/* The add of a run end says which run was decided on last, as a last record would (unless the
 * check's record is of a later run already: an add stored again with its log body). */
static int last_from_add(Outbox *o, const char *check, const char *invocation, usec_t created, bool start) {
        const LastRecord *l = hashmap_get(o->last, check);

        if (start || !invocation || strlen(invocation) != 32 || (l && l->exit >= created))
                return 0;
        return last_put(o, check, invocation, created);
}

/* The part of the log being walked: records' offsets are relative to its start. */
typedef struct LogWindow {
        Outbox *o;
        uint64_t base;
} LogWindow;

static void apply_record(const OutboxRecord *rec, size_t window_offset, size_t size, void *userdata) {
        LogWindow *w = userdata;
        Outbox *o = w->o;
        uint64_t offset = w->base + window_offset;
        Item *i;
        int r = 0;

        switch (rec->type) {
        case OUTBOX_RECORD_ADD:
                r = item_put(o, rec->seq, offset, (uint32_t) size, rec->created, rec->check);
                if (r >= 0)
                        r = last_from_add(o, rec->check, rec->invocation, rec->created, rec->start);
                if (r >= 0)
                        r = bound_after_add(o, rec->check);
                break;
        case OUTBOX_RECORD_DONE:
                i = item_find(o, rec->seq);
                if (i && !i->dead)
                        item_kill(o, i);
                break;
        case OUTBOX_RECORD_LAST:
                r = last_put(o, rec->check, rec->invocation, rec->exit);
                break;
        case OUTBOX_RECORD_PING:
                r = ping_put(o, rec->check, &rec->ping);
                break;
        }
        if (rec->type <= OUTBOX_RECORD_DONE && rec->seq >= o->next_seq)
                o->next_seq = rec->seq + 1;
        if (r < 0 && o->load_error == 0)
                o->load_error = r;
}

/* --- the log ------------------------------------------------------------------------------ */

/* Walks the mapped log a window at a time and gives the pages read back to the kernel, so that
 * a large log (100,000 entries after an outage) does not sit in the daemon's memory: only the
 * index of the entries the bounds keep does. A window ends at its last whole record; the next one starts
 * there (a record cut by the window's end, or damage, is read again whole). */
#define LOG_WINDOW (1U << 20)
static void log_walk_windows(Outbox *o, const char *p, size_t size, OutboxLogStats *ret) {
        size_t start = 0, window = LOG_WINDOW, page = (size_t) sysconf(_SC_PAGESIZE);
        OutboxLogStats total = {};

        for (;;) {
                LogWindow w = { .o = o, .base = start };
                size_t len = MIN(window, size - start), released;
                bool last = start + len == size;
                OutboxLogStats st;

                outbox_log_walk(p + start, len, apply_record, &w, &st);
                total.n += st.n;
                total.damaged += st.damaged;
                if (last) {
                        total.end = start + st.end;
                        break;
                }
                if (st.end == 0) { /* no whole record in it: one larger than the window */
                        window *= 2;
                        continue;
                }
                total.end = start + st.end;
                start += st.end;
                window = LOG_WINDOW;
                released = start / page * page;
                if (released > 0)
                        (void) madvise((void *) p, released, MADV_DONTNEED);
        }
        *ret = total;
}

/* Reads the whole log: the live entries' places, the last and ping records. */
static int log_load(Outbox *o) {
        _cleanup_close_ int fd = -EBADF;
        OutboxLogStats st = {};
        struct stat s;
        void *p;

        fd = open(o->log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
                o->loaded = true;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &s) < 0)
                return -errno;
        if (s.st_size == 0) {
                o->loaded = true;
                return 0;
        }
        p = mmap(NULL, (size_t) s.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        if ((o->max_items > 0 || o->max_per_check > 0) && hashmap_new(&o->counts, HASHMAP_KEYS_COPY) < 0)
                o->load_error = -ENOMEM;
        log_walk_windows(o, p, (size_t) s.st_size, &st);
        (void) munmap(p, (size_t) s.st_size);
        if (o->load_error == 0 && (o->max_items > 0 || o->max_per_check > 0))
                o->load_error = trim_all(o); /* at the end, exactly the bounds */
        o->counts = hashmap_free(o->counts);
        o->held = o->n_items - o->n_dead + o->dropped;
        o->size = st.end;
        o->loaded = true;
        if (st.damaged > 0)
                log_full(o->read_only ? LOG_DEBUG : LOG_WARNING,
                         "%s: skipped %zu damaged record%s (a checksum mismatch: the disk or an edit changed "
                         "them); pings in them are not sent.",
                         o->log_path, st.damaged, st.damaged == 1 ? "" : "s");
        if (st.end < (uint64_t) s.st_size)
                log_debug("%s: the last %" PRIu64 " bytes are not a whole record (an append a crash cut short); "
                          "ignored.",
                          o->log_path, (uint64_t) s.st_size - st.end);
        return o->load_error;
}

/* Opens the log for appending (again, after the state directory was not writable). */
static int log_open(Outbox *o) {
        struct stat s;
        int fd, r;

        if (o->fd >= 0)
                return 0;
        if (o->read_only)
                return -EROFS;
        r = mkdir_p(o->dir, 0700);
        if (r < 0)
                return r;
        fd = open(o->log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &s) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        /* Appends go right after the last whole record: a torn one is cut off. A log that
         * could not be read is never cut. */
        if (!o->loaded)
                o->size = (uint64_t) s.st_size;
        else if ((uint64_t) s.st_size > o->size && ftruncate(fd, (off_t) o->size) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        o->size = MIN(o->size, (uint64_t) s.st_size);
        o->fd = fd;
        return 0;
}

/* Appends one record; with sync, durable when it returns. A failed append is cut off again, so
 * that the next one follows a whole record. */
static int log_append(Outbox *o, const char *data, size_t size, bool sync, uint64_t *ret_offset) {
        int r = log_open(o);

        if (r < 0)
                return r;
        r = write_all(o->fd, data, size);
        if (r >= 0 && sync && fdatasync(o->fd) < 0)
                r = -errno;
        if (r < 0) {
                (void) ftruncate(o->fd, (off_t) o->size);
                return r;
        }
        if (ret_offset)
                *ret_offset = o->size;
        o->size += size;
        return 0;
}

static int log_append_record(Outbox *o, const OutboxRecord *rec) {
        _cleanup_free_ char *data = NULL;
        int r = outbox_record_format(rec, &data);

        return r < 0 ? r : log_append(o, data, strlen(data), false, NULL);
}

static int write_check_records(Outbox *o, int fd) {
        HashmapIter it = HASHMAP_ITER_INIT;
        const char *check;
        void *v;
        int r;

        while (hashmap_iterate(o->last, &it, &check, &v)) {
                OutboxRecord rec = { .type = OUTBOX_RECORD_LAST, .exit = ((LastRecord *) v)->exit };
                _cleanup_free_ char *data = NULL;

                snprintf(rec.check, sizeof(rec.check), "%s", check);
                memcpy(rec.invocation, ((LastRecord *) v)->invocation, sizeof(rec.invocation));
                r = outbox_record_format(&rec, &data);
                if (r >= 0)
                        r = write_all(fd, data, strlen(data));
                if (r < 0 && r != -EINVAL)
                        return r;
        }
        it = HASHMAP_ITER_INIT;
        while (hashmap_iterate(o->pings, &it, &check, &v)) {
                OutboxRecord rec = { .type = OUTBOX_RECORD_PING, .ping = *(PingRecord *) v };
                _cleanup_free_ char *data = NULL;

                snprintf(rec.check, sizeof(rec.check), "%s", check);
                r = outbox_record_format(&rec, &data);
                if (r >= 0)
                        r = write_all(fd, data, strlen(data));
                if (r < 0 && r != -EINVAL)
                        return r;
        }
        return 0;
}

/* Rewrites the log with what it still needs: the live adds (copied as they are), each check's
 * last and ping record. A temporary file, fsync'ed, renamed over the log: a crash leaves the
 * old log or the new one, both whole. */
static int log_compact(Outbox *o) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_free_ uint64_t *offsets = NULL;
        int fd;
        uint64_t size = 0;
        int r = 0;

        items_pack(o);
        if (asprintf(&tmp, "%s/.#" LOG_NAME ".tmp", o->dir) < 0 || !(offsets = calloc(o->n_items + 1, 8)))
                return -ENOMEM;
        fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < o->n_items && r >= 0; i++) {
                _cleanup_free_ char *buf = malloc(o->items[i].size);

                if (!buf)
                        r = -ENOMEM;
                else if (pread(o->fd, buf, o->items[i].size, (off_t) o->items[i].offset) != o->items[i].size)
                        r = -EIO;
                else
                        r = write_all(fd, buf, o->items[i].size);
                offsets[i] = size;
                size += o->items[i].size;
        }
        if (r >= 0)
                r = write_check_records(o, fd);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, o->log_path) < 0)
                r = -errno;
        if (r < 0) {
                close(fd);
                (void) unlink(tmp);
                return r;
        }
        fsync_dir(o->dir);
        for (size_t i = 0; i < o->n_items; i++)
                o->items[i].offset = offsets[i];
        if (o->fd >= 0)
                close(o->fd);
        o->fd = fd;
        o->size = (uint64_t) lseek(o->fd, 0, SEEK_END);
        return 0;
}

static void log_maybe_compact(Outbox *o) {
        uint64_t needed = o->live_bytes + CHECK_RECORDS_SIZE * (hashmap_size(o->last) + hashmap_size(o->pings));
        int r;

        if (o->fd < 0 || o->size < COMPACT_MIN || o->size < 4 * needed || o->size < 2 * o->compact_failed_at)
                return;
        r = log_compact(o);
        if (r < 0) {
                /* Not urgent: the log only grows until a rewrite works. */
                log_warning_errno(r, "Cannot rewrite %s: %m; trying again when it is twice as large.", o->log_path);
                o->compact_failed_at = o->size;
        } else
                o->compact_failed_at = 0;
}

/* --- what older versions left: one file per entry, last/CHECK and pings/CHECK ------------ */

static int legacy_names(const char *dir, bool pings_only, Strv *ret) {
        _cleanup_(closedirp_) DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || (pings_only && !endswith(de->d_name, ".ping")) ||
                    (!pings_only && de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
                        continue;
                r = strv_push(ret, de->d_name);
                if (r < 0)
                        return r;
        }
        strv_sort(ret);
        return 0;
}

/* An entry file of an older version becomes an add record; a damaged one is moved aside. */
static int legacy_import_entry(Outbox *o, const char *name) {
        _cleanup_free_ char *path = NULL, *data = NULL, *aside = NULL;
        _cleanup_(ping_done) Ping e = {};
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/%s", o->dir, name) < 0)
                return -ENOMEM;
        r = read_full_file(path, OUTBOX_ENTRY_MAX, &data, &size);
        if (r >= 0)
                r = outbox_entry_parse(data, size, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Kept for a human to look at, out of the way of the next start. */
                if (asprintf(&aside, "%s.corrupt", path) < 0)
                        return -ENOMEM;
                (void) rename(path, aside);
                log_warning("Outbox entry %s/%s is %s; moved aside to %s.corrupt.", o->dir, name,
                            r == -EFBIG ? "too large" : "unreadable or damaged", name);
                return 0;
        }
        r = outbox_store(o, &e);
        free(e.id);
        e.id = NULL;
        if (r < 0)
                return r;
        return unlink(path) < 0 ? -errno : 0;
}

static int legacy_import_check(Outbox *o, const char *dir, const char *check, bool last) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        OutboxRecord rec = { .type = last ? OUTBOX_RECORD_LAST : OUTBOX_RECORD_PING };
        unsigned long long t;
        const char *d;
        int r;

        if (asprintf(&path, "%s/%s", dir, check) < 0)
                return -ENOMEM;
        r = read_full_file(path, 512, &data, NULL);
        if (r == -ENOMEM)
                return r;
        snprintf(rec.check, sizeof(rec.check), "%s", check);
        if (r >= 0 && last && sscanf(data, "invocation=%32[0-9a-f]\nexit=%llu\n", rec.invocation, &t) == 2 &&
            strlen(rec.invocation) == 32) {
                rec.exit = t;
                r = last_put(o, check, rec.invocation, rec.exit);
        } else if (r >= 0 && !last &&
                   sscanf(data, "outcome=%15[a-z]\nstatus=%ld\ntime=%llu\ninvocation=%32[0-9a-f]", rec.ping.outcome,
                          &rec.ping.status, &t, rec.ping.invocation) >= 3) {
                rec.ping.time = t;
                if ((d = strstr(data, "\ndelivered=")) && sscanf(d, "\ndelivered=%llu", &t) == 1)
                        rec.ping.delivered = t;
                else if (streq(rec.ping.outcome, "delivered"))
                        rec.ping.delivered = rec.ping.time;
                r = ping_put(o, check, &rec.ping);
        } else
                r = -EBADMSG; /* unreadable: nothing to keep */
        if (r >= 0)
                r = log_append_record(o, &rec);
        if (r < 0 && r != -EBADMSG)
                return r;
        return unlink(path) < 0 ? -errno : 0;
}

/* Moves an older version's files into the log: entries, then the per-check records. */
static int legacy_import(Outbox *o) {
        static const char *const dirs[] = { "last", "pings" };
        _cleanup_(strv_done) Strv names = {};
        int r;

        r = legacy_names(o->dir, true, &names);
        for (size_t i = 0; r >= 0 && i < names.n; i++)
                r = legacy_import_entry(o, names.items[i]);
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(dirs); k++) {
                _cleanup_free_ char *dir = NULL;

                strv_done(&names);
                if (asprintf(&dir, "%s/%s", o->state_dir, dirs[k]) < 0)
                        return -ENOMEM;
                r = legacy_names(dir, false, &names);
                for (size_t i = 0; r >= 0 && i < names.n; i++)
                        r = legacy_import_check(o, dir, names.items[i], k == 0);
                if (r >= 0 && fdatasync(o->fd) < 0)
                        r = -errno;
                if (r >= 0)
                        (void) rmdir(dir);
        }
        return r;
}

/* --- the outbox ---------------------------------------------------------------------------- */

static int outbox_alloc(const char *state_dir, bool read_only, Outbox **ret) {
        Outbox *o = calloc(1, sizeof(Outbox));

        if (!o)
                return -ENOMEM;
        o->fd = -EBADF;
        o->read_only = read_only;
        o->next_seq = 1;
        o->state_dir = strdup(state_dir);
        if (!o->state_dir || asprintf(&o->dir, "%s/outbox", state_dir) < 0 ||
            asprintf(&o->log_path, "%s/outbox/" LOG_NAME, state_dir) < 0 ||
            hashmap_new(&o->last, HASHMAP_KEYS_COPY) < 0 || hashmap_new(&o->pings, HASHMAP_KEYS_COPY) < 0) {
                outbox_free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

int outbox_new(Outbox **ret, const char *state_dir) {
        return outbox_new_bounded(ret, state_dir, 0, 0);
}

int outbox_new_bounded(Outbox **ret, const char *state_dir, size_t max_items, size_t max_per_check) {
        Outbox *o;
        int r, k;

        assert(ret && state_dir);
        r = outbox_alloc(state_dir, false, &o);
        if (r < 0)
                return r;
        o->max_items = max_items;
        o->max_per_check = max_per_check;
        k = log_load(o);
        if (k == -ENOMEM) {
                outbox_free(o);
                return k;
        }
        if (k < 0)
                log_warning_errno(k, "Cannot read %s: %m; pings in it are not sent. Make it readable.", o->log_path);
        /* A read-only state directory is not fatal: pings are still sent from memory. */
        r = log_open(o);
        if (r >= 0)
                r = legacy_import(o);
        if (r >= 0 && o->dropped > 0) {
                /* The dropped entries leave the log now (their done records would be as many
                 * lines as there are entries); if that fails they are dropped again next time. */
                k = log_compact(o);
                if (k < 0)
                        log_warning_errno(k, "Cannot rewrite %s without the dropped pings: %m.", o->log_path);
        } else if (r >= 0)
                log_maybe_compact(o);
        *ret = o;
        return r < 0 ? r : 0;
}

Outbox *outbox_free(Outbox *o) {
        HashmapIter it = HASHMAP_ITER_INIT;
        void *v;

        if (!o)
                return NULL;
        (void) outbox_sync(o);
        if (o->fd >= 0)
                close(o->fd);
        for (size_t i = 0; i < o->n_items; i++)
                free(o->items[i].check);
        free(o->items);
        while (o->last && hashmap_iterate(o->last, &it, NULL, &v))
                free(v);
        it = HASHMAP_ITER_INIT;
        while (o->pings && hashmap_iterate(o->pings, &it, NULL, &v))
                free(v);
        hashmap_free(o->last);
        hashmap_free(o->pings);
        hashmap_free(o->counts);
        free(o->state_dir);
        free(o->dir);
        free(o->log_path);
        free(o);
        return NULL;
}

void outbox_report_write(Outbox *o, int r, const char *what) {
        if (r < 0 && !o->broken) {
                log_warning_errno(r,
                                  "Cannot write %s in %s: %m. Pings are sent from memory and lost if timerbeat "
                                  "stops before they are delivered; make the directory writable.",
                                  what, o->state_dir);
                o->broken = true;
        } else if (r >= 0 && o->broken) {
                log_notice("%s is writable again; pings are kept in the outbox again.", o->state_dir);
                o->broken = false;
        }
}

const char *outbox_dir(const Outbox *o) {
        return o->dir;
}

static int id_parse(const char *id, uint64_t *ret) {
        return id ? parse_u64(id, strlen(id), ret) : -EINVAL;
}

int outbox_store(Outbox *o, Ping *e) {
        _cleanup_free_ char *data = NULL, *id = NULL;
        uint64_t seq, offset;
        size_t size;
        int r;

        assert(o && e);
        if (e->id && id_parse(e->id, &seq) < 0)
                return -EINVAL;
        if (!e->id)
                seq = o->next_seq;
        r = outbox_record_format_add(e, seq, &data);
        if (r < 0)
                return r;
        size = strlen(data);
        /* The outbox is the promise: in the log (the page cache, which outlives the process)
         * before the first attempt, on the disk right after it is handed to the connection
         * (outbox_sync(), from the sender). */
        r = log_append(o, data, size, false, &offset);
        if (r < 0)
                return r;
        if (!o->unsynced)
                o->unsynced_since = now_usec(CLOCK_MONOTONIC);
        o->unsynced = true;
        if (!e->id) {
                o->next_seq++;
                if (asprintf(&id, "%" PRIu64, seq) < 0)
                        return -ENOMEM;
        }
        r = item_put(o, seq, offset, (uint32_t) size, e->created, e->check);
        if (r >= 0)
                r = last_from_add(o, e->check, e->invocation, e->created, e->event == EVENT_START);
        if (r < 0)
                return r;
        if (id)
                e->id = TAKE_PTR(id);
        return 0;
}

int outbox_remove(Outbox *o, const char *id) {
        OutboxRecord rec = { .type = OUTBOX_RECORD_DONE };
        Item *i;
        int r;

        assert(o && id);
        if (id_parse(id, &rec.seq) < 0 || !(i = item_find(o, rec.seq)) || i->dead)
                return 0;
        /* Not synced: lost in a power cut, the ping is sent once more (at least once). */
        r = log_append_record(o, &rec);
        if (r < 0)
                return r;
        item_kill(o, item_find(o, rec.seq));
        log_maybe_compact(o);
        return 0;
}

int outbox_remove_many(Outbox *o, const uint64_t *seqs, size_t n) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;

        /* One append for all: a done record is some 45 bytes. */
        buf = malloc(n * 64 + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                OutboxRecord rec = { .type = OUTBOX_RECORD_DONE, .seq = seqs[i] };
                _cleanup_free_ char *data = NULL;
                Item *it = item_find(o, seqs[i]);

                if (!it || it->dead)
                        continue;
                r = outbox_record_format(&rec, &data);
                if (r < 0)
                        return r;
                size += (size_t) stpcpy(buf + size, data) - (size_t) (buf + size);
        }
        r = size > 0 ? log_append(o, buf, size, false, NULL) : 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                Item *it = item_find(o, seqs[i]);

                if (it && !it->dead)
                        item_kill(o, it);
        }
        log_maybe_compact(o);
        return 0;
}

static int cmp_refs(const void *a, const void *b) {
        const OutboxRef *x = a, *y = b;

        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void outbox_refs_free(OutboxRef *refs, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(refs[i].check);
        free(refs);
}

int outbox_list(Outbox *o, OutboxRef **ret, size_t *ret_n) {
        OutboxRef *refs = calloc(o->n_items - o->n_dead + 1, sizeof(OutboxRef));
        size_t n = 0;

        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < o->n_items; i++) {
                if (o->items[i].dead)
                        continue;
                refs[n] = (OutboxRef) { o->items[i].seq, o->items[i].created, strdup(o->items[i].check) };
                if (!refs[n++].check) {
                        outbox_refs_free(refs, n);
                        return -ENOMEM;
                }
        }
        qsort(refs, n, sizeof(OutboxRef), cmp_refs);
        *ret = refs;
        *ret_n = n;
        return 0;
}

int outbox_load(Outbox *o, uint64_t seq, Ping **ret) {
        _cleanup_(ping_freep) Ping *e = calloc(1, sizeof(Ping));
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int own = -EBADF;
        Item *i = item_find(o, seq);
        int r;

        if (!e)
                return -ENOMEM;
        if (!i || i->dead)
                return -ENOENT;
        if (o->fd < 0) {
                own = open(o->log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (own < 0)
                        return -errno;
        }
        buf = malloc(i->size);
        if (!buf)
                return -ENOMEM;
        if (pread(o->fd >= 0 ? o->fd : own, buf, i->size, (off_t) i->offset) != i->size)
                return -EIO;
        r = outbox_entry_parse(buf, i->size, e);
        if (r < 0)
                return r;
        if (asprintf(&e->id, "%" PRIu64, seq) < 0) {
                e->id = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

int outbox_sync(Outbox *o) {
        if (!o->unsynced || o->fd < 0)
                return 0;
        /* Cleared also when it fails: an error here is reported, not retried in a loop. */
        o->unsynced = false;
        return fdatasync(o->fd) < 0 ? -errno : 0;
}

usec_t outbox_unsynced_since(const Outbox *o) {
        return o->unsynced ? o->unsynced_since : 0;
}

void outbox_load_dropped(const Outbox *o, size_t *ret_held, size_t *ret_dropped) {
        *ret_held = o->held;
        *ret_dropped = o->dropped;
}

size_t outbox_size(const Outbox *o) {
        return o->n_items - o->n_dead;
}

int outbox_read_last(Outbox *o, const char *check, char ret_invocation[static 33], usec_t *ret_exit) {
        const LastRecord *l = hashmap_get(o->last, check);

        if (!l)
                return -ENOENT;
        memcpy(ret_invocation, l->invocation, 33);
        *ret_exit = l->exit;
        return 0;
}

int outbox_write_last(Outbox *o, const char *check, const char *invocation, usec_t exit_usec) {
        OutboxRecord rec = { .type = OUTBOX_RECORD_LAST, .exit = exit_usec };
        const LastRecord *l;
        int r;

        if (strlen(check) >= sizeof(rec.check) || strlen(invocation) != 32)
                return -EINVAL;
        l = hashmap_get(o->last, check);
        if (l && l->exit == exit_usec && streq(l->invocation, invocation))
                return 0; /* the run's add record said so already */
        r = last_put(o, check, invocation, exit_usec);
        if (r < 0)
                return r;
        snprintf(rec.check, sizeof(rec.check), "%s", check);
        memcpy(rec.invocation, invocation, sizeof(rec.invocation));
        /* Not synced: if a crash loses it, the run is caught up once more (a repeated success
         * ping, which monitors take in stride), never lost. */
        r = log_append_record(o, &rec);
        if (r >= 0)
                log_maybe_compact(o);
        return r;
}

int outbox_write_ping(Outbox *o, const char *check, const char *outcome, long status, usec_t time,
                      const char *invocation) {
        OutboxRecord rec = { .type = OUTBOX_RECORD_PING };
        const PingRecord *before = hashmap_get(o->pings, check);
        int r;

        if (strlen(check) >= sizeof(rec.check) || strlen(outcome) >= sizeof(rec.ping.outcome) ||
            strlen(invocation) >= sizeof(rec.ping.invocation))
                return -EINVAL;
        snprintf(rec.check, sizeof(rec.check), "%s", check);
        snprintf(rec.ping.outcome, sizeof(rec.ping.outcome), "%s", outcome);
        snprintf(rec.ping.invocation, sizeof(rec.ping.invocation), "%s", invocation);
        rec.ping.status = status;
        rec.ping.time = time;
        rec.ping.delivered = streq(outcome, "delivered") ? time : before ? before->delivered : 0;
        r = ping_put(o, check, &rec.ping);
        if (r < 0)
                return r;
        /* Not data that matters for delivery: not synced. */
        r = log_append_record(o, &rec);
        if (r >= 0)
                log_maybe_compact(o);
        return r;
}

/* The commands look at the daemon's log without writing to it; `list` asks once per row. */
static Outbox *viewed;

static void viewed_free(void) {
        viewed = outbox_free(viewed);
}

static int outbox_view(const char *state_dir, Outbox **ret) {
        int r;

        if (viewed && streq(viewed->state_dir, state_dir)) {
                *ret = viewed;
                return 0;
        }
        if (!viewed)
                (void) atexit(viewed_free);
        viewed = outbox_free(viewed);
        r = outbox_alloc(state_dir, true, &viewed);
        if (r >= 0)
                r = log_load(viewed);
        if (r < 0) {
                viewed = outbox_free(viewed);
                return r;
        }
        *ret = viewed;
        return 0;
}

int outbox_read_ping(const char *state_dir, const char *check, PingRecord *ret) {
        const PingRecord *p;
        Outbox *o;
        int r;

        r = outbox_view(state_dir, &o);
        if (r < 0)
                return r;
        p = hashmap_get(o->pings, check);
        if (!p)
                return -ENOENT;
        *ret = *p;
        return 0;
}

int outbox_count_undelivered(const char *state_dir, Hashmap **ret) {
        _cleanup_(hashmap_freep) Hashmap *counts = NULL;
        Outbox *o;
        int r;

        r = hashmap_new(&counts, HASHMAP_KEYS_COPY);
        if (r < 0)
                return r;
        r = outbox_view(state_dir, &o);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_items; i++) {
                const char *c = o->items[i].check;

                if (o->items[i].dead)
                        continue;
                r = hashmap_replace(counts, c, (void *) ((uintptr_t) hashmap_get(counts, c) + 1));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(counts);
        return 0;
}
