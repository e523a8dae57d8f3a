/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
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
#include <inttypes.h>

#include "access.h"
#include "build-config.h"
#include "config.h"
#include "dropin.h"
#include "hashmap.h"
#include "template.h"

#define DEFAULT_USER_AGENT "timerbeat/" PROJECT_VERSION

static int apply_defaults(void *object, ConfigSection section);

static void provision_done(Provision *p) {
        free(p->api_url);
        free(p->api_key);
        free(p->slug);
        free(p->tags);
}

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
        provision_done(&c->provision);
        free(c);
        return NULL;
}

Config *config_new(void) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));

        if (!c || apply_defaults(c, CONFIG_SECTION_GLOBAL) < 0)
                return NULL;
        return TAKE_PTR(c);
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
        free(c->metrics_file);
        free(c->self_url);
        check_free(c->self_check);
        provision_done(&c->provision);
        strv_done(&c->files);
        strv_done(&c->digests);
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
        c->index = mfree(c->index);
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

typedef struct ConfigParser {
        Config *config;
        Strv *errors;
        const char *path;
        const char *data;
        size_t size;
        size_t pos;
        unsigned line;
        const char *line_start; /* the raw current line, for syntax checks */
        size_t line_len;
        unsigned section_line; /* where the current [section] header is */

        /* Annotation mode: a unit file; only [X-Timerbeat] is ours, everything else is
         * systemd's and skipped unread. */
        bool annotation;
        bool in_annotation;
        Check *annotation_check;

        mode_t mode;          /* of the file, to warn about secrets readable by all */
        bool warned_readable; /* said once per file, not once per url= line */
        Strv *warnings;       /* may be NULL */
        size_t warnings_from; /* this file's first warning: a text names its file, so only these can repeat */
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
        for (size_t i = p->warnings_from; i < p->warnings->n; i++)
                if (streq(p->warnings->items[i], full)) {
                        free(full);
                        return;
                }
        (void) strv_push(p->warnings, full);
        free(full);
}

/* url = file:/path reads the URL from a file (its first line); url = credential:NAME from
 * $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=). Returns 1 with *ret set (or NULL
 * for a plain URL), 0 when an error was reported, < 0 on out of memory. */
static int resolve_secret(Parser *p, const char *key, const char *v, char **ret, const char **ret_ref) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        const char *name;
        struct stat st;
        int r;

        *ret = NULL;
        /* "file://..." is a file URL, which is refused as a URL; "file:/path" is ours. */
        if ((name = startswith(v, "file:")) && !startswith(v, "file://")) {
                if (name[0] != '/') {
                        parser_error(p, p->line, "%s= file:%s: the path must be absolute", key, name);
                        return 0;
                }
                path = strdup(name);
        } else if ((name = startswith(v, "credential:"))) {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");

                if (isempty(name) || strchr(name, '/') || streq(name, "..") || streq(name, ".")) {
                        parser_error(p, p->line, "%s= credential:%s: not a credential name", key, name);
                        return 0;
                }
                if (isempty(dir)) {
                        parser_error(
                                p, p->line,
                                "%s= credential:%s: no credentials were passed; add LoadCredential=%s:/path/to/file "
                                "to timerbeat.service (systemctl edit timerbeat)",
                                key, name, name);
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
                parser_error(p, p->line, "%s= %s: cannot read %s: %m; create it with the %s on its first line", key,
                             v, path, strstr(key, "url") ? "URL" : "value");
                return 0;
        }
        if (stat(path, &st) >= 0 && access_world_readable(path, &st) && startswith(v, "file:")) {
                _cleanup_free_ char *fix = access_fix(path, access_is_system_path(p->path), false);

                parser_warning(p, p->line, "%s holds %s (a secret) and is readable by all users; run: %s", path,
                               strstr(key, "url") ? "a heartbeat URL" : "an API key", strempty(fix));
        }
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
                p->in_annotation = dropin_is_annotation_header(s, len);
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

#define DEST(k, object) ((void *) ((char *) (object) + (k)->offset))

/* One of the key's words (case-insensitive), by index, or an error naming them all. */
static int parse_word(Parser *p, const ConfigKey *k, const char *v) {
        char list[256] = "";
        size_t n = 0;

        while (k->values[n])
                n++;
        for (size_t i = 0; i < n; i++) {
                if (strcasecmp(v, k->values[i]) == 0)
                        return (int) i;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         i == 0     ? "" :
                         i + 1 == n ? " or " :
                                      ", ",
                         k->values[i]);
        }
        parser_error(p, p->line, "%s= '%s' is not supported; use %s", k->name, v, list);
        return -EINVAL;
}

/* An enumeration stored in an enum, or in a bool when it has two words (trigger = any|timer). */
static int parse_enum(Parser *p, const ConfigKey *k, void *object, const char *v) {
        int i = parse_word(p, k, v);

        if (i < 0)
                return 0;
        if (k->size == sizeof(bool))
                *(bool *) DEST(k, object) = i;
        else
                *(int *) DEST(k, object) = i;
        return 0;
}

static int parse_body(Parser *p, const ConfigKey *k, void *object, const char *v) {
        Check *check = object;
        int i = parse_word(p, k, v);

        if (i >= 0) {
                check->body = (BodyKind) i;
                /* The table's default comes through here too: only a line in a file sets it. */
                check->body_set = p->line > 0;
        }
        return 0;
}

static int parse_bool(Parser *p, const ConfigKey *k, void *object, const char *v) {
        int b = parse_boolean(v);

        if (b < 0)
                parser_error(p, p->line, "%s= '%s' is not a boolean; use yes or no", k->name, v);
        else
                *(bool *) DEST(k, object) = b;
        return 0;
}

