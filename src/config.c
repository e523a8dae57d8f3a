/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <fnmatch.h>

#include "build-config.h"
#include "config.h"
#include "template.h"

#define DEFAULT_USER_AGENT "timerbeat/" PROJECT_VERSION

const char *http_method_to_string(HttpMethod m) {
        static const char *const table[_HTTP_METHOD_MAX] = {
                [HTTP_METHOD_GET] = "GET",
                [HTTP_METHOD_POST] = "POST",
        };
        return m < _HTTP_METHOD_MAX ? table[m] : NULL;
}

Check *check_free(Check *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < _EVENT_MAX; i++)
                free(c->templates[i]);
        free(c->name);
        free(c->url);
        free(c->source);
        free(c->file);
        free(c->url_file);
        free(c);
        return NULL;
}

Config *config_new(void) {
        Config *c = calloc(1, sizeof(Config));

        if (!c)
                return NULL;
        *c = (Config) {
                .timeout = 30 * USEC_PER_SEC,
                .connect_timeout = 10 * USEC_PER_SEC,
                .retries = UINT_MAX,
                .retry_delay = 1 * USEC_PER_SEC,
                .retry_max_delay = 5 * USEC_PER_MINUTE,
                .max_parallel = 16,
                .max_queue = 1000,
                .max_queue_per_check = 100,
                .max_age = USEC_PER_DAY,
                .annotations = true,
        };
        c->user_agent = strdup(DEFAULT_USER_AGENT);
        if (!c->user_agent)
                return config_free(c);
        return c;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_checks; i++)
                check_free(c->checks[i]);
        free(c->checks);
        free(c->index);
        free(c->user_agent);
        free(c->source);
        strv_done(&c->files);
        strv_done(&c->warnings);
        free(c);
        return NULL;
}

static size_t name_hash(const char *s) {
        size_t h = 5381;

        for (; *s; s++)
                h = h * 33 + (unsigned char) *s;
        return h;
}

const Check *config_find_check(const Config *c, const char *name) {
        if (c->index) {
                for (size_t i = name_hash(name) & (c->index_size - 1);; i = (i + 1) & (c->index_size - 1)) {
                        if (!c->index[i])
                                return NULL;
                        if (streq(c->index[i]->name, name))
                                return c->index[i];
                }
        }
        for (size_t i = 0; i < c->n_checks; i++)
                if (streq(c->checks[i]->name, name))
                        return c->checks[i];
        return NULL;
}

static int config_build_index(Config *c) {
        size_t size = 16;

        while (size < c->n_checks * 2)
                size *= 2;
        c->index = calloc(size, sizeof(Check *));
        if (!c->index)
                return -ENOMEM;
        c->index_size = size;
        /* Names are unique: sections of the same name were merged while parsing. */
        for (size_t i = 0; i < c->n_checks; i++) {
                c->has_patterns = c->has_patterns || c->checks[i]->pattern;
                size_t j = name_hash(c->checks[i]->name) & (size - 1);

                while (c->index[j])
                        j = (j + 1) & (size - 1);
                c->index[j] = c->checks[i];
        }
        return 0;
}

static void curl_url_cleanupp(CURLU **u) {
        if (*u)
                curl_url_cleanup(*u);
}

int url_validate(const char *url, const char **reason) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        char *host = NULL;
        CURLUcode rc;

        if (isempty(url)) {
                *reason = "the URL is empty";
                return -EINVAL;
        }
        if (strlen(url) > CONFIG_URL_MAX) {
                *reason = "the URL is longer than 2048 characters";
                return -EINVAL;
        }
        if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
                *reason = "only http:// and https:// URLs are allowed";
                return -EINVAL;
        }
        for (const char *p = url; *p; p++) {
                unsigned char ch = (unsigned char) *p;

                if (ch <= 0x20 || ch == 0x7f) {
                        *reason = "the URL contains whitespace or control characters; percent-encode them";
                        return -EINVAL;
                }
                if (ch >= 0x80) {
                        *reason = "the URL contains non-ASCII bytes; percent-encode them";
                        return -EINVAL;
                }
        }
        if (strstr(url, "%00")) {
                *reason = "the URL contains an encoded NUL byte (%00)";
                return -EINVAL;
        }

        u = curl_url();
        if (!u)
                return -ENOMEM;
        rc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (rc != CURLUE_OK) {
                *reason = "libcurl cannot parse the URL";
                return -EINVAL;
        }
        rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
        if (rc != CURLUE_OK || isempty(host)) {
                curl_free(host);
                *reason = "the URL has no host";
                return -EINVAL;
        }
        curl_free(host);
        return 0;
}

static const char *const bot_agents[] = {
        "twitterbot", "slackbot", "googlebot", "discordbot", "facebot", "telegrambot", "whatsapp", "linkedinbot",
};

typedef struct Parser {
        Config *config;
        Strv *errors;
        const char *path;
        const char *data;
        size_t size;
        size_t pos;
        unsigned line;
        const char *line_start; /* the raw current line, for syntax checks */
        size_t line_len;
        unsigned section_line;  /* where the current [section] header is */

        /* Annotation mode: a unit file; only [X-Timerbeat] is ours, everything else is
         * systemd's and skipped unread. */
        bool annotation;
        bool in_annotation;
        Check *annotation_check;

        mode_t mode;    /* of the file, to warn about secrets readable by all */
        Strv *warnings; /* may be NULL */
} Parser;

