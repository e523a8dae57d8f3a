/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The run history from the journal: systemd's own structured messages about each run, turned
 * into one record per run end, in journal order, each once.
 *
 * Two halves: the pure part (history.c) takes journal entries as plain structs — which ones to
 * trust, how a sequence of them becomes records — and is table-tested; the reader
 * (history-reader.c) is the sd-journal I/O around it. The reader's state (the cursor and the
 * runs it has seen start but not end) is saved in the state directory, so a restart continues
 * exactly where it stopped.
 *
 * What systemd writes (verified on 252 with a user manager logging to journald; see
 * history.c for the message table), and so what a record can and cannot say:
 *  - a failed run: "Main process exited" (EXIT_CODE=, EXIT_STATUS=) and "Failed with result"
 *    (UNIT_RESULT=) always, at notice/warning level;
 *  - a successful Type=oneshot run: "Finished X." (the start job done) always;
 *  - any successful run on the system manager: "Deactivated successfully.";
 *  - a run ended by a stop job: "Stopping X…" and "Stopped X.";
 *  - a successful end of a Type=simple/exec/notify/forking service on a *user* manager, and
 *    the main process's exit code of any successful run, only at debug level: such ends are
 *    not in the journal of a user manager at its default level (no record), and a success
 *    record on the system manager carries no exit code (ended_on_own = UNKNOWN unless the
 *    main process's exit was logged). */

#define HISTORY_UNIT_MAX 256
#define HISTORY_RESULT_MAX 64
#define HISTORY_CURSOR_MAX 512
#define HISTORY_MAX_OPEN 1024 /* runs seen starting and not yet ending, kept at most */
#define HISTORY_MAX_DONE 256  /* invocations recently recorded: their trailing messages are ignored */

/* EXIT_CODE= as ExecMainCode on D-Bus: CLD_EXITED, CLD_KILLED, CLD_DUMPED; 0: not known. */
typedef enum HistoryOwn {
        HISTORY_OWN_UNKNOWN, /* the journal does not say (a success without a logged exit) */
        HISTORY_OWN_YES,     /* the main process exited by itself, no stop job */
        HISTORY_OWN_NO,      /* a stop job ended it, or its main process was killed by a signal */
} HistoryOwn;

/* One journal entry as far as the history needs it. Strings are borrowed and NUL-terminated;
 * NULL means the field is absent. unit/invocation are UNIT=/INVOCATION_ID= for the system
 * manager and USER_UNIT=/USER_INVOCATION_ID= for a user manager (the reader picks). */
typedef struct HistoryEntry {
        const char *message_id, *message;
        const char *unit, *invocation;
        const char *unit_result;             /* UNIT_RESULT= */
        const char *exit_code, *exit_status; /* EXIT_CODE= ("exited", "killed", "dumped"), EXIT_STATUS= */
        const char *job_type, *job_result;   /* JOB_TYPE=, JOB_RESULT= */
        /* Trusted fields, set by journald from the sender's credentials and cgroup. */
        const char *pid, *uid, *transport, *systemd_unit, *systemd_user_unit;
        uint64_t realtime; /* CLOCK_REALTIME µs of the entry */
} HistoryEntry;

/* Whose messages count: the system manager (PID 1, uid 0), or the user manager of uid. */
typedef struct HistoryTrust {
        bool user;
        uid_t uid;         /* user manager only */
        pid_t manager_pid; /* user manager only, required: its PID (timerbeat --user: getppid(),
                            * or MainPID of user@UID.service); 0 trusts nothing */
} HistoryTrust;

/* The MESSAGE_IDs the history reads, NULL-terminated (the reader's journal matches). */
extern const char *const history_message_ids[];

/* true when e was written by the service manager itself (see history.c for the rule). */
bool history_entry_trusted(const HistoryTrust *t, const HistoryEntry *e);

typedef struct HistoryRecord {
        char unit[HISTORY_UNIT_MAX];
        char invocation[33];
        char result[HISTORY_RESULT_MAX]; /* "success" or systemd's UNIT_RESULT ("exit-code", …) */
        int exit_code;                   /* CLD_EXITED/KILLED/DUMPED of the main process; 0: unknown */
        int exit_status;                 /* its status or signal; -1: unknown */
        bool stop_requested;             /* a stop (or restart) job ended this run */
        HistoryOwn ended_on_own;
        uint64_t start_usec; /* realtime of its start message; 0: before what was read */
        uint64_t end_usec;   /* realtime of the message that ended it */
} HistoryRecord;

/* The pure state machine: feed it trusted entries in journal order. */
typedef struct History History;

int history_new(History **ret);
History *history_free(History *h);
static inline void history_freep(History **h) {
        history_free(*h);
}

/* Feeds one entry (already trusted). Returns 1 and fills *ret when it ends a run that has not
 * been recorded yet, 0 when it does not, -EINVAL on a malformed run message (ignored). */
int history_feed(History *h, const HistoryEntry *e, HistoryRecord *ret);

/* The cursor of the last entry fed (set by the reader); NULL if none. */
const char *history_cursor(const History *h);
int history_set_cursor(History *h, const char *cursor);

/* The state as text (cursor, open runs, recently recorded invocations) and back. Parsing
 * garbage returns -EBADMSG and leaves h untouched. */
int history_serialize(const History *h, char **ret);
int history_deserialize(History *h, const char *text, size_t size);

/* --- the reader (sd-journal I/O) ------------------------------------------------------- */
typedef struct HistoryReader HistoryReader;

/* Opens the local journal with matches for the manager's run messages. h is borrowed and must
 * outlive the reader. Positions at h's cursor when it has one (the entry itself is skipped),
 * else at since_usec (realtime; 0: the journal's head). */
int history_reader_new(HistoryReader **ret, History *h, const HistoryTrust *trust, uint64_t since_usec);
HistoryReader *history_reader_free(HistoryReader *r);
static inline void history_reader_freep(HistoryReader **r) {
        history_reader_free(*r);
}

/* false when the saved cursor's entry is no longer in the journal (rotated, vacuumed, other
 * machine): runs between it and the first entry read may be missing. */
bool history_reader_cursor_found(const HistoryReader *r);

/* Reads at most max_entries matching entries (bounded work per call, for the event loop) and
 * appends the records they end to *records (*n_records grows; the caller frees the array).
 * Returns 1 if it stopped at max_entries (call again), 0 at the end of the journal. */
int history_reader_read(HistoryReader *r, size_t max_entries, HistoryRecord **records, size_t *n_records);

/* After reading to the end: when nothing was ever read (h has no cursor), takes the journal's
 * last entry as the position, so that the next read starts there and not at since_usec. */
int history_reader_mark_end(HistoryReader *r);

/* false when no journal file could be opened: no journal, or no permission to read it. */
bool history_reader_has_files(const HistoryReader *r);

/* The journal's fd and its events, for an sd-event io source that wakes the reader when
 * journald writes (call sd_journal_process() through history_reader_process() on wake-up). */
int history_reader_fd(HistoryReader *r, int *ret_events);
int history_reader_process(HistoryReader *r);

/* The state file in the state directory (atomic write). load: 0 loaded, -ENOENT none,
 * -EBADMSG corrupt (the caller logs it and starts without: h is left empty), other -errno. */
#define HISTORY_STATE_FILE "history"
int history_load(History *h, const char *dir);
int history_save(const History *h, const char *dir);