static int parse_span(Parser *p, const ConfigKey *k, void *object, const char *v) {
        char a[32], b[32];
        usec_t t;

        if (parse_timespan(v, &t) < 0) {
                parser_error(p, p->line, "%s= '%s' is not a time span; write e.g. 500ms, 30s, 5min", k->name, v);
                return 0;
        }
        if (t < k->min || t > k->max) {
                parser_error(p, p->line, "%s= %s is out of range; use a value from %s to %s", k->name, v,
                             format_timespan(a, sizeof(a), k->min), format_timespan(b, sizeof(b), k->max));
                return 0;
        }
        *(usec_t *) DEST(k, object) = t;
        return 0;
}

static int parse_uint(Parser *p, const ConfigKey *k, void *object, const char *v) {
        unsigned u;
        int r = parse_unsigned(v, (unsigned) k->min, (unsigned) k->max, &u);

        if (r == -ERANGE)
                parser_error(p, p->line, "%s= %s is out of range; use a number from %u to %u", k->name, v,
                             (unsigned) k->min, (unsigned) k->max);
        else if (r < 0)
                parser_error(p, p->line, "%s= '%s' is not a number; use a number from %u to %u", k->name, v,
                             (unsigned) k->min, (unsigned) k->max);
        else
                *(unsigned *) DEST(k, object) = u;
        return 0;
}

/* A number, or "infinity" (UINT_MAX). */
static int parse_uint_or_infinity(Parser *p, const ConfigKey *k, void *object, const char *v) {
        if (streq(v, "infinity")) {
                *(unsigned *) DEST(k, object) = UINT_MAX;
                return 0;
        }
        return parse_uint(p, k, object, v);
}

/* A header value: printable, at most 200 characters; empty means none. */
static int parse_source(Parser *p, const ConfigKey *k, void *object, const char *v) {
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                        parser_error(p, p->line, "%s= contains control characters; remove them", k->name);
                        return 0;
                }
        if (strlen(v) > 200) {
                parser_error(p, p->line, "%s= is longer than 200 characters; shorten it", k->name);
                return 0;
        }
        return free_and_strdup(DEST(k, object), isempty(v) ? NULL : v);
}

static const char *const bot_agents[] = {
        "twitterbot", "slackbot", "googlebot", "discordbot", "facebot", "telegrambot", "whatsapp", "linkedinbot",
};

static int parse_user_agent(Parser *p, const ConfigKey *k, void *object, const char *v) {
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
        return parse_source(p, k, object, v);
}

/* A heartbeat URL (url=, self-url=), or where to read it: the validated URL in *ret, NULL when
 * an error was reported. */
