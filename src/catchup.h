/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "history.h"
#include "watch.h"

/* Catch-up rounds: what ended while timerbeat was not watching, oldest first.
 *
 * A round starts each time the watch has (re)read every service: at start, after a bus
 * reconnect, after systemd re-executed or reloaded. It reads the journal's run history from
 * the position saved in STATE/history to the journal's end, a slice of entries per event loop
 * iteration (READY=1 is never held up), and hands every run end it finds over in journal
 * order. Run ends the watch reports meanwhile (the state-based catch-up of each service's last
 * run, and live ends) are held and handed back after the round, so that the journal's older
 * runs go first and the per-check last-run record sees them in order.
 *
 * Without a usable journal (none, no permission, the user manager's PID unknown) a round ends
 * at once: the held runs are then all there is, as before the history existed. */

typedef struct Catchup Catchup;

/* A run end the journal told. */
typedef void (*catchup_record_t)(Catchup *c, const HistoryRecord *rec, void *userdata);
/* A held run end, handed back after the round, in the order it arrived. */
typedef void (*catchup_release_t)(Catchup *c, const WatchRun *run, void *userdata);

int catchup_new(Catchup **ret, sd_event *event, const char *state_dir, bool user, catchup_record_t on_record,
                catchup_release_t on_release, void *userdata);
Catchup *catchup_free(Catchup *c);
static inline void catchup_freep(Catchup **c) {
        catchup_free(*c);
}

/* Starts a round (or, while one runs, another after it). manager_pid: the service manager's
 * PID (0: unknown, the journal is not trusted); max_age: how far back to read when the saved
 * position is lost. */
int catchup_start(Catchup *c, pid_t manager_pid, usec_t max_age);
bool catchup_running(const Catchup *c);

/* started: when the daemon began to watch (CLOCK_REALTIME). Without a saved position (the
 * first start) the journal is read from then, not from the first round: READY=1 comes before
 * the units are read, and a run that ended in between is in the journal. */
void catchup_set_started(Catchup *c, usec_t started);
/* Called at the end of each round, after the held runs were handed back. */
typedef void (*catchup_done_t)(Catchup *c, void *userdata);
void catchup_set_on_done(Catchup *c, catchup_done_t on_done);

/* Keeps a copy of run until the round ends. -ENOBUFS when too many are held already (the
 * caller handles it at once). */
int catchup_hold(Catchup *c, const WatchRun *run);

/* A run end read from the journal as the WatchRun of one check of its service (strings point
 * into rec), so that decide() judges it as a live one. */
WatchRun catchup_record_run(const HistoryRecord *rec, const char *check, const char *service,
                            const SuccessExit *success);

/* For each check of the record's service (watch_foreach_check), the run it reports
 * (catchup_record_run), judged as a live one is. A success the journal cannot vouch for (how
 * the main process ended was not logged) is skipped: systemd's state judges the service's last
 * run after the round; earlier ones are not guessed. */
typedef void (*catchup_run_t)(const WatchRun *run, void *userdata);
void catchup_record_foreach(Watch *w, const HistoryRecord *rec, catchup_run_t f, void *userdata);
