/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ping.h"

/* The durable outbox: one file per ping not yet answered, written atomically (temporary file,
 * fsync, rename, fsync of the directory) before the first attempt and removed once the
 * monitor answered for good. Each file carries a CRC-32 so that a torn or edited file is
 * recognised and moved aside instead of sent. Also the per-check record of the last run
 * reported, for catching up after a restart. */

#define OUTBOX_ENTRY_MAX (256U * 1024U)

/* An entry is a Ping (ping.h): check, unit, invocation, URL, method, origin, creation time, event,
 * body and content type are stored. */

/* Pure (de)serialization, unit-tested and fuzzed. */
int outbox_entry_format(const Ping *e, char **ret);
/* Fills *ret (fields owned by it; ping_done() frees them). */
int outbox_entry_parse(const char *data, size_t size, Ping *ret);

uint32_t crc32_compute(const void *data, size_t size);

typedef struct Outbox Outbox;

/* dir is created if missing (mode 0700). */
int outbox_new(Outbox **ret, const char *dir);
Outbox *outbox_free(Outbox *o);
static inline void outbox_freep(Outbox **o) {
        outbox_free(*o);
}
const char *outbox_dir(const Outbox *o);

/* The result of a write to the state directory (r < 0: it failed): says so once when it
 * starts failing and once when it works again; pings go on from memory meanwhile. */
void outbox_report_write(Outbox *o, int r, const char *what);

/* Stores a ping durably and sets its id (the entry's name). A ping that has an id already is
 * rewritten in place (same name, same position in the order). */
int outbox_store(Outbox *o, Ping *p);
int outbox_remove(Outbox *o, const char *name);

/* Calls cb for each stored entry in creation order, handing over a Ping (id set) that cb owns.
 * A file that cannot be parsed is renamed to NAME.corrupt and reported through on_corrupt. */
typedef void (*outbox_entry_cb)(Outbox *o, Ping *p, void *userdata);
typedef void (*outbox_corrupt_cb)(Outbox *o, const char *name, const char *why, void *userdata);
int outbox_replay(Outbox *o, outbox_entry_cb cb, outbox_corrupt_cb on_corrupt, void *userdata);

/* The last run end processed for a check: its InvocationID and exit time (realtime). */
int outbox_read_last(Outbox *o, const char *check, char ret_invocation[static 33], usec_t *ret_exit);
int outbox_write_last(Outbox *o, const char *check, const char *invocation, usec_t exit_usec);

/* The last ping's outcome for a check, and when one was last delivered, for `timerbeat list`. */
typedef struct PingRecord {
        char outcome[16];
        long status;
        usec_t time;
        char invocation[33];
        usec_t delivered; /* the last delivered ping's time; 0: none yet */
} PingRecord;
/* Keeps the delivered time of the record before it unless this outcome is "delivered". */
int outbox_write_ping(Outbox *o, const char *check, const char *outcome, long status, usec_t time,
                      const char *invocation);
int outbox_read_ping(const char *state_dir, const char *check, PingRecord *ret);

/* Counts the entries in STATE_DIR/outbox by check (a map of check → count as uintptr_t, which the
 * caller frees); entries that cannot be read are not counted. */
struct Hashmap;
int outbox_count_undelivered(const char *state_dir, struct Hashmap **ret);

/* Writes data to dir/name atomically; with durable, fsync'ed (file and directory) before it
 * returns. */
int write_file_atomic(const char *dir, const char *name, const char *data, size_t size, bool durable);
