/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "history.h"
#include "outbox.h"
#include "util.h"

/* The sd-journal side of the history: which entries to ask for, and their fields as a
 * HistoryEntry. Everything it decides is in history.c. */

struct HistoryReader {
        sd_journal *j;
        History *h;
        HistoryTrust trust;
        bool cursor_found;
};

HistoryReader *history_reader_free(HistoryReader *r) {
        if (!r)
                return NULL;
        sd_journal_close(r->j);
        free(r);
        return NULL;
}

static int add_match(sd_journal *j, const char *field, const char *value) {
        char buf[128];

        snprintf(buf, sizeof(buf), "%s=%s", field, value);
        return sd_journal_add_match(j, buf, 0);
}

/* The journal's own index does the filtering: only the run messages, and only the manager's
 * (matches on different fields are ANDed, on one field ORed). history_entry_trusted() checks
 * each entry again, with the full rule. */
static int add_matches(sd_journal *j, const HistoryTrust *t) {
        char buf[64];
        int r = 0;

        for (size_t i = 0; r >= 0 && history_message_ids[i]; i++)
                r = add_match(j, "MESSAGE_ID", history_message_ids[i]);
        if (r < 0)
                return r;
        if (!t->user) {
                r = add_match(j, "_PID", "1");
                return r < 0 ? r : add_match(j, "_UID", "0");
        }
        snprintf(buf, sizeof(buf), "%u", (unsigned) t->uid);
        r = add_match(j, "_UID", buf);
        if (r >= 0) {
                snprintf(buf, sizeof(buf), "user@%u.service", (unsigned) t->uid);
                r = add_match(j, "_SYSTEMD_UNIT", buf);
        }
        /* Not _PID: the trust rule checks it, in one place (and the integration test sees it). */
        return r;
}

/* At h's cursor (its entry was read already: skip it), else at since_usec. */
static int seek(HistoryReader *r, uint64_t since_usec) {
        const char *cursor = history_cursor(r->h);
        int k;

        if (!cursor) {
                r->cursor_found = true;
                return since_usec > 0 ? sd_journal_seek_realtime_usec(r->j, since_usec) : sd_journal_seek_head(r->j);
        }
        k = sd_journal_seek_cursor(r->j, cursor);
        if (k < 0)
                return k;
        k = sd_journal_next(r->j);
        if (k < 0)
                return k;
        if (k == 0) {
                /* Nothing at or after it: it was the last one. */
                r->cursor_found = true;
                return 0;
        }
        r->cursor_found = sd_journal_test_cursor(r->j, cursor) > 0;
        /* Gone (rotated, vacuumed): what follows it is the first entry to read, so step back. */
        if (!r->cursor_found)
                k = sd_journal_previous(r->j);
        return k < 0 ? k : 0;
}