static int parse_url_value(Parser *p, const ConfigKey *k, const char *v, char **ret) {
        _cleanup_free_ char *bad = NULL, *sample = NULL, *secret = NULL;
        const char *ref = NULL, *reason;
        int r;

        *ret = NULL;
        /* The URL may live elsewhere, so that it need not sit in a readable file. */
        r = resolve_secret(p, k->name, v, &secret, &ref);
        if (r <= 0)
                return r; /* 0: reported */
        if (secret)
                v = secret;
        else if ((p->mode & S_IROTH) && !p->warned_readable) {
                _cleanup_free_ char *fix = access_fix(p->path, access_is_system_path(p->path), false);

                p->warned_readable = true;
                parser_warning(p, p->line,
                               "this file is readable by all users and holds a heartbeat URL (a secret); run: %s "
                               "(or use %s = file:/path or %s = credential:NAME)",
                               strempty(fix), k->name, k->name);
        }

        if (template_validate(v, &reason, &bad) < 0) {
                _cleanup_free_ char *masked = url_mask(v);
                if (bad)
                        parser_error(p, p->line,
                                     "%s= %s: unknown placeholder {%s}; known: {unit}, {unit_prefix}, {hostname}",
                                     k->name, strempty(masked), bad);
                else
                        parser_error(p, p->line, "%s= %s: %s", k->name, strempty(masked), reason);
                return 0;
        }
        /* Validate what it expands to, with a unit name full of characters to encode. */
        r = template_expand(v, &(TemplateVars) { .unit = "db@x:1\\x2d.timer", .hostname = "host" }, &sample);
        if (r < 0)
                return r;
        if (url_validate(sample, &reason) < 0) {
                _cleanup_free_ char *masked = url_mask(v);
                parser_error(p, p->line, "%s= %s%s%s: %s; write e.g. %s = https://hc-ping.com/<uuid>", k->name,
                             strempty(masked), ref ? " (from " : "", ref ? ref : "", reason, k->name);
                return 0;
        }
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int parse_url(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *url = NULL;
        Check *check = object;
        int r;

        r = parse_url_value(p, k, v, &url);
        if (r < 0 || !url)
                return r;
        free(check->url);
        check->url = TAKE_PTR(url);
        check->url_line = p->line;
        return free_and_strdup(&check->url_file, p->path);
}

/* self-url =: like url=; empty: none. */
static int parse_self_url(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *url = NULL;
        int r;

        if (isempty(v))
                return free_and_strdup(DEST(k, object), NULL);
        r = parse_url_value(p, k, v, &url);
        if (r < 0 || !url)
                return r;
        free(*(char **) DEST(k, object));
        *(char **) DEST(k, object) = TAKE_PTR(url);
        return 0;
}

/* metrics-file = /var/lib/prometheus/node-exporter/timerbeat.prom: an absolute *.prom path in a
 * directory that exists and that we may write (the file is replaced by a rename there). Checked
 * at load, so that a typo fails `timerbeat check` and a reload, not the first write. */
static int parse_metrics_file(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        const char *slash;

        if (isempty(v))
                return free_and_strdup(DEST(k, object), NULL);
        slash = strrchr(v, '/');
        if (v[0] != '/' || !slash || isempty(slash + 1)) {
                parser_error(p, p->line,
                             "%s= %s: not an absolute file path; write e.g. %s = "
                             "/var/lib/prometheus/node-exporter/timerbeat.prom",
                             k->name, v, k->name);
                return 0;
        }
        if (!endswith(v, ".prom")) {
                parser_error(p, p->line,
                             "%s= %s: node_exporter's textfile collector reads only files ending in "
                             ".prom; rename it",
                             k->name, v);
                return 0;
        }
        dir = slash == v ? strdup("/") : strndup(v, (size_t) (slash - v));
        if (!dir)
                return -ENOMEM;
        errno = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (errno != 0) {
                parser_error(p, p->line,
                             "%s= %s: the directory %s cannot be used: %m; create it (node_exporter's "
                             "--collector.textfile.directory=)",
                             k->name, v, dir);
                return 0;
        }
        if (access(dir, W_OK) < 0) {
                parser_error(p, p->line,
                             "%s= %s: the directory %s is not writable for timerbeat: %m; make it "
                             "writable (and list it in ReadWritePaths= of timerbeat.service)",
                             k->name, v, dir);
                return 0;
        }
        return free_and_strdup(DEST(k, object), v);
}

/* success-url=, start-url=, …: a template, where {url} is the check's url=. */
static int parse_template(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *bad = NULL, *sample = NULL;
        const char *reason;
        int r;

        if (isempty(v)) /* empty: back to the preset's */
                return free_and_strdup(DEST(k, object), NULL);

        if (template_validate(v, &reason, &bad) < 0) {
                if (bad)
                        parser_error(p, p->line, "%s= has an unknown placeholder {%s}; known: %s", k->name, bad,
                                     TEMPLATE_PLACEHOLDERS);
                else
                        parser_error(p, p->line, "%s=: %s", k->name, reason);
                return 0;
        }
        r = template_expand(v,
                            &(TemplateVars) {
                                    .unit = "x.timer", .hostname = "host", .url = "https://example.com/base" },
                            &sample);
        if (r < 0)
                return r;
        if (url_validate(sample, &reason) < 0) {
                parser_error(p, p->line, "%s= does not make a valid URL: %s", k->name, reason);
                return 0;
        }
        return free_and_strdup(DEST(k, object), v);
}

static int parse_preset(Parser *p, const ConfigKey *k, void *object, const char *v) {
        const Preset *preset = preset_find(v);

        if (!preset)
                parser_error(p, p->line, "%s= '%s' is unknown; use one of: %s", k->name, v, preset_names());
        else
                *(const Preset **) DEST(k, object) = preset;
        return 0;
}

static int parse_exit_statuses(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *copy = strdup(v);
        Check *check = object;
        int statuses[ELEMENTSOF(check->skip_exit_status)];
        size_t n = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
                unsigned u;

                if (parse_unsigned(tok, 0, 255, &u) < 0) {
                        parser_error(p, p->line, "%s= '%s' is not an exit status (0 to 255)", k->name, tok);
                        return 0;
                }
                if (n >= ELEMENTSOF(statuses)) {
                        parser_error(p, p->line, "%s= lists more than %zu statuses", k->name, ELEMENTSOF(statuses));
                        return 0;
                }
                statuses[n++] = (int) u;
        }
        memcpy(check->skip_exit_status, statuses, n * sizeof(int));
        check->n_skip_exit_status = n;
        return 0;
}

/* provision = no|healthchecks, stored as its ProvisionKind (PROVISION_INHERIT stays "unset"). */
static const char *const provision_words[] = { "no", "healthchecks", NULL };

static int parse_provision(Parser *p, const ConfigKey *k, void *object, const char *v) {
        int i;

        if (isempty(v)) { /* unset: [timerbeat]'s */
                *(int *) DEST(k, object) = PROVISION_INHERIT;
                return 0;
        }
        i = parse_word(p, k, v);
        if (i >= 0)
                *(int *) DEST(k, object) = PROVISION_NO + i;
        return 0;
}

/* grace = a time span; empty: computed from the timer (or [timerbeat]'s, in a section). */
static int parse_grace(Parser *p, const ConfigKey *k, void *object, const char *v) {
        if (isempty(v)) {
                *(usec_t *) DEST(k, object) = 0;
                return 0;
        }
        return parse_span(p, k, object, v);
}

/* api-url = the monitor's site; empty: none. */
static int parse_api_url(Parser *p, const ConfigKey *k, void *object, const char *v) {
        const char *reason = "out of memory";

        if (!isempty(v) && url_validate(v, &reason) < 0) {
                parser_error(p, p->line, "%s= '%s': %s; write e.g. api-url = https://healthchecks.io", k->name, v,
                             reason);
                return 0;
        }
        return free_and_strdup(DEST(k, object), isempty(v) ? NULL : v);
}

