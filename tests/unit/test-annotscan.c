/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether an instance of an installed template timer may be annotated, read from unit files in
 * a temporary unit search path of two directories. */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotscan.h"
#include "tests.h"

static char root[] = "/tmp/test-annotscan-XXXXXX";
static char dir_etc[64], dir_lib[64];

static void put(const char *dir, const char *rel, const char *text) {
        char path[256], *slash;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        slash = strrchr(path, '/');
        *slash = 0;
        (void) mkdir(path, 0755);
        *slash = '/';
        f = fopen(path, "w");
        ASSERT(f);
        fputs(text, f);
        ASSERT(fclose(f) == 0);
}

static int rm(const char *path, const struct stat *st _unused_, int flag _unused_, struct FTW *ftw _unused_) {
        return remove(path);
}

static void reset(void) {
        ASSERT(nftw(dir_etc, rm, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
        ASSERT(nftw(dir_lib, rm, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
        ASSERT(mkdir(dir_etc, 0755) == 0 && mkdir(dir_lib, 0755) == 0);
        /* What every case has: an unannotated template pair, and others' files. */
        put(dir_lib, "pg_dump@.timer", "[Timer]\nOnCalendar=daily\n");
        put(dir_lib, "pg_dump@.service", "[Service]\nExecStart=/bin/true\n");
        put(dir_lib, "other.timer", "[X-Timerbeat]\nURL=https://x/\n");
        put(dir_lib, "other@.service.d/hb.conf", "[X-Timerbeat]\nURL=https://x/\n");
        put(dir_etc, "pg_dump.timer.d/hb.conf", "[X-Timerbeat]\nURL=https://x/\n");
        put(dir_etc, "pg_dump@main.timer.d/not-conf.txt", "[X-Timerbeat]\nURL=https://x/\n");
}

int main(void) {
        static const struct {
                const char *dir, *rel, *text;
                int may;
        } table[] = {
                { NULL, NULL, NULL, 0 }, /* nothing more: no annotation can apply */
                { "lib", "pg_dump@.timer", "[Timer]\nOnCalendar=daily\n[X-Timerbeat]\nURL=u\n", 1 },
                { "etc", "pg_dump@.timer.d/hb.conf", "[X-Timerbeat]\nURL=u\n", 1 },
                { "etc", "pg_dump@main.timer.d/hb.conf", "[x-timerbeat]\nURL=u\n", 1 },
                { "etc", "pg_dump@main.timer.d/other.conf", "[Timer]\nPersistent=yes\n", 0 },
                { "etc", "timer.d/hb.conf", "[X-Timerbeat]\nURL=u\n", 1 },
                { "etc", "service.d/hb.conf", "[X-Timerbeat]\nURL=u\n", 1 },
                { "lib", "pg_dump@.service", "[X-Timerbeat]\nURL=u\n", 1 },
                { "etc", "pg_dump@15-main.service.d/hb.conf", "[X-Timerbeat]\nURL=u\n", 1 },
                { "etc", "pg_dump@.timer.d/unit.conf", "[Timer]\nUnit=other@%i.service\n", 1 },
                { "etc", "pg_dump@.timer.d/unit.conf", "[Timer]\nUnit=plain.service\n", 0 },
                { "etc", "pg_dump@.timer.d/unit.conf", "[Timer]\nUnit=other.timer\n", 1 },
                { "etc", "pg_dump@.timer.d/unit.conf", "[Timer]\nUnit=%p-x.service\n", 1 },
                { "etc", "pg_dump@x.timer.d/unit.conf", "[Timer]\nUnit=other@x.service\n", 1 },
        };

        ASSERT(mkdtemp(root));
        snprintf(dir_etc, sizeof(dir_etc), "%s/etc", root);
        snprintf(dir_lib, sizeof(dir_lib), "%s/lib", root);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char fragment[128], missing[128];
                char *path[] = { missing, dir_etc, dir_lib, NULL };
                int r;

                reset();
                if (table[i].dir)
                        put(streq(table[i].dir, "etc") ? dir_etc : dir_lib, table[i].rel, table[i].text);
                snprintf(fragment, sizeof(fragment), "%s/pg_dump@.timer", dir_lib);
                snprintf(missing, sizeof(missing), "%s/none", root);
                r = annotscan_template("pg_dump@.timer", fragment, path);
                if (r != table[i].may)
                        fprintf(stderr, "row %zu (%s): %d\n", i, table[i].rel ?: "-", r);
                ASSERT(r == table[i].may);
        }
        ASSERT(nftw(root, rm, 16, FTW_DEPTH | FTW_PHYS) == 0);
        return 0;
}