int history_reader_new(HistoryReader **ret, History *h, const HistoryTrust *trust, uint64_t since_usec) {
        _cleanup_(history_reader_freep) HistoryReader *r = NULL;
        int k;

        assert(ret);
        assert(h);
        assert(trust);
        r = calloc(1, sizeof(HistoryReader));
        if (!r)
                return -ENOMEM;
        r->h = h;
        r->trust = *trust;
        k = sd_journal_open(&r->j, SD_JOURNAL_LOCAL_ONLY);
        if (k < 0)
                return k;
        k = add_matches(r->j, trust);
        if (k < 0)
                return k;
        k = seek(r, since_usec);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

bool history_reader_cursor_found(const HistoryReader *r) {
        assert(r);
        return r->cursor_found;
}

typedef struct EntryData {
        char message_id[40], message[512], unit[HISTORY_UNIT_MAX + 1], invocation[40], unit_result[80], exit_code[16],
                exit_status[16], job_type[32], job_result[32], pid[16], uid[16], transport[16],
                systemd_unit[HISTORY_UNIT_MAX + 1], systemd_user_unit[HISTORY_UNIT_MAX + 1];
} EntryData;

/* field's value into buf (cut to its size); NULL when the entry has no such field. A value
 * longer than buf is cut, and then fails validation in history.c (or, for MESSAGE, only its
 * beginning matters). */
static const char *get_field(sd_journal *j, const char *field, char *buf, size_t size) {
        const void *data;
        size_t len, fl = strlen(field);

        if (sd_journal_get_data(j, field, &data, &len) < 0 || len <= fl)
                return NULL;
        len = MIN(len - fl - 1, size - 1);
        memcpy(buf, (const char *) data + fl + 1, len);
        buf[len] = 0;
        return memchr(buf, 0, len) ? NULL : buf; /* embedded NUL: not a field we can trust */
}

#define GET(e, d, member, field) (e)->member = get_field(j, field, (d)->member, sizeof((d)->member))

static void read_entry(sd_journal *j, bool user, HistoryEntry *e, EntryData *d) {
        *e = (HistoryEntry) { 0 };
        GET(e, d, message_id, "MESSAGE_ID");
        GET(e, d, message, "MESSAGE");
        e->unit = get_field(j, user ? "USER_UNIT" : "UNIT", d->unit, sizeof(d->unit));
        e->invocation = get_field(j, user ? "USER_INVOCATION_ID" : "INVOCATION_ID", d->invocation,
                                  sizeof(d->invocation));
        GET(e, d, unit_result, "UNIT_RESULT");
        GET(e, d, exit_code, "EXIT_CODE");
        GET(e, d, exit_status, "EXIT_STATUS");
        GET(e, d, job_type, "JOB_TYPE");
        GET(e, d, job_result, "JOB_RESULT");
        GET(e, d, pid, "_PID");
        GET(e, d, uid, "_UID");
        GET(e, d, transport, "_TRANSPORT");
        GET(e, d, systemd_unit, "_SYSTEMD_UNIT");
        GET(e, d, systemd_user_unit, "_SYSTEMD_USER_UNIT");
        if (sd_journal_get_realtime_usec(j, &e->realtime) < 0)
                e->realtime = 0;
}

static int append(HistoryRecord **records, size_t *n, const HistoryRecord *rec) {
        HistoryRecord *nr = realloc(*records, sizeof(HistoryRecord) * (*n + 1));

        if (!nr)
                return -ENOMEM;
        nr[(*n)++] = *rec;
        *records = nr;
        return 0;
}

int history_reader_read(HistoryReader *r, size_t max_entries, HistoryRecord **records, size_t *n_records) {
        assert(r);
        assert(records);
        assert(n_records);
        for (size_t i = 0; i < max_entries; i++) {
                _cleanup_free_ char *cursor = NULL;
                HistoryEntry e;
                HistoryRecord rec;
                EntryData d;
                int k;

                k = sd_journal_next(r->j);
                if (k <= 0)
                        return k;
                read_entry(r->j, r->trust.user, &e, &d);
                if (history_entry_trusted(&r->trust, &e) && history_feed(r->h, &e, &rec) > 0) {
                        k = append(records, n_records, &rec);
                        if (k < 0)
                                return k;
                }
                /* The cursor moves past every entry read, trusted or not; the state saved with it
                 * holds what the entries before it said about runs still open. */
                k = sd_journal_get_cursor(r->j, &cursor);
                if (k < 0)
                        return k;
                k = history_set_cursor(r->h, cursor);
                if (k < 0)
                        return k;
        }
        return 1;
}

int history_reader_mark_end(HistoryReader *r) {
        _cleanup_free_ char *cursor = NULL;
        int k;

        assert(r);
        if (history_cursor(r->h))
                return 0;
        /* Any entry will do as a position: the matches apply again when reading from it. */
        sd_journal_flush_matches(r->j);
        k = sd_journal_seek_tail(r->j);
        if (k >= 0)
                k = sd_journal_previous(r->j);
        if (k <= 0)
                return k; /* an empty journal: no position yet */
        k = sd_journal_get_cursor(r->j, &cursor);
        if (k < 0)
                return k;
        return history_set_cursor(r->h, cursor);
}

bool history_reader_has_files(const HistoryReader *r) {
        assert(r);
        return sd_journal_has_runtime_files(r->j) > 0 || sd_journal_has_persistent_files(r->j) > 0;
}

int history_reader_fd(HistoryReader *r, int *ret_events) {
        int fd, events;

        assert(r);
        assert(ret_events);
        fd = sd_journal_get_fd(r->j);
        if (fd < 0)
                return fd;
        events = sd_journal_get_events(r->j);
        if (events < 0)
                return events;
        *ret_events = events;
        return fd;
}

int history_reader_process(HistoryReader *r) {
        assert(r);
        return sd_journal_process(r->j);
}

int history_load(History *h, const char *dir) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size = 0;
        int r;

        assert(h);
        assert(dir);
        if (asprintf(&path, "%s/%s", dir, HISTORY_STATE_FILE) < 0)
                return -ENOMEM;
        r = read_full_file(path, 1024 * 1024, &data, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return history_deserialize(h, data, size);
}

int history_save(const History *h, const char *dir) {
        _cleanup_free_ char *data = NULL;
        int r;

        assert(h);
        assert(dir);
        r = history_serialize(h, &data);
        if (r < 0)
                return r;
        /* fsync'ed: a cursor that went back after a crash would report runs twice. */
        return write_file_atomic(dir, HISTORY_STATE_FILE, data, strlen(data), true);
}
