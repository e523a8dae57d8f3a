/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>

#include "access.h"
#include "build-config.h"

bool access_mode_allows(const struct stat *st, const Credentials *who, int want) {
        mode_t bits = 0;
        bool in_group = false;

        if (who->uid == 0)
                return !(want & X_OK) || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
        for (size_t i = 0; i < who->n_gids; i++)
                in_group = in_group || who->gids[i] == st->st_gid;
        /* The owner's bits apply to the owner even when the group's or others' would allow more. */
        if (who->uid == st->st_uid)
                bits = (st->st_mode >> 6) & 7;
        else if (in_group)
                bits = (st->st_mode >> 3) & 7;
        else
                bits = st->st_mode & 7;
        return (!(want & R_OK) || (bits & 4)) && (!(want & W_OK) || (bits & 2)) && (!(want & X_OK) || (bits & 1));
}

bool access_is_system_path(const char *path) {
        return startswith(path, SYSCONFDIR "/") || startswith(path, RUNSTATEDIR "/timerbeat/") ||
               startswith(path, PREFIX "/lib/timerbeat/");
}

char *access_fix(const char *path, bool system, bool directory) {
        char *s = NULL;

        if (system &&
            asprintf(&s, "chgrp " SERVICE_USER " %s && chmod %s %s", path, directory ? "2750" : "0640", path) < 0)
                return NULL;
        if (!system && asprintf(&s, "chmod %s %s", directory ? "0700" : "0600", path) < 0)
                return NULL;
        return s;
}

static int credentials_of(uid_t uid, gid_t gid, const char *name, Credentials *ret) {
        int n = (int) ELEMENTSOF(ret->gids);

        *ret = (Credentials) { .uid = uid };
        if (name && getgrouplist(name, gid, ret->gids, &n) >= 0 && n > 0) {
                ret->n_gids = (size_t) n;
                /* getgrouplist() puts gid somewhere in the list; keep it first. */
                for (size_t i = 1; i < ret->n_gids; i++)
                        if (ret->gids[i] == gid) {
                                ret->gids[i] = ret->gids[0];
                                ret->gids[0] = gid;
                        }
                return 0;
        }
        ret->gids[0] = gid;
        ret->n_gids = 1;
        return 0;
}

int access_self(Credentials *ret) {
        int n;

        *ret = (Credentials) { .uid = geteuid(), .gids = { getegid() }, .n_gids = 1 };
        n = getgroups((int) ELEMENTSOF(ret->gids) - 1, ret->gids + 1);
        if (n > 0)
                ret->n_gids += (size_t) n;
        return 0;
}

int access_service_user(Credentials *ret) {
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(SERVICE_USER);
        if (!pw)
                return errno > 0 ? -errno : -ENOENT;
        return credentials_of(pw->pw_uid, pw->pw_gid, pw->pw_name, ret);
}

int access_check_path(const char *path, const Credentials *who, int want, char **ret_blocker) {
        _cleanup_free_ char *p = strdup(path);
        struct stat st;

        if (!p)
                return -ENOMEM;
        if (p[0] != '/')
                return -EINVAL;
        /* Each directory above, from the root down; then the path itself. */
        for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
                bool last = !s;

                if (s)
                        *s = 0;
                if (stat(p, &st) < 0)
                        return -errno;
                if (!access_mode_allows(&st, who, last ? want : X_OK)) {
                        *ret_blocker = TAKE_PTR(p);
                        return -EACCES;
                }
                if (last)
                        return 0;
                *s = '/';
        }
}

bool access_world_readable(const char *path, const struct stat *st) {
        Credentials nobody = { .uid = (uid_t) -2, .gids = { (gid_t) -2 }, .n_gids = 1 };
        _cleanup_free_ char *blocker = NULL;

        if (!(st->st_mode & S_IROTH))
                return false;
        return access_check_path(path, &nobody, R_OK, &blocker) != -EACCES;
}