/* api-key = the key itself, file:/path or credential:NAME; a secret, never shown. */
static int parse_api_key(Parser *p, const ConfigKey *k, void *object, const char *v) {
        _cleanup_free_ char *secret = NULL;
        const char *ref = NULL;
        int r;

        r = resolve_secret(p, k->name, v, &secret, &ref);
        if (r <= 0)
                return r;
        if (secret)
                v = secret;
        else if (!isempty(v) && (p->mode & S_IROTH))
                parser_warning(p, p->line,
                               "this file is readable by all users and holds an API key (a secret); chmod o-r "
                               "it, or use api-key = file:/path or api-key = credential:NAME");
        for (const char *c = v; *c; c++)
                if ((unsigned char) *c <= 0x20 || *c == 0x7f) {
                        parser_error(p, p->line, "%s= contains whitespace or control characters; an API key has none",
                                     k->name);
                        return 0;
                }
        return free_and_strdup(DEST(k, object), isempty(v) ? NULL : v);
}

/* slug = a template of {unit}, {unit_prefix} and {hostname}; other characters are made
 * lower-case letters, digits, '-' and '_' when the slug is built. */
static int parse_slug(Parser *p, const ConfigKey *k, void *object, const char *v) {
        const char *s = v;

        while ((s = strchr(s, '{'))) {
                const char *e = strchr(s, '}');

                if (!e || !((e - s == 5 && strncmp(s, "{unit}", 6) == 0) ||
                            (e - s == 12 && strncmp(s, "{unit_prefix}", 13) == 0) ||
                            (e - s == 9 && strncmp(s, "{hostname}", 10) == 0))) {
                        parser_error(p, p->line,
                                     "%s= '%s': unknown placeholder; known: {unit}, {unit_prefix}, {hostname}",
                                     k->name, v);
                        return 0;
                }
                s = e + 1;
        }
        if (strlen(v) > 100) {
                parser_error(p, p->line, "%s= is longer than 100 characters (healthchecks' limit); shorten it",
                             k->name);
                return 0;
        }
        return free_and_strdup(DEST(k, object), isempty(v) ? NULL : v);
}

void config_provision(const Config *c, const Check *k, Provision *ret) {
        const Provision *a = &k->provision, *g = &c->provision;

        *ret = (Provision) {
                .kind = a->kind != PROVISION_INHERIT ? a->kind : g->kind,
                .api_url = a->api_url ?: g->api_url,
                .api_key = a->api_key ?: g->api_key,
                .slug = a->slug ?: g->slug,
                .grace = a->grace ?: g->grace,
                .tags = a->tags ?: g->tags,
        };
        if (ret->kind == PROVISION_INHERIT)
                ret->kind = PROVISION_NO;
}

bool check_is_provisioned(const Config *c, const Check *k) {
        Provision p;

        if (!k)
                return false;
        config_provision(c, k, &p);
        return p.kind == PROVISION_HEALTHCHECKS;
}

static const char *const method_words[] = { [HTTP_METHOD_GET] = "GET", [HTTP_METHOD_POST] = "POST", NULL };
static const char *const body_words[] = { [BODY_NONE] = "none", [BODY_LOG] = "log", [BODY_JSON] = "json", NULL };
static const char *const attach_log_words[] = {
        [ATTACH_LOG_ON_FAILURE] = "on-failure",
        [ATTACH_LOG_NEVER] = "never",
        [ATTACH_LOG_ALWAYS] = "always",
        NULL,
};
static const char *const sync_words[] = { "no", "auto", NULL };      /* into Config.autosync */
static const char *const trigger_words[] = { "any", "timer", NULL }; /* into Check.trigger_timer */
static const char *const on_skip_words[] = {
        [ON_SKIP_IGNORE] = "ignore",
        [ON_SKIP_SUCCESS] = "success",
        [ON_SKIP_FAILURE] = "failure",
        NULL,
};

#define GLOBAL(field) CONFIG_SECTION_GLOBAL, .offset = offsetof(Config, field), .size = sizeof(((Config *) 0)->field)
/* Unit and pattern sections, not [X-Timerbeat]. */
#define PROVISIONED(field) CONFIG_SECTION_CONF, .offset = offsetof(Check, field), .size = sizeof(((Check *) 0)->field)
#define CHECK(field) CONFIG_SECTION_CHECK, .offset = offsetof(Check, field), .size = sizeof(((Check *) 0)->field)

/* Every key timerbeat knows. A default is applied through the key's own parser when a Config
 * or a Check is created, so it is always a value the file could hold. The "known keys" messages
 * and the suggestions for a misspelt key come from here. */
