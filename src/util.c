/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

char *url_mask(const char *url) {
        const char *scheme_end, *authority, *host, *host_end, *rest, *p;
        size_t rest_len;
        char *ret;

        if (!url)
                return strdup("(none)");

        scheme_end = strstr(url, "://");
        if (!scheme_end || scheme_end == url || scheme_end - url > 16) {
                if (asprintf(&ret, "(unparsable URL of %zu characters)", strlen(url)) < 0)
                        return NULL;
                return ret;
        }

        authority = scheme_end + 3;
        host_end = authority + strcspn(authority, "/?#");
        /* A character no authority can hold (a space, a backslash, a control character) means
         * we cannot tell host from secret: show nothing of it. */
        for (p = authority; p < host_end; p++)
                if (!isalnum((unsigned char) *p) && !strchr("-._~:@[]%!$&'()*+,;=", *p)) {
                        if (asprintf(&ret, "(unparsable URL of %zu characters)", strlen(url)) < 0)
                                return NULL;
                        return ret;
                }
        /* Drop user:password@ — it is as secret as the path. */
        host = authority;
        for (p = authority; p < host_end; p++)
                if (*p == '@')
                        host = p + 1;

        rest = host_end;
        rest_len = strlen(rest);
        /* Show the last four characters only when enough stays hidden to keep it a secret. */
        if (rest_len >= 12)
                rest = rest + rest_len - 4;
        else
                rest = "";

        if (asprintf(&ret, "%.*s://%.*s/…%s", (int) (scheme_end - url), url, (int) (host_end - host), host,
                     rest) < 0)
                return NULL;

        /* Never let control characters of a hostile URL into a log line. */
        for (char *c = ret; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return ret;
}

int parse_timespan(const char *s, usec_t *ret) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } table[] = {
                { "us", 1 },
                { "usec", 1 },
                { "ms", USEC_PER_MSEC },
                { "msec", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m", USEC_PER_MINUTE },
                { "min", USEC_PER_MINUTE },
                { "h", USEC_PER_HOUR },
                { "hr", USEC_PER_HOUR },
                { "d", USEC_PER_DAY },
        };
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;

        for (const char *p = s;;) {
                unsigned long long v;
                char *end;
                size_t l;
                usec_t mult = 0;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                errno = 0;
                v = strtoull(p, &end, 10);
                if (errno != 0)
                        return -ERANGE;
                p = end;
                l = strspn(p, "abcdefghijklmnopqrstuvwxyz");
                if (l == 0)
                        mult = USEC_PER_SEC;
                else
                        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                                if (strlen(table[i].suffix) == l && strncmp(p, table[i].suffix, l) == 0)
                                        mult = table[i].usec;
                if (mult == 0)
                        return -EINVAL;
                p += l;
                if (v > (UINT64_MAX - total) / mult)
                        return -ERANGE;
                total += v * mult;
                any = true;
        }

        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

const char *format_timespan(char *buf, size_t size, usec_t t) {
        if (t == USEC_INFINITY)
                snprintf(buf, size, "infinity");
        else if (t % USEC_PER_HOUR == 0 && t > 0)
                snprintf(buf, size, "%" PRIu64 "h", (uint64_t) (t / USEC_PER_HOUR));
        else if (t % USEC_PER_MINUTE == 0 && t > 0)
                snprintf(buf, size, "%" PRIu64 "min", (uint64_t) (t / USEC_PER_MINUTE));
        else if (t % USEC_PER_SEC == 0)
                snprintf(buf, size, "%" PRIu64 "s", (uint64_t) (t / USEC_PER_SEC));
        else if (t % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%" PRIu64 "ms", (uint64_t) (t / USEC_PER_MSEC));
        else
                snprintf(buf, size, "%" PRIu64 "us", t);
        return buf;
}

int parse_boolean(const char *s) {
        if (streq(s, "yes") || streq(s, "true") || streq(s, "on") || streq(s, "1"))
                return 1;
        if (streq(s, "no") || streq(s, "false") || streq(s, "off") || streq(s, "0"))
                return 0;
        return -EINVAL;
}

int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

const char *unit_suffix(const char *name) {
        return strrchr(name, '.');
}

bool unit_name_is_valid(const char *name) {
        static const char *const suffixes[] = { ".timer", ".service" };
        const char *suffix, *at;
        bool known = false;

        if (isempty(name) || strlen(name) > 255)
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr(":_.\\@-", *p))
                        return false;
        suffix = unit_suffix(name);
        if (!suffix || suffix == name)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(suffix, suffixes[i]))
                        known = true;
        if (!known)
                return false;
        /* "foo@.service" is a template, which never runs by itself; "foo@bar.service" is fine. */
        at = strchr(name, '@');
        if (at && (at == name || at + 1 == suffix || strchr(at + 1, '@')))
                return false;
        return true;
}

int unit_dbus_path(const char *name, char **ret) {
        static const char prefix[] = "/org/freedesktop/systemd1/unit/";
        char *p, *t;

        p = malloc(sizeof(prefix) + strlen(name) * 3);
        if (!p)
                return -ENOMEM;
        t = stpcpy(p, prefix);
        for (const char *c = name; *c; c++) {
                if (isalnum((unsigned char) *c) && !(c == name && isdigit((unsigned char) *c)))
                        *t++ = *c;
                else
                        t += sprintf(t, "_%02x", (unsigned char) *c);
        }
        *t = 0;
        *ret = p;
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0, alloc;

        /* O_NONBLOCK: a FIFO must not hang us; it is refused below as not a regular file. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;

        alloc = (size_t) st.st_size + 1;
        buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (n + 1 >= alloc) {
                        char *nb;

                        if (alloc > max)
                                return -EFBIG;
                        alloc = MIN(alloc * 2, max + 2);
                        nb = realloc(buf, alloc);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                k = read(fd, buf + n, alloc - n - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

double random_unit(void) {
        uint64_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint64_t) random() << 32 ^ (uint64_t) random();
        return (double) (v >> 11) / (double) (1ULL << 53);
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

int strv_push(Strv *v, const char *s) {
        char **n, *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        /* Always NULL-terminated, so items can be passed where a strv is expected. */
        n = realloc(v->items, sizeof(char *) * (v->n + 2));
        if (!n) {
                free(c);
                return -ENOMEM;
        }
        v->items = n;
        v->items[v->n++] = c;
        v->items[v->n] = NULL;
        return 0;
}

void strv_done(Strv *v) {
        for (size_t i = 0; i < v->n; i++)
                free(v->items[i]);
        free(v->items);
        *v = (Strv) {};
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void strv_sort(Strv *v) {
        if (v->n > 1)
                qsort(v->items, v->n, sizeof(char *), cmp_str);
}

bool strv_contains(const Strv *v, const char *s) {
        for (size_t i = 0; i < v->n; i++)
                if (streq(v->items[i], s))
                        return true;
        return false;
}

bool unit_pattern_is_valid(const char *name) {
        const char *suffix;
        bool glob = false;

        if (isempty(name) || strlen(name) > 255 || strstr(name, ".."))
                return false;
        for (const char *p = name; *p; p++) {
                if (strchr("*?[]!^", *p))
                        glob = true;
                else if (!isalnum((unsigned char) *p) && !strchr(":_.\\@-", *p))
                        return false;
        }
        if (!glob)
                return false;
        /* The type must be spelled out: [*.timer], not [*]. */
        suffix = strrchr(name, '.');
        return suffix && suffix != name && (streq(suffix, ".timer") || streq(suffix, ".service"));
}