_printf_(3, 4) static void parser_error(Parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        char *full = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || asprintf(&full, "%s:%u: %s", p->path, line, msg) < 0)
                return;
        (void) strv_push(p->errors, full);
        free(full);
}

_printf_(3, 4) static void parser_warning(Parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        char *full = NULL;
        va_list ap;

        if (!p->warnings)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || asprintf(&full, "%s:%u: %s", p->path, line, msg) < 0)
                return;
        if (!strv_contains(p->warnings, full))
                (void) strv_push(p->warnings, full);
        free(full);
}

/* url = file:/path reads the URL from a file (its first line); url = credential:NAME from
 * $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=). Returns 1 with *ret set (or NULL
 * for a plain URL), 0 when an error was reported, < 0 on out of memory. */
static int resolve_secret(Parser *p, const char *v, char **ret, const char **ret_ref) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        const char *name;
        struct stat st;
        int r;

        *ret = NULL;
        /* "file://..." is a file URL, which is refused as a URL; "file:/path" is ours. */
        if ((name = startswith(v, "file:")) && !startswith(v, "file://")) {
                if (name[0] != '/') {
                        parser_error(p, p->line, "url= file:%s: the path must be absolute", name);
                        return 0;
                }
                path = strdup(name);
        } else if ((name = startswith(v, "credential:"))) {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");

                if (isempty(name) || strchr(name, '/') || streq(name, "..") || streq(name, ".")) {
                        parser_error(p, p->line, "url= credential:%s: not a credential name", name);
                        return 0;
                }
                if (isempty(dir)) {
                        parser_error(p, p->line,
                                     "url= credential:%s: no credentials were passed; add LoadCredential=%s:/path/to/file "
                                     "to timerbeat.service (systemctl edit timerbeat)",
                                     name, name);
                        return 0;
                }
                if (asprintf(&path, "%s/%s", dir, name) < 0)
                        return -ENOMEM;
        } else
                return 1;
        if (!path)
                return -ENOMEM;

        r = read_full_file(path, CONFIG_URL_MAX + 2, &data, NULL);
        if (r < 0) {
                errno = -r;
                parser_error(p, p->line, "url= %s: cannot read %s: %m; create it with the URL on its first line",
                             v, path);
                return 0;
        }
        if (stat(path, &st) >= 0 && (st.st_mode & S_IROTH) && startswith(v, "file:"))
                parser_warning(p, p->line, "%s holds a heartbeat URL (a secret) and is readable by all users; chmod o-r it",
                               path);
        data[strcspn(data, "\r\n")] = 0;
        *ret = TAKE_PTR(data);
        *ret_ref = v;
        return 1;
}

/* Our own line reader for inih: it counts lines (the system inih cannot tell the handler its
 * line number), rejects lines longer than inih can hold instead of letting it silently split
 * them, drops indentation (which inih would otherwise take for a value continuation) and
 * reports syntax errors for every line, not just the first. */
static char *parser_read_line(char *str, int num, void *stream) {
        Parser *p = stream;
        const char *s, *nl;
        size_t len;

        if (p->pos >= p->size)
                return NULL;

        s = p->data + p->pos;
        nl = memchr(s, '\n', p->size - p->pos);
        len = nl ? (size_t) (nl - s) + 1 : p->size - p->pos;
        p->pos += len;
        p->line++;
        p->line_start = s;
        p->line_len = len;

        while (len > 0 && (*s == ' ' || *s == '\t'))
                s++, len--;
        /* Strip "\r\n" and "\n": we add "\n" back below. */
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;

        if (p->annotation && len > 0 && *s == '[') {
                const char *close = memchr(s, ']', len);

                p->in_annotation = close && (size_t) (close - s - 1) == strlen("X-Timerbeat") &&
                                   strncasecmp(s + 1, "X-Timerbeat", strlen("X-Timerbeat")) == 0;
                if (p->in_annotation)
                        p->section_line = p->line;
                /* inih only ever sees our own section's header. */
                str[0] = '\n';
                str[1] = 0;
                if (p->in_annotation) {
                        memcpy(str, "[X-Timerbeat]\n", 15);
                }
                return str;
        }
        if (p->annotation && !p->in_annotation) {
                str[0] = '\n';
                str[1] = 0;
                return str;
        }

        if (len == 0 || *s == '#' || *s == ';') {
                /* Blank or comment: hand inih an empty line, whatever its length. */
                str[0] = '\n';
                str[1] = 0;
                return str;
        }

        if (len + 2 > (size_t) num) {
                parser_error(p, p->line,
                             "line is %zu characters long, the limit is %d; shorten it (the INI parser cannot "
                             "read longer lines)",
                             len, num - 3);
                str[0] = '\n';
                str[1] = 0;
                return str;
        }

        if (*s == '[') {
                const char *close = memchr(s, ']', len);

                p->section_line = p->line;
                if (!close)
                        parser_error(p, p->line, "section header is missing its closing ']'; write it as [name]");
                else if (close + 1 < s + len) {
                        const char *t = close + 1;

                        while (t < s + len && (*t == ' ' || *t == '\t'))
                                t++;
                        if (t < s + len && *t != '#' && *t != ';')
                                parser_error(p, p->line,
                                             "unexpected text after the section header; put keys on their own lines");
                }
        } else if (!memchr(s, '=', len))
                parser_error(p, p->line, "expected 'key = value', a [section] or a comment");

        memcpy(str, s, len);
        str[len] = '\n';
        str[len + 1] = 0;
        return str;
}

