/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "access.h"
#include "build-config.h"
#include "tests.h"

/* Who may read or search what: owner, group (primary or supplementary), others, root. */
static void test_mode_allows(void) {
        static const struct {
                mode_t mode;
                uid_t uid;
                gid_t gid;
                int want;
                bool allowed;
        } table[] = {
                /* A file root:root 0640: the service (uid 100, gid 100) is kept out. */
                { S_IFREG | 0640, 0, 0, R_OK, false },
                /* root:timerbeat (gid 100) 0640, the advice followed: readable. */
                { S_IFREG | 0640, 0, 100, R_OK, true },
                { S_IFREG | 0604, 0, 100, R_OK, false }, /* the group's bits apply, not others' */
                { S_IFREG | 0644, 0, 0, R_OK, true },    /* others */
                { S_IFREG | 0044, 100, 0, R_OK, false }, /* the owner's bits, even if others may */
                { S_IFREG | 0400, 100, 0, R_OK, true },
                { S_IFREG | 0400, 100, 0, R_OK | W_OK, false },
                /* /etc/timerbeat root:timerbeat 2750: the group may enter, others not. */
                { S_IFDIR | 02750, 0, 100, X_OK, true },
                { S_IFDIR | 02750, 0, 0, X_OK, false },
                { S_IFDIR | 0755, 0, 0, X_OK, true },
                { S_IFDIR | 0700, 0, 0, X_OK, false },
                { S_IFDIR | 0750, 0, 200, X_OK, true }, /* a supplementary group */
                { S_IFDIR | 0740, 0, 200, X_OK, false },
        };
        Credentials service = { .uid = 100, .gids = { 100, 200 }, .n_gids = 2 };
        Credentials root = { .uid = 0, .gids = { 0 }, .n_gids = 1 };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct stat st = { .st_mode = table[i].mode, .st_uid = table[i].uid, .st_gid = table[i].gid };

                if (access_mode_allows(&st, &service, table[i].want) != table[i].allowed) {
                        fprintf(stderr, "row %zu: mode %o %u:%u\n", i, (unsigned) table[i].mode,
                                (unsigned) table[i].uid, (unsigned) table[i].gid);
                        ASSERT(false);
                }
        }
        /* root reads anything and enters any directory, but executes only what has an x bit. */
        ASSERT(access_mode_allows(&(struct stat) { .st_mode = S_IFREG | 0000 }, &root, R_OK));
        ASSERT(access_mode_allows(&(struct stat) { .st_mode = S_IFDIR | 0000 }, &root, X_OK));
        ASSERT(!access_mode_allows(&(struct stat) { .st_mode = S_IFREG | 0600 }, &root, X_OK));
}

static void test_fix(void) {
        char *s;

        s = access_fix("/etc/timerbeat/conf.d/50-x.conf", true, false);
        ASSERT_STREQ(s,
                     "chgrp timerbeat /etc/timerbeat/conf.d/50-x.conf && chmod 0640 /etc/timerbeat/conf.d/50-x.conf");
        free(s);
        s = access_fix("/etc/timerbeat/conf.d", true, true);
        ASSERT_STREQ(s, "chgrp timerbeat /etc/timerbeat/conf.d && chmod 2750 /etc/timerbeat/conf.d");
        free(s);
        s = access_fix("/home/u/.config/timerbeat/timerbeat.conf", false, false);
        ASSERT_STREQ(s, "chmod 0600 /home/u/.config/timerbeat/timerbeat.conf");
        free(s);
        ASSERT(access_is_system_path(SYSCONFDIR "/timerbeat/timerbeat.conf"));
        ASSERT(access_is_system_path(RUNSTATEDIR "/timerbeat/conf.d/x.conf"));
        ASSERT(!access_is_system_path("/home/u/.config/timerbeat/timerbeat.conf"));
}

/* A real tree: which directory or file stops a user, as `check` run by root reports it. */
static void test_check_path(void) {
        char tmpl[] = "/tmp/test-access-XXXXXX", sub[600], file[700], cmd[700];
        char *d = mkdtemp(tmpl), *blocker = NULL;
        Credentials other = { .uid = 54321, .gids = { 54321 }, .n_gids = 1 };
        struct stat st;
        int fd;

        ASSERT(d);
        ASSERT(chmod(d, 0755) == 0);
        snprintf(sub, sizeof(sub), "%s/conf.d", d);
        ASSERT(mkdir(sub, 0750) == 0);
        snprintf(file, sizeof(file), "%s/x.conf", sub);
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT(fd >= 0);
        close(fd);
        ASSERT(chmod(file, 0644) == 0);
        ASSERT(chown(sub, 0, 0) == 0 || geteuid() != 0);
        ASSERT(stat(sub, &st) == 0);

        /* The directory keeps the stranger out: it is named, not the file. */
        ASSERT_EQ(access_check_path(file, &other, R_OK, &blocker), -EACCES);
        ASSERT_STREQ(blocker, sub);
        free(blocker);
        blocker = NULL;
        ASSERT(!access_world_readable(file, &(struct stat) { .st_mode = S_IFREG | 0644 }));

        /* In the directory's group: readable. */
        Credentials member = { .uid = 54321, .gids = { 54321, st.st_gid }, .n_gids = 2 };
        ASSERT_EQ(access_check_path(file, &member, R_OK, &blocker), 0);
        ASSERT(chmod(file, 0600) == 0);
        ASSERT_EQ(access_check_path(file, &member, R_OK, &blocker), -EACCES);
        ASSERT_STREQ(blocker, file);
        free(blocker);

        ASSERT(chmod(sub, 0755) == 0);
        ASSERT(chmod(file, 0644) == 0);
        ASSERT(access_world_readable(file, &(struct stat) { .st_mode = S_IFREG | 0644 }));

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        ASSERT(system(cmd) == 0);
}

int main(void) {
        test_mode_allows();
        test_fix();
        test_check_path();
        return 0;
}