char *access_describe(const char *path) {
        struct stat st;
        struct passwd *pw;
        struct group *gr;
        char u[32], g[32], *s = NULL;

        if (stat(path, &st) < 0)
                return strdup(path);
        pw = getpwuid(st.st_uid);
        gr = getgrgid(st.st_gid);
        snprintf(u, sizeof(u), "%u", (unsigned) st.st_uid);
        snprintf(g, sizeof(g), "%u", (unsigned) st.st_gid);
        if (asprintf(&s, "%s (%s:%s %04o)", path, pw ? pw->pw_name : u, gr ? gr->gr_name : g,
                     (unsigned) (st.st_mode & 07777)) < 0)
                return NULL;
        return s;
}

char *access_denied_message(const char *path) {
        _cleanup_free_ char *blocker = NULL, *desc = NULL, *fix = NULL;
        struct passwd *pw;
        Credentials me;
        struct stat st = {};
        char *s = NULL, who[32];

        (void) access_self(&me);
        if (access_check_path(path, &me, R_OK, &blocker) != -EACCES) {
                /* Not the mode bits (an ACL, a security module, a file the kernel serves): no advice. */
                desc = access_describe(path);
                if (!desc || asprintf(&s, "%s: cannot read: Permission denied (%s)", path, desc) < 0)
                        return NULL;
                return s;
        }
        if (!blocker)
                return NULL;
        desc = access_describe(blocker);
        fix = access_fix(blocker, access_is_system_path(path), stat(blocker, &st) >= 0 && S_ISDIR(st.st_mode));
        pw = getpwuid(me.uid);
        snprintf(who, sizeof(who), "UID %u", (unsigned) me.uid);
        /* A user's own file that someone else owns: chmod alone would not let the user in. */
        if (fix && !access_is_system_path(path) && st.st_uid != me.uid) {
                char *f = NULL;

                if (asprintf(&f, "chown %s %s && %s", pw ? pw->pw_name : who + 4, blocker, fix) < 0)
                        return NULL;
                free(fix);
                fix = f;
        }
        if (!desc || !fix ||
            asprintf(&s, "%s: cannot read: Permission denied: %s keeps out %s%s; run: %s", path, desc,
                     pw ? "user " : "", pw ? pw->pw_name : who, fix) < 0)
                return NULL;
        return s;
}

/* One problem: what keeps the service's user out of path, and the command that lets it in. */
static int report_one(const char *path, const Credentials *svc, int want, Strv *problems) {
        _cleanup_free_ char *blocker = NULL, *desc = NULL, *fix = NULL, *msg = NULL;
        struct stat st;
        int r;

        r = access_check_path(path, svc, want, &blocker);
        if (r != -EACCES)
                return 0; /* readable, or gone: loading reports that */
        if (!blocker)
                return -ENOMEM;
        desc = access_describe(blocker);
        fix = access_fix(blocker, access_is_system_path(path), stat(blocker, &st) >= 0 && S_ISDIR(st.st_mode));
        if (!desc || !fix ||
            asprintf(&msg,
                     "%s: the service's user " SERVICE_USER " cannot read it: %s keeps it out, and timerbeat.service "
                     "would refuse to start or reload; run: %s",
                     path, desc, fix) < 0)
                return -ENOMEM;
        return strv_push(problems, msg);
}

int access_report_service(const Strv *files, const char *const *dirs, Strv *problems) {
        Credentials svc;
        struct stat st;
        int r;

        if (geteuid() != 0 || access_service_user(&svc) < 0)
                return 0; /* not root, or no such user: the checks so far were made as the reader */
        for (size_t i = 0; i < files->n; i++) {
                r = report_one(files->items[i], &svc, R_OK, problems);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; dirs && dirs[i]; i++) {
                if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                r = report_one(dirs[i], &svc, R_OK | X_OK, problems);
                if (r < 0)
                        return r;
        }
        return 1;
}
