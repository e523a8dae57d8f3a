/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected to our stderr; if our stderr
 * still is that stream, structured journal logging is the better channel. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(LogTarget target) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
                [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

int log_full_errno(int level, int error, const char *unit, const char *invocation, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        /* "%m" in fmt must print our error, not whatever errno happens to hold. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* Config files and bus peers put text into messages: no terminal escapes, no fake lines. */
        for (char *c = buf; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';

        if (log_target == LOG_TARGET_JOURNAL) {
                char prio[32], errno_field[32], unit_field[300], inv_field[64];
                struct iovec iov[6];
                size_t n = 0;
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "MESSAGE=%s", buf) < 0)
                        return -error;
                iov[n++] = (struct iovec) { msg, strlen(msg) };
                snprintf(prio, sizeof(prio), "PRIORITY=%i", level);
                iov[n++] = (struct iovec) { prio, strlen(prio) };
                iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=timerbeat", 27 };
                if (error > 0) {
                        snprintf(errno_field, sizeof(errno_field), "ERRNO=%i", error);
                        iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
                }
                if (unit) {
                        snprintf(unit_field, sizeof(unit_field), "UNIT=%s", unit);
                        iov[n++] = (struct iovec) { unit_field, strlen(unit_field) };
                }
                if (invocation) {
                        snprintf(inv_field, sizeof(inv_field), "INVOCATION_ID=%s", invocation);
                        iov[n++] = (struct iovec) { inv_field, strlen(inv_field) };
                }
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        return -error;
                /* Fall through to stderr if the journal went away. */
        }

        if (unit)
                fprintf(stderr, "%s: %s\n", unit, buf);
        else
                fprintf(stderr, "%s\n", buf);
        return -error;
}