static const ConfigKey config_key_table[] = {
        /* [timerbeat] */
        { "timeout", GLOBAL(timeout), .parse = parse_span, .def = "30s", .min = 100 * USEC_PER_MSEC,
          .max = 10 * USEC_PER_MINUTE },
        { "connect-timeout", GLOBAL(connect_timeout), .parse = parse_span, .def = "10s", .min = 100 * USEC_PER_MSEC,
          .max = 5 * USEC_PER_MINUTE },
        { "retries", GLOBAL(retries), .parse = parse_uint_or_infinity, .def = "infinity", .min = 0, .max = 1000 },
        { "retry-delay", GLOBAL(retry_delay), .parse = parse_span, .def = "1s", .min = 10 * USEC_PER_MSEC,
          .max = USEC_PER_HOUR },
        { "retry-max-delay", GLOBAL(retry_max_delay), .parse = parse_span, .def = "5min", .min = 10 * USEC_PER_MSEC,
          .max = 6 * USEC_PER_HOUR },
        { "max-age", GLOBAL(max_age), .parse = parse_span, .def = "24h", .min = USEC_PER_SEC,
          .max = 30 * USEC_PER_DAY },
        { "max-parallel", GLOBAL(max_parallel), .parse = parse_uint, .def = "16", .min = 1, .max = 256 },
        { "max-queue", GLOBAL(max_queue), .parse = parse_uint, .def = "1000", .min = 1, .max = 100000 },
        { "max-queue-per-check", GLOBAL(max_queue_per_check), .parse = parse_uint, .def = "100", .min = 1,
          .max = 100000 },
        { "user-agent", GLOBAL(user_agent), .parse = parse_user_agent, .def = DEFAULT_USER_AGENT },
        { "source", GLOBAL(source), .parse = parse_source, .def = "" },
        { "annotations", GLOBAL(annotations), .parse = parse_bool, .def = "yes" },
        { "metrics-file", GLOBAL(metrics_file), .parse = parse_metrics_file, .def = "" },
        { "self-url", GLOBAL(self_url), .parse = parse_self_url },
        { "self-interval", GLOBAL(self_interval), .parse = parse_span, .def = "5min", .min = USEC_PER_SEC,
          .max = USEC_PER_DAY },
        /* The destination is a pointer: its size is meant. NOLINTNEXTLINE(bugprone-sizeof-expression) */
        { "self-preset", GLOBAL(self_preset), .parse = parse_preset, .def = "generic" },
        /* Provisioning defaults for the checks (timerbeat sync) */
        { "provision", GLOBAL(provision.kind), .parse = parse_provision, .def = "no", .values = provision_words },
        { "api-url", GLOBAL(provision.api_url), .parse = parse_api_url, .def = "" },
        { "api-key", GLOBAL(provision.api_key), .parse = parse_api_key, .def = "" },
        { "slug", GLOBAL(provision.slug), .parse = parse_slug, .def = "{unit_prefix}" },
        { "grace", GLOBAL(provision.grace), .parse = parse_grace, .def = "", .min = 60 * USEC_PER_SEC,
          .max = 365 * USEC_PER_DAY },
        { "tags", GLOBAL(provision.tags), .parse = parse_source, .def = "" },
        { "sync", GLOBAL(autosync), .parse = parse_enum, .def = "auto", .values = sync_words },

        /* [unit.timer], [pattern*.timer], [X-Timerbeat] */
        { "url", CHECK(url), .parse = parse_url },
        { "method", CHECK(method), .parse = parse_enum, .def = "GET", .values = method_words },
        { "source", CHECK(source), .parse = parse_source, .def = "" },
        { "enabled", CHECK(enabled), .parse = parse_bool, .def = "yes" },
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): a pointer, as above */
        { "preset", CHECK(preset), .parse = parse_preset, .def = "generic" },
        { "success-url", CHECK(templates[EVENT_SUCCESS]), .parse = parse_template },
        { "start-url", CHECK(templates[EVENT_START]), .parse = parse_template },
        { "failure-url", CHECK(templates[EVENT_FAILURE]), .parse = parse_template },
        { "log-url", CHECK(templates[EVENT_LOG]), .parse = parse_template },
        { "start", CHECK(start), .parse = parse_bool, .def = "no" },
        { "failure", CHECK(failure), .parse = parse_bool, .def = "no" },
        { "body", CHECK(body), .parse = parse_body, .def = "none", .values = body_words },
        { "attach-log", CHECK(attach_log), .parse = parse_enum, .def = "on-failure", .values = attach_log_words },
        { "body-max", CHECK(body_max), .parse = parse_uint, .def = "100000", .min = 1, .max = 1000000 },
        { "trigger", CHECK(trigger_timer), .parse = parse_enum, .def = "any", .values = trigger_words },
        { "skip-exit-status", CHECK(n_skip_exit_status), .parse = parse_exit_statuses, .def = "" },
        { "failure-threshold", CHECK(failure_threshold), .parse = parse_uint, .def = "1", .min = 1, .max = 1000 },
        { "min-runtime", CHECK(min_runtime), .parse = parse_span, .def = "0", .min = 0, .max = USEC_PER_DAY },
        { "auto-create", CHECK(auto_create), .parse = parse_bool, .def = "no" },
        /* Provisioning (timerbeat sync), unset: [timerbeat]'s; not in [X-Timerbeat] */
        { "provision", PROVISIONED(provision.kind), .parse = parse_provision, .values = provision_words },
        { "api-url", PROVISIONED(provision.api_url), .parse = parse_api_url },
        { "api-key", PROVISIONED(provision.api_key), .parse = parse_api_key },
        { "slug", PROVISIONED(provision.slug), .parse = parse_slug },
        { "grace", PROVISIONED(provision.grace), .parse = parse_grace, .min = 60 * USEC_PER_SEC,
          .max = 365 * USEC_PER_DAY },
        { "tags", PROVISIONED(provision.tags), .parse = parse_source },
        { "on-skip", CHECK(on_skip), .parse = parse_enum, .def = "ignore", .values = on_skip_words },
};

const ConfigKey *config_keys(size_t *ret_n) {
        *ret_n = ELEMENTSOF(config_key_table);
        return config_key_table;
}

const ConfigKey *config_key_find(const char *name, ConfigSection section) {
        for (size_t i = 0; i < ELEMENTSOF(config_key_table); i++)
                if ((config_key_table[i].sections & section) && strcasecmp(config_key_table[i].name, name) == 0)
                        return &config_key_table[i];
        return NULL;
}

/* Sets every key of the section kind to its default. Defaults are valid by construction (the
 * unit tests load them), so only out-of-memory can fail. */
