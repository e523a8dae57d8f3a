/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>

#include "util.h"

/* Whether a path segment or a query value looks like a key (a uuid, a ping key, a token) rather
 * than a word or slug someone chose ("ping", "api", "v1", "nightly-backup", "db-2"). A slug is
 * lower-case words and short numbers joined by - _ . ; anything else of eight characters or more
 * is taken for a secret: hiding a slug by mistake costs less than showing a key. */
static bool looks_secret(const char *s, size_t n) {
        if (n < 8)
                return false;
        for (size_t i = 0; i < n;) {
                bool alpha = false, digit = false, hex_only = true;
                size_t j;

                for (j = i; j < n && !strchr("-_.", s[j]); j++) {
                        if (s[j] >= 'a' && s[j] <= 'z') {
                                alpha = true;
                                hex_only = hex_only && s[j] <= 'f';
                        } else if (s[j] >= '0' && s[j] <= '9')
                                digit = true;
                        else
                                return true; /* upper case, %XX, anything a slug has not */
                }
                /* "c2354d53d2", "deadbeefcafe", "20240101123", one 16-letter word */
                if ((alpha && digit) || (j - i >= 8 && hex_only) || j - i >= 16)
                        return true;
                i = j + 1;
        }
        return false;
}

/* Query parameters that carry a secret whatever their value looks like. */
static bool secret_name(const char *s, size_t n) {
        static const char *const names[] = { "token",    "key",  "apikey",       "api_key", "secret",
                                             "password", "auth", "access_token", "sig",     "signature" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0)
                        return true;
        return false;
}

/* "…" and the last four characters, while at least six stay hidden (a Dead Man's Snitch token
 * has ten: its last four still tell the admin which check it is). */
static void put_secret(FILE *f, const char *s, size_t n) {
        fputs("…", f);
        if (n >= 10)
                fwrite(s + n - 4, 1, 4, f);
}

/* The first query parameter that holds a secret (a key-like value, or a value under a name like
 * token=), as pointers into q (after the '?'). False if there is none. */
static bool query_secret(const char *q, const char **ret_param, size_t *ret_name, size_t *ret_value) {
        size_t end = strcspn(q, "#");

        for (const char *p = q; p < q + end;) {
                size_t len = strcspn(p, "&#"), name = strcspn(p, "=&#");

                if (name + 1 < len && (secret_name(p, name) || looks_secret(p + name + 1, len - name - 1))) {
                        *ret_param = p;
                        *ret_name = name;
                        *ret_value = len - name - 1;
                        return true;
                }
                p += len + (p[len] == '&');
        }
        return false;
}

/* Whether a segment of path[0..n) looks like a key; *ret_last: its last non-empty segment. */
static bool path_scan(const char *path, size_t n, const char **ret_last) {
        const char *last = NULL;
        bool any = false;

        for (const char *p = path; p < path + n;) {
                size_t l = MIN(strcspn(p, "/"), (size_t) (path + n - p));

                if (l == 0) {
                        p++;
                        continue;
                }
                any = any || looks_secret(p, l);
                last = p;
                p += l;
        }
        *ret_last = last;
        return any;
}

/* Writes the path with its key-like segments masked. Without one (and without a secret in the
 * query: mask_last), the last segment is masked instead: a URL always keeps something hidden. */
static void put_path(FILE *f, const char *path, size_t n, bool mask_last) {
        const char *last;
        bool any = path_scan(path, n, &last);

        if (n == 0)
                fputc('/', f);
        for (const char *p = path; p < path + n;) {
                size_t l = MIN(strcspn(p, "/"), (size_t) (path + n - p));

                if (l == 0) {
                        fputc('/', f);
                        p++;
                        continue;
                }
                if (looks_secret(p, l) || (!any && mask_last && p == last))
                        put_secret(f, p, l);
                else
                        fwrite(p, 1, l, f);
                p += l;
        }
        if (!any && mask_last && !last)
                fputs("…", f);
}

/* The path, query and fragment of a URL (rest starts after the host), masked. */
static char *mask_rest(const char *rest) {
        size_t path_len = strcspn(rest, "?#"), name = 0, value = 0, len = 0;
        const char *tail = rest + path_len, *param = NULL, *last;
        char *buf = NULL;
        bool in_query;
        FILE *f;

        /* A query holds the secret only when the path has none: when it has, the query is
         * the run's values (rid=, series=), which say nothing about the check. */
        in_query = !path_scan(rest, path_len, &last) && *tail == '?' && query_secret(tail + 1, &param, &name, &value);

        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        put_path(f, rest, path_len, !in_query);
        if (in_query) {
                fputs(param > tail + 1 ? "?…&" : "?", f);
                if (looks_secret(param, name))
                        fputs("…", f);
                else
                        fwrite(param, 1, name, f);
                fputc('=', f);
                put_secret(f, param + name + 1, value);
                if (param[name + 1 + value] == '&')
                        fputs("&…", f);
        } else if (*tail)
                fprintf(f, "%c…", *tail);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

char *url_mask(const char *url) {
        const char *scheme_end, *authority, *host, *host_end, *p;
        _cleanup_free_ char *rest = NULL;
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

        rest = mask_rest(host_end);
        if (!rest)
                return NULL;
        if (asprintf(&ret, "%.*s://%.*s%s", (int) (scheme_end - url), url, (int) (host_end - host), host, rest) < 0)
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

int grow_array(void **p, size_t *allocated, size_t need, size_t elem) {
        size_t want;
        void *n;

        if (*p && need <= *allocated)
                return 0;
        want = MAX((size_t) 8, need * 2);
        if (want > SIZE_MAX / elem)
                return -ENOMEM;
        n = realloc(*p, want * elem);
        if (!n)
                return -ENOMEM;
        *p = n;
        *allocated = want;
        return 0;
}

int strv_push(Strv *v, const char *s) {
        char *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        /* Always NULL-terminated, so items can be passed where a strv is expected. */
        if (grow_array((void **) &v->items, &v->allocated, v->n + 2, sizeof(char *)) < 0) {
                free(c);
                return -ENOMEM;
        }
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
