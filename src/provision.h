/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

/* timerbeat sync, the pure part: what a timer says (its triggers, delays, the last run's
 * duration) becomes the check the monitor should have; that is compared with the check it
 * has. No I/O: sync.c reads systemd and talks to the monitor. Table-tested in
 * test-provision.c. */

/* One of a timer's monotonic triggers: TimersMonotonic's (base, value). */
typedef struct TimerTrigger {
        const char *base; /* "OnUnitActiveUSec", "OnBootUSec", … */
        usec_t value;
} TimerTrigger;

typedef struct TimerInfo {
        const char *unit; /* backup.timer */
        const char *description;
        const char *hostname;
        const char *host_tz;          /* the host's time zone, e.g. Europe/Berlin */
        const char *const *calendars; /* TimersCalendar's normalized expressions */
        size_t n_calendars;
        const TimerTrigger *monotonic;
        size_t n_monotonic;
        usec_t randomized_delay; /* RandomizedDelayUSec */
        usec_t accuracy;         /* AccuracyUSec */
        usec_t runtime;          /* the last run of its service, 0 if unknown */
} TimerInfo;

#define PROVISION_TAG "timerbeat"
#define PROVISION_GRACE_MIN 60U         /* seconds: healthchecks' minimum */
#define PROVISION_TIMEOUT_MAX 31536000U /* seconds: healthchecks' maximum (365 days) */
#define PROVISION_SCHEDULE_MAX 100U     /* characters: healthchecks' limit */

/* The check the monitor should have for a timer. */
typedef struct DesiredCheck {
        char *name; /* the timer */
        char *slug;
        char *desc;
        char *tags;     /* space-separated: timerbeat, the host, then tags= */
        char *schedule; /* OnCalendar expressions, one per line; NULL: a simple check */
        char *tz;
        unsigned timeout; /* seconds, simple checks */
        unsigned grace;   /* seconds */
        char *note;       /* what the check cannot express, or NULL */
} DesiredCheck;

void desired_check_done(DesiredCheck *d);

/* The desired check of a timer. -EINVAL (no trigger) and -E2BIG (schedule over 100
 * characters) come with a message in *ret_error. */
int provision_desired(const TimerInfo *t, const Provision *p, DesiredCheck *ret, char **ret_error);

/* grace = RandomizedDelaySec + AccuracySec + twice the last run's duration (the success ping
 * comes at the end of a run that may take longer than last time), rounded up to whole minutes
 * so that a slightly different runtime does not change the check, at least 60 s. */
unsigned provision_grace(usec_t randomized_delay, usec_t accuracy, usec_t runtime);

/* The slug template expanded and made of [a-z0-9_-] (others become '-'), at most 100. */
int provision_slug(const char *template, const char *unit, const char *hostname, char **ret);

/* Splits the time zone off a normalized OnCalendar expression ("*-*-* 02:00:00 Europe/Berlin").
 * Returns 1 with *ret_expr and *ret_tz set if it has one, 0 (both NULL) if not. */
int calendar_split_tz(const char *expr, char **ret_expr, char **ret_tz);

/* The check the monitor has (from its API). */
typedef struct ExistingCheck {
        char *uuid, *name, *slug, *desc, *tags, *schedule, *tz, *ping_url;
        unsigned timeout, grace;
        unsigned n_pings;
} ExistingCheck;

void existing_check_done(ExistingCheck *e);

/* Reads {"checks": [...]} (a list) into *ret; -EBADMSG if it is not that. */
int provision_parse_checks(const char *json, size_t size, ExistingCheck **ret, size_t *ret_n);
/* Reads one check object (the answer to a create or update). */
int provision_parse_check(const char *json, size_t size, ExistingCheck *ret);
/* The "error" of an API answer, or NULL. */
char *provision_parse_error(const char *json, size_t size);

typedef enum SyncAction {
        SYNC_CREATE,
        SYNC_UPDATE,
        SYNC_UNCHANGED,
        SYNC_PRUNE,
        _SYNC_ACTION_MAX,
} SyncAction;

const char *sync_action_to_string(SyncAction a);

/* create (e is NULL), update or unchanged; *ret_changed lists what differs ("grace, schedule"). */
SyncAction provision_compare(const DesiredCheck *d, const ExistingCheck *e, char **ret_changed);

/* Whether the monitor's check is one timerbeat made on this host: tagged timerbeat and host. */
bool provision_is_ours(const ExistingCheck *e, const char *hostname);

/* The JSON body that creates or updates the check. */
int provision_request_body(const DesiredCheck *d, char **ret);

/* The one-line summary: "schedule '…' tz … grace 2min" or "timeout 1h grace 1min". */
int provision_describe(const DesiredCheck *d, char **ret);

/* The state directory's mapping of provisioned units: "unit\tuuid\tping_url\n" per line. */
typedef struct ProvisionedUnit {
        char *unit, *uuid, *ping_url;
} ProvisionedUnit;

int provision_map_parse(const char *text, ProvisionedUnit **ret, size_t *ret_n);
int provision_map_format(const ProvisionedUnit *u, size_t n, char **ret);
void provision_map_free(ProvisionedUnit *u, size_t n);

/* The state directory's record of each unit's last sync (SYNC_STATUS_FILE), which `list`
 * shows: "ok\tunit\tusec\tslug" or "failed\tunit\tusec\tmessage" per line, and the daemon's
 * next retry as "retry\tusec" (CLOCK_REALTIME). Tabs and newlines in a message become spaces. */
typedef struct SyncResult {
        char *unit;
        bool ok;
        usec_t time; /* CLOCK_REALTIME */
        char *text;  /* the slug, or why it failed */
} SyncResult;

typedef struct SyncResults {
        SyncResult *items;
        size_t n;
        usec_t retry; /* when the daemon syncs again after a failure; 0: no retry pending */
} SyncResults;

void sync_results_done(SyncResults *r);
/* Unknown or torn lines are skipped: the next sync writes the file again. */
int sync_results_parse(const char *text, SyncResults *ret);
int sync_results_format(const SyncResults *r, char **ret);
/* Replaces the unit's result, or adds it. */
int sync_results_set(SyncResults *r, const char *unit, bool ok, usec_t time, const char *text);
void sync_results_remove(SyncResults *r, const char *unit);
const SyncResult *sync_results_find(const SyncResults *r, const char *unit);
/* What `list` says: "provisioned as daily (synced 2026-11-30 14:00:00)", "sync failed: … (retry
 * at …)", or "not provisioned yet". now is CLOCK_REALTIME: a retry in the past is not shown. */
int sync_result_describe(const SyncResult *res, usec_t retry, usec_t now, char **ret);