static int apply_defaults(void *object, ConfigSection section) {
        _cleanup_(strv_done) Strv errors = {};
        Parser p = { .errors = &errors, .path = "(default)" };

        for (size_t i = 0; i < ELEMENTSOF(config_key_table); i++) {
                const ConfigKey *k = &config_key_table[i];
                int r;

                if (!(k->sections & section) || !k->def)
                        continue;
                r = k->parse(&p, k, object, k->def);
                if (r < 0)
                        return r;
        }
        assert(errors.n == 0);
        return 0;
}

unsigned config_default_retries(void) {
        _cleanup_(strv_done) Strv errors = {};
        Parser p = { .errors = &errors, .path = "(default)" };
        const ConfigKey *k = config_key_find("retries", CONFIG_SECTION_GLOBAL);
        Config c = {};

        assert(k);
        (void) k->parse(&p, k, &c, k->def); /* a number or "infinity": nothing to allocate */
        assert(errors.n == 0);
        return c.retries;
}

/* Optimal string alignment distance (Levenshtein with transpositions), case-insensitive:
 * "ulr" is one edit from "url". Keys are short; longer words are not compared. */
static unsigned edit_distance(const char *a, const char *b) {
        unsigned rows[3][65], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
        size_t la = strlen(a), lb = strlen(b);

        if (la > 64 || lb > 64)
                return UINT_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        bool same = tolower((unsigned char) a[i - 1]) == tolower((unsigned char) b[j - 1]);
                        unsigned d = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + !same);

                        if (i > 1 && j > 1 &&
                            tolower((unsigned char) a[i - 1]) == tolower((unsigned char) b[j - 2]) &&
                            tolower((unsigned char) a[i - 2]) == tolower((unsigned char) b[j - 1]))
                                d = MIN(d, prev2[j - 2] + 1);
                        cur[j] = d;
                }
                unsigned *t = prev2;
                prev2 = prev;
                prev = cur;
                cur = t;
        }
        return prev[lb];
}

/* The known key closest to a misspelt one: a few edits away, or one the misspelt key starts
 * with ("trigger-timer" → "trigger"). NULL if nothing is close. */
static const ConfigKey *closest_key(const char *name, ConfigSection section) {
        const ConfigKey *best = NULL, *prefix = NULL;
        unsigned best_d = UINT_MAX;

        for (size_t i = 0; i < ELEMENTSOF(config_key_table); i++) {
                const ConfigKey *k = &config_key_table[i];
                size_t l = strlen(k->name);
                unsigned d;

                if (!(k->sections & section))
                        continue;
                d = edit_distance(name, k->name);
                if (d <= MAX(2U, (unsigned) l / 3) && d < best_d) {
                        best = k;
                        best_d = d;
                }
                if (strncasecmp(name, k->name, l) == 0 && (name[l] == '-' || name[l] == '_') &&
                    (!prefix || l > strlen(prefix->name)))
                        prefix = k;
        }
        return best ?: prefix;
}

/* "[timerbeat]", or "a unit section ([backup.timer]), … or [X-Timerbeat]" */
static void section_names(unsigned sections, char *buf, size_t size) {
        static const char *const names[] = {
                "[timerbeat]",
                "a unit section ([backup.timer])",
                "a pattern section ([*.timer])",
                "[X-Timerbeat]",
        };
        size_t n = 0, total = __builtin_popcount(sections);

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (sections & (1U << i)) {
                        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
                                 n == 0         ? "" :
                                 n + 1 == total ? " or " :
                                                  ", ",
                                 names[i]);
                        n++;
                }
}

/* "name", or "name = a|b" for keys that take one of a few words. */
static void key_usage(const ConfigKey *k, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s", k->name);

        if (k->values || k->parse == parse_bool)
                n += snprintf(buf + n, size - MIN(size, (size_t) n), " = ");
        if (k->parse == parse_bool)
                snprintf(buf + n, size - MIN(size, (size_t) n), "yes|no");
        for (size_t i = 0; k->values && k->values[i]; i++)
                n += snprintf(buf + n, size - MIN(size, (size_t) n), "%s%s", i > 0 ? "|" : "", k->values[i]);
}

static void report_unknown_key(Parser *p, ConfigSection section, const char *section_name, const char *name) {
        char known[1024] = "", usage[256];
        const ConfigKey *k;

        for (size_t i = 0; i < ELEMENTSOF(config_key_table); i++)
                if (config_key_table[i].sections & section)
                        snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                                 isempty(known) ? "" : ", ", config_key_table[i].name);

        /* A real key in the wrong place: say where it goes. */
        k = config_key_find(name, ~section & (CONFIG_SECTION_GLOBAL | CONFIG_SECTION_CHECK));
        if (k) {
                section_names(k->sections & ~section, usage, sizeof(usage));
                parser_error(p, p->line, "unknown key '%s' in [%s]; %s= belongs in %s, move the line there", name,
                             section_name, k->name, usage);
                return;
        }
        k = closest_key(name, section);
        if (k) {
                key_usage(k, usage, sizeof(usage));
                parser_error(
                        p, p->line,
                        "unknown key '%s' in [%s]; did you mean '%s'? Correct or remove the line (known keys: %s)",
                        name, section_name, usage, known);
        } else
                parser_error(p, p->line, "unknown key '%s' in [%s]; correct or remove the line (known keys: %s)",
                             name, section_name, known);
}

static int parse_key(Parser *p, ConfigSection section, const char *section_name, void *object, const char *name,
                     const char *v) {
        const ConfigKey *k = config_key_find(name, section);

        if (!k) {
                report_unknown_key(p, section, section_name, name);
                return 0;
        }
        return k->parse(p, k, object, v);
}

