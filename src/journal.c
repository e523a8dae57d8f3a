/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>

#include "journal.h"
#include "log.h"

/* Length of the valid UTF-8 sequence at s (1–4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
        size_t n;
        unsigned cp;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n > left)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

char *utf8_tail(const char *s, size_t size, size_t max, size_t *ret_size) {
        const unsigned char *p = (const unsigned char *) s;
        size_t start = size > max ? size - max : 0, out = 0;
        char *r;

        /* Start on a character boundary: skip continuation bytes. */
        while (start < size && start > 0 && (p[start] & 0xc0) == 0x80)
                start++;
        r = malloc((size - start) * 3 + 1);
        if (!r)
                return NULL;
        for (size_t i = start; i < size;) {
                size_t n = utf8_seq(p + i, size - i);

                if (n == 0 || (n == 1 && p[i] == 0)) {
                        memcpy(r + out, "\xef\xbf\xbd", 3); /* U+FFFD */
                        out += 3;
                        i++;
                } else {
                        memcpy(r + out, p + i, n);
                        out += n;
                        i += n;
                }
        }
        /* Replacement characters may have made it longer than max again: cut from the front. */
        if (out > max) {
                size_t cut = out - max;

                while (cut < out && ((unsigned char) r[cut] & 0xc0) == 0x80)
                        cut++;
                memmove(r, r + cut, out - cut);
                out -= cut;
        }
        r[out] = 0;
        *ret_size = out;
        return r;
}

/* In the child: the run's messages, oldest first, the newest max bytes of them. */
static int child_read_once(const JournalQuery *q, int fd, size_t *ret_lines) {
        sd_journal *j = NULL;
        char match[300];
        char **lines = NULL;
        size_t n_lines = 0, total = 0;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        /* The run's own lines carry its InvocationID (system units); a user unit's lines may
         * carry only the unit name, so those count within the run's time. The manager's own
         * lines about the run carry INVOCATION_ID / USER_INVOCATION_ID. */
        snprintf(match, sizeof(match), "_SYSTEMD_INVOCATION_ID=%s", q->invocation);
        (void) sd_journal_add_match(j, match, 0);
        (void) sd_journal_add_disjunction(j);
        snprintf(match, sizeof(match), "INVOCATION_ID=%s", q->invocation);
        (void) sd_journal_add_match(j, match, 0);
        (void) sd_journal_add_disjunction(j);
        snprintf(match, sizeof(match), "USER_INVOCATION_ID=%s", q->invocation);
        (void) sd_journal_add_match(j, match, 0);
        if (q->unit && q->since > 0) {
                (void) sd_journal_add_disjunction(j);
                snprintf(match, sizeof(match), "_SYSTEMD_UNIT=%s", q->unit);
                (void) sd_journal_add_match(j, match, 0);
                (void) sd_journal_add_disjunction(j);
                snprintf(match, sizeof(match), "_SYSTEMD_USER_UNIT=%s", q->unit);
                (void) sd_journal_add_match(j, match, 0);
        }

        r = sd_journal_seek_tail(j);
        /* Walk back from the newest entry until max bytes are collected. */
        while (r >= 0 && total < q->max && n_lines < 100000) {
                const void *d;
                size_t l;
                uint64_t t;
                char **nl;

                r = sd_journal_previous(j);
                if (r <= 0)
                        break;
                if (sd_journal_get_realtime_usec(j, &t) >= 0 && q->since > 0) {
                        if (t < q->since)
                                break; /* older than the run: done */
                        if (q->until > 0 && t > q->until + USEC_PER_SEC)
                                continue;
                }
                if (sd_journal_get_data(j, "MESSAGE", &d, &l) < 0 || l < 8)
                        continue;
                nl = realloc(lines, sizeof(char *) * (n_lines + 1));
                if (!nl)
                        break;
                lines = nl;
                lines[n_lines] = strndup((const char *) d + 8, l - 8);
                if (!lines[n_lines])
                        break;
                total += l - 8 + 1;
                n_lines++;
        }
        if (n_lines == 0) {
                sd_journal_close(j);
                free(lines);
                *ret_lines = 0;
                return 0;
        }
        for (size_t i = n_lines; i > 0; i--) {
                size_t l = strlen(lines[i - 1]);

                if (write(fd, lines[i - 1], l) < 0 || write(fd, "\n", 1) < 0)
                        break;
        }
        for (size_t i = 0; i < n_lines; i++)
                free(lines[i]);
        free(lines);
        sd_journal_close(j);
        *ret_lines = n_lines;
        return 0;
}

