/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <time.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "outbox.h"
#include "status.h"

#define STATUS_MAGIC "timerbeat-daemon-status 1"

void daemon_status_done(DaemonStatus *s) {
        strv_done(&s->files);
        strv_done(&s->digests);
        strv_done(&s->errors);
        *s = (DaemonStatus) {};
}

/* One line per value: a newline in an error message would start a line of its own. */
static void put_line(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s ", key);
        for (const char *c = value; *c; c++)
                fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
        fputc('\n', f);
}

int daemon_status_format(const DaemonStatus *s, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (s->files.n != s->digests.n)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                STATUS_MAGIC "\npid %ld\nboot %s\ngeneration %" PRIu64 "\nstarted %" PRIu64
                             "\nrefused %d\nloaded %" PRIu64 "\n",
                (long) s->pid, s->boot_id, s->generation, (uint64_t) s->started, s->refused, (uint64_t) s->loaded);
        for (size_t i = 0; i < s->files.n; i++) {
                fprintf(f, "file %s", s->digests.items[i]);
                put_line(f, "", s->files.items[i]);
        }
        for (size_t i = 0; i < s->errors.n; i++)
                put_line(f, "error", s->errors.items[i]);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static int parse_u64(const char *v, uint64_t *ret) {
        char *end;

        if (!v || !*v || *v == '-')
                return -EBADMSG;
        errno = 0;
        *ret = strtoull(v, &end, 10);
        return errno != 0 || *end ? -EBADMSG : 0;
}

/* One "key value" line into s. */
static int parse_line(DaemonStatus *s, char *line) {
        char *v = strchr(line, ' ');
        uint64_t u;

        if (!v)
                return -EBADMSG;
        *v++ = 0;
        if (streq(line, "file")) {
                char *path = strchr(v, ' ');

                if (!path || path == v || path[1] != '/')
                        return -EBADMSG;
                *path++ = 0;
                return strv_push(&s->digests, v) < 0 || strv_push(&s->files, path) < 0 ? -ENOMEM : 0;
        }
        if (streq(line, "error"))
                return strv_push(&s->errors, v);
        if (streq(line, "boot")) {
                if (strlen(v) != 32 || v[strspn(v, "0123456789abcdef")])
                        return -EBADMSG;
                memcpy(s->boot_id, v, 33);
                return 0;
        }
        if (parse_u64(v, &u) < 0)
                return -EBADMSG;
        if (streq(line, "pid") && u > 0 && u <= INT32_MAX)
                s->pid = (pid_t) u;
        else if (streq(line, "generation"))
                s->generation = u;
        else if (streq(line, "started"))
                s->started = u;
        else if (streq(line, "refused") && u <= 1)
                s->refused = u;
        else if (streq(line, "loaded"))
                s->loaded = u;
        else
                return -EBADMSG;
        return 0;
}

int daemon_status_parse(const char *text, DaemonStatus *ret) {
        _cleanup_free_ char *copy = NULL;
        DaemonStatus s = {};
        char *line, *save = NULL;
        int r = 0;

        if (!startswith(text, STATUS_MAGIC "\n"))
                return -EBADMSG;
        copy = strdup(text + strlen(STATUS_MAGIC "\n"));
        if (!copy)
                return -ENOMEM;
        for (line = strtok_r(copy, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save))
                r = parse_line(&s, line);
        if (r >= 0 && (s.pid == 0 || !s.boot_id[0]))
                r = -EBADMSG;
        if (r < 0) {
                daemon_status_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int boot_id_read(char ret[static 33]) {
        _cleanup_free_ char *data = NULL;
        size_t k = 0;
        int r;

        r = read_full_file("/proc/sys/kernel/random/boot_id", 64, &data, NULL);
        if (r < 0)
                return r;
        for (const char *c = data; *c && k < 32; c++)
                if (*c != '-' && *c != '\n')
                        ret[k++] = *c;
        ret[k] = 0;
        return k == 32 ? 0 : -EBADMSG;
}

int daemon_status_write(const char *dir, const DaemonStatus *s) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = daemon_status_format(s, &text);
        if (r < 0)
                return r;
        return write_file_atomic(dir, STATUS_FILE, text, strlen(text), false);
}

int daemon_status_read(const char *dir, DaemonStatus *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        int r;

        if (asprintf(&path, "%s/" STATUS_FILE, dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, STATUS_FILE_MAX, &data, NULL);
        if (r < 0)
                return r;
        return daemon_status_parse(data, ret);
}

bool daemon_status_alive(const DaemonStatus *s) {
        char boot[33];

        if (boot_id_read(boot) < 0 || !streq(boot, s->boot_id))
                return false;
        /* EPERM: it exists, as another user's process. */
        return kill(s->pid, 0) >= 0 || errno == EPERM;
}

int daemon_status_update(DaemonStatus *s, const Strv *files, const Strv *digests, bool refused, const Strv *errors) {
        int r = 0;

        assert(s);
        s->refused = refused;
        strv_done(&s->errors);
        for (size_t i = 0; errors && i < errors->n && r >= 0; i++)
                r = strv_push(&s->errors, errors->items[i]);
        if (!files)
                return r;
        s->loaded = now_usec(CLOCK_REALTIME);
        strv_done(&s->files);
        strv_done(&s->digests);
        for (size_t i = 0; i < files->n && r >= 0; i++) {
                r = strv_push(&s->files, files->items[i]);
                if (r >= 0 && digests && i < digests->n)
                        r = strv_push(&s->digests, digests->items[i]);
        }
        return r;
}