Check *check_new(const char *name) {
        _cleanup_(check_freep) Check *check = calloc(1, sizeof(Check));

        if (!check)
                return NULL;
        check->name = strdup(name);
        if (!check->name || apply_defaults(check, CONFIG_SECTION_CHECK) < 0)
                return NULL;
        return TAKE_PTR(check);
}

/* Adds a new check to the index kept while parsing, doubling it when half full: looking a
 * section up stays O(1), so 10,000 drop-ins parse in linear time. */
static int config_index_add(Config *c, Check *check) {
        size_t j;

        if (!c->index || c->n_checks * 2 > c->index_size)
                return config_build_index(c);
        c->has_patterns = c->has_patterns || check->pattern;
        j = name_hash(check->name) & (c->index_size - 1);
        while (c->index[j])
                j = (j + 1) & (c->index_size - 1);
        c->index[j] = check;
        return 0;
}

static int config_get_check(Parser *p, const char *name, Check **ret) {
        Config *c = p->config;
        Check *check;

        check = (Check *) config_find_check(c, name);
        if (check) {
                *ret = check;
                return 0;
        }

        check = check_new(name);
        if (!check)
                return -ENOMEM;
        check->line = p->section_line ?: p->line;
        check->pattern = !unit_name_is_valid(name);
        check->order = (unsigned) c->n_checks;
        check->file = strdup(p->path);
        if (!check->file ||
            grow_array((void **) &c->checks, &c->checks_allocated, c->n_checks + 1, sizeof(Check *)) < 0) {
                check_free(check);
                return -ENOMEM;
        }
        c->checks[c->n_checks++] = check;
        *ret = check;
        return config_index_add(c, check);
}

/* Reports each bad section once, at its first key. */
static void report_unknown_section(Parser *p, const char *section) {
        _cleanup_free_ char *tag = NULL;

        if (asprintf(&tag, "\x01%s", section) < 0 || strv_contains(p->errors, tag))
                return;
        (void) strv_push(p->errors, tag);
        parser_error(p, p->line,
                     "unknown section [%s]; a section is [timerbeat], a unit name ending in "
                     ".timer or .service, e.g. [backup.timer], or a pattern such as [*.timer]",
                     section);
}

