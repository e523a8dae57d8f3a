/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config_load() over a generated tree: a main file and three drop-in directories, with masking,
 * symlinks (to /dev/null, dangling, in loops), directories and FIFOs where files are expected.
 *
 * The input is text. Lines starting with "@@ " describe an entry; the lines after it, up to the
 * next "@@ " line, are its contents. Lines before the first "@@ " line are the main file.
 *   @@ file D NAME          a drop-in NAME in directory D (0, 1 or 2; 0 has the highest priority)
 *   @@ null D NAME          NAME is a symlink to /dev/null (masked)
 *   @@ link D NAME E OTHER  NAME is a symlink to ../E/OTHER (dangling, or a loop, or a file)
 *   @@ dir D NAME           NAME is a directory
 *   @@ fifo D NAME          NAME is a FIFO
 *   @@ nomain               there is no main file
 * NAME and OTHER keep only [A-Za-z0-9._-], at most 40 characters. So a plain configuration
 * file (the seeds from tests/data) is a valid input: just the main file. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"

#define ENTRIES_MAX 64

static char root[64];
static char dirs[3][96];
static char main_file[96];

static int rm_entry(const char *path, const struct stat *st _unused_, int flag _unused_, struct FTW *f _unused_) {
        (void) remove(path);
        return 0;
}

static void cleanup_tree(void) {
        if (root[0])
                (void) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup_root(void) {
        const char *tmp = getenv("TMPDIR");

        if (root[0])
                return;
        snprintf(root, sizeof(root), "%s/fuzz-config-load-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        FUZZ_ASSERT(mkdtemp(root));
        for (size_t i = 0; i < 3; i++)
                snprintf(dirs[i], sizeof(dirs[i]), "%s/d%zu", root, i);
        snprintf(main_file, sizeof(main_file), "%s/main.conf", root);
        atexit(cleanup_tree);
}

static void reset_tree(void) {
        cleanup_tree();
        FUZZ_ASSERT(mkdir(root, 0700) == 0 || errno == EEXIST);
        for (size_t i = 0; i < 3; i++)
                FUZZ_ASSERT(mkdir(dirs[i], 0700) == 0);
}

/* Copies the next word of [p, end) into buf, keeping only safe name characters. */
static const char *next_word(const char *p, const char *end, char *buf, size_t size) {
        size_t n = 0;

        while (p < end && *p == ' ')
                p++;
        for (; p < end && *p != ' '; p++)
                if (n + 1 < size && (strchr("._-", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                     (*p >= '0' && *p <= '9')))
                        buf[n++] = *p;
        buf[n] = 0;
        return p;
}

static unsigned dir_index(const char *w) {
        return (unsigned) (w[0] - '0') % 3;
}

static void write_file(const char *path, const char *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return; /* a name given twice: the first entry stays */
        while (size > 0) {
                ssize_t k = write(fd, data, size);

                FUZZ_ASSERT(k > 0);
                data += k;
                size -= (size_t) k;
        }
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size, *body = p;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(strv_done) Strv errors = {};
        ConfigSource src = {};
        bool have_main = true;
        unsigned n_entries = 0;
        char kind[8] = "main", d[4] = "0", name[41] = "", e[4] = "0", other[41] = "";
        int r;

        if (size > 256 * 1024)
                return 0;
        setup_root();
        reset_tree();

        /* Walk the input line by line; each "@@ " line ends the previous entry's contents. */
        for (const char *line = p;;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                const char *next = nl ? nl + 1 : end;
                bool header = end - line >= 3 && memcmp(line, "@@ ", 3) == 0;

                if (header || line >= end) {
                        const char *body_end = line;
                        char path[192];

                        /* Finish the current entry. */
                        snprintf(path, sizeof(path), "%s/%s", dirs[dir_index(d)], name);
                        if (streq(kind, "main"))
                                write_file(main_file, body, (size_t) (body_end - body));
                        else if (name[0] == 0 || streq(name, ".") || streq(name, ".."))
                                ; /* no name: ignored */
                        else if (streq(kind, "file"))
                                write_file(path, body, (size_t) (body_end - body));
                        else if (streq(kind, "null"))
                                (void) symlink("/dev/null", path);
                        else if (streq(kind, "link") && other[0]) {
                                char target[64];

                                snprintf(target, sizeof(target), "../d%u/%s", dir_index(e), other);
                                (void) symlink(target, path);
                        } else if (streq(kind, "dir"))
                                (void) mkdir(path, 0700);
                        else if (streq(kind, "fifo"))
                                (void) mkfifo(path, 0600);
                        else if (streq(kind, "nomain"))
                                have_main = false;

                        if (line >= end || ++n_entries > ENTRIES_MAX)
                                break;

                        /* Start the next one. */
                        const char *q = next_word(line + 3, nl ?: end, kind, sizeof(kind));
                        q = next_word(q, nl ?: end, d, sizeof(d));
                        q = next_word(q, nl ?: end, name, sizeof(name));
                        q = next_word(q, nl ?: end, e, sizeof(e));
                        (void) next_word(q, nl ?: end, other, sizeof(other));
                        if (d[0] == 0)
                                d[0] = '0', d[1] = 0;
                        if (e[0] == 0)
                                e[0] = '0', e[1] = 0;
                        body = next;
                }
                line = next;
        }

        src.main_file = have_main ? main_file : NULL;
        for (size_t i = 0; i < 3; i++)
                src.dropin_dirs[i] = dirs[i];
        src.dropin_dirs[3] = NULL;

        r = config_load(&src, &c, &errors);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        FUZZ_ASSERT((r < 0) == (errors.n > 0));
        FUZZ_ASSERT((r < 0) == !c);
        for (size_t i = 0; i < errors.n; i++) {
                /* Each message names the file (or directory) it is about, or the [timerbeat] section. */
                FUZZ_ASSERT(strncmp(errors.items[i], root, strlen(root)) == 0 ||
                            strncmp(errors.items[i], "[timerbeat]: ", 13) == 0);
                FUZZ_ASSERT(errors.items[i][0] != '\x01' && !strchr(errors.items[i], '\n'));
        }
        if (c) {
                for (size_t i = 0; i < c->files.n; i++)
                        FUZZ_ASSERT(strncmp(c->files.items[i], root, strlen(root)) == 0);
                for (size_t i = 0; i < c->n_checks; i++) {
                        const char *reason;

                        FUZZ_ASSERT(unit_name_is_valid(c->checks[i]->name) ||
                                    unit_pattern_is_valid(c->checks[i]->name));
                        FUZZ_ASSERT(!c->checks[i]->url || url_validate(c->checks[i]->url, &reason) == 0);
                }
        }
        return 0;
}