/* inih strips ';' comments; we also strip '#' comments that follow whitespace, as in the
 * examples users copy, and one pair of surrounding double quotes. */
static char *clean_value(const char *value) {
        char *v = strdup(value), *e;
        size_t l;

        if (!v)
                return NULL;
        for (e = v; *e; e++)
                if (*e == '#' && e > v && (e[-1] == ' ' || e[-1] == '\t')) {
                        *e = 0;
                        break;
                }
        l = strlen(v);
        while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
                v[--l] = 0;
        if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
                memmove(v, v + 1, l - 2);
                v[l - 2] = 0;
        }
        return v;
}

/* One of names (by index), or an error naming them all. */
static int parse_enum(Parser *p, const char *key, const char *v, const char *const *names, size_t n) {
        char list[256] = "";

        for (size_t i = 0; i < n; i++) {
                if (streq(v, names[i]))
                        return (int) i;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                         names[i]);
        }
        parser_error(p, p->line, "%s= '%s' is not supported; use %s", key, v, list);
        return -EINVAL;
}

static int parse_method(const char *v, HttpMethod *ret) {
        for (HttpMethod m = 0; m < _HTTP_METHOD_MAX; m++)
                if (strcasecmp(v, http_method_to_string(m)) == 0) {
                        *ret = m;
                        return 0;
                }
        return -EINVAL;
}

static int parse_source(Parser *p, const char *key, const char *v, char **ret) {
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                        parser_error(p, p->line, "%s= contains control characters; remove them", key);
                        return 0;
                }
        if (strlen(v) > 200) {
                parser_error(p, p->line, "%s= is longer than 200 characters; shorten it", key);
                return 0;
        }
        return free_and_strdup(ret, isempty(v) ? NULL : v);
}

static int parse_span_key(Parser *p, const char *key, const char *v, usec_t min, usec_t max, usec_t *ret) {
        char a[32], b[32];
        usec_t t;

        if (parse_timespan(v, &t) < 0) {
                parser_error(p, p->line, "%s= '%s' is not a time span; write e.g. 500ms, 30s, 5min", key, v);
                return 0;
        }
        if (t < min || t > max) {
                parser_error(p, p->line, "%s= %s is out of range; use a value from %s to %s", key, v,
                             format_timespan(a, sizeof(a), min), format_timespan(b, sizeof(b), max));
                return 0;
        }
        *ret = t;
        return 0;
}

static int parse_unsigned_key(Parser *p, const char *key, const char *v, unsigned min, unsigned max, unsigned *ret) {
        int r = parse_unsigned(v, min, max, ret);

        if (r == -ERANGE)
                parser_error(p, p->line, "%s= %s is out of range; use a number from %u to %u", key, v, min, max);
        else if (r < 0)
                parser_error(p, p->line, "%s= '%s' is not a number; use a number from %u to %u", key, v, min, max);
        return 0;
}

static int parse_global(Parser *p, const char *key, const char *v) {
        Config *c = p->config;

        if (strcasecmp(key, "timeout") == 0)
                return parse_span_key(p, "timeout", v, 100 * USEC_PER_MSEC, 10 * USEC_PER_MINUTE, &c->timeout);
        if (strcasecmp(key, "connect-timeout") == 0)
                return parse_span_key(p, "connect-timeout", v, 100 * USEC_PER_MSEC, 5 * USEC_PER_MINUTE,
                                      &c->connect_timeout);
        if (strcasecmp(key, "retries") == 0) {
                if (streq(v, "infinity")) {
                        c->retries = UINT_MAX;
                        return 0;
                }
                return parse_unsigned_key(p, "retries", v, 0, 1000, &c->retries);
        }
        if (strcasecmp(key, "max-age") == 0)
                return parse_span_key(p, "max-age", v, USEC_PER_SEC, 30 * USEC_PER_DAY, &c->max_age);
        if (strcasecmp(key, "max-queue-per-check") == 0)
                return parse_unsigned_key(p, "max-queue-per-check", v, 1, 100000, &c->max_queue_per_check);
        if (strcasecmp(key, "retry-delay") == 0)
                return parse_span_key(p, "retry-delay", v, 10 * USEC_PER_MSEC, USEC_PER_HOUR, &c->retry_delay);
        if (strcasecmp(key, "retry-max-delay") == 0)
                return parse_span_key(p, "retry-max-delay", v, 10 * USEC_PER_MSEC, 6 * USEC_PER_HOUR,
                                      &c->retry_max_delay);
        if (strcasecmp(key, "max-parallel") == 0)
                return parse_unsigned_key(p, "max-parallel", v, 1, 256, &c->max_parallel);
        if (strcasecmp(key, "max-queue") == 0)
                return parse_unsigned_key(p, "max-queue", v, 1, 100000, &c->max_queue);
        if (strcasecmp(key, "source") == 0)
                return parse_source(p, "source", v, &c->source);
        if (strcasecmp(key, "annotations") == 0) {
                int b = parse_boolean(v);

                if (b < 0)
                        parser_error(p, p->line, "annotations= '%s' is not a boolean; use yes or no", v);
                else
                        c->annotations = b;
                return 0;
        }
        if (strcasecmp(key, "user-agent") == 0) {
                if (isempty(v)) {
                        parser_error(p, p->line, "user-agent= is empty; remove the line to use the default");
                        return 0;
                }
                for (size_t i = 0; i < ELEMENTSOF(bot_agents); i++)
                        if (strcasestr(v, bot_agents[i])) {
                                parser_error(p, p->line,
                                             "user-agent= contains '%s', which heartbeat services ignore as a "
                                             "link-preview bot; choose another",
                                             bot_agents[i]);
                                return 0;
                        }
                for (const char *ch = v; *ch; ch++)
                        if ((unsigned char) *ch < 0x20 || *ch == 0x7f) {
                                parser_error(p, p->line, "user-agent= contains control characters; remove them");
                                return 0;
                        }
                return free_and_strdup(&c->user_agent, v);
        }

        parser_error(p, p->line,
                     "unknown key '%s' in [timerbeat]; known keys: timeout, connect-timeout, retries, "
                     "retry-delay, retry-max-delay, max-age, max-parallel, max-queue, max-queue-per-check, "
                     "user-agent, source, annotations",
                     key);
        return 0;
}