static int parser_handler(void *user, const char *section, const char *name, const char *value) {
        Parser *p = user;
        _cleanup_free_ char *v = NULL;
        Check *check;
        int r;

        v = clean_value(value);
        if (!v)
                return 0;

        if (p->annotation)
                r = parse_key(p, CONFIG_SECTION_ANNOTATION, "X-Timerbeat", p->annotation_check, name, v);
        else if (isempty(section)) {
                parser_error(p, p->line, "'%s' is outside of any section; put it under [timerbeat] or [unit.timer]",
                             name);
                r = 0;
        } else if (streq(section, "timerbeat"))
                r = parse_key(p, CONFIG_SECTION_GLOBAL, section, p->config, name, v);
        else if (!unit_name_is_valid(section) && !unit_pattern_is_valid(section)) {
                report_unknown_section(p, section);
                r = 0;
        } else {
                r = config_get_check(p, section, &check);
                if (r >= 0)
                        r = parse_key(p, check->pattern ? CONFIG_SECTION_PATTERN : CONFIG_SECTION_UNIT, section,
                                      check, name, v);
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
                .warnings_from = cfg->warnings.n,
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

                if (c->enabled && check_is_provisioned(cfg, c)) {
                        Provision pv;

                        config_provision(cfg, c, &pv);
                        if ((!pv.api_url || !pv.api_key) &&
                            asprintf(&msg,
                                     "%s:%u: [%s] has provision = healthchecks but no %s; add it to the section or "
                                     "to [timerbeat], e.g. %s",
                                     c->file, c->line, c->name, pv.api_url ? "api-key=" : "api-url=",
                                     pv.api_url ? "api-key = credential:hc-api-key" :
                                                  "api-url = https://healthchecks.io") >= 0)
                                (void) strv_push(errors, msg);
                } else if (!c->url && c->enabled && !c->templates[EVENT_SUCCESS]) {
                        if (asprintf(&msg, "%s:%u: [%s] has no url=; add url = https://… or enabled = no", c->file,
                                     c->line, c->name) >= 0)
                                (void) strv_push(errors, msg);
                }
                if (c->enabled && c->start && !check_template(c, EVENT_START)) {
                        free(msg);
                        msg = NULL;
                        if (asprintf(&msg,
                                     "%s:%u: [%s] has start = yes, but preset %s has no start endpoint; set "
                                     "start-url= or remove start =",
                                     c->file, c->line, c->name, c->preset ? c->preset->name : "generic") >= 0)
                                (void) strv_push(errors, msg);
                }
                if (c->enabled && c->failure && !check_template(c, EVENT_FAILURE)) {
                        free(msg);
                        msg = NULL;
                        if (asprintf(&msg,
                                     "%s:%u: [%s] has failure = yes, but preset %s has no failure endpoint; "
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

/* The self-heartbeat as a check, so that ping.c builds its request like any other. */
static int config_build_self_check(Config *cfg) {
        _cleanup_(check_freep) Check *c = NULL;

        if (!cfg->self_url)
                return 0;
        c = check_new(CONFIG_SELF_CHECK);
        if (!c || !(c->url = strdup(cfg->self_url)))
                return -ENOMEM;
        c->preset = cfg->self_preset;
        cfg->self_check = TAKE_PTR(c);
        return 0;
}

void config_file_digest(const char *data, size_t size, char ret[static 17]) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < size; i++)
                h = (h ^ (unsigned char) data[i]) * 0x100000001b3ULL;
        snprintf(ret, 17, "%016" PRIx64, h);
}

static int config_parse_file(Config *cfg, const char *path, bool must_exist, Strv *errors) {
        _cleanup_free_ char *data = NULL, *msg = NULL;
        char digest[17];
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
        if (r == -EACCES) {
                msg = access_denied_message(path);
                if (msg)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        if (r < 0) {
                errno = -r;
                if (asprintf(&msg, "%s: cannot read: %m; check that the file exists and is readable", path) >= 0)
                        (void) strv_push(errors, msg);
                return -EINVAL;
        }
        config_file_digest(data, size, digest);
        r = strv_push(&cfg->files, path);
        if (r >= 0)
                r = strv_push(&cfg->digests, digest);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0)
                st.st_mode = 0;
        /* In a directory others cannot enter (/etc/timerbeat is 2750), o+r reveals nothing. */
        if (!access_world_readable(path, &st))
                st.st_mode &= ~(mode_t) S_IROTH;
        return config_parse_data_full(cfg, path, data, size, st.st_mode, errors);
}

/* systemd's drop-in rules: *.conf from each directory; a name in a higher-priority directory
 * masks the same name in lower ones; a name linked to /dev/null (or an empty file) is masked;
 * the survivors are applied in lexical order of their names. */
static int collect_dropins(const ConfigSource *s, Strv *names, Strv *paths, Strv *errors) {
        /* The names seen so far (borrowed from names): a lookup each, not a scan. */
        _cleanup_(hashmap_freep) Hashmap *seen = NULL;
        int r;

        r = hashmap_new(&seen, HASHMAP_KEYS_BORROW);
        if (r < 0)
                return r;

        for (size_t d = 0; s->dropin_dirs[d]; d++) {
                _cleanup_(closedirp_) DIR *dir = NULL;
                struct dirent *de;

                dir = opendir(s->dropin_dirs[d]);
                if (!dir) {
                        _cleanup_free_ char *msg = NULL;

                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        if (errno == EACCES)
                                msg = access_denied_message(s->dropin_dirs[d]);
                        else if (asprintf(&msg, "%s: cannot open drop-in directory: %m; fix its permissions",
                                          s->dropin_dirs[d]) < 0)
                                msg = NULL;
                        if (msg)
                                (void) strv_push(errors, msg);
                        return -EINVAL;
                }
                while ((de = readdir(dir))) {
                        _cleanup_free_ char *path = NULL;

                        if (de->d_name[0] == '.' || !endswith(de->d_name, ".conf"))
                                continue;
                        if (hashmap_get(seen, de->d_name))
                                continue; /* masked by a higher-priority directory */
                        r = strv_push(names, de->d_name);
                        if (r >= 0)
                                r = hashmap_put(seen, names->items[names->n - 1], names->items[names->n - 1]);
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
        r = config_build_self_check(cfg);
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

        check = check_new(unit);
        if (!check)
                return -ENOMEM;
        check->origin = CHECK_FROM_ANNOTATION;

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
                        if (asprintf(&msg, "%s: cannot read: %m; its [X-Timerbeat] section is ignored", files[i]) >=
                            0)
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

/* A copy of every owned string, or NULL on out of memory. */
static Check *check_copy(const Check *k) {
        _cleanup_(check_freep) Check *n = calloc(1, sizeof(Check));

        if (!n)
                return NULL;
        *n = *k;
        char **strings[] = {
                &n->name,
                &n->url,
                &n->source,
                &n->file,
                &n->url_file,
                &n->provision.api_url,
                &n->provision.api_key,
                &n->provision.slug,
                &n->provision.tags,
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (*strings[i] && !(*strings[i] = strdup(*strings[i]))) {
                        /* The rest still point into k: clear them before n is freed. */
                        for (size_t j = i + 1; j < ELEMENTSOF(strings); j++)
                                *strings[j] = NULL;
                        for (size_t j = 0; j < _EVENT_MAX; j++)
                                n->templates[j] = NULL;
                        return NULL;
                }
        for (size_t i = 0; i < _EVENT_MAX; i++)
                if (n->templates[i] && !(n->templates[i] = strdup(n->templates[i]))) {
                        for (size_t j = i + 1; j < _EVENT_MAX; j++)
                                n->templates[j] = NULL;
                        return NULL;
                }
        return TAKE_PTR(n);
}

int config_add_provisioned(Config *c, const Check *k, const char *unit, const char *url) {
        Check *exact = (Check *) config_find_check(c, unit);
        _cleanup_(check_freep) Check *n = NULL;

        if (exact && !exact->pattern)
                return exact->url ? 0 : free_and_strdup(&exact->url, url) < 0 ? -ENOMEM : 1;
        n = check_copy(k);
        if (!n || free_and_strdup(&n->name, unit) < 0 || free_and_strdup(&n->url, url) < 0)
                return -ENOMEM;
        n->pattern = false;
        n->order = (unsigned) c->n_checks;
        if (grow_array((void **) &c->checks, &c->checks_allocated, c->n_checks + 1, sizeof(Check *)) < 0)
                return -ENOMEM;
        c->checks[c->n_checks++] = TAKE_PTR(n);
        c->index = mfree(c->index);
        return config_build_index(c) < 0 ? -ENOMEM : 1;
}

const char *check_template(const Check *c, Event e) {
        const Preset *p = c->preset ?: preset_generic();

        if (c->templates[e])
                return c->templates[e];
        return p->templates[e];
}