/* The run's last lines reach the journal through its stdout stream just after it exits, and a
 * busy journald may take a while: wait a moment, and a little longer while nothing is there
 * (we are a child: nobody waits on us). */
static int child_read(const JournalQuery *q, int fd) {
        size_t n = 0;
        int r = 0;

        for (unsigned attempt = 0; attempt < 16 && n == 0; attempt++) {
                (void) usleep(300 * 1000); /* up to ~5 s in all */
                r = child_read_once(q, fd, &n);
                if (r < 0)
                        return r;
        }
        return r;
}

struct TailJob {
        journal_tail_t cb;
        void *userdata;
        size_t max;
        char *buf;
        size_t size, alloc;
        sd_event_source *io, *child;
        pid_t pid;
        bool eof, exited;
};

static void tail_job_free(TailJob *t) {
        sd_event_source_disable_unref(t->io);
        sd_event_source_disable_unref(t->child);
        free(t->buf);
        free(t);
}

void journal_tail_cancel(TailJob *t) {
        if (!t)
                return;
        if (!t->exited && t->pid > 0) {
                /* The reader is ours alone and holds nothing: stop it and reap it now. */
                (void) kill(t->pid, SIGKILL);
                (void) waitpid(t->pid, NULL, 0);
        }
        tail_job_free(t);
}

static void tail_job_finish(TailJob *t) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;

        if (!t->eof || !t->exited)
                return;
        text = utf8_tail(t->buf ?: "", t->size, t->max, &size);
        t->cb(text, size, text ? 0 : -ENOMEM, t->userdata);
        tail_job_free(t);
}

static int on_tail_io(sd_event_source *s, int fd, uint32_t revents _unused_, void *userdata) {
        TailJob *t = userdata;
        char chunk[16384];
        ssize_t k;

        k = read(fd, chunk, sizeof(chunk));
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) {
                t->eof = true;
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                tail_job_finish(t);
                return 0;
        }
        /* Keep at most 2·max + a chunk: only the tail is wanted. */
        if (t->size + (size_t) k + 1 > t->alloc) {
                size_t na = MAX(t->alloc * 2, t->size + (size_t) k + 1);
                char *nb = realloc(t->buf, na);

                if (!nb)
                        return 0;
                t->buf = nb;
                t->alloc = na;
        }
        memcpy(t->buf + t->size, chunk, (size_t) k);
        t->size += (size_t) k;
        if (t->size > 2 * t->max + sizeof(chunk)) {
                size_t drop = t->size - 2 * t->max;
                memmove(t->buf, t->buf + drop, t->size - drop);
                t->size -= drop;
        }
        return 0;
}

static int on_tail_child(sd_event_source *s _unused_, const siginfo_t *si _unused_, void *userdata) {
        TailJob *t = userdata;

        t->exited = true;
        tail_job_finish(t);
        return 0;
}

int journal_tail_async(sd_event *e, const JournalQuery *q, journal_tail_t cb, void *userdata, TailJob **ret) {
        TailJob *t;
        int fds[2], r;
        pid_t pid;

        assert(e && q && cb);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;

        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t all;

                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                close(fds[0]);
                r = child_read(q, fds[1]);
                _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        close(fds[1]);
        t = calloc(1, sizeof(TailJob));
        if (!t) {
                close(fds[0]);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        t->cb = cb;
        t->userdata = userdata;
        t->pid = pid;
        t->max = q->max;
        (void) fcntl(fds[0], F_SETFL, O_NONBLOCK);
        r = sd_event_add_io(e, &t->io, fds[0], EPOLLIN, on_tail_io, t);
        if (r >= 0)
                r = sd_event_source_set_io_fd_own(t->io, true);
        if (r >= 0)
                r = sd_event_add_child(e, &t->child, pid, WEXITED, on_tail_child, t);
        if (r < 0) {
                /* Not reading it after all: the child still needs reaping. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                sd_event_source_disable_unref(t->io);
                if (!t->io)
                        close(fds[0]);
                free(t);
                return r;
        }
        if (ret)
                *ret = t;
        return 0;
}