static int config_get_check(Parser *p, const char *name, Check **ret) {
        Config *c = p->config;
        Check *check, **n;

        for (size_t i = 0; i < c->n_checks; i++)
                if (streq(c->checks[i]->name, name)) {
                        *ret = c->checks[i];
                        return 0;
                }

        check = calloc(1, sizeof(Check));
        if (!check)
                return -ENOMEM;
        check->enabled = true;
        check->body_max = 100000;
        check->failure_threshold = 1;
        check->line = p->section_line ?: p->line;
        check->pattern = !unit_name_is_valid(name);
        check->order = (unsigned) c->n_checks;
        check->name = strdup(name);
        check->file = strdup(p->path);
        n = realloc(c->checks, sizeof(Check *) * (c->n_checks + 1));
        if (!check->name || !check->file || !n) {
                if (n)
                        c->checks = n;
                check_free(check);
                return -ENOMEM;
        }
        c->checks = n;
        c->checks[c->n_checks++] = check;
        *ret = check;
        return 0;
}

static int parse_check_key(Parser *p, Check *check, const char *key, const char *v) {
        const char *reason;
        int r;

        if (strcasecmp(key, "url") == 0) {
                _cleanup_free_ char *bad = NULL, *sample = NULL, *secret = NULL;
                const char *ref = NULL;

                /* The URL may live elsewhere, so that it need not sit in a readable file. */
                r = resolve_secret(p, v, &secret, &ref);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0; /* reported */
                if (secret)
                        v = secret;
                else if (p->mode & S_IROTH)
                        parser_warning(p, p->line,
                                       "this file is readable by all users and holds a heartbeat URL (a secret); "
                                       "chmod o-r it, or use url = file:/path or url = credential:NAME");

                if (template_validate(v, &reason, &bad) < 0) {
                        _cleanup_free_ char *masked = url_mask(v);
                        if (bad)
                                parser_error(p, p->line, "url= %s: unknown placeholder {%s}; known: {unit}, "
                                             "{unit_prefix}, {hostname}", strempty(masked), bad);
                        else
                                parser_error(p, p->line, "url= %s: %s", strempty(masked), reason);
                        return 0;
                }
                /* Validate what it expands to, with a unit name full of characters to encode. */
                r = template_expand(v, &(TemplateVars) { .unit = "db@x:1\\x2d.timer", .hostname = "host" }, &sample);
                if (r < 0)
                        return r;
                if (url_validate(sample, &reason) < 0) {
                        _cleanup_free_ char *masked = url_mask(v);
                        parser_error(p, p->line, "url= %s%s%s: %s; write e.g. url = https://hc-ping.com/<uuid>",
                                     strempty(masked), ref ? " (from " : "", ref ? ref : "", reason);
                        return 0;
                }
                r = free_and_strdup(&check->url, v);
                if (r < 0)
                        return r;
                check->url_line = p->line;
                return free_and_strdup(&check->url_file, p->path);
        }
        if (strcasecmp(key, "method") == 0) {
                if (parse_method(v, &check->method) < 0)
                        parser_error(p, p->line, "method= '%s' is not supported; use GET or POST", v);
                return 0;
        }
        if (strcasecmp(key, "source") == 0)
                return parse_source(p, "source", v, &check->source);
        if (strcasecmp(key, "enabled") == 0) {
                r = parse_boolean(v);
                if (r < 0)
                        parser_error(p, p->line, "enabled= '%s' is not a boolean; use yes or no", v);
                else
                        check->enabled = r;
                return 0;
        }

        static const struct {
                const char *key;
                Event event;
        } url_keys[] = {
                { "success-url", EVENT_SUCCESS },
                { "start-url", EVENT_START },
                { "failure-url", EVENT_FAILURE },
                { "log-url", EVENT_LOG },
        };
        for (size_t i = 0; i < ELEMENTSOF(url_keys); i++)
                if (strcasecmp(key, url_keys[i].key) == 0) {
                        _cleanup_free_ char *bad = NULL, *sample = NULL;

                        if (isempty(v)) /* empty: back to the preset's */
                                return free_and_strdup(&check->templates[url_keys[i].event], NULL);

                        if (template_validate(v, &reason, &bad) < 0) {
                                if (bad)
                                        parser_error(p, p->line, "%s= has an unknown placeholder {%s}; known: %s",
                                                     url_keys[i].key, bad, TEMPLATE_PLACEHOLDERS);
                                else
                                        parser_error(p, p->line, "%s=: %s", url_keys[i].key, reason);
                                return 0;
                        }
                        r = template_expand(v, &(TemplateVars) { .unit = "x.timer", .hostname = "host",
                                                                 .url = "https://example.com/base" },
                                            &sample);
                        if (r < 0)
                                return r;
                        if (url_validate(sample, &reason) < 0) {
                                parser_error(p, p->line, "%s= does not make a valid URL: %s", url_keys[i].key,
                                             reason);
                                return 0;
                        }
                        return free_and_strdup(&check->templates[url_keys[i].event], v);
                }
        if (strcasecmp(key, "preset") == 0) {
                check->preset = preset_find(v);
                if (!check->preset)
                        parser_error(p, p->line, "preset= '%s' is unknown; use one of: %s", v, preset_names());
                return 0;
        }
        if (strcasecmp(key, "start") == 0 || strcasecmp(key, "failure") == 0 || strcasecmp(key, "trigger-timer") == 0 ||
            strcasecmp(key, "auto-create") == 0) {
                r = parse_boolean(v);
                if (r < 0) {
                        parser_error(p, p->line, "%s= '%s' is not a boolean; use yes or no", key, v);
                        return 0;
                }
                if (strcasecmp(key, "start") == 0)
                        check->start = r;
                else if (strcasecmp(key, "failure") == 0)
                        check->failure = r;
                else if (strcasecmp(key, "auto-create") == 0)
                        check->auto_create = r;
                return 0;
        }
        if (strcasecmp(key, "trigger") == 0) {
                if (streq(v, "any") || streq(v, "timer"))
                        check->trigger_timer = streq(v, "timer");
                else
                        parser_error(p, p->line, "trigger= '%s' is not supported; use any or timer", v);
                return 0;
        }
        if (strcasecmp(key, "body") == 0) {
                static const char *const names[] = { [BODY_NONE] = "none", [BODY_LOG] = "log", [BODY_JSON] = "json" };
                int i = parse_enum(p, key, v, names, ELEMENTSOF(names));

                if (i >= 0) {
                        check->body = (BodyKind) i;
                        check->body_set = true;
                }
                return 0;
        }
        if (strcasecmp(key, "attach-log") == 0) {
                static const char *const names[] = {
                        [ATTACH_LOG_ON_FAILURE] = "on-failure",
                        [ATTACH_LOG_NEVER] = "never",
                        [ATTACH_LOG_ALWAYS] = "always",
                };
                int i = parse_enum(p, key, v, names, ELEMENTSOF(names));

                if (i >= 0)
                        check->attach_log = (AttachLog) i;
                return 0;
        }
        if (strcasecmp(key, "body-max") == 0)
                return parse_unsigned_key(p, "body-max", v, 1, 1000000, &check->body_max);
        if (strcasecmp(key, "failure-threshold") == 0)
                return parse_unsigned_key(p, "failure-threshold", v, 1, 1000, &check->failure_threshold);
        if (strcasecmp(key, "min-runtime") == 0)
                return parse_span_key(p, "min-runtime", v, 0, USEC_PER_DAY, &check->min_runtime);
        if (strcasecmp(key, "skip-exit-status") == 0) {
                _cleanup_free_ char *copy = strdup(v);
                char *tok, *save = NULL;

                if (!copy)
                        return -ENOMEM;
                check->n_skip_exit_status = 0;
                for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
                        unsigned u;

                        if (parse_unsigned(tok, 0, 255, &u) < 0) {
                                parser_error(p, p->line, "skip-exit-status= '%s' is not an exit status (0 to 255)", tok);
                                return 0;
                        }
                        if (check->n_skip_exit_status >= ELEMENTSOF(check->skip_exit_status)) {
                                parser_error(p, p->line, "skip-exit-status= lists more than %zu statuses",
                                             ELEMENTSOF(check->skip_exit_status));
                                return 0;
                        }
                        check->skip_exit_status[check->n_skip_exit_status++] = (int) u;
                }
                return 0;
        }

        parser_error(p, p->line,
                     "unknown key '%s' in [%s]; known keys: url, method, source, enabled, preset, success-url, "
                     "start-url, failure-url, log-url, start, failure, body, attach-log, body-max, trigger, "
                     "skip-exit-status, failure-threshold, min-runtime, auto-create",
                     key, check->name);
        return 0;
}

