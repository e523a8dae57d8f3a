/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "history.h"
#include "macro.h"
#include "util.h"

/* systemd's message IDs (src/systemd/sd-messages.h), and what each means for a run of a
 * service. The unit and its InvocationID ride along as UNIT=/INVOCATION_ID= (system manager)
 * or USER_UNIT=/USER_INVOCATION_ID= (user manager) on every one of them. */
#define MID_UNIT_STARTING "7d4958e842da4a758f6c1cdc7b36dcc5" /* "Starting X…": a run begins */
#define MID_UNIT_STARTED                                                                                    \
        "39f53479d3a045ac8e11786248231fbf"                         /* start job done: "Started X." (a run   \
                                                                    * begins) or "Finished X." (a oneshot's \
                                                                    * run ended well) */
#define MID_UNIT_STOPPING "de5b426a63be47a7b6ac3eaac82e2f6f"       /* "Stopping X…": a stop job for the run */
#define MID_UNIT_STOPPED "9d1aaa27d60140bd96365438aad20286"        /* "Stopped X.": that stop job is done */
#define MID_UNIT_SUCCESS "7ad2d189f7e94e70a38c781354912448"        /* "Deactivated successfully." */
#define MID_UNIT_FAILURE_RESULT "d9b373ed55a64feb8242e02dbe79a49c" /* "Failed with result 'R'.", UNIT_RESULT= */
#define MID_UNIT_PROCESS_EXIT                                                \
        "98e322203f7a4ed290d09fe03c09fe15" /* "Main/Control process exited", \
                                            * EXIT_CODE=, EXIT_STATUS= */

const char *const history_message_ids[] = {
        MID_UNIT_STARTING, MID_UNIT_STARTED,        MID_UNIT_STOPPING,     MID_UNIT_STOPPED,
        MID_UNIT_SUCCESS,  MID_UNIT_FAILURE_RESULT, MID_UNIT_PROCESS_EXIT, NULL,
};

/* A run seen starting (or whose exit was logged) and not yet ending. */
typedef struct OpenRun {
        char unit[HISTORY_UNIT_MAX];
        char invocation[33];
        uint64_t seq; /* order of creation, for eviction */
        uint64_t start_usec;
        bool started, stopping, exit_main;
        int exit_code, exit_status;
} OpenRun;

struct History {
        OpenRun *open;
        size_t n_open;
        uint64_t seq;
        char done[HISTORY_MAX_DONE][33]; /* ring of invocations recorded last */
        size_t done_next;
        char *cursor;
};

