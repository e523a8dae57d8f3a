/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "annotscan.h"
#include "dropin.h"
#include "log.h"
#include "util.h"

/* Unit files and drop-ins read for one template at most: beyond, an annotation is assumed. */
#define ANNOTSCAN_FILES_MAX 256U
/* Unit files are small; a larger one is assumed to be annotated rather than read. */
#define ANNOTSCAN_FILE_MAX (256U * 1024U)

typedef struct Scan {
        unsigned files; /* read so far */
        Strv *units;    /* Unit= values of the timer's files, or NULL for a service's */
} Scan;

/* 1 if the file has an annotation or cannot be read (but exists), 0 if not. */
static int scan_file(Scan *s, const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        if (++s->files > ANNOTSCAN_FILES_MAX) {
                log_debug("More than %u unit files and drop-ins apply to one template timer: assuming an "
                          "annotation.",
                          ANNOTSCAN_FILES_MAX);
                return 1;
        }
        r = read_full_file(path, ANNOTSCAN_FILE_MAX, &text, &size);
        if (r == -ENOENT) /* gone meanwhile, or a dangling link */
                return 0;
        if (r < 0) {
                log_debug_errno(r, "Cannot read %s (%m): assuming an annotation.", path);
                return 1;
        }
        if (dropin_has_annotation(text, size))
                return 1;
        if (s->units) {
                r = dropin_timer_units(text, size, s->units);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A drop-in directory: its *.conf files, as systemd reads them. */
static int scan_dropin_dir(Scan *s, const char *dir) {
        _cleanup_(closedirp_) DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : 1;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;

                if (de->d_name[0] == '.' || !endswith(de->d_name, ".conf"))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                r = scan_file(s, path);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Every entry of every directory in unit_path that applies to unit. */
static int scan_unit(Scan *s, const char *unit, char *const *unit_path) {
        for (char *const *p = unit_path; p && *p; p++) {
                _cleanup_(closedirp_) DIR *d = opendir(*p);
                struct dirent *de;
                int r;

                if (!d)
                        continue; /* most of the search path does not exist */
                while ((de = readdir(d))) {
                        _cleanup_free_ char *path = NULL;

                        if (de->d_name[0] == '.' || !dropin_entry_applies(unit, de->d_name))
                                continue;
                        if (asprintf(&path, "%s/%s", *p, de->d_name) < 0)
                                return -ENOMEM;
                        r = endswith(de->d_name, ".d") ? scan_dropin_dir(s, path) : scan_file(s, path);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

int annotscan_template(const char *template, const char *fragment, char *const *unit_path) {
        _cleanup_(strv_done) Strv units = {}, services = {};
        Scan s = { .units = &units };
        int r;

        /* Unset (the default service) for those instances whose files do not set it. */
        r = strv_push(&units, "");
        if (r == 0 && fragment)
                r = scan_file(&s, fragment);
        if (r == 0)
                r = scan_unit(&s, template, unit_path);
        if (r != 0)
                return r;
        /* Every service a Unit= of its files names, not only the last one's: which file wins is
         * systemd's to say, and each instance's drop-ins may name another. */
        s.units = NULL;
        for (size_t i = 0; i < units.n; i++) {
                _cleanup_free_ char *service = NULL;

                r = dropin_service_of(template, units.items[i], &service);
                if (r == -EINVAL) {
                        log_debug("%s: Unit=%s cannot be followed to its service: assuming an annotation.", template,
                                  units.items[i]);
                        return 1;
                }
                if (r < 0)
                        return r;
                if (strv_contains(&services, service))
                        continue;
                r = strv_push(&services, service);
                if (r == 0)
                        r = scan_unit(&s, service, unit_path);
                if (r != 0)
                        return r;
        }
        return 0;
}