static int parser_handler(void *user, const char *section, const char *name, const char *value) {
        Parser *p = user;
        _cleanup_free_ char *v = NULL;
        Check *check;
        int r;

        v = clean_value(value);
        if (!v)
                return 0;

        if (p->annotation) {
                r = parse_check_key(p, p->annotation_check, name, v);
                return r < 0 ? 0 : 1;
        }
        if (isempty(section)) {
                parser_error(p, p->line, "'%s' is outside of any section; put it under [timerbeat] or [unit.timer]",
                             name);
                return 1;
        }
        if (streq(section, "timerbeat"))
                r = parse_global(p, name, v);
        else if (!unit_name_is_valid(section) && !unit_pattern_is_valid(section)) {
                /* Report each bad section once, at its first key. */
                _cleanup_free_ char *tag = NULL;

                if (asprintf(&tag, "\x01%s", section) < 0)
                        return 0;
                if (!strv_contains(p->errors, tag)) {
                        (void) strv_push(p->errors, tag);
                        parser_error(p, p->line,
                                     "unknown section [%s]; a section is [timerbeat], a unit name ending in "
                                     ".timer or .service, e.g. [backup.timer], or a pattern such as [*.timer]",
                                     section);
                }
                return 1;
        } else {
                r = config_get_check(p, section, &check);
                if (r >= 0)
                        r = parse_check_key(p, check, name, v);
        }
        /* Only out-of-memory gets here; inih notes the line, we fail the load. */
        return r < 0 ? 0 : 1;
}

