/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hashmap.h"
#include "log.h"
#include "outbox.h"

#define OUTBOX_MAGIC "timerbeat-outbox 1\n"

struct Outbox {
        char *state_dir;
        bool broken;    /* the last write to the state directory failed */
        char *dir;      /* .../outbox */
        char *last_dir; /* .../last */
        char *ping_dir; /* .../pings */
        uint64_t seq;
};

uint32_t crc32_compute(const void *data, size_t size) {
        const uint8_t *p = data;
        uint32_t crc = 0xffffffffU;

        for (size_t i = 0; i < size; i++) {
                crc ^= p[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
        }
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

int outbox_entry_format(const Ping *e, char **ret) {
        _cleanup_free_ char *body = NULL, *hex = NULL;
        char *full;
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
        n = asprintf(&body,
                     OUTBOX_MAGIC "check=%s\nunit=%s\ninvocation=%s\nurl=%s\nmethod=%s\nsource=%s\ncreated=%" PRIu64
                                  "\nevent=%s\n%s%s%s%s%s%s",
                     e->check, e->unit, strempty(e->invocation), e->url, http_method_to_string(e->method),
                     strempty(e->source), (uint64_t) e->created, strempty(event_to_string(e->event)),
                     hex ? "body=" : "", strempty(hex), hex ? "\n" : "", e->content_type ? "content-type=" : "",
                     strempty(e->content_type), e->content_type ? "\n" : "");
        if (n < 0)
                return -ENOMEM;
        if ((size_t) n > OUTBOX_ENTRY_MAX - 32)
                return -E2BIG;
        if (asprintf(&full, "%scrc=%08" PRIx32 "\n", body, crc32_compute(body, (size_t) n)) < 0)
                return -ENOMEM;
        *ret = full;
        return 0;
}

int outbox_entry_parse(const char *data, size_t size, Ping *ret) {
        Ping e = { .method = _HTTP_METHOD_MAX };
        const char *crc_line, *p, *end = data + size;
        unsigned long crc;
        char *crc_end;
        bool have_created = false;
        int r = -EBADMSG;

        if (size < strlen(OUTBOX_MAGIC) || size > OUTBOX_ENTRY_MAX || memchr(data, 0, size) ||
            memcmp(data, OUTBOX_MAGIC, strlen(OUTBOX_MAGIC)) != 0)
                return -EBADMSG;

        /* The checksum line is the last line; it covers everything before it. */
        if (data[size - 1] != '\n')
                return -EBADMSG;
        crc_line = NULL;
        for (p = end - 1; p > data; p--)
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

int write_file_atomic(const char *dir, const char *name, const char *data, size_t size, bool durable) {
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        size_t done = 0;
        int r;

        if (asprintf(&tmp, "%s/.#%s.tmp", dir, name) < 0 || asprintf(&final, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (done < size) {
                ssize_t k = write(fd, data + done, size - done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                done += (size_t) k;
        }
        if (durable && fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, final) < 0) {
                r = -errno;
                goto fail;
        }
        /* Make the rename itself durable. */
        if (durable) {
                dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        (void) fsync(dfd);
        }
        return 0;

fail:
        (void) unlink(tmp);
        return r;
}

int outbox_new(Outbox **ret, const char *state_dir) {
        Outbox *o;
        int r;

        assert(ret && state_dir);
        o = calloc(1, sizeof(Outbox));
        if (!o)
                return -ENOMEM;
        o->state_dir = strdup(state_dir);
        if (!o->state_dir || asprintf(&o->dir, "%s/outbox", state_dir) < 0 ||
            asprintf(&o->last_dir, "%s/last", state_dir) < 0 || asprintf(&o->ping_dir, "%s/pings", state_dir) < 0) {
                outbox_free(o);
                return -ENOMEM;
        }
        r = mkdir_p(o->dir, 0700);
        if (r >= 0)
                r = mkdir_p(o->last_dir, 0700);
        if (r >= 0)
                r = mkdir_p(o->ping_dir, 0700);
        /* A read-only state directory is not fatal: pings are still sent from memory. */
        *ret = o;
        return r < 0 ? r : 0;
}

Outbox *outbox_free(Outbox *o) {
        if (!o)
                return NULL;
        free(o->state_dir);
        free(o->dir);
        free(o->last_dir);
        free(o->ping_dir);
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

int outbox_store(Outbox *o, Ping *e) {
        _cleanup_free_ char *data = NULL, *name = NULL;
        int r;

        assert(o && e);
        r = outbox_entry_format(e, &data);
        if (r < 0)
                return r;
        /* Zero-padded creation time first: names sort in the order the runs ended. */
        if (e->id)
                name = strdup(e->id);
        else if (asprintf(&name, "%020" PRIu64 "-%06" PRIu64 ".ping", (uint64_t) e->created, o->seq++ % 1000000) < 0)
                name = NULL;
        if (!name)
                return -ENOMEM;
        /* The outbox is the promise: on disk before the first attempt. */
        r = write_file_atomic(o->dir, name, data, strlen(data), true);
        if (r == -ENOENT && mkdir_p(o->dir, 0700) >= 0) /* created late: it was not writable at start */
                r = write_file_atomic(o->dir, name, data, strlen(data), true);
        if (r < 0)
                return r;
        if (!e->id)
                e->id = TAKE_PTR(name);
        return 0;
}

int outbox_remove(Outbox *o, const char *name) {
        _cleanup_free_ char *path = NULL;

        assert(o && name);
        if (asprintf(&path, "%s/%s", o->dir, name) < 0)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int outbox_replay(Outbox *o, outbox_entry_cb cb, outbox_corrupt_cb on_corrupt, void *userdata) {
        _cleanup_(closedirp_) DIR *d = NULL;
        _cleanup_(strv_done) Strv names = {};
        struct dirent *de;
        int r;

        d = opendir(o->dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (!endswith(de->d_name, ".ping") || de->d_name[0] == '.')
                        continue;
                r = strv_push(&names, de->d_name);
                if (r < 0)
                        return r;
        }
        if (names.n > 1)
                qsort(names.items, names.n, sizeof(char *), cmp_names);

        for (size_t i = 0; i < names.n; i++) {
                _cleanup_free_ char *path = NULL, *data = NULL, *aside = NULL;
                _cleanup_(ping_freep) Ping *e = calloc(1, sizeof(Ping));
                size_t size = 0;

                if (!e)
                        return -ENOMEM;

                if (asprintf(&path, "%s/%s", o->dir, names.items[i]) < 0)
                        return -ENOMEM;
                r = read_full_file(path, OUTBOX_ENTRY_MAX, &data, &size);
                if (r >= 0)
                        r = outbox_entry_parse(data, size, e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        /* Keep it for a human to look at, out of the way of the next replay. */
                        if (asprintf(&aside, "%s.corrupt", path) < 0)
                                return -ENOMEM;
                        (void) rename(path, aside);
                        on_corrupt(o, names.items[i], r == -EFBIG ? "too large" : "unreadable or damaged", userdata);
                        continue;
                }
                e->id = strdup(names.items[i]);
                if (!e->id)
                        return -ENOMEM;
                cb(o, TAKE_PTR(e), userdata);
        }
        return 0;
}

int outbox_read_last(Outbox *o, const char *check, char ret_invocation[static 33], usec_t *ret_exit) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        unsigned long long t;
        char inv[33];
        int r;

        if (asprintf(&path, "%s/%s", o->last_dir, check) < 0)
                return -ENOMEM;
        r = read_full_file(path, 256, &data, NULL);
        if (r < 0)
                return r;
        if (sscanf(data, "invocation=%32[0-9a-f]\nexit=%llu\n", inv, &t) != 2 || strlen(inv) != 32)
                return -EBADMSG;
        memcpy(ret_invocation, inv, 33);
        *ret_exit = t;
        return 0;
}

int outbox_write_last(Outbox *o, const char *check, const char *invocation, usec_t exit_usec) {
        char buf[128];
        int n;

        int r;

        n = snprintf(buf, sizeof(buf), "invocation=%s\nexit=%" PRIu64 "\n", invocation, (uint64_t) exit_usec);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -EINVAL;
        /* Atomic, not fsync'ed: if a crash loses it, the run is caught up once more (a repeated
         * success ping, which monitors take in stride), never lost. */
        r = write_file_atomic(o->last_dir, check, buf, (size_t) n, false);
        if (r == -ENOENT && mkdir_p(o->last_dir, 0700) >= 0)
                r = write_file_atomic(o->last_dir, check, buf, (size_t) n, false);
        return r;
}

int outbox_write_ping(Outbox *o, const char *check, const char *outcome, long status, usec_t time,
                      const char *invocation) {
        PingRecord before = {};
        char buf[320];
        int n, r;

        if (streq(outcome, "delivered"))
                before.delivered = time;
        else
                (void) outbox_read_ping(o->state_dir, check, &before);
        n = snprintf(buf, sizeof(buf),
                     "outcome=%s\nstatus=%ld\ntime=%" PRIu64 "\ninvocation=%s\ndelivered=%" PRIu64 "\n", outcome,
                     status, (uint64_t) time, invocation, (uint64_t) before.delivered);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -EINVAL;
        /* Not fsync'ed data that matters for delivery; still atomic so readers see whole records. */
        r = write_file_atomic(o->ping_dir, check, buf, (size_t) n, false);
        if (r == -ENOENT && mkdir_p(o->ping_dir, 0700) >= 0)
                r = write_file_atomic(o->ping_dir, check, buf, (size_t) n, false);
        return r;
}

int outbox_read_ping(const char *state_dir, const char *check, PingRecord *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        unsigned long long t;
        const char *d;
        PingRecord p = {};
        int r;

        if (asprintf(&path, "%s/pings/%s", state_dir, check) < 0)
                return -ENOMEM;
        r = read_full_file(path, 512, &data, NULL);
        if (r < 0)
                return r;
        if (sscanf(data, "outcome=%15[a-z]\nstatus=%ld\ntime=%llu\ninvocation=%32[0-9a-f]", p.outcome, &p.status, &t,
                   p.invocation) < 3)
                return -EBADMSG;
        p.time = t;
        /* Written since the record had it; before, only a delivered outcome tells. */
        if ((d = strstr(data, "\ndelivered=")) && sscanf(d, "\ndelivered=%llu", &t) == 1)
                p.delivered = t;
        else if (streq(p.outcome, "delivered"))
                p.delivered = p.time;
        *ret = p;
        return 0;
}

int outbox_count_undelivered(const char *state_dir, Hashmap **ret) {
        _cleanup_(hashmap_freep) Hashmap *counts = NULL;
        _cleanup_(closedirp_) DIR *d = NULL;
        _cleanup_free_ char *dir = NULL;
        struct dirent *de;
        int r;

        r = hashmap_new(&counts, HASHMAP_KEYS_COPY);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/outbox", state_dir) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *data = NULL;
                size_t size;
                Ping e = {};

                if (!endswith(de->d_name, ".ping") || de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                if (read_full_file(path, OUTBOX_ENTRY_MAX, &data, &size) < 0 ||
                    outbox_entry_parse(data, size, &e) < 0)
                        continue;
                r = hashmap_replace(counts, e.check, (void *) ((uintptr_t) hashmap_get(counts, e.check) + 1));
                ping_done(&e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(counts);
        return 0;
}
