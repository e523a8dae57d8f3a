/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <limits.h>
#include <sys/stat.h>

#include "config.h"
#include "ping.h"
#include "tests.h"

#define URL "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5"

/* Parses text as /etc/x.conf and validates; returns the config or NULL with errors joined. */
static Config *parse(const char *text, char **ret_errors) {
        Strv errors = {};
        Config *c = config_new();
        size_t len = 0;
        char *joined;
        int r;

        ASSERT(c);
        r = config_parse_data(c, "/etc/x.conf", text, strlen(text), &errors);
        if (r >= 0)
                r = config_validate(c, &errors);
        for (size_t i = 0; i < errors.n; i++)
                len += strlen(errors.items[i]) + 1;
        joined = calloc(1, len + 1);
        for (size_t i = 0; i < errors.n; i++) {
                strcat(joined, errors.items[i]);
                strcat(joined, "\n");
        }
        ASSERT((r < 0) == (errors.n > 0));
        strv_done(&errors);
        *ret_errors = joined;
        if (r < 0)
                return config_free(c);
        return c;
}

static void test_bad(void) {
        static const struct {
                const char *text, *error;
        } table[] = {
                { "[backup.timer]\nulr = " URL "\n", "/etc/x.conf:2: unknown key 'ulr' in [backup.timer]" },
                { "[timerbeat]\nmetrics-file = /nonexistent-dir/t.prom\n",
                  "/etc/x.conf:2: metrics-file= /nonexistent-dir/t.prom: the directory /nonexistent-dir cannot be "
                  "used: No such file or directory; create it" },
                { "[timerbeat]\nmetrics-file = /etc/hostname/t.prom\n",
                  ":2: metrics-file= /etc/hostname/t.prom: the directory /etc/hostname cannot be used: Not a "
                  "directory" },
                { "[timerbeat]\nmetrics-file = /tmp/t.txt\n",
                  ":2: metrics-file= /tmp/t.txt: node_exporter's textfile collector reads only files ending in .prom" },
                { "[timerbeat]\nmetrics-file = t.prom\n", ":2: metrics-file= t.prom: not an absolute file path" },
                { "[timerbeat]\nmetrics-file = /tmp/\n", ":2: metrics-file= /tmp/: not an absolute file path" },
                { "[timerbeat]\nself-url = ftp://x.example/a\n",
                  ":2: self-url= ftp://x.example/…: only http:// and https:// URLs are allowed; write e.g. self-url = " },
                { "[timerbeat]\nself-url = file:relative\n", ":2: self-url= file:relative: the path must be absolute" },
                { "[timerbeat]\nself-interval = 500ms\n", ":2: self-interval= 500ms is out of range; use a value from 1s" },
                { "[timerbeat]\nself-preset = nagios\n", ":2: self-preset= 'nagios' is unknown" },
                { "[backup]\nurl = " URL "\n", "/etc/x.conf:2: unknown section [backup]" },
                { "[backup.socket]\nurl = " URL "\n", "unknown section [backup.socket]" },
                { "[../x.timer]\nurl = " URL "\n", "unknown section [../x.timer]" },
                { "[*]\nurl = " URL "\n", "unknown section [*]" },
                { "[../*.timer]\nurl = " URL "\n", "unknown section [../*.timer]" },
                { "[a.timer]\nurl = https://x.example/{unit}/{nope}\n", ":2: url= https://x.example/{unit}/…: unknown placeholder {nope}" },
                { "[a.timer]\nurl = https://x.example/{unit\n", "a '{' without '}'" },
                { "[a.timer]\nurl = " URL "\npreset = nagios\n",
                  ":3: preset= 'nagios' is unknown; use one of: generic, healthchecks" },
                { "[a.timer]\nurl = " URL "\npreset = checkly\nstart = yes\n",
                  "[a.timer] has start = yes, but preset checkly has no start endpoint; set start-url=" },
                { "[a.timer]\nurl = " URL "\nfailure = yes\n",
                  "[a.timer] has failure = yes, but preset generic has no failure endpoint" },
                { "[a.timer]\nurl = " URL "\nskip-exit-status = 0 300\n",
                  ":3: skip-exit-status= '300' is not an exit status" },
                { "[a.timer]\nurl = " URL "\nfailure-url = {url}/{oops}\n",
                  ":3: failure-url= has an unknown placeholder {oops}" },
                { "[a.timer]\nurl = " URL "\nfailure-url = ftp://x/{exit_code}\n",
                  ":3: failure-url= does not make a valid URL" },
                { "[a.timer]\nurl = " URL "\nbody = xml\n",
                  ":3: body= 'xml' is not supported; use none, log or json" },
                { "[a.timer]\nurl = " URL "\nattach-log = sometimes\n", "attach-log= 'sometimes' is not supported" },
                { "[a.timer]\nurl = " URL "\ntrigger = path\n",
                  "trigger= 'path' is not supported; use any or timer" },
                { "[a.timer]\nurl = " URL "\non-skip = maybe\n",
                  ":3: on-skip= 'maybe' is not supported; use ignore, success or failure" },
                { "[a.timer]\nurl = " URL "\nbody-max = 2000000\n", "body-max= 2000000 is out of range" },
                { "url = " URL "\n", "/etc/x.conf:1: 'url' is outside of any section" },
                { "[backup.timer]\nurl = ftp://example.com/x\n",
                  ":2: url= ftp://example.com/…: only http:// and https://" },
                { "[backup.timer]\nurl = file:///etc/passwd\n", "only http:// and https://" },
                { "[backup.timer]\nurl = gopher://x/1\n", "only http:// and https://" },
                { "[backup.timer]\nurl = hc-ping.com/abc\n", "only http:// and https://" },
                { "[backup.timer]\nurl = https://hc ping.com/abc\n", "whitespace or control characters" },
                { "[backup.timer]\nurl = https://hc-ping.com/a%00b\n", "encoded NUL" },
                { "[backup.timer]\nurl = https://\n", "/etc/x.conf:2: url=" },
                { "[backup.timer]\nurl =\n", "the URL is empty" },
                { "[backup.timer]\nmethod = POST\n", "/etc/x.conf:1: [backup.timer] has no url=" },
                { "[backup.timer]\nurl = " URL "\nmethod = DELETE\n",
                  ":3: method= 'DELETE' is not supported; use GET or POST" },
                { "[backup.timer]\nurl = " URL "\nenabled = maybe\n", ":3: enabled= 'maybe' is not a boolean" },
                { "[timerbeat]\ntimeout = soon\n", ":2: timeout= 'soon' is not a time span" },
                { "[timerbeat]\ntimeout = 1h\n", ":2: timeout= 1h is out of range; use a value from 100ms to 10min" },
                { "[timerbeat]\nretries = many\n", ":2: retries= 'many' is not a number" },
                { "[timerbeat]\nretries = 1001\n", ":2: retries= 1001 is out of range" },
                { "[timerbeat]\nmax-parallel = 0\n", "max-parallel= 0 is out of range" },
                { "[timerbeat]\nuser-agent = Mozilla Slackbot 1.0\n", ":2: user-agent= contains 'slackbot'" },
                { "[timerbeat]\nuser-agent = Twitterbot\n", "contains 'twitterbot'" },
                { "[timerbeat]\nfrobnicate = 1\n", ":2: unknown key 'frobnicate' in [timerbeat]" },
                { "[timerbeat]\nretry-delay = 10s\nretry-max-delay = 1s\n", "retry-max-delay= is smaller" },
                { "[backup.timer\nurl = " URL "\n", "/etc/x.conf:1: section header is missing its closing ']'" },
                { "[backup.timer]\njust some words\n", "/etc/x.conf:2: expected 'key = value'" },
                { "[a.timer] trailing\nurl = " URL "\n", ":1: unexpected text after the section header" },
                { "[backup.timer]\nurl = https://hc-ping.com/"
                  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
                  "01234567890123456789012345678901234567890123456789012345678901234567890123456789\n",
                  "/etc/x.conf:2: line is 206 characters long, the limit is 197" },
                { "\x7f"
                  "ELF\x02\x01",
                  "expected 'key = value'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *errors = NULL;
                Config *c = parse(table[i].text, &errors);

                if (c)
                        fprintf(stderr, "case %zu parsed, expected: %s\n", i, table[i].error);
                ASSERT(!c);
                ASSERT_CONTAINS(errors, table[i].error);
        }
}

static void test_nul_bytes(void) {
        static const char data[] = "[a.timer]\0url=x\n";
        Strv errors = {};
        Config *c = config_new();

        ASSERT_EQ(config_parse_data(c, "/etc/x.conf", data, sizeof(data) - 1, &errors), -EINVAL);
        ASSERT_EQ(errors.n, 1);
        ASSERT_CONTAINS(errors.items[0], "/etc/x.conf:1: file contains NUL bytes");
        strv_done(&errors);
        config_free(c);
}

static void test_good(void) {
        _cleanup_free_ char *errors = NULL;
        Config *c = parse("\xef\xbb\xbf# comment\n"
                          "; another\n"
                          "[timerbeat]\n"
                          "timeout = 5s\n"
                          "Connect-Timeout = 500ms\n"
                          "retries = 0\n"
                          "retry-delay = 2s\n"
                          "retry-max-delay = 1min\n"
                          "max-parallel = 4\n"
                          "max-queue = 50\n"
                          "user-agent = acme/1\n"
                          "source = host-a\n"
                          "\n"
                          "[backup.timer]\n"
                          "    url = " URL "   # the heartbeat of backup\n"
                          "method = post\n"
                          "[db@main.service]\n"
                          "URL = \"https://example.com/x?y=1\"\n"
                          "source = Checkly\n"
                          "[old.timer]\n"
                          "enabled = no\n"
                          "[backup.timer]\n"
                          "source = later-wins\n",
                          &errors);

        ASSERT_STREQ(errors, "");
        ASSERT(c);
        ASSERT_EQ(c->timeout, 5 * USEC_PER_SEC);
        ASSERT_EQ(c->connect_timeout, 500 * USEC_PER_MSEC);
        ASSERT_EQ(c->retries, 0);
        ASSERT_EQ(c->retry_delay, 2 * USEC_PER_SEC);
        ASSERT_EQ(c->retry_max_delay, USEC_PER_MINUTE);
        ASSERT_EQ(c->max_parallel, 4);
        ASSERT_EQ(c->max_queue, 50);
        ASSERT_STREQ(c->user_agent, "acme/1");
        ASSERT_STREQ(c->source, "host-a");
        ASSERT_EQ(c->n_checks, 3);

        const Check *b = config_find_check(c, "backup.timer");
        ASSERT(b);
        ASSERT_STREQ(b->url, URL);
        ASSERT_EQ(b->method, HTTP_METHOD_POST);
        ASSERT_STREQ(b->source, "later-wins");
        ASSERT_EQ(b->url_line, 15);
        ASSERT(b->enabled);

        const Check *d = config_find_check(c, "db@main.service");
        ASSERT(d);
        ASSERT_STREQ(d->url, "https://example.com/x?y=1");
        ASSERT_EQ(d->method, HTTP_METHOD_GET);

        const Check *o = config_find_check(c, "old.timer");
        ASSERT(o && !o->enabled && !o->url);
        config_free(c);
}

static void test_defaults(void) {
        _cleanup_free_ char *errors = NULL;
        Config *c = parse("", &errors);

        ASSERT(c);
        ASSERT_EQ(c->n_checks, 0);
        ASSERT_EQ(c->timeout, 30 * USEC_PER_SEC);
        ASSERT_EQ(c->retries, UINT_MAX);
        ASSERT_CONTAINS(c->user_agent, "timerbeat/");
        config_free(c);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        ASSERT(f);
        fputs(text, f);
        fclose(f);
}

/* The section kinds a key is tried in, with a section header (or the annotation file). */
static const struct {
        ConfigSection kind;
        const char *header;
} kinds[] = {
        { CONFIG_SECTION_GLOBAL, "[timerbeat]" },
        { CONFIG_SECTION_UNIT, "[a.timer]" },
        { CONFIG_SECTION_PATTERN, "[*.timer]" },
        { CONFIG_SECTION_ANNOTATION, "[X-Timerbeat]" },
};

#define ALL_CHECKS (CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN | CONFIG_SECTION_ANNOTATION)

/* Every key, where it belongs, and a value other than its default. Written out here rather
 * than read from the table, so that a key accepted in the wrong place (or not accepted where
 * it belongs) fails. */
static const struct {
        const char *key, *value;
        unsigned sections;
} key_rows[] = {
        { "timeout", "5s", CONFIG_SECTION_GLOBAL },
        { "connect-timeout", "5s", CONFIG_SECTION_GLOBAL },
        { "retries", "3", CONFIG_SECTION_GLOBAL },
        { "retry-delay", "2s", CONFIG_SECTION_GLOBAL },
        { "retry-max-delay", "10min", CONFIG_SECTION_GLOBAL },
        { "max-age", "1h", CONFIG_SECTION_GLOBAL },
        { "max-parallel", "4", CONFIG_SECTION_GLOBAL },
        { "max-queue", "50", CONFIG_SECTION_GLOBAL },
        { "max-queue-per-check", "7", CONFIG_SECTION_GLOBAL },
        { "user-agent", "acme/1", CONFIG_SECTION_GLOBAL },
        { "source", "host-a", CONFIG_SECTION_GLOBAL | ALL_CHECKS },
        { "annotations", "no", CONFIG_SECTION_GLOBAL },
        { "metrics-file", "/tmp/timerbeat-test.prom", CONFIG_SECTION_GLOBAL },
        { "self-url", "https://example.com/self", CONFIG_SECTION_GLOBAL },
        { "self-interval", "1min", CONFIG_SECTION_GLOBAL },
        { "self-preset", "healthchecks", CONFIG_SECTION_GLOBAL },
        { "url", "https://example.com/other", ALL_CHECKS },
        { "method", "POST", ALL_CHECKS },
        { "enabled", "no", ALL_CHECKS },
        { "preset", "healthchecks", ALL_CHECKS },
        { "success-url", "{url}/ok", ALL_CHECKS },
        { "start-url", "{url}/start", ALL_CHECKS },
        { "failure-url", "{url}/fail", ALL_CHECKS },
        { "log-url", "{url}/log", ALL_CHECKS },
        { "start", "yes", ALL_CHECKS },
        { "failure", "yes", ALL_CHECKS },
        { "body", "json", ALL_CHECKS },
        { "attach-log", "always", ALL_CHECKS },
        { "body-max", "500", ALL_CHECKS },
        { "trigger", "timer", ALL_CHECKS },
        { "skip-exit-status", "3 4", ALL_CHECKS },
        { "failure-threshold", "3", ALL_CHECKS },
        { "min-runtime", "5s", ALL_CHECKS },
        { "auto-create", "yes", ALL_CHECKS },
        /* timerbeat sync: [timerbeat] holds the defaults; not in [X-Timerbeat] */
        { "provision", "healthchecks", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "api-url", "https://hc.example.com", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "api-key", "k3y-abcdef", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "slug", "{hostname}-{unit_prefix}", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "grace", "5min", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "tags", "prod", CONFIG_SECTION_GLOBAL | CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN },
        { "sync", "no", CONFIG_SECTION_GLOBAL },
        { "on-skip", "failure", ALL_CHECKS },
};

/* Parses "key = value" in a section of that kind. Returns the Config or Check it went into
 * (*ret_config keeps the Config alive) or NULL with the errors. */
static void *parse_in(ConfigSection kind, const char *header, const char *key, const char *value, Config **ret_config,
                      Strv *errors) {
        char text[512];
        Config *c = config_new();

        ASSERT(c);
        *ret_config = c;
        if (kind == CONFIG_SECTION_ANNOTATION) {
                char tmpl[] = "/tmp/test-keys-XXXXXX", path[600], cmd[700];
                char *d = mkdtemp(tmpl), *files[] = { path };
                Check *k = NULL;

                ASSERT(d);
                snprintf(path, sizeof(path), "%s/a.timer", d);
                snprintf(text, sizeof(text), "%s\nURL=" URL "\n%s=%s\n", header, key, value);
                write_file(path, text);
                (void) config_parse_annotation(c, "a.timer", files, 1, &k, errors);
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
                ASSERT(system(cmd) == 0);
                return k;
        }
        snprintf(text, sizeof(text), "%s\n%s = %s\n", header, key, value);
        if (config_parse_data(c, "/etc/x.conf", text, strlen(text), errors) < 0)
                return NULL;
        if (kind == CONFIG_SECTION_GLOBAL)
                return c;
        ASSERT_EQ(c->n_checks, 1);
        return c->checks[0];
}

/* Each key is accepted exactly where it belongs, refused elsewhere with a message that says
 * where it goes, and has an effect: the value lands in the key's destination. */
static void test_keys_where(void) {
        size_t n;
        const ConfigKey *keys = config_keys(&n);

        /* Every key of the table has a row here (a new key needs one). */
        for (size_t i = 0; i < n; i++) {
                bool found = false;

                ASSERT(keys[i].sections == CONFIG_SECTION_GLOBAL || !(keys[i].sections & CONFIG_SECTION_GLOBAL));
                for (size_t j = 0; j < ELEMENTSOF(key_rows); j++)
                        if (streq(key_rows[j].key, keys[i].name) &&
                            (key_rows[j].sections & keys[i].sections) == keys[i].sections)
                                found = true;
                if (!found)
                        fprintf(stderr, "key %s has no row in key_rows\n", keys[i].name);
                ASSERT(found);
        }

        for (size_t i = 0; i < ELEMENTSOF(key_rows); i++)
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++) {
                        bool belongs = key_rows[i].sections & kinds[j].kind;
                        Strv errors = {};
                        Config *c = NULL;
                        void *object = parse_in(kinds[j].kind, kinds[j].header, key_rows[i].key, key_rows[i].value,
                                                &c, &errors);

                        if (!!object != belongs)
                                fprintf(stderr, "%s in %s: %s\n", key_rows[i].key, kinds[j].header,
                                        errors.n > 0 ? errors.items[0] : "accepted");
                        ASSERT(!!object == belongs);
                        if (belongs) {
                                const ConfigKey *k = config_key_find(key_rows[i].key, kinds[j].kind);
                                Check *d = check_new("a.timer");
                                Config *dc = config_new();
                                const void *def = kinds[j].kind == CONFIG_SECTION_GLOBAL ? (void *) dc : (void *) d;

                                ASSERT(k && d && dc);
                                ASSERT_EQ(errors.n, 0);
                                /* An effect: the destination differs from the default. */
                                if (memcmp((char *) object + k->offset, (const char *) def + k->offset, k->size) == 0)
                                        fprintf(stderr, "%s = %s in %s has no effect\n", key_rows[i].key,
                                                key_rows[i].value, kinds[j].header);
                                ASSERT(memcmp((char *) object + k->offset, (const char *) def + k->offset, k->size) !=
                                       0);
                                check_free(d);
                                config_free(dc);
                        } else {
                                ASSERT_EQ(errors.n, 1);
                                ASSERT_CONTAINS(errors.items[0], "unknown key '");
                                ASSERT_CONTAINS(errors.items[0], "belongs in ");
                                ASSERT_CONTAINS(errors.items[0], "move the line there");
                        }
                        if (kinds[j].kind == CONFIG_SECTION_ANNOTATION)
                                check_free(object);
                        config_free(c);
                        strv_done(&errors);
                }
}

