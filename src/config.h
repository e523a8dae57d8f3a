/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "preset.h"
#include "template.h"
#include "util.h"

/* The configuration: a [timerbeat] section of globals and one section per monitored unit.
 * A Config is immutable once loaded; a reload builds a new one and swaps it in only when it
 * is valid, so a bad file never replaces a good configuration. */

#define CONFIG_FILE_MAX (1024U * 1024U)
#define CONFIG_URL_MAX 2048U
#define CONFIG_DROPIN_DIRS_MAX 8

typedef enum HttpMethod {
        HTTP_METHOD_GET,
        HTTP_METHOD_POST,
        _HTTP_METHOD_MAX,
} HttpMethod;

const char *http_method_to_string(HttpMethod m);

typedef enum CheckOrigin {
        CHECK_FROM_CONFIG,     /* a section of timerbeat.conf or a drop-in */
        CHECK_FROM_ANNOTATION, /* [X-Timerbeat] in the unit's own files */
} CheckOrigin;

typedef enum AttachLog {
        ATTACH_LOG_ON_FAILURE,
        ATTACH_LOG_NEVER,
        ATTACH_LOG_ALWAYS,
} AttachLog;

/* Provisioning (timerbeat sync): the monitor's check is created from the timer itself. In a
 * check, unset fields (PROVISION_INHERIT, NULL, 0) take [timerbeat]'s. */
typedef enum ProvisionKind {
        PROVISION_INHERIT,
        PROVISION_NO,
        PROVISION_HEALTHCHECKS,
} ProvisionKind;

typedef struct Provision {
        int kind;      /* ProvisionKind */
        char *api_url; /* the monitor's site, e.g. https://healthchecks.io */
        char *api_key; /* a secret, like URLs: never logged */
        char *slug;    /* a template: {unit}, {unit_prefix}, {hostname} */
        usec_t grace;  /* 0: computed from the timer */
        char *tags;    /* extra tags, space-separated */
} Provision;
/* What a run skipped by a failed Condition*= of the service sends (on-skip=). */
typedef enum OnSkip {
        ON_SKIP_IGNORE, /* nothing: a monitor notices the missing ping */
        ON_SKIP_SUCCESS,
        ON_SKIP_FAILURE,
} OnSkip;

typedef struct Check {
        char *name; /* the section: "backup.timer", "backup.service", or a pattern "backup-*.timer" */
        char *url;
        char *source; /* sent as Origin:, NULL for the global one */

        char *file;     /* where the section was first seen, for messages */
        char *url_file; /* where url= was set last */
        unsigned line;
        unsigned url_line;

        unsigned order; /* position among sections, for ties between patterns */
        CheckOrigin origin;
        HttpMethod method;

        /* What to tell the monitor beyond "it succeeded" (all opt-in). */
        const Preset *preset;        /* NULL: generic */
        char *templates[_EVENT_MAX]; /* success-url, start-url, failure-url overrides */
        BodyKind body;
        AttachLog attach_log;
        unsigned body_max;
        int skip_exit_status[16];
        size_t n_skip_exit_status;
        usec_t min_runtime;
        unsigned failure_threshold;
        OnSkip on_skip;

        bool enabled;
        bool pattern; /* name is a glob */
        bool start;   /* send a start signal when the run begins */
        bool failure; /* send failed runs to the failure endpoint */
        bool body_set;
        bool trigger_timer; /* only runs the timer started count */
        bool auto_create;
        Provision provision;
} Check;

typedef struct Config {
        usec_t timeout;
        usec_t connect_timeout;
        unsigned retries; /* UINT_MAX: until max-age */
        usec_t retry_delay;
        usec_t retry_max_delay;
        unsigned max_parallel;
        unsigned max_queue;
        unsigned max_queue_per_check;
        usec_t max_age;
        char *user_agent;
        char *source;
        bool annotations;          /* read [X-Timerbeat] from unit files */
        char *metrics_file;        /* node_exporter textfile (*.prom); NULL: none */
        char *self_url;            /* timerbeat's own heartbeat; NULL: none */
        usec_t self_interval;      /* how often it is sent while healthy */
        const Preset *self_preset; /* its format */
        Check *self_check;         /* built from the three above once the config is valid */
        Provision provision;       /* defaults for the checks' */
        bool autosync;             /* sync = auto: the daemon runs timerbeat sync itself */

        Check **checks;
        size_t n_checks;
        size_t checks_allocated; /* room in checks */

        Strv files;    /* every file read, in the order applied */
        Strv digests;  /* one per file: config_file_digest() of what was read */
        Strv warnings; /* "file:line: ..." worth telling, not fatal */

        /* Sections by name (open addressing), built once the config is complete: lookups per
         * unit and per run end stay O(1) with thousands of checks. */
        const Check **index;
        size_t index_size;
        bool has_patterns;
} Config;

/* Where a key may be written. */
typedef enum ConfigSection {
        CONFIG_SECTION_GLOBAL = 1U << 0,     /* [timerbeat] */
        CONFIG_SECTION_UNIT = 1U << 1,       /* [backup.timer], [db@main.service] */
        CONFIG_SECTION_PATTERN = 1U << 2,    /* [backup-*.timer] */
        CONFIG_SECTION_ANNOTATION = 1U << 3, /* [X-Timerbeat] in a unit's own files */
} ConfigSection;