static int config_parse_data_full(Config *cfg, const char *path, const char *data, size_t size, mode_t mode,
                                  Strv *errors) {
        size_t n_errors = errors->n;
        Parser p = {
                .config = cfg,
                .errors = errors,
                .path = path,
                .data = data,
                .size = size,
                .mode = mode,
                .warnings = &cfg->warnings,
        };
        int r;

        if (memchr(data, 0, size)) {
                parser_error(&p, 1, "file contains NUL bytes, it is not a text file; replace it with an INI file");
                return -EINVAL;
        }
        /* A UTF-8 byte order mark is harmless: skip it. */
        if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
                p.pos = 3;

        r = ini_parse_stream(parser_read_line, &p, parser_handler, &p);
        if (r < 0)
                return r == -2 ? -ENOMEM : -EIO;
        if (r > 0 && errors->n == n_errors)
                parser_error(&p, (unsigned) r, "syntax error; expected [section] or key = value");

        /* Drop the internal "\x01section" markers. */
        for (size_t i = n_errors; i < errors->n;)
                if (errors->items[i][0] == '\x01') {
                        free(errors->items[i]);
                        memmove(errors->items + i, errors->items + i + 1, (errors->n - i - 1) * sizeof(char *));
                        errors->n--;
                        errors->items[errors->n] = NULL;
                } else
                        i++;

        return errors->n > n_errors ? -EINVAL : 0;
}

int config_parse_data(Config *cfg, const char *path, const char *data, size_t size, Strv *errors) {
        return config_parse_data_full(cfg, path, data, size, 0, errors);
}

int config_validate(Config *cfg, Strv *errors) {
        size_t n_errors = errors->n;

        for (size_t i = 0; i < cfg->n_checks; i++) {
                Check *c = cfg->checks[i];
                _cleanup_free_ char *msg = NULL;

                if (!c->url && c->enabled && !c->templates[EVENT_SUCCESS]) {
                        if (asprintf(&msg, "%s:%u: [%s] has no url=; add url = https://… or enabled = no", c->file,
                                     c->line, c->name) >= 0)
                                (void) strv_push(errors, msg);
                }
                if (c->enabled && c->start && !check_template(c, EVENT_START)) {
                        free(msg);
                        msg = NULL;
                        if (asprintf(&msg, "%s:%u: [%s] has start = yes, but preset %s has no start endpoint; set "
                                           "start-url= or remove start =",
                                     c->file, c->line, c->name, c->preset ? c->preset->name : "generic") >= 0)
                                (void) strv_push(errors, msg);
                }
                if (c->enabled && c->failure && !check_template(c, EVENT_FAILURE)) {
                        free(msg);
                        msg = NULL;
                        if (asprintf(&msg, "%s:%u: [%s] has failure = yes, but preset %s has no failure endpoint; "
                                           "set failure-url= or remove failure =",
                                     c->file, c->line, c->name, c->preset ? c->preset->name : "generic") >= 0)
                                (void) strv_push(errors, msg);
                }
        }
        if (cfg->retry_max_delay < cfg->retry_delay) {
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "[timerbeat]: retry-max-delay= is smaller than retry-delay=; raise it") >= 0)
                        (void) strv_push(errors, msg);
        }
        return errors->n > n_errors ? -EINVAL : 0;
}