/* Misspelt keys: file:line, the key, the closest known key, what to do. */
static void test_unknown_keys(void) {
        static const struct {
                const char *text, *error;
                bool suggestion;
        } table[] = {
                /* The key is "trigger = timer"; "trigger-timer" used to be accepted and ignored. */
                { "[a.timer]\nurl = " URL "\ntrigger-timer = yes\n",
                  "/etc/x.conf:3: unknown key 'trigger-timer' in [a.timer]; did you mean 'trigger = any|timer'? "
                  "Correct or remove the line (known keys: url, method, ",
                  true },
                { "[backup.timer]\nulr = " URL "\n",
                  "/etc/x.conf:2: unknown key 'ulr' in [backup.timer]; did you mean 'url'?", true },
                { "[*.timer]\nurl = " URL "\nfailure-treshold = 3\n",
                  ":3: unknown key 'failure-treshold' in [*.timer]; did you mean 'failure-threshold'?", true },
                { "[a.timer]\nurl = " URL "\nStrat = yes\n", "did you mean 'start = yes|no'?", true },
                { "[a.timer]\nurl = " URL "\nbodymax = 5\n", "did you mean 'body-max'?", true },
                { "[a.timer]\nurl = " URL "\nattach_log = never\n",
                  "did you mean 'attach-log = on-failure|never|always'?", true },
                { "[timerbeat]\nretires = 3\n", ":2: unknown key 'retires' in [timerbeat]; did you mean 'retries'?",
                  true },
                { "[timerbeat]\nTimout = 5s\n", "did you mean 'timeout'?", true },
                { "[timerbeat]\nmax-queue-per-unit = 5\n", "did you mean 'max-queue-per-check'?", true },
                { "[a.timer]\nurl = " URL "\nretries = 3\n",
                  ":3: unknown key 'retries' in [a.timer]; retries= belongs in [timerbeat], move the line there",
                  false },
                { "[timerbeat]\nURL = " URL "\n",
                  ":2: unknown key 'URL' in [timerbeat]; url= belongs in a unit section ([backup.timer]), a pattern "
                  "section ([*.timer]) or [X-Timerbeat]",
                  false },
                { "[a.timer]\nurl = " URL "\nColour = blue\n",
                  ":3: unknown key 'Colour' in [a.timer]; correct or remove the line (known keys: url, method, source, "
                  "enabled, preset, success-url, start-url, failure-url, log-url, start, failure, body, attach-log, "
                  "body-max, trigger, skip-exit-status, failure-threshold, min-runtime, auto-create, provision, api-url, "
                  "api-key, slug, grace, tags, on-skip)",
                  false },
                { "[timerbeat]\nfrobnicate = 1\n",
                  ":2: unknown key 'frobnicate' in [timerbeat]; correct or remove the line (known keys: timeout, "
                  "connect-timeout, retries, retry-delay, retry-max-delay, max-age, max-parallel, max-queue, "
                  "max-queue-per-check, user-agent, source, annotations, metrics-file, self-url, self-interval, self-preset, provision, api-url, api-key, slug, grace, tags, sync)",
                  false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *errors = NULL;
                Config *c = parse(table[i].text, &errors);

                if (c)
                        fprintf(stderr, "case %zu parsed, expected: %s\n", i, table[i].error);
                ASSERT(!c);
                ASSERT_CONTAINS(errors, table[i].error);
                ASSERT((strstr(errors, "did you mean") != NULL) == table[i].suggestion);
        }
}

/* Defaults come from the key table alone: an empty file, a new check and http's retries. */
static void test_key_defaults(void) {
        Config *c = config_new();
        Check *k = check_new("a.timer");

        ASSERT(c && k);
        ASSERT_EQ(c->timeout, 30 * USEC_PER_SEC);
        ASSERT_EQ(c->connect_timeout, 10 * USEC_PER_SEC);
        ASSERT_EQ(c->retries, UINT_MAX);
        ASSERT_EQ(config_default_retries(), UINT_MAX);
        ASSERT_EQ(c->retry_delay, USEC_PER_SEC);
        ASSERT_EQ(c->retry_max_delay, 5 * USEC_PER_MINUTE);
        ASSERT_EQ(c->max_age, USEC_PER_DAY);
        ASSERT_EQ(c->max_parallel, 16);
        ASSERT_EQ(c->max_queue, 1000);
        ASSERT_EQ(c->max_queue_per_check, 100);
        ASSERT_CONTAINS(c->user_agent, "timerbeat/");
        ASSERT(!c->source);
        ASSERT(c->annotations);
        ASSERT(!c->metrics_file && !c->self_url && !c->self_check);
        ASSERT_EQ(c->self_interval, 5 * USEC_PER_MINUTE);
        ASSERT(c->self_preset == preset_generic());

        ASSERT_STREQ(k->name, "a.timer");
        ASSERT(!k->url && !k->source);
        ASSERT_EQ(k->method, HTTP_METHOD_GET);
        ASSERT(k->enabled);
        ASSERT(k->preset == preset_generic());
        for (size_t e = 0; e < _EVENT_MAX; e++)
                ASSERT(!k->templates[e]);
        ASSERT(!k->start && !k->failure && !k->trigger_timer && !k->auto_create);
        ASSERT_EQ(k->body, BODY_NONE);
        ASSERT(!k->body_set);
        ASSERT_EQ(k->attach_log, ATTACH_LOG_ON_FAILURE);
        ASSERT_EQ(k->body_max, 100000);
        ASSERT_EQ(k->n_skip_exit_status, 0);
        ASSERT_EQ(k->failure_threshold, 1);
        ASSERT_EQ(k->min_runtime, 0);
        ASSERT_EQ(k->on_skip, ON_SKIP_IGNORE);
        check_free(k);
        config_free(c);
}

/* conf/timerbeat.conf shows every key commented out with the table's default. */
static void test_shipped_conf(void) {
        const char *root = getenv("TIMERBEAT_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL, *data = NULL;
        const ConfigKey *keys;
        size_t n;

        ASSERT(root);
        ASSERT(asprintf(&path, "%s/conf/timerbeat.conf", root) > 0);
        ASSERT_EQ(read_full_file(path, CONFIG_FILE_MAX, &data, NULL), 0);
        keys = config_keys(&n);
        for (size_t i = 0; i < n; i++) {
                char line[256];

                if (!keys[i].def)
                        snprintf(line, sizeof(line), "\n#%s =", keys[i].name);
                else if (streq(keys[i].name, "user-agent"))
                        snprintf(line, sizeof(line), "\n#%s = timerbeat/@VERSION@\n", keys[i].name);
                else
                        snprintf(line, sizeof(line), "\n#%s =%s%s\n", keys[i].name, isempty(keys[i].def) ? "" : " ",
                                 keys[i].def);
                ASSERT_CONTAINS(data, line);
        }
}

/* Drop-ins: a name in /etc masks /run and /usr/lib; files apply in lexical order; later wins. */
static void test_dropins(void) {
        char tmpl[] = "/tmp/test-config-XXXXXX", path[512];
        char *d = mkdtemp(tmpl);
        const char *dirs[] = { "etc", "run", "lib" };
        Strv errors = {};
        Config *c = NULL;

        ASSERT(d);
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s", d, dirs[i]);
                ASSERT(mkdir(path, 0755) == 0);
        }
        snprintf(path, sizeof(path), "%s/main.conf", d);
        write_file(path,
                   "[a.timer]\nurl = https://a.example/main-0123456789\n[b.timer]\nurl = https://b.example/m\n");
        snprintf(path, sizeof(path), "%s/etc/20-x.conf", d);
        write_file(path, "[a.timer]\nurl = https://a.example/etc20-0123456789\n");
        snprintf(path, sizeof(path), "%s/run/20-x.conf", d); /* masked by etc/20-x.conf */
        write_file(path, "[a.timer]\nurl = https://a.example/run20-masked\n");
        snprintf(path, sizeof(path), "%s/lib/10-y.conf", d); /* applied first */
        write_file(path, "[a.timer]\nurl = https://a.example/lib10\nmethod = POST\n");
        snprintf(path, sizeof(path), "%s/run/30-z.conf", d); /* applied last */
        write_file(path, "[b.timer]\nenabled = no\n");
        snprintf(path, sizeof(path), "%s/etc/40-masked.conf", d);
        ASSERT(symlink("/dev/null", path) == 0);
        snprintf(path, sizeof(path), "%s/lib/40-masked.conf", d);
        write_file(path, "this is not valid\n");
        snprintf(path, sizeof(path), "%s/etc/README", d); /* not *.conf: ignored */
        write_file(path, "garbage\n");

        char m[512], e[512], r[512], l[512];
        snprintf(m, sizeof(m), "%s/main.conf", d);
        snprintf(e, sizeof(e), "%s/etc", d);
        snprintf(r, sizeof(r), "%s/run", d);
        snprintf(l, sizeof(l), "%s/lib", d);
        ConfigSource src = { .main_file = m, .dropin_dirs = { e, r, l, NULL } };

        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        ASSERT_EQ(errors.n, 0);
        const Check *a = config_find_check(c, "a.timer");
        ASSERT_STREQ(a->url, "https://a.example/etc20-0123456789");
        ASSERT_EQ(a->method, HTTP_METHOD_POST);
        ASSERT(!config_find_check(c, "b.timer")->enabled);
        ASSERT_EQ(c->files.n, 4); /* main, lib/10, etc/20, run/30 */
        ASSERT_CONTAINS(c->files.items[1], "/lib/10-y.conf");
        ASSERT_CONTAINS(c->files.items[3], "/run/30-z.conf");
        config_free(c);
        c = NULL;

        /* A broken drop-in fails the whole load, naming the file and line. */
        snprintf(path, sizeof(path), "%s/run/50-bad.conf", d);
        write_file(path, "[a.timer]\nurl = https://a.example/x\nretries = 3\n");
        ASSERT_EQ(config_load(&src, &c, &errors), -EINVAL);
        ASSERT(!c);
        ASSERT_EQ(errors.n, 1);
        ASSERT_CONTAINS(errors.items[0], "/run/50-bad.conf:3: unknown key 'retries' in [a.timer]");
        strv_done(&errors);

        /* A missing main file is fine; an unreadable drop-in is an error. */
        src.main_file = "/nonexistent/timerbeat.conf";
        ASSERT(unlink(path) == 0);
        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        config_free(c);

        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

static void test_too_big(void) {
        char tmpl[] = "/tmp/test-config-big-XXXXXX";
        int fd = mkstemp(tmpl);
        Strv errors = {};
        Config *c = NULL;

        ASSERT(fd >= 0);
        ASSERT(ftruncate(fd, CONFIG_FILE_MAX + 1) == 0);
        close(fd);
        ConfigSource src = { .main_file = tmpl };
        ASSERT_EQ(config_load(&src, &c, &errors), -EINVAL);
        ASSERT_CONTAINS(errors.items[0], "is larger than 1048576 bytes");
        strv_done(&errors);
        unlink(tmpl);
}

/* Exact names win over patterns; among patterns the most literal characters win, then the
 * later section; enabled = no in a more specific section excludes. */
static void test_match(void) {
        _cleanup_free_ char *errors = NULL;
        Config *c = parse("[*.timer]\nurl = https://hc-ping.com/key/{unit_prefix}\n"
                          "[backup-*.timer]\nurl = https://b.example/{unit}\n"
                          "[backup-?.timer]\nurl = https://q.example/x\n"
                          "[backup-old.timer]\nenabled = no\n"
                          "[db@*.service]\nurl = https://d.example/{unit_prefix}/{hostname}\n"
                          "[*-daily.timer]\nurl = https://daily.example/x\n",
                          &errors);
        ASSERT_STREQ(errors, "");
        ASSERT(c);
        ASSERT_STREQ(config_match(c, "foo.timer")->name, "*.timer");
        ASSERT_STREQ(config_match(c, "backup-home.timer")->name, "backup-*.timer");
        ASSERT_STREQ(config_match(c, "backup-1.timer")->name,
                     "backup-?.timer"); /* 13 literals each: the later wins */
        ASSERT(!config_match(c, "backup-old.timer")->enabled);
        ASSERT_STREQ(config_match(c, "db@main.service")->name, "db@*.service");
        ASSERT(config_match(c, "other.service") == NULL);
        /* Tie in literal count (backup-*.timer vs *-daily.timer: 13 vs 12) */
        ASSERT_STREQ(config_match(c, "backup-daily.timer")->name, "backup-*.timer");

        _cleanup_free_ char *u1 = NULL, *u2 = NULL;
        ASSERT_EQ(ping_url(config_match(c, "nightly-sync.timer"), EVENT_SUCCESS,
                           &(PingRun) { .unit = "nightly-sync.timer", .hostname = "h" }, &u1),
                  0);
        ASSERT_STREQ(u1, "https://hc-ping.com/key/nightly-sync");
        ASSERT_EQ(ping_url(config_match(c, "db@x:1\\x2d.service"), EVENT_SUCCESS,
                           &(PingRun) { .unit = "db@x:1\\x2d.service", .hostname = "h" }, &u2),
                  0);
        ASSERT(strncmp(u2, "https://d.example/db%40x%3A1%5Cx2d/", 35) == 0);
        config_free(c);

        /* Same literal count: the later section wins. */
        free(errors);
        errors = NULL;
        c = parse("[a*.timer]\nurl = https://1.example/x\n[*a.timer]\nurl = https://2.example/x\n", &errors);
        ASSERT_STREQ(config_match(c, "aa.timer")->name, "*a.timer");
        config_free(c);
}

static void test_annotation(void) {
        char tmpl[] = "/tmp/test-annot-XXXXXX", frag[512], d1[512], d2[512];
        char *d = mkdtemp(tmpl);
        Strv errors = {};
        Check *k = NULL;
        Config *c = config_new();

        ASSERT(d);
        snprintf(frag, sizeof(frag), "%s/backup.timer", d);
        write_file(frag,
                   "[Unit]\nDescription=x\n[Timer]\nOnCalendar=daily\n"
                   "ExecStart=/bin/very-long-line-" /* long lines outside [X-Timerbeat] are systemd's business */
                   "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
                   "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\n"
                   "[X-Timerbeat]\nURL=https://hc-ping.com/frag-0123456789\nMethod=POST\n");
        snprintf(d1, sizeof(d1), "%s/10-a.conf", d);
        write_file(d1, "[x-timerbeat]\nurl=https://hc-ping.com/dropin-0123456789\n[Timer]\nURL=not ours\n");
        snprintf(d2, sizeof(d2), "%s/20-b.conf", d);
        write_file(d2, "[Timer]\nPersistent=true\n");
        char *files[] = { frag, d1, d2 };

        ASSERT_EQ(config_parse_annotation(c, "backup.timer", files, 3, &k, &errors), 0);
        ASSERT(k);
        ASSERT_STREQ(k->url, "https://hc-ping.com/dropin-0123456789");
        ASSERT_EQ(k->method, HTTP_METHOD_POST);
        ASSERT_EQ(k->origin, CHECK_FROM_ANNOTATION);
        ASSERT_STREQ(k->url_file, d1);
        ASSERT_EQ(k->url_line, 2);
        k = check_free(k);

        /* No annotation anywhere: none. */
        char *plain[] = { d2 };
        ASSERT_EQ(config_parse_annotation(c, "backup.timer", plain, 1, &k, &errors), 0);
        ASSERT(!k);

        /* A bad annotation names the unit file and line. */
        write_file(d2, "[Timer]\nPersistent=true\n[X-Timerbeat]\nURL=ftp://x/y\nColour=blue\n");
        ASSERT_EQ(config_parse_annotation(c, "backup.timer", files, 3, &k, &errors), -EINVAL);
        ASSERT_EQ(errors.n, 2);
        ASSERT_CONTAINS(errors.items[0], "/20-b.conf:4: url= ftp://x/…: only http:// and https://");
        ASSERT_CONTAINS(errors.items[1], "/20-b.conf:5: unknown key 'Colour'");
        strv_done(&errors);

        /* Enabled=no without a URL is an exclusion, not an error. */
        write_file(d2, "[X-Timerbeat]\nEnabled=no\n");
        ASSERT_EQ(config_parse_annotation(c, "backup.timer", plain, 1, &k, &errors), 0);
        ASSERT(k && !k->enabled);
        check_free(k);
        config_free(c);

        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

/* url = file:/path and url = credential:NAME keep the secret out of the config; a config
 * file that holds a URL and is readable by all gets a warning. */
static void test_secrets(void) {
        char tmpl[] = "/tmp/test-secret-XXXXXX", path[512], conf[512], text[1024];
        char *d = mkdtemp(tmpl);
        Strv errors = {};
        Config *c = NULL;

        ASSERT(d);
        ASSERT(chmod(d, 0755) == 0); /* others may enter: a file's o+r then means what it says */
        snprintf(path, sizeof(path), "%s/hc-url", d);
        write_file(path, "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5\n");
        ASSERT(chmod(path, 0600) == 0);
        snprintf(conf, sizeof(conf), "%s/t.conf", d);
        snprintf(
                text, sizeof(text),
                "[a.timer]\nurl = file:%s\n[b.timer]\nurl = credential:b-url\n[c.timer]\nurl = https://x.example/0123456789ab\n",
                path);
        write_file(conf, text);
        ASSERT(chmod(conf, 0644) == 0);
        ConfigSource src = { .main_file = conf };

        /* No credentials passed: a clear error naming LoadCredential=. */
        unsetenv("CREDENTIALS_DIRECTORY");
        ASSERT_EQ(config_load(&src, &c, &errors), -EINVAL);
        ASSERT_CONTAINS(errors.items[0], ":4: url= credential:b-url: no credentials were passed; add "
                                         "LoadCredential=b-url:/path/to/file");
        strv_done(&errors);

        char cred[600];
        snprintf(cred, sizeof(cred), "%s/b-url", d);
        write_file(cred, "https://hc-ping.com/cred-0123456789\n");
        setenv("CREDENTIALS_DIRECTORY", d, 1);
        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        ASSERT_STREQ(config_find_check(c, "a.timer")->url,
                     "https://hc-ping.com/5f6e1b2c-3d4e-4f50-8a9b-c0d1e2f3a4b5");
        ASSERT_STREQ(config_find_check(c, "b.timer")->url, "https://hc-ping.com/cred-0123456789");
        /* Only the literal URL in a world-readable file is warned about. */
        ASSERT_EQ(c->warnings.n, 1);
        ASSERT_CONTAINS(c->warnings.items[0], ":6: this file is readable by all users and holds a heartbeat URL");
        /* The exact command, for a user's file (not under /etc/timerbeat). */
        char fix[600];
        snprintf(fix, sizeof(fix), "; run: chmod 0600 %s (or use url = file:/path", conf);
        ASSERT_CONTAINS(c->warnings.items[0], fix);
        config_free(c);
        c = NULL;

        /* In a directory others cannot enter (like /etc/timerbeat, 2750), o+r is harmless. */
        ASSERT(chmod(d, 0750) == 0);
        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        ASSERT_EQ(c->warnings.n, 0);
        config_free(c);
        c = NULL;
        ASSERT(chmod(d, 0755) == 0);

        ASSERT(chmod(conf, 0640) == 0);
        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        ASSERT_EQ(c->warnings.n, 0);
        config_free(c);
        c = NULL;

        /* A relative path, a missing file, a bad name: errors with the line. */
        write_file(
                conf,
                "[a.timer]\nurl = file:hc-url\n[b.timer]\nurl = file:/nonexistent/x\n[c.timer]\nurl = credential:../x\n");
        ASSERT_EQ(config_load(&src, &c, &errors), -EINVAL);
        ASSERT_EQ(errors.n, 3);
        ASSERT_CONTAINS(errors.items[0], ":2: url= file:hc-url: the path must be absolute");
        ASSERT_CONTAINS(errors.items[1], ":4: url= file:/nonexistent/x: cannot read /nonexistent/x: No such file");
        ASSERT_CONTAINS(errors.items[2], ":6: url= credential:../x: not a credential name");
        strv_done(&errors);
        unsetenv("CREDENTIALS_DIRECTORY");

        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

/* self-url= becomes a check of its own, named so that no section can take it. */
static void test_self_check(void) {
        char tmpl[] = "/tmp/test-self-XXXXXX", path[600], text[800];
        char *d = mkdtemp(tmpl);
        ConfigSource src = { .main_file = path };
        Strv errors = {};
        Config *c = NULL;

        ASSERT(d);
        snprintf(path, sizeof(path), "%s/timerbeat.conf", d);
        snprintf(text, sizeof(text),
                 "[timerbeat]\nself-url = https://hc-ping.com/abc\nself-interval = 2s\nself-preset = healthchecks\n"
                 "metrics-file = %s/t.prom\n",
                 d);
        write_file(path, text);
        ASSERT_EQ(config_load(&src, &c, &errors), 0);
        ASSERT(c->self_check);
        ASSERT_STREQ(c->self_check->name, CONFIG_SELF_CHECK);
        ASSERT_STREQ(c->self_check->url, "https://hc-ping.com/abc");
        ASSERT(c->self_check->preset == preset_find("healthchecks"));
        ASSERT_EQ(c->self_interval, 2 * USEC_PER_SEC);
        ASSERT(!config_find_check(c, CONFIG_SELF_CHECK));
        ASSERT(!unit_name_is_valid(CONFIG_SELF_CHECK) && !unit_pattern_is_valid(CONFIG_SELF_CHECK));
        config_free(c);
        ASSERT(unlink(path) == 0);
        ASSERT(rmdir(d) == 0);
}

int main(void) {
        test_keys_where();
        test_unknown_keys();
        test_key_defaults();
        test_self_check();
        test_shipped_conf();
        test_secrets();
        test_match();
        test_annotation();
        test_bad();
        test_nul_bytes();
        test_good();
        test_defaults();
        test_dropins();
        test_too_big();
        return 0;
}
