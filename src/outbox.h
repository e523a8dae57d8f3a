/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ping.h"

/* The durable outbox: one append-only log, STATE/outbox/log, of CRC-checked records.
 *
 *   add    a ping not yet answered (seq=N, then the Ping's fields), appended before the first
 *          attempt and fdatasync'ed right after it is handed over; a second add of the same seq
 *          replaces the first (the same ping, now with its log body). The add of a run end is
 *          also that check's last run (its InvocationID, exit time = created), in the same
 *          write: a crash cannot leave a stored ping whose run would be caught up and sent once
 *          more
 *   done   seq=N was answered for good (or dropped): appended, not synced
 *   last   a check's last run decided on (InvocationID, exit time): appended, not synced
 *   ping   a check's last ping outcome, for `timerbeat list`: appended, not synced
 *
 * So a ping costs two appends and at most one fdatasync, and no file is created on the happy
 * path. The log is read once at start (the state lives in memory after that) and rewritten
 * (temporary file, fsync, rename) when it is large and mostly done records: the live adds and the newest
 * last and ping record of each check. A record is text lines "key=value" between a magic line
 * and a "crc=" line over everything before it; a torn record at the end (a crash mid-append)
 * is cut off, a damaged one elsewhere is skipped (one log line). Entries of older versions
 * (outbox/NAME.ping files, last/ and pings/ directories) are moved into the log at start. */

#define OUTBOX_ENTRY_MAX (256U * 1024U)

/* An entry is a Ping (ping.h): check, unit, invocation, URL, method, origin, creation time, event,
 * body and content type are stored. */

/* Pure (de)serialization, unit-tested and fuzzed. */
int outbox_entry_format(const Ping *e, char **ret);
/* Fills *ret (fields owned by it; ping_done() frees them). */
int outbox_entry_parse(const char *data, size_t size, Ping *ret);

uint32_t crc32_compute(const void *data, size_t size);

/* One record of the log, parsed without allocating (an add's body is not decoded). */
typedef enum OutboxRecordType {
        OUTBOX_RECORD_ADD,
        OUTBOX_RECORD_DONE,
        OUTBOX_RECORD_LAST,
        OUTBOX_RECORD_PING,
} OutboxRecordType;

/* The last ping's outcome for a check, and when one was last delivered, for `timerbeat list`. */
typedef struct PingRecord {
        char outcome[16];
        long status;
        usec_t time;
        char invocation[33];
        usec_t delivered; /* the last delivered ping's time; 0: none yet */
} PingRecord;

typedef struct OutboxRecord {
        OutboxRecordType type;
        uint64_t seq;        /* add, done */
        usec_t created;      /* add */
        bool start;          /* add: a start event (not a run end) */
        char check[256];     /* add, last, ping */
        char invocation[33]; /* last */
        usec_t exit;         /* last */
        PingRecord ping;     /* ping */
} OutboxRecord;

/* Formats a record (add: the entry text with seq=; the others from rec). */
int outbox_record_format_add(const Ping *e, uint64_t seq, char **ret);
int outbox_record_format(const OutboxRecord *rec, char **ret);
/* data is exactly one record, crc line included: 0 or -EBADMSG. */
int outbox_record_parse(const char *data, size_t size, OutboxRecord *ret);

/* Walks a whole log: cb for each valid record with its offset and length. A damaged record
 * followed by valid ones is skipped and counted; whatever follows the last valid record (a
 * torn append) is not a record: *ret_end is where it starts. */
typedef void (*outbox_record_cb)(const OutboxRecord *rec, size_t offset, size_t size, void *userdata);
typedef struct OutboxLogStats {
        size_t end;     /* the end of the last valid record: the log is cut back to it */
        size_t damaged; /* damaged records skipped before it */
        size_t n;       /* valid records */
} OutboxLogStats;
void outbox_log_walk(const char *data, size_t size, outbox_record_cb cb, void *userdata, OutboxLogStats *ret);

typedef struct Outbox Outbox;

/* dir is created if missing (mode 0700); the log is read (and older versions' files moved into
 * it). A state directory that cannot be written is not fatal: the error is returned with *ret
 * set, and writes are tried again later. */
int outbox_new(Outbox **ret, const char *dir);
/* The same, reading the log as a full queue would keep it: of each check the newest
 * max_per_check entries, of all the newest max_items (0: no bound), in the replay's order; the
 * older ones are dropped while it is read (the index never holds much more than the bounds) and
 * the log is rewritten without them. */
int outbox_new_bounded(Outbox **ret, const char *dir, size_t max_items, size_t max_per_check);
/* What reading the log found: live entries held, and how many of them were dropped. */
void outbox_load_dropped(const Outbox *o, size_t *ret_held, size_t *ret_dropped);
Outbox *outbox_free(Outbox *o);
static inline void outbox_freep(Outbox **o) {
        outbox_free(*o);
}
const char *outbox_dir(const Outbox *o);

/* The result of a write to the state directory (r < 0: it failed): says so once when it
 * starts failing and once when it works again; pings go on from memory meanwhile. */
void outbox_report_write(Outbox *o, int r, const char *what);

/* Stores a ping (an append: it outlives the process) and sets its id (its seq). A ping that has
 * an id already is stored again under it (same position in the order). Durable on the disk
 * once outbox_sync() returns. */
int outbox_store(Outbox *o, Ping *p);
/* fdatasync of what was stored since the last one (one for all of them); 0 if nothing was. */
int outbox_sync(Outbox *o);
/* When the oldest store not synced yet was made (CLOCK_MONOTONIC); 0: none. */
usec_t outbox_unsynced_since(const Outbox *o);
/* Records that the entry is answered for good (a done record); an unknown id is fine. */
int outbox_remove(Outbox *o, const char *id);
/* The same for many entries, in one append. */
int outbox_remove_many(Outbox *o, const uint64_t *seqs, size_t n);

/* The entries stored, in the order the runs ended (creation time, then seq); the caller frees
 * the array and each check with outbox_refs_free(). */
typedef struct OutboxRef {
        uint64_t seq;
        usec_t created;
        char *check;
} OutboxRef;
int outbox_list(Outbox *o, OutboxRef **ret, size_t *ret_n);
void outbox_refs_free(OutboxRef *refs, size_t n);
/* Reads an entry back from the log (id set). -ENOENT: answered meanwhile; -EBADMSG: damaged. */
int outbox_load(Outbox *o, uint64_t seq, Ping **ret);
/* Entries not answered for good. */
size_t outbox_size(const Outbox *o);

/* The last run end processed for a check: its InvocationID and exit time (realtime). */
int outbox_read_last(Outbox *o, const char *check, char ret_invocation[static 33], usec_t *ret_exit);
int outbox_write_last(Outbox *o, const char *check, const char *invocation, usec_t exit_usec);

/* Keeps the delivered time of the record before it unless this outcome is "delivered". */
int outbox_write_ping(Outbox *o, const char *check, const char *outcome, long status, usec_t time,
                      const char *invocation);
/* For the commands: reads STATE_DIR's log once per process (read-only). */
int outbox_read_ping(const char *state_dir, const char *check, PingRecord *ret);

/* Counts the entries in STATE_DIR's outbox by check (a map of check → count as uintptr_t, which
 * the caller frees). */
struct Hashmap;
int outbox_count_undelivered(const char *state_dir, struct Hashmap **ret);

/* Writes data to dir/name atomically; with durable, fsync'ed (file and directory) before it
 * returns. */
int write_file_atomic(const char *dir, const char *name, const char *data, size_t size, bool durable);