static int config_parse_file(Config *cfg, const char *path, bool must_exist, Strv *errors) {
        _cleanup_free_ char *data = NULL, *msg = NULL;
        struct stat st;
        size_t size;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX, &data, &size);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r == -EFBIG) {
                if (asprintf(&msg, "%s: file is larger than %u bytes; it cannot be a timerbeat config", path,
                             CONFIG_FILE_MAX) >= 0)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        if (r == -EBADFD || r == -EISDIR) {
                if (asprintf(&msg, "%s: is not a regular file (a directory, device, FIFO or socket); point to a file",
                             path) >= 0)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        if (r < 0) {
                errno = -r;
                if (asprintf(&msg, "%s: cannot read: %m; check that the file exists and is readable", path) >= 0)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        r = strv_push(&cfg->files, path);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0)
                st.st_mode = 0;
        return config_parse_data_full(cfg, path, data, size, st.st_mode, errors);
}

/* systemd's drop-in rules: *.conf from each directory; a name in a higher-priority directory
 * masks the same name in lower ones; a name linked to /dev/null (or an empty file) is masked;
 * the survivors are applied in lexical order of their names. */
static int collect_dropins(const ConfigSource *s, Strv *names, Strv *paths, Strv *errors) {
        int r;

        for (size_t d = 0; s->dropin_dirs[d]; d++) {
                _cleanup_(closedirp_) DIR *dir = NULL;
                struct dirent *de;

                dir = opendir(s->dropin_dirs[d]);
                if (!dir) {
                        _cleanup_free_ char *msg = NULL;

                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        if (asprintf(&msg, "%s: cannot open drop-in directory: %m; fix its permissions",
                                     s->dropin_dirs[d]) >= 0)
                                (void) strv_push(errors, msg);
                        return -EINVAL;
                }
                while ((de = readdir(dir))) {
                        _cleanup_free_ char *path = NULL;

                        if (de->d_name[0] == '.' || !endswith(de->d_name, ".conf"))
                                continue;
                        if (strv_contains(names, de->d_name))
                                continue; /* masked by a higher-priority directory */
                        r = strv_push(names, de->d_name);
                        if (r < 0)
                                return r;
                        if (asprintf(&path, "%s/%s", s->dropin_dirs[d], de->d_name) < 0)
                                return -ENOMEM;
                        r = strv_push(paths, path);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int cmp_basename(const void *a, const void *b) {
        const char *x = strrchr(*(char *const *) a, '/'), *y = strrchr(*(char *const *) b, '/');
        return strcmp(x ? x + 1 : *(char *const *) a, y ? y + 1 : *(char *const *) b);
}

int config_load(const ConfigSource *s, Config **ret, Strv *errors) {
        _cleanup_(config_freep) Config *cfg = NULL;
        _cleanup_(strv_done) Strv names = {}, paths = {};
        size_t n_errors = errors->n;
        int r;

        cfg = config_new();
        if (!cfg)
                return -ENOMEM;

        if (s->main_file) {
                r = config_parse_file(cfg, s->main_file, false, errors);
                if (r == -ENOMEM)
                        return r;
        }

        r = collect_dropins(s, &names, &paths, errors);
        if (r == -ENOMEM)
                return r;
        if (paths.n > 1)
                qsort(paths.items, paths.n, sizeof(char *), cmp_basename);
        for (size_t i = 0; i < paths.n; i++) {
                struct stat st;

                /* Masked: a symlink to /dev/null, or an empty file. */
                if (stat(paths.items[i], &st) >= 0 && (S_ISCHR(st.st_mode) || st.st_size == 0))
                        continue;
                r = config_parse_file(cfg, paths.items[i], true, errors);
                if (r == -ENOMEM)
                        return r;
        }

        if (errors->n > n_errors)
                return -EINVAL;
        r = config_validate(cfg, errors);
        if (r < 0)
                return r;
        r = config_build_index(cfg);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(cfg);
        return 0;
}

int config_source_default(ConfigSource *ret, bool user, Strv *storage) {
        ConfigSource s = {};
        size_t n = 0;
        int r;

        strv_done(storage);
        if (!user) {
                s.main_file = SYSCONFDIR "/timerbeat/timerbeat.conf";
                s.dropin_dirs[n++] = SYSCONFDIR "/timerbeat/conf.d";
                s.dropin_dirs[n++] = RUNSTATEDIR "/timerbeat/conf.d";
                s.dropin_dirs[n++] = PREFIX "/lib/timerbeat/conf.d";
        } else {
                const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME"),
                           *runtime = getenv("XDG_RUNTIME_DIR");
                _cleanup_free_ char *base = NULL, *main_file = NULL, *confd = NULL, *rund = NULL;

                if (!isempty(xdg) && xdg[0] == '/')
                        base = strdup(xdg);
                else if (!isempty(home)) {
                        if (asprintf(&base, "%s/.config", home) < 0)
                                return -ENOMEM;
                } else
                        return -ENXIO;
                if (!base)
                        return -ENOMEM;
                if (asprintf(&main_file, "%s/timerbeat/timerbeat.conf", base) < 0 ||
                    asprintf(&confd, "%s/timerbeat/conf.d", base) < 0)
                        return -ENOMEM;
                r = strv_push(storage, main_file);
                if (r < 0)
                        return r;
                r = strv_push(storage, confd);
                if (r < 0)
                        return r;
                if (!isempty(runtime)) {
                        if (asprintf(&rund, "%s/timerbeat/conf.d", runtime) < 0)
                                return -ENOMEM;
                        r = strv_push(storage, rund);
                        if (r < 0)
                                return r;
                }
                s.main_file = storage->items[0];
                for (size_t i = 1; i < storage->n; i++)
                        s.dropin_dirs[n++] = storage->items[i];
        }
        s.dropin_dirs[n] = NULL;
        *ret = s;
        return 0;
}

static unsigned literal_chars(const char *pattern) {
        unsigned n = 0;
        bool in_class = false;

        for (const char *p = pattern; *p; p++) {
                if (*p == '[')
                        in_class = true;
                else if (*p == ']')
                        in_class = false;
                else if (!in_class && *p != '*' && *p != '?')
                        n++;
        }
        return n;
}

const Check *config_match(const Config *c, const char *unit) {
        const Check *best = NULL;
        unsigned best_literal = 0;

        const Check *exact = config_find_check(c, unit);

        if (exact && !exact->pattern)
                return exact;
        if (!c->has_patterns && c->index)
                return NULL;
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                unsigned l;

                if (!k->pattern || fnmatch(k->name, unit, 0) != 0)
                        continue;
                l = literal_chars(k->name);
                /* More literal characters is more specific; on a tie the later section wins. */
                if (!best || l > best_literal || (l == best_literal && k->order > best->order)) {
                        best = k;
                        best_literal = l;
                }
        }
        return best;
}

bool config_has_patterns(const Config *c) {
        if (c->index)
                return c->has_patterns;
        for (size_t i = 0; i < c->n_checks; i++)
                if (c->checks[i]->pattern)
                        return true;
        return false;
}

int config_parse_annotation(const Config *c _unused_, const char *unit, char *const *files, size_t n_files,
                            Check **ret, Strv *errors) {
        _cleanup_(check_freep) Check *check = NULL;
        size_t n_errors = errors->n;
        bool found = false;
        int r;

        check = calloc(1, sizeof(Check));
        if (!check)
                return -ENOMEM;
        check->enabled = true;
        check->body_max = 100000;
        check->failure_threshold = 1;
        check->origin = CHECK_FROM_ANNOTATION;
        check->name = strdup(unit);
        if (!check->name)
                return -ENOMEM;

        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                Parser p = {
                        .errors = errors,
                        .path = files[i],
                        .annotation = true,
                        .annotation_check = check,
                };

                if (isempty(files[i]))
                        continue;
                r = read_full_file(files[i], CONFIG_FILE_MAX, &data, &size);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        _cleanup_free_ char *msg = NULL;

                        errno = -r;
                        if (asprintf(&msg, "%s: cannot read: %m; its [X-Timerbeat] section is ignored", files[i]) >= 0)
                                (void) strv_push(errors, msg);
                        continue;
                }
                /* Cheap test first: most unit files have no annotation. */
                if (!strcasestr(data, "[X-Timerbeat]"))
                        continue;
                found = true;
                if (!check->file) {
                        check->file = strdup(files[i]);
                        if (!check->file)
                                return -ENOMEM;
                }
                p.data = data;
                p.size = memchr(data, 0, size) ? (size_t) ((char *) memchr(data, 0, size) - data) : size;
                r = ini_parse_stream(parser_read_line, &p, parser_handler, &p);
                if (r == -2)
                        return -ENOMEM;
                if (check->line == 0)
                        check->line = p.section_line;
        }

        if (errors->n > n_errors)
                return -EINVAL;
        if (!found) {
                *ret = NULL;
                return 0;
        }
        if (check->enabled && !check->url) {
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "%s:%u: [X-Timerbeat] has no URL=; add URL=https://… or Enabled=no", check->file,
                             check->line) >= 0)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        *ret = TAKE_PTR(check);
        return 0;
}