int history_new(History **ret) {
        History *h;

        assert(ret);
        h = calloc(1, sizeof(History));
        if (!h)
                return -ENOMEM;
        h->open = calloc(HISTORY_MAX_OPEN, sizeof(OpenRun));
        if (!h->open) {
                free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        free(h->open);
        free(h->cursor);
        free(h);
        return NULL;
}

const char *history_cursor(const History *h) {
        assert(h);
        return h->cursor;
}

static bool cursor_is_valid(const char *c) {
        if (isempty(c) || strlen(c) >= HISTORY_CURSOR_MAX)
                return false;
        for (const char *p = c; *p; p++)
                if (*p <= ' ' || *p > '~')
                        return false;
        return true;
}

int history_set_cursor(History *h, const char *cursor) {
        assert(h);
        if (!cursor_is_valid(cursor))
                return -EINVAL;
        return free_and_strdup(&h->cursor, cursor);
}

/* The trust rule. journald sets the underscore fields itself, from the sender's socket
 * credentials (_PID, _UID: the kernel lets a process claim another PID only with CAP_SYS_ADMIN,
 * another UID only with CAP_SETUID) and its cgroup (_SYSTEMD_UNIT, _SYSTEMD_USER_UNIT); a
 * sender cannot set them. systemd logs through the native protocol (_TRANSPORT=journal):
 *  - system manager: _PID=1 and _UID=0;
 *  - user manager of uid U: its PID, _UID=U, _SYSTEMD_UNIT=user@U.service and
 *    _SYSTEMD_USER_UNIT=init.scope. The PID is what counts: the user owns the cgroup subtree
 *    of user@U.service, so any process of the user's can move itself into init.scope (systemd
 *    --user even moves the processes it finds in its cgroup at start there), and the uid is
 *    the user's own. So without the manager's PID nothing is trusted: entries of an earlier
 *    instance of the user's manager (before a re-login or a reboot) are not read.
 * A missing field (journald could not read a short-lived sender's cgroup) means no trust. */
bool history_entry_trusted(const HistoryTrust *t, const HistoryEntry *e) {
        char buf[64];

        assert(t);
        assert(e);
        if (!streq_ptr(e->transport, "journal") || !e->pid || !e->uid)
                return false;
        if (!t->user)
                return streq(e->pid, "1") && streq(e->uid, "0");

        if (t->manager_pid <= 0)
                return false;
        snprintf(buf, sizeof(buf), "%u", (unsigned) t->manager_pid);
        if (!streq(e->pid, buf))
                return false;
        snprintf(buf, sizeof(buf), "%u", (unsigned) t->uid);
        if (!streq(e->uid, buf))
                return false;
        snprintf(buf, sizeof(buf), "user@%u.service", (unsigned) t->uid);
        return streq_ptr(e->systemd_unit, buf) && streq_ptr(e->systemd_user_unit, "init.scope");
}

static bool invocation_is_valid(const char *s) {
        if (!s || strlen(s) != 32)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static bool is_done(const History *h, const char *invocation) {
        for (size_t i = 0; i < HISTORY_MAX_DONE; i++)
                if (streq(h->done[i], invocation))
                        return true;
        return false;
}

static void mark_done(History *h, const char *invocation) {
        memcpy(h->done[h->done_next], invocation, 33);
        h->done_next = (h->done_next + 1) % HISTORY_MAX_DONE;
}

static OpenRun *find_open(History *h, const char *invocation) {
        for (size_t i = 0; i < h->n_open; i++)
                if (streq(h->open[i].invocation, invocation))
                        return &h->open[i];
        return NULL;
}

static void drop_open(History *h, OpenRun *o) {
        size_t i = (size_t) (o - h->open);

        h->open[i] = h->open[--h->n_open];
}

/* A new run of a unit means its previous one ended, even if the journal did not say how (a
 * user manager logs a Type=simple service's successful end at debug level only): forget it.
 * When full, the oldest run goes: the table stays bounded whatever the journal holds. */
static OpenRun *add_open(History *h, const char *unit, const char *invocation, bool started) {
        OpenRun *o;

        for (size_t i = 0; started && i < h->n_open;)
                if (h->open[i].started && streq(h->open[i].unit, unit))
                        drop_open(h, &h->open[i]);
                else
                        i++;
        if (h->n_open == HISTORY_MAX_OPEN) {
                size_t oldest = 0;

                for (size_t i = 1; i < h->n_open; i++)
                        if (h->open[i].seq < h->open[oldest].seq)
                                oldest = i;
                drop_open(h, &h->open[oldest]);
        }
        o = &h->open[h->n_open++];
        *o = (OpenRun) { .seq = ++h->seq, .exit_status = -1 };
        snprintf(o->unit, sizeof(o->unit), "%s", unit);
        memcpy(o->invocation, invocation, 33);
        return o;
}

static int parse_exit_code(const char *s) {
        if (streq_ptr(s, "exited"))
                return CLD_EXITED;
        if (streq_ptr(s, "killed"))
                return CLD_KILLED;
        if (streq_ptr(s, "dumped"))
                return CLD_DUMPED;
        return 0;
}

/* Fills *ret for the run ending at e, forgets it as open and remembers it as recorded. */
static void finish(History *h, const HistoryEntry *e, OpenRun *o, const char *result, HistoryOwn own,
                   HistoryRecord *ret) {
        *ret = (HistoryRecord) { .exit_status = -1, .end_usec = e->realtime, .ended_on_own = own };
        snprintf(ret->unit, sizeof(ret->unit), "%s", e->unit);
        memcpy(ret->invocation, e->invocation, 33);
        snprintf(ret->result, sizeof(ret->result), "%s", result);
        if (o) {
                ret->exit_code = o->exit_code;
                ret->exit_status = o->exit_status;
                ret->start_usec = o->start_usec;
                ret->stop_requested = o->stopping;
                /* What the main process's exit says, when the journal has it: exited on its own,
                 * or killed by a signal (whether the unit counts that signal as success is for
                 * the caller, who knows SuccessExitStatus=). A stop job overrides both. */
                if (o->exit_main && own == HISTORY_OWN_UNKNOWN)
                        ret->ended_on_own = o->exit_code == CLD_EXITED ? HISTORY_OWN_YES : HISTORY_OWN_NO;
                if (o->exit_main && o->exit_code != CLD_EXITED)
                        ret->ended_on_own = HISTORY_OWN_NO;
                if (o->stopping)
                        ret->ended_on_own = HISTORY_OWN_NO;
                drop_open(h, o);
        }
        mark_done(h, e->invocation);
}

static int feed_exit(History *h, const HistoryEntry *e, OpenRun *o) {
        unsigned status;
        bool main_process = e->message && strstr(e->message, "Main process exited");
        int code = parse_exit_code(e->exit_code);

        if (code == 0 || !e->exit_status || parse_unsigned(e->exit_status, 0, 255, &status) < 0)
                return -EINVAL;
        if (!o)
                o = add_open(h, e->unit, e->invocation, false);
        /* The main process's exit wins over a control process's (ExecStartPost=, ExecStop=…);
         * without one (ExecStartPre= failed), the control process's says why the run failed. */
        if (main_process || !o->exit_main) {
                o->exit_code = code;
                o->exit_status = (int) status;
                o->exit_main = main_process;
        }
        return 0;
}

int history_feed(History *h, const HistoryEntry *e, HistoryRecord *ret) {
        const char *mid = e->message_id;
        bool job_start, job_stop, job_done;
        OpenRun *o;

        assert(h);
        assert(e);
        assert(ret);
        if (!mid || !e->unit || !e->invocation)
                return 0;
        /* Only services have runs; systemd writes these messages for every unit type. */
        if (!endswith(e->unit, ".service"))
                return 0;
        if (!unit_name_is_valid(e->unit) || !invocation_is_valid(e->invocation))
                return -EINVAL;
        if (is_done(h, e->invocation))
                return 0; /* trailing messages of a run recorded already ("Finished", "Stopped"…) */

        o = find_open(h, e->invocation);
        job_start = streq_ptr(e->job_type, "start");
        job_stop = streq_ptr(e->job_type, "stop") || streq_ptr(e->job_type, "restart");
        job_done = streq_ptr(e->job_result, "done");

        if (streq(mid, MID_UNIT_PROCESS_EXIT))
                return feed_exit(h, e, o);
        if (streq(mid, MID_UNIT_FAILURE_RESULT)) {
                if (isempty(e->unit_result) || strlen(e->unit_result) >= HISTORY_RESULT_MAX)
                        return -EINVAL;
                finish(h, e, o, e->unit_result, HISTORY_OWN_UNKNOWN, ret);
                return 1;
        }
        if (streq(mid, MID_UNIT_SUCCESS)) {
                finish(h, e, o, "success", HISTORY_OWN_UNKNOWN, ret);
                return 1;
        }
        if (streq(mid, MID_UNIT_STARTED) && job_start && job_done && e->message &&
            startswith(e->message, "Finished ")) {
                /* Only a Type=oneshot service's start job says "Finished": its run is over and
                 * was a success, which for a oneshot means every command exited cleanly (or by
                 * a signal the unit lists in SuccessExitStatus=). */
                finish(h, e, o, "success", HISTORY_OWN_YES, ret);
                return 1;
        }
        if ((streq(mid, MID_UNIT_STARTING) && job_start) || (streq(mid, MID_UNIT_STARTED) && job_start)) {
                if (!o)
                        o = add_open(h, e->unit, e->invocation, true);
                if (!o->started) {
                        o->started = true;
                        o->start_usec = e->realtime;
                }
                return 0;
        }
        /* A stop job counts only for a run seen running: "Stopping" for a RemainAfterExit=
         * oneshot recorded long ago (and forgotten by the ring) must not make a second record. */
        if (streq(mid, MID_UNIT_STOPPING) && job_stop) {
                if (o && o->started)
                        o->stopping = true;
                return 0;
        }
        if (streq(mid, MID_UNIT_STOPPED) && job_stop && job_done && o && o->stopping) {
                /* No "Failed with result" came before it: systemd's Result was success. */
                finish(h, e, o, "success", HISTORY_OWN_NO, ret);
                return 1;
        }
        return 0;
}

/* --- state file ------------------------------------------------------------------------ */

#define STATE_MAGIC "timerbeat-history 1\n"

int history_serialize(const History *h, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        assert(h);
        assert(ret);
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs(STATE_MAGIC, f);
        if (h->cursor)
                fprintf(f, "cursor %s\n", h->cursor);
        for (size_t i = 0; i < h->n_open; i++) {
                const OpenRun *o = &h->open[i];

                fprintf(f, "open %s %s %" PRIu64 " %" PRIu64 " %d %d %d %d %d\n", o->unit, o->invocation, o->seq,
                        o->start_usec, o->started, o->stopping, o->exit_main, o->exit_code, o->exit_status);
        }
        /* Oldest first, so that loading refills the ring in the same order. */
        for (size_t k = 0; k < HISTORY_MAX_DONE; k++) {
                const char *d = h->done[(h->done_next + k) % HISTORY_MAX_DONE];

                if (*d)
                        fprintf(f, "done %s\n", d);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_open_line(const char *line, OpenRun *o) {
        char unit[HISTORY_UNIT_MAX + 1], inv[64];
        int started, stopping, exit_main, n = 0;

        *o = (OpenRun) { 0 };
        if (sscanf(line, "open %256s %63s %" SCNu64 " %" SCNu64 " %d %d %d %d %d%n", unit, inv, &o->seq,
                   &o->start_usec, &started, &stopping, &exit_main, &o->exit_code, &o->exit_status, &n) != 9 ||
            line[n] != 0)
                return -EBADMSG;
        if (!unit_name_is_valid(unit) || !invocation_is_valid(inv) || started < 0 || started > 1 || stopping < 0 ||
            stopping > 1 || exit_main < 0 || exit_main > 1 || o->exit_code < 0 || o->exit_code > CLD_DUMPED ||
            o->exit_status < -1 || o->exit_status > 255)
                return -EBADMSG;
        if (strlen(unit) >= sizeof(o->unit))
                return -EBADMSG;
        memcpy(o->unit, unit, strlen(unit) + 1);
        memcpy(o->invocation, inv, 33);
        o->started = started;
        o->stopping = stopping;
        o->exit_main = exit_main;
        return 0;
}

/* Parses into a fresh History, then swaps: garbage leaves h as it was. */
int history_deserialize(History *h, const char *text, size_t size) {
        _cleanup_(history_freep) History *n = NULL;
        _cleanup_free_ char *copy = NULL;
        char *line, *save = NULL;
        int r;

        assert(h);
        assert(text);
        if (size < strlen(STATE_MAGIC) || memcmp(text, STATE_MAGIC, strlen(STATE_MAGIC)) != 0 ||
            memchr(text, 0, size))
                return -EBADMSG;
        if (size == 0 || text[size - 1] != '\n')
                return -EBADMSG; /* torn: every line ends in a newline */
        copy = strndup(text + strlen(STATE_MAGIC), size - strlen(STATE_MAGIC));
        if (!copy)
                return -ENOMEM;
        r = history_new(&n);
        if (r < 0)
                return r;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *v;

                if ((v = startswith(line, "cursor "))) {
                        if (n->cursor || history_set_cursor(n, v) < 0)
                                return -EBADMSG;
                } else if (startswith(line, "open ")) {
                        if (n->n_open == HISTORY_MAX_OPEN || parse_open_line(line, &n->open[n->n_open]) < 0 ||
                            find_open(n, n->open[n->n_open].invocation))
                                return -EBADMSG;
                        n->seq = MAX(n->seq, n->open[n->n_open].seq);
                        n->n_open++;
                } else if ((v = startswith(line, "done "))) {
                        if (!invocation_is_valid(v))
                                return -EBADMSG;
                        mark_done(n, v);
                } else
                        return -EBADMSG;
        }
        free(h->open);
        free(h->cursor);
        *h = *n;
        n->open = NULL;
        n->cursor = NULL;
        return 0;
}