#define CONFIG_SECTION_CHECK (CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN | CONFIG_SECTION_ANNOTATION)
#define CONFIG_SECTION_CONF (CONFIG_SECTION_UNIT | CONFIG_SECTION_PATTERN) /* sections of timerbeat.conf */

struct ConfigParser;
typedef struct ConfigKey ConfigKey;

/* Parses value into the key's destination in object (a Config for [timerbeat], a Check for
 * the others). A bad value is reported (file:line) and leaves the destination as it was; only
 * out-of-memory is returned. */
typedef int (*config_parse_t)(struct ConfigParser *p, const ConfigKey *k, void *object, const char *value);

/* One row of the key table in config.c, the only place that knows a key: its name, where it
 * may be written, how it is parsed, where it is stored and its default. */
struct ConfigKey {
        const char *name;  /* lower case; matched case-insensitively */
        unsigned sections; /* ConfigSection bits: either only GLOBAL, or only CHECK bits */
        config_parse_t parse;
        size_t offset;             /* of the destination in Config or Check */
        size_t size;               /* of the destination */
        const char *def;           /* the default as it would be written in the file; NULL: unset */
        uint64_t min, max;         /* numbers and time spans */
        const char *const *values; /* words of an enumeration, by value, NULL-terminated */
};

/* The key table, for tests and documentation. */
const ConfigKey *config_keys(size_t *ret_n);
/* The key of that name accepted in that kind of section; NULL if there is none. */
const ConfigKey *config_key_find(const char *name, ConfigSection section);
/* The default of retries=, from the table (for an Http that has no Config yet). */
unsigned config_default_retries(void);

typedef struct ConfigSource {
        const char *main_file;                               /* may be missing on disk */
        const char *dropin_dirs[CONFIG_DROPIN_DIRS_MAX + 1]; /* highest priority first, NULL-terminated */
} ConfigSource;

/* The standard locations: /etc/timerbeat/timerbeat.conf and conf.d/ in /etc, /run, /usr/lib;
 * for the user manager $XDG_CONFIG_HOME/timerbeat/… and $XDG_RUNTIME_DIR/timerbeat/conf.d. The
 * strings live in *storage, freed by strv_done(). */
int config_source_default(ConfigSource *ret, bool user, Strv *storage);

/* Loads, merges and validates. On failure returns -EINVAL and appends one message per problem
 * ("file:line: what is wrong; what to do") to errors; *ret is untouched. */
int config_load(const ConfigSource *source, Config **ret, Strv *errors);

/* A digest of a file's content (FNV-1a, 16 hex digits): tells whether the files on disk are
 * still those the daemon loaded. Not a security measure. */
void config_file_digest(const char *data, size_t size, char ret[static 17]);

/* Parses one in-memory file into cfg (used by config_load and the tests). */
int config_parse_data(Config *cfg, const char *path, const char *data, size_t size, Strv *errors);
int config_validate(Config *cfg, Strv *errors);

Config *config_new(void);
Config *config_free(Config *c);
static inline void config_freep(Config **c) {
        config_free(*c);
}

const Check *config_find_check(const Config *c, const char *name);

/* The name of the self-heartbeat's check: in ping records, the outbox and metrics. Not a unit
 * name, so that no section can take it. */
#define CONFIG_SELF_CHECK "self"

/* The check that applies to a unit: the section named exactly after it, else the best
 * matching pattern (the most literal characters; on a tie, the one defined last). May be a
 * disabled check (an exclusion). NULL if none applies. */
const Check *config_match(const Config *c, const char *unit);
bool config_has_patterns(const Config *c);

/* Reads [X-Timerbeat] from a unit's files (fragment first, then drop-ins in order; later keys
 * override). *ret is NULL when no file has the section. Errors name the unit file and line. */
int config_parse_annotation(const Config *c, const char *unit, char *const *files, size_t n_files, Check **ret,
                            Strv *errors);
/* A check of that name with every key at its default; NULL on out of memory. */
Check *check_new(const char *name);
Check *check_free(Check *c);
static inline void check_freep(Check **c) {
        check_free(*c);
}

/* The provisioning settings of a check, each from the check or else from [timerbeat]
 * (borrowed strings). ret->kind is PROVISION_NO or PROVISION_HEALTHCHECKS. */
void config_provision(const Config *c, const Check *k, Provision *ret);
/* Whether a check is provisioned (its URL then comes from the provisioned check). */
bool check_is_provisioned(const Config *c, const Check *k);
/* Adds a copy of k named unit whose url is url: a provisioned check of a pattern, or of a
 * section without url=, gets its unit's ping URL (from the state directory) this way. Returns 1
 * when a check got the URL, 0 when the unit's section had one already. */
int config_add_provisioned(Config *c, const Check *k, const char *unit, const char *url);

/* The URL template of an event (explicit key, else the preset's); NULL if there is none. */
const char *check_template(const Check *c, Event e);

/* Validates a heartbeat URL: http or https, a host, no whitespace or control characters. On
 * failure returns -EINVAL and a static explanation in *reason. */
int url_validate(const char *url, const char **reason);