int check_url_for(const Check *c, const char *unit, char **ret) {
        _cleanup_free_ char *base = NULL;
        char host[256] = "";
        int r;

        (void) gethostname(host, sizeof(host) - 1);
        /* The base URL's own placeholders first ({unit_prefix} in a pattern's url=), then the
         * event template around it. */
        if (c->url) {
                r = template_expand(c->url, &(TemplateVars) { .unit = unit, .hostname = host }, &base);
                if (r < 0)
                        return r;
        }
        Check copy = *c;
        copy.url = base;
        return check_event_url(&copy, EVENT_SUCCESS,
                               &(TemplateVars) { .unit = unit, .hostname = host, .result = "success",
                                                 .message = "ping from timerbeat" },
                               ret);
}

const char *check_template(const Check *c, Event e) {
        const Preset *p = c->preset ?: preset_generic();

        if (c->templates[e])
                return c->templates[e];
        return p->templates[e];
}

int check_event_url(const Check *c, Event e, const TemplateVars *v, char **ret) {
        const char *t = check_template(c, e);
        _cleanup_free_ char *url = NULL;
        TemplateVars vars = *v;
        int r;

        if (!t)
                return -ENOENT;
        vars.url = c->url;
        r = template_expand(t, &vars, &url);
        if (r < 0)
                return r;
        url_fix_query(url);
        if (c->auto_create) {
                char *n;

                if (asprintf(&n, "%s%screate=1", url, strchr(url, '?') ? "&" : "?") < 0)
                        return -ENOMEM;
                free(url);
                url = n;
        }
        *ret = TAKE_PTR(url);
        return 0;
}

BodyKind check_body_for(const Check *c, Event e) {
        BodyKind b = c->body_set ? c->body : BODY_NONE;

        if (e == EVENT_START)
                return b == BODY_JSON ? BODY_JSON : BODY_NONE;
        if (b == BODY_LOG) {
                if (c->attach_log == ATTACH_LOG_NEVER)
                        return BODY_NONE;
                if (c->attach_log == ATTACH_LOG_ON_FAILURE && e == EVENT_SUCCESS)
                        return BODY_NONE;
        }
        return b;
}
